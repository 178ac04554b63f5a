"""Signing out needs the server, in Debian's chromium: with no signal the phone says it cannot sign out and
keeps the user's pages (she is still signed in on the server); online, signing out ends the session and
forgets them. A phone that thinks it is online while nothing gets through is told the same by the worker."""

import uuid

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlmodel import select

from backend.accounts.models import LoginSession
from tests.browser import *  # noqa: F403
from tests.browser import LiveServer, screenshot, sign_in
from tests.browser_offline import CADRE_A, make_case, server_db, user_id, wait_until_kept_offline

pytestmark = pytest.mark.browser
PAGE_CACHES = "async () => (await caches.keys()).filter((n) => n.startsWith('suifang-pages-'))"
REFUSED = "没有网络，现在无法退出登录"


def sessions_of(server: LiveServer, user: str) -> int:
    with server_db(server) as db:
        rows = db.exec(select(LoginSession).where(LoginSession.user_id == uuid.UUID(user))).all()
        return sum(1 for s in rows if s.revoked_at is None)


def press_sign_out(page: Page) -> None:
    page.wait_for_selector("#logout-form[data-guarded]", state="attached")
    page.locator("#logout-form button[type=submit]").click()


def test_signing_out_offline_is_refused_with_a_message_and_keeps_the_pages_until_online(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    case = make_case(live_server, "陈晓红")
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    me = user_id(page)
    kept = page.evaluate(PAGE_CACHES)
    assert kept == [f"suifang-pages-{me}"]

    context.set_offline(True)
    page.goto("/settings")
    press_sign_out(page)
    expect(page.locator("#logout-offline")).to_contain_text(REFUSED)
    expect(page.locator("#logout-offline")).to_contain_text("本机的页面和记录都还在")
    screenshot(page, "offline-sign-out-refused")
    assert page.url.endswith("/settings")
    assert page.evaluate(PAGE_CACHES) == kept
    assert sessions_of(live_server, me) == 1  # still signed in on the server
    page.goto(f"/women/{case.woman_id}")  # her pages still open with no signal
    expect(page.locator("main")).to_contain_text(case.name)
    page.goto("/")
    expect(page.locator('meta[name="user"]')).to_have_attribute("content", me)

    context.set_offline(False)
    page.goto("/settings")
    expect(page.locator("#logout-offline")).to_have_count(0)
    press_sign_out(page)
    page.wait_for_url("**/login**")
    assert page.evaluate(PAGE_CACHES) == []
    assert sessions_of(live_server, me) == 0
    context.set_offline(True)
    page.goto(f"/women/{case.woman_id}")
    expect(page.locator("body")).not_to_contain_text(case.name)


def test_a_sign_out_that_does_not_reach_the_server_keeps_the_pages_and_says_why(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    """The phone believes it is online (navigator.onLine) but the server does not answer: the service worker,
    not the page, finds out; the browser's own error page never shows."""
    case = make_case(live_server, "陈晓红")
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    me = user_id(page)
    page.goto("/settings")
    page.wait_for_selector("#logout-form[data-guarded]", state="attached")
    live_server.stop()
    try:
        page.evaluate("() => { document.getElementById('logout-form').dataset.confirmed = '1'; }")
        press_sign_out(page)
        page.wait_for_url("**/settings?signout=offline", timeout=20_000)
        expect(page.locator("#logout-offline")).to_contain_text(REFUSED, timeout=20_000)
        assert page.evaluate(PAGE_CACHES) == [f"suifang-pages-{me}"]
        page.goto(f"/women/{case.woman_id}")
        expect(page.locator("main")).to_contain_text(case.name)
    finally:
        live_server.start()
    assert sessions_of(live_server, me) == 1
    page.goto("/settings")
    press_sign_out(page)
    page.wait_for_url("**/login**")
    assert page.evaluate(PAGE_CACHES) == []
