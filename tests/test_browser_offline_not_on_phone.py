"""A form for a case the phone does not hold, in Debian's chromium: with no signal the worker can only draw
the form's shell, which has no one to name: it offers no Save, says why, and keeps nothing in the outbox."""

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser import *  # noqa: F403
from tests.browser import LiveServer, screenshot, sign_in
from tests.browser_offline import CADRE_A, make_case, outbox, save_offline, wait_until_kept_offline

pytestmark = pytest.mark.browser


def test_an_offline_form_of_a_case_not_on_the_phone_has_no_save_and_says_why(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    kept = make_case(live_server, "陈晓红")
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    later = make_case(live_server, "周小梅")  # registered on the server after the phone kept its pages

    context.set_offline(True)
    for form in ("visit", "outcome", "postnatal", "close"):
        page.goto(f"/p/{later.pregnancy_id}/{form}")
        page.locator("html[data-ready=true]").wait_for(state="attached")
        expect(page.locator("#case-not-on-phone")).to_contain_text("这个个案不在本机上，没有网络时无法记录")
        expect(page.locator("form.record-form button[type=submit]")).to_have_count(0)
        expect(page.locator(".case-strip")).to_contain_text("本机上没有这个个案的资料")
        page.locator("form.record-form").evaluate("(form) => form.requestSubmit()")  # an Enter key, say
        page.wait_for_timeout(300)
        assert page.url.endswith(f"/p/{later.pregnancy_id}/{form}")
    screenshot(page, "offline-form-case-not-on-phone")
    assert outbox(page) == []

    page.goto(f"/p/{kept.pregnancy_id}/visit")  # the case the phone holds: its form saves as before
    expect(page.locator("#case-not-on-phone")).to_have_count(0)
    save_offline(page)
    assert [e["data"]["pregnancy_id"] for e in outbox(page)] == [str(kept.pregnancy_id)]
