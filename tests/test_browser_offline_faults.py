"""Faults between the phone and the server, end to end in Debian's chromium: an answer lost after the server
saved the batch, a 500, a server that goes away mid-sync and comes back, a batch delivered twice, a device
clock ten days off, and two tabs syncing at once. In every case nothing is lost and nothing is doubled."""

import gzip
import json
import threading
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from backend.cases.models import Pregnancy, PrenatalVisit
from sync.models import SyncOperation
from tests.browser import *  # noqa: F403
from tests.browser import PHONE, LiveServer, sign_in
from tests.browser_offline import (
    CADRE_A,
    Case,
    count,
    expect_pending,
    make_case,
    outbox,
    save_offline,
    server_db,
    server_today,
    wait_until_kept_offline,
)

pytestmark = pytest.mark.browser


def record_offline(page: Page, context: BrowserContext, case: Case) -> list[dict[str, Any]]:
    """Offline: a visit for a known case, and a new pregnancy registered on the phone."""
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    context.set_offline(True)
    page.goto(f"/p/{case.pregnancy_id}/visit")
    save_offline(page)
    page.goto("/register")
    page.fill("#f-name", "刘春梅")
    page.fill("#f-birth_date", "1998-06-01")
    page.fill("#f-edd", page.evaluate("new Date(Date.now() + 150 * 86400000).toISOString().slice(0, 10)"))
    page.fill("#f-gravidity", "1")
    page.fill("#f-parity", "0")
    save_offline(page)
    expect(page.locator("#pending-case h1")).to_contain_text("刘春梅")
    expect_pending(page, 2)
    return outbox(page)


def assert_each_once(server: LiveServer, entries: list[dict[str, Any]]) -> None:
    visit, registration = entries
    assert count(server, PrenatalVisit, id=visit["data"]["id"]) == 1
    assert count(server, PrenatalVisit) == 1
    assert count(server, Pregnancy, id=registration["data"]["id"]) == 1
    for entry in entries:
        assert count(server, SyncOperation, op_id=entry["op_id"]) == 1


def pushes(context: BrowserContext, handle: Callable[[Route, int], None]) -> list[list[str]]:
    """Route every POST /sync/push (from pages and the service worker) through `handle(route, n)`; returns
    the op_ids of each push, in order."""
    seen: list[list[str]] = []

    def on_push(route: Route) -> None:
        body = route.request.post_data_buffer
        try:
            ops = [op["op_id"] for op in json.loads(body or b"{}").get("ops", [])]
        except ValueError:  # a gzip-compressed body
            ops = [op["op_id"] for op in json.loads(gzip.decompress(body or b"")).get("ops", [])]
        seen.append(ops)
        handle(route, len(seen))

    context.route("**/sync/push", on_push)
    return seen


def test_an_answer_lost_after_the_server_saved_the_batch_is_sent_again_and_nothing_doubles(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    entries = record_offline(page, context, make_case(live_server, "陈晓红"))

    def lose_first_answer(route: Route, n: int) -> None:
        if n == 1:
            assert route.fetch().status == 200  # the server committed the batch…
            route.abort("connectionreset")  # …and the phone never heard
        else:
            route.continue_()

    sent = pushes(context, lose_first_answer)
    context.set_offline(False)
    expect_pending(page, 0, timeout=30_000)
    assert len(sent) >= 2 and sent[0] == sent[1]
    assert_each_once(live_server, entries)


def test_a_server_error_shows_as_failed_with_its_reason_then_the_retry_succeeds(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    entries = record_offline(page, context, make_case(live_server, "陈晓红"))
    healthy = threading.Event()

    def fail_until_healthy(route: Route, n: int) -> None:
        if healthy.is_set():
            route.continue_()
        else:
            route.fulfill(status=500, content_type="application/problem+json", body='{"title":"boom"}')

    sent = pushes(context, fail_until_healthy)
    page.goto("/")
    state = page.locator("#sync-state")
    context.set_offline(False)
    expect(state).to_have_attribute("data-state", "failed", timeout=15_000)
    expect(state).to_contain_text("同步失败")
    expect(state).to_contain_text("500")
    assert count(live_server, PrenatalVisit) == 0
    healthy.set()
    expect_pending(page, 0, timeout=30_000)
    assert all(batch == sent[0] for batch in sent)  # the same entries again, nothing new made up
    assert_each_once(live_server, entries)


def test_a_server_that_goes_away_mid_sync_and_comes_back_loses_and_doubles_nothing(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    entries = record_offline(page, context, make_case(live_server, "陈晓红"))
    restarted = threading.Event()

    def die_after_commit(route: Route, n: int) -> None:
        if n == 1:
            route.fetch()  # committed
            live_server.stop()  # the process goes away before answering
            route.abort("connectionreset")
            threading.Timer(2.0, lambda: (live_server.start(), restarted.set())).start()
        else:
            route.continue_()

    pushes(context, die_after_commit)
    context.set_offline(False)
    expect_pending(page, 0, timeout=60_000)
    assert restarted.is_set()
    assert_each_once(live_server, entries)


def test_a_batch_the_network_delivers_twice_is_applied_once(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    entries = record_offline(page, context, make_case(live_server, "陈晓红"))
    answers: list[dict[str, Any]] = []

    def deliver_twice(route: Route, n: int) -> None:
        first = route.fetch()
        second = route.fetch()
        answers.extend([first.json(), second.json()])
        route.fulfill(response=second)

    pushes(context, deliver_twice)
    context.set_offline(False)
    expect_pending(page, 0, timeout=30_000)
    assert [r["status"] for r in answers[0]["results"]] == ["applied", "applied"]
    assert [r["status"] for r in answers[1]["results"]] == ["duplicate", "duplicate"]
    assert_each_once(live_server, entries)


SHIFT_CLOCK = """(() => {
  const shift = %d * 86400000;
  const RealDate = Date;
  class ShiftedDate extends RealDate {
    constructor(...args) { if (args.length) super(...args); else super(RealDate.now() + shift); }
    static now() { return RealDate.now() + shift; }
  }
  globalThis.Date = ShiftedDate;
})();"""


@pytest.mark.parametrize("days", [10, -10])
def test_a_device_clock_ten_days_off_loses_and_doubles_nothing_and_dates_today_by_the_server(
    page: Page, context: BrowserContext, live_server: LiveServer, days: int
) -> None:
    context.add_init_script(SHIFT_CLOCK % days)
    case = make_case(live_server, "陈晓红")
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    shift = page.evaluate("Date.now() - (performance.timeOrigin + performance.now())")
    assert abs(shift - days * 86_400_000) < 60_000  # the phone's clock is off
    context.set_offline(True)
    page.goto(f"/p/{case.pregnancy_id}/visit")
    page.locator("html[data-ready=true]").wait_for(state="attached")  # the form is prepared
    today = server_today(live_server).isoformat()
    expect(page.locator("#f-visited_on")).to_have_value(today)  # the server's day, not the phone's
    save_offline(page)
    expect_pending(page, 1)
    entry = outbox(page)[0]
    context.set_offline(False)
    expect_pending(page, 0, timeout=30_000)
    with server_db(live_server) as db:
        visit = db.get(PrenatalVisit, uuid.UUID(entry["data"]["id"]))
        assert visit is not None
        assert visit.visited_on.isoformat() == today
    assert count(live_server, PrenatalVisit) == 1


def a_zone_on_another_day() -> str:
    """A phone time zone whose date differs from the service's (Asia/Shanghai, UTC+8) right now: UTC-12 until
    19:00 in China (it is then 20 hours behind, still on the day before), UTC+14 from then on (6 hours ahead,
    already on the next day from 18:00)."""
    hour = datetime.now(ZoneInfo("Asia/Shanghai")).hour
    return "Etc/GMT+12" if hour < 19 else "Pacific/Kiritimati"


def test_a_phone_set_to_another_time_zone_proposes_the_services_date_offline(
    browser: Browser, live_server: LiveServer
) -> None:
    today = server_today(live_server)
    zone = a_zone_on_another_day()
    context = browser.new_context(
        viewport=PHONE, base_url=live_server.url, locale="zh-CN", service_workers="allow", timezone_id=zone
    )
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        case = make_case(live_server, "陈晓红")
        sign_in(page, CADRE_A)
        wait_until_kept_offline(page)
        phone_day = page.evaluate(
            "(() => { const d = new Date(); return [d.getFullYear(), d.getMonth() + 1, d.getDate()]; })()"
        )
        assert date(*phone_day) != today  # the phone's own zone is on another day
        # The last sync is told on the service's clock (what the supervisor sees), not the phone's.
        page.reload()
        page.locator("html[data-ready=true]").wait_for(state="attached")
        synced = page.locator("#sync-state").get_attribute("title") or ""
        china = datetime.now(ZoneInfo("Asia/Shanghai"))
        told = {f"今天 {m:%H:%M}" for m in (china - timedelta(minutes=1), china)}
        assert any(synced.endswith(hm) for hm in told), synced
        context.set_offline(True)
        page.goto(f"/p/{case.pregnancy_id}/visit")
        page.locator("html[data-ready=true]").wait_for(state="attached")  # the form is prepared
        expect(page.locator("#f-visited_on")).to_have_value(today.isoformat())
        expect(page.locator("#f-visited_on")).to_have_attribute("max", today.isoformat())
    finally:
        context.close()


def test_before_any_sync_times_are_told_on_the_services_clock_from_the_page(
    browser: Browser, live_server: LiveServer
) -> None:
    """The zone the last sync told is not there yet (a first visit, or storage cleared): the page itself says
    the service's offset, so a phone set to another zone never shows its own clock as the service's."""
    context = browser.new_context(
        viewport=PHONE, base_url=live_server.url, locale="zh-CN", timezone_id=a_zone_on_another_day()
    )
    try:
        page = context.new_page()
        sign_in(page, CADRE_A)
        page.locator("html[data-ready=true]").wait_for(state="attached")
        told = page.evaluate(
            """async () => {
                localStorage.removeItem('suifang-utc-offset-min');
                const { formatMoment } = await import('/js/labels.js');
                return formatMoment(new Date().toISOString());
            }"""
        )
        china = datetime.now(ZoneInfo("Asia/Shanghai"))
        assert told in {f"今天 {m:%H:%M}" for m in (china - timedelta(minutes=1), china)}
    finally:
        context.close()


def test_two_tabs_and_the_worker_never_send_the_same_entry_twice(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    entries = record_offline(page, context, make_case(live_server, "陈晓红"))
    sent = pushes(context, lambda route, n: route.continue_())
    other = context.new_page()
    other.goto("/pending")
    other.locator("html[data-ready=true]").wait_for(state="attached")
    context.set_offline(False)
    for tab in (page, other, page, other):
        tab.evaluate(
            "() => { suifang.sync.run({ user: document.querySelector('meta[name=user]').content }); }"
        )
    expect_pending(page, 0, timeout=30_000)
    expect_pending(other, 0, timeout=30_000)
    sent_ops = [op for batch in sent for op in batch]
    assert sorted(sent_ops) == sorted(e["op_id"] for e in entries)
    assert_each_once(live_server, entries)
