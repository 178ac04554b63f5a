"""A cadre's day without signal, in Debian's chromium: pages kept on the phone, records saved in the outbox
and shown as 待同步, and everything reaching the server exactly once when the signal comes back."""

import json
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from backend.cases.models import Correction, Infant, Outcome, PostnatalVisit, Pregnancy, PrenatalVisit, Woman
from tests.browser import *  # noqa: F403
from tests.browser import LiveServer, screenshot, sign_in
from tests.browser_offline import (
    CADRE_A,
    count,
    expect_pending,
    make_case,
    make_visit,
    outbox,
    poll,
    save_offline,
    server_today,
    submit,
    wait_until_kept_offline,
)

pytestmark = pytest.mark.browser
USER = "document.querySelector('meta[name=\"user\"]').content"  # the signed-in user's id, in page JS


def test_a_cadre_works_offline_and_each_record_reaches_the_server_once(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    overdue = make_case(live_server, "陈晓红", registered_days_ago=40)
    due_to_deliver = make_case(live_server, "赵春燕", registered_days_ago=100, weeks_pregnant=39)
    today = server_today(live_server)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
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
    screenshot(page, "offline-case-registered-on-phone")

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
    next_month = f'li.item[data-pregnancy="{overdue.pregnancy_id}"][data-item-kind="village"]:visible'
    expect(page.locator(next_month)).to_have_count(1)  # the overdue visit is done, not next month's
    expect(page.locator("#pending-list")).to_contain_text("陈晓红")
    screenshot(page, "offline-today-pending")

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
    assert errors == []  # no script error and nothing the Content-Security-Policy refused


def test_a_birth_recorded_offline_gets_its_first_postnatal_visit_offline(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    mother = make_case(live_server, "赵春燕", registered_days_ago=100, weeks_pregnant=39)
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    context.set_offline(True)
    page.goto(f"/p/{mother.pregnancy_id}/outcome")
    page.locator("html[data-ready=true]").wait_for(state="attached")
    page.select_option("#f-outcome_type", "live_birth")
    page.select_option("#f-babies-0-sex", "1")
    page.fill("#f-babies-0-weight_g", "3300")
    save_offline(page)
    page.locator("#case-pending a", has_text="产后访视").click()
    page.wait_for_url(f"**/p/{mother.pregnancy_id}/postnatal")  # read the outbox from the new page, not
    page.locator("html[data-ready=true]").wait_for(state="attached")  # from the one being left
    baby = outbox(page)[0]["data"]["babies-0-id"]
    expect(page.locator(f'#f-infant_id option[value="{baby}"]')).to_have_count(1)
    page.select_option("#f-infant_id", baby)
    expect(page.locator("#f-milestone")).to_have_value("1w")
    page.fill("#f-infant_weight_g", "3350")
    save_offline(page)
    expect_pending(page, 2)

    context.set_offline(False)
    expect_pending(page, 0, timeout=30_000)
    assert count(live_server, Infant, id=baby) == 1
    assert count(live_server, PostnatalVisit, infant_id=baby) == 1


def test_without_background_sync_as_on_ios_the_page_itself_drains_the_outbox(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    context.add_init_script("delete ServiceWorkerRegistration.prototype.sync; delete window.SyncManager;")
    case = make_case(live_server, "陈晓红")
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    assert page.evaluate("async () => (await navigator.serviceWorker.ready).sync === undefined")
    context.set_offline(True)
    page.goto(f"/p/{case.pregnancy_id}/visit")
    save_offline(page)
    entry = outbox(page)[0]
    context.set_offline(False)
    expect_pending(page, 0, timeout=30_000)
    assert count(live_server, PrenatalVisit, id=entry["data"]["id"]) == 1


def test_the_women_list_kept_on_the_phone_can_be_searched_offline(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    make_case(live_server, "陈晓红")
    make_case(live_server, "赵春燕")
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    context.set_offline(True)
    page.goto("/women?q=晓红")
    expect(page.locator("#women-list li.item", has_text="陈晓红")).to_be_visible()
    expect(page.locator("#women-list li.item", has_text="赵春燕")).to_be_hidden()


def test_a_correction_made_offline_on_a_page_seen_before_reaches_the_server(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    case = make_case(live_server, "陈晓红")
    visit = make_visit(live_server, case)
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    page.goto(f"/correct/prenatal_visit/{visit}")  # seen online, so kept on the phone
    context.set_offline(True)
    page.goto(f"/correct/prenatal_visit/{visit}")
    page.locator("html[data-ready=true]").wait_for(state="attached")
    page.fill("#f-new-weight_kg", "60")
    page.fill("#f-reason", "称重有误")
    save_offline(page)
    entry = outbox(page)[0]
    assert entry["kind"] == "correct"
    assert entry["data"]["target_type"] == "prenatal_visit"
    assert entry["data"]["target_id"] == str(visit)
    context.set_offline(False)
    expect_pending(page, 0, timeout=30_000)
    assert count(live_server, Correction, id=entry["data"]["id"]) == 1


def test_a_recent_record_and_the_registration_can_be_corrected_offline_without_being_opened_before(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    case = make_case(live_server, "陈晓红")
    visit = make_visit(live_server, case)
    sign_in(page, CADRE_A)
    wait_until_kept_offline(
        page
    )  # the phone keeps the correction pages of recent records, and the edit pages
    context.set_offline(True)
    page.goto(f"/women/{case.woman_id}")
    page.locator(f'a[href="/correct/prenatal_visit/{visit}"]').click()
    page.locator("html[data-ready=true]").wait_for(state="attached")
    page.fill("#f-new-weight_kg", "61")
    page.fill("#f-reason", "称重有误")
    save_offline(page)
    page.goto(f"/women/{case.woman_id}")
    page.locator(f'a[href="/edit/woman/{case.woman_id}"]').click()
    page.locator("html[data-ready=true]").wait_for(state="attached")
    page.fill("#f-new-address", "5组8号")
    save_offline(page)
    correction, edit = outbox(page)
    assert (correction["kind"], correction["data"]["target_id"]) == ("correct", str(visit))
    assert (edit["kind"], edit["data"]["target_id"]) == ("edit_registration", str(case.woman_id))
    context.set_offline(False)
    expect_pending(page, 0, timeout=30_000)
    assert count(live_server, Correction, id=correction["data"]["id"]) == 1
    assert count(live_server, Correction, id=edit["data"]["id"]) == 1


def test_an_edit_that_lost_to_a_later_one_from_another_device_is_named_in_words(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    """The phone's address edit reaches the server after a later one from another device: it is kept in
    history, and the phone says which field lost and what it now reads, as the forms name it."""
    from datetime import UTC, datetime

    from backend.cases import services
    from tests.browser_offline import server_db, write_context

    case = make_case(live_server, "陈晓红")
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    context.set_offline(True)
    page.goto(f"/edit/woman/{case.woman_id}")
    page.locator("html[data-ready=true]").wait_for(state="attached")
    page.fill("#f-new-address", "5组8号")
    save_offline(page)
    with server_db(live_server) as db:  # another device, an hour later by its clock, reaches the server first
        later = write_context(db, live_server, CADRE_A)
        later = type(later)(**{**later.__dict__, "recorded_at": datetime.now(UTC) + timedelta(hours=1)})
        services.edit_registration(db, later, "woman", case.woman_id, {"address": "6组1号"}, uuid.uuid4())
        db.commit()
    context.set_offline(False)
    expect_pending(page, 0, timeout=30_000)
    expect(page.locator("#banner")).to_contain_text("已被另一设备较新的修改覆盖：住址 → 6组1号")


def test_a_birth_synced_before_the_kept_forms_were_refreshed_still_gives_its_baby_to_the_postnatal_form(
    page: Page, context: BrowserContext, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A moment of signal: the outcome recorded offline syncs, but the phone loses the signal again before it
    has fetched the case's new pages. Offline, the postnatal form still offers the baby (not the form kept
    from before the birth, which has none)."""
    from backend import pwa_files

    case = make_case(live_server, "赵春燕", registered_days_ago=100, weeks_pregnant=39)
    real, before = pwa_files.offline_pages, {}

    def not_refreshed_yet(*args: object, **kwargs: object) -> dict[str, str]:
        pages = real(*args, **kwargs)  # type: ignore[arg-type]
        for path in [p for p in pages if p.startswith(f"/p/{case.pregnancy_id}/")]:
            pages[path] = before.setdefault(path, pages[path])  # the versions the phone kept first
        return pages

    monkeypatch.setattr(pwa_files, "offline_pages", not_refreshed_yet)
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    context.set_offline(True)
    page.goto(f"/p/{case.pregnancy_id}/outcome")
    page.select_option("#f-outcome_type", "live_birth")
    page.select_option("#f-babies-0-sex", "1")
    page.fill("#f-babies-0-weight_g", "3300")
    save_offline(page)
    refreshed_at = f"async () => suifang.outbox.getMeta('refreshed:' + {USER})"
    refreshed = page.evaluate(refreshed_at)
    context.set_offline(False)
    expect_pending(page, 0, timeout=30_000)
    assert count(live_server, Outcome, pregnancy_id=case.pregnancy_id) == 1
    poll(page, f"async () => (await ({refreshed_at})()) !== {json.dumps(refreshed)}")  # the refresh ran
    context.set_offline(True)
    page.goto(f"/p/{case.pregnancy_id}/postnatal")
    page.locator("html[data-ready=true]").wait_for(state="attached")
    expect(page.locator("#f-infant_id")).to_contain_text("男婴（3300 g）")


def test_a_page_never_kept_on_the_phone_opens_the_apps_offline_page_not_the_browsers_error(
    page: Page, context: BrowserContext
) -> None:
    """Offline, a page the phone never kept (here the registration edit of a woman it has never seen) shows
    the app's offline page, with the way back to what is kept, never Chromium's "no internet" page; an unknown
    case shows the app's case page saying it is not on this phone."""
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    context.set_offline(True)

    page.goto(f"/edit/woman/{uuid.uuid4()}")
    expect(page.locator("h1").first).to_have_text("没有网络")
    expect(page.locator("main a[href='/pending']")).to_be_visible()
    assert page.title().startswith("没有网络")

    page.goto(f"/women/{uuid.uuid4()}")
    expect(page.locator("#pending-case")).to_contain_text("本机上没有这个个案")

    page.click("main a[href='/women']")  # and the way back works offline
    expect(page.locator("h1").first).to_contain_text("孕产妇")


NO_BACKGROUND_SYNC = "delete ServiceWorkerRegistration.prototype.sync; delete window.SyncManager;"
NO_ONLINE_EVENT = """
(() => {
  // Some phones never tell the page the signal came back: listeners for 'online' on window never run.
  const add = EventTarget.prototype.addEventListener;
  window.addEventListener = function (type, ...rest) {
    return type === 'online' ? undefined : add.call(this, type, ...rest);
  };
})();
"""


def stand_timers_still(context: BrowserContext, page: Page) -> None:
    """From now on no timer of the page fires (its retry after a failed sync, its minute timer) until the test
    moves the page's clock (installed with `context.clock.install()` before the page loaded)."""
    context.clock.pause_at(page.evaluate("Date.now()") / 1000 + 1)


def save_a_visit_offline_without_background_sync_or_online_event(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> str:
    """A visit saved with no signal on a phone without Background Sync, whose page hears no 'online' event
    and whose timers stand still; the signal is back when this returns. The entry's id."""
    context.add_init_script(NO_BACKGROUND_SYNC + NO_ONLINE_EVENT)
    context.clock.install()
    case = make_case(live_server, "陈晓红")
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    assert page.evaluate("async () => (await navigator.serviceWorker.ready).sync === undefined")
    context.set_offline(True)
    page.goto(f"/p/{case.pregnancy_id}/visit")
    save_offline(page)
    [entry] = outbox(page)
    expect_pending(page, 1)
    stand_timers_still(context, page)
    context.set_offline(False)
    return str(entry["data"]["id"])


def test_without_background_sync_or_the_online_event_the_page_drains_the_outbox_when_shown_again(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    """iOS has no Background Sync, and 'online' may never come: returning to the app (visibilitychange to
    visible; headless pages are always visible, so the event is dispatched) sends what waits."""
    visit_id = save_a_visit_offline_without_background_sync_or_online_event(page, context, live_server)

    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")

    expect_pending(page, 0, timeout=30_000)
    assert outbox(page) == []
    assert count(live_server, PrenatalVisit, id=visit_id) == 1


def test_without_background_sync_or_the_online_event_the_page_drains_the_outbox_on_its_timer(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    """Nor any return to the app: the page's own timers send what waits — its retry after the sync that failed
    offline (2 s, 4 s … 1 min) or its minute timer (TIMER_MS in autosync.js); a minute covers both, and either
    alone passes this test (removing both fails it)."""
    visit_id = save_a_visit_offline_without_background_sync_or_online_event(page, context, live_server)
    assert count(live_server, PrenatalVisit, id=visit_id) == 0

    context.clock.fast_forward("01:01")

    expect_pending(page, 0, timeout=30_000)
    assert outbox(page) == []
    assert count(live_server, PrenatalVisit, id=visit_id) == 1
