"""A cadre's day without signal, in Debian's chromium: pages kept on the phone, records saved in the outbox
and shown as 待同步, and everything reaching the server exactly once when the signal comes back."""

from datetime import timedelta

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from backend.cases.models import Infant, Outcome, Pregnancy, PrenatalVisit, Woman
from tests.browser import *  # noqa: F403
from tests.browser import LiveServer, screenshot, sign_in
from tests.browser_offline import (
    CADRE_A,
    count,
    expect_pending,
    make_case,
    outbox,
    server_today,
    submit,
    wait_until_kept_offline,
)

pytestmark = pytest.mark.browser


def test_a_cadre_works_offline_and_each_record_reaches_the_server_once(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    overdue = make_case(live_server, "陈晓红", registered_days_ago=40)
    due_to_deliver = make_case(live_server, "赵春燕", registered_days_ago=100, weeks_pregnant=39)
    today = server_today(live_server)
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    assert page.locator(f'#overdue li[data-pregnancy="{overdue.pregnancy_id}"]').count() == 1

    context.set_offline(True)
    page.reload()
    expect(page.locator("h1").first).to_contain_text("今日工作")
    expect(page.locator("#refreshed")).to_contain_text("离线副本")
    page.goto(f"/women/{overdue.woman_id}")
    expect(page.locator("h1").first).to_contain_text(overdue.name)

    # A new pregnancy, registered with no signal, then visited before it ever reaches the server.
    page.goto("/register")
    page.fill("#f-name", "刘春梅")
    page.fill("#f-birth_date", "1998-06-01")
    page.fill("#f-lmp", (today - timedelta(weeks=10)).isoformat())
    page.fill("#f-gravidity", "1")
    page.fill("#f-parity", "0")
    submit(page)
    expect(page.locator("#pending-case h1")).to_contain_text("刘春梅")
    expect(page.locator("#saved-on-phone")).to_be_visible()
    page.locator("#pending-case a", has_text="记录访视").click()
    expect(page.locator(".case-strip")).to_contain_text("刘春梅")
    submit(page)
    expect(page.locator("#case-pending li")).to_have_count(2)

    # A visit for a case the server knows: its overdue item leaves Today's overdue list.
    page.goto(f"/p/{overdue.pregnancy_id}/visit")
    submit(page)
    expect(page.locator("#case-pending")).to_contain_text("产前随访")
    done = page.locator("#schedule li.st-pending")
    expect(done).to_have_count(1)  # the overdue monthly visit, not the months to come
    expect(done).to_have_attribute("data-item-kind", "village")
    expect(done).to_contain_text("已完成（待同步）")
    page.goto("/")
    expect(page.locator(f'#overdue li[data-pregnancy="{overdue.pregnancy_id}"]')).to_be_hidden()
    expect(page.locator("#pending-list")).to_contain_text("陈晓红")

    # A birth.
    page.goto(f"/p/{due_to_deliver.pregnancy_id}/outcome")
    page.select_option("#f-outcome_type", "live_birth")
    page.select_option("#f-babies-0-sex", "2")
    page.fill("#f-babies-0-weight_g", "3200")
    submit(page)
    expect(page.locator("#case-pending")).to_contain_text("妊娠结局")
    page.goto("/women")
    expect(page.locator("#women-list")).to_contain_text("刘春梅")
    expect_pending(page, 4)
    screenshot(page, "offline-women-pending")
    entries = outbox(page)
    assert [e["kind"] for e in entries] == ["register", "visit", "visit", "outcome"]

    context.set_offline(False)
    expect_pending(page, 0, timeout=20_000)
    registered = entries[0]["data"]
    assert count(live_server, Woman, id=registered["woman_id"]) == 1
    assert count(live_server, Pregnancy, id=registered["id"]) == 1
    for entry in entries[1:3]:
        assert count(live_server, PrenatalVisit, id=entry["data"]["id"]) == 1
    assert count(live_server, PrenatalVisit) == 2
    assert count(live_server, Outcome, pregnancy_id=due_to_deliver.pregnancy_id) == 1
    assert count(live_server, Infant, id=entries[3]["data"]["babies-0-id"]) == 1

    page.goto(f"/women/{registered['woman_id']}")
    expect(page.locator("h1").first).to_contain_text("刘春梅")
    expect(page.locator("#timeline")).to_contain_text("入户访视")
    expect(page.locator(".pending-tag")).to_have_count(0)
