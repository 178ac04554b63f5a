"""One bar of signal ("lie-fi"): the phone thinks it is online, but a request hangs or its answer never comes.
A record saved then is kept on the phone before it is posted, the Save button says it is saving, and whatever
the post did, the server ends with exactly one record. A record the server did save shows as done even on a
page the phone shows from its own copy because the server's page is slow."""

import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from backend.cases.models import PrenatalVisit
from tests.browser import *  # noqa: F403
from tests.browser import LiveServer, sign_in
from tests.browser_offline import (
    CADRE_A,
    count,
    make_case,
    make_visit,
    outbox,
    save_offline,
    wait_until_kept_offline,
)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def stall_posts(context: BrowserContext, *, deliver: bool) -> list[Route]:
    """Every POST of a record form hangs: never sent (deliver=False), or sent and saved by the server but its
    answer never given back to the phone (deliver=True). Returns the hanging routes."""
    hanging: list[Route] = []

    def handle(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        if deliver:
            route.fetch(max_redirects=0)  # the server saves it …
        hanging.append(route)  # … and the phone hears nothing

    context.route("**/p/*/visit", handle)
    return hanging


def drain(page: Page, timeout: float = 60) -> None:
    """Run the sync until the outbox is empty (an entry its page was posting waits out that post first)."""
    deadline = time.monotonic() + timeout
    while outbox(page) and time.monotonic() < deadline:
        page.evaluate("() => suifang.sync.run({ user: document.querySelector('meta[name=user]').content })")
        time.sleep(1)
    assert outbox(page) == []


def save_visit_and_leave(page: Page, live_server: LiveServer, pregnancy_id: uuid.UUID) -> dict[str, Any]:
    page.goto(f"/p/{pregnancy_id}/visit")
    page.locator("html[data-ready=true]").wait_for(state="attached")
    page.fill("#f-weight_kg", "61.5")
    button = page.locator("form.record-form button[type=submit]")
    button.click()
    expect(button).to_have_text("正在保存…")  # she sees it is working
    expect(button).to_be_disabled()
    deadline = time.monotonic() + 10
    while not outbox(page) and time.monotonic() < deadline:
        time.sleep(0.1)
    [kept] = outbox(page)  # on the phone already, while the post hangs
    page.goto("/")  # she gives up waiting and goes back to Today
    page.locator("html[data-ready=true]").wait_for(state="attached")
    return kept


@pytest.mark.parametrize("deliver", [False, True], ids=["post-never-sent", "answer-never-came"])
def test_a_save_that_hangs_is_kept_and_reaches_the_server_exactly_once(
    page: Page, context: BrowserContext, live_server: LiveServer, deliver: bool
) -> None:
    case = make_case(live_server, "陈晓红")
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    hanging = stall_posts(context, deliver=deliver)
    kept = save_visit_and_leave(page, live_server, case.pregnancy_id)
    assert len(hanging) == 1
    assert count(live_server, PrenatalVisit) == (1 if deliver else 0)

    drain(page)
    assert count(live_server, PrenatalVisit, id=kept["data"]["id"]) == 1
    assert count(live_server, PrenatalVisit) == 1


def test_a_visit_the_server_saved_shows_done_on_the_phones_own_copy_of_her_case(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    """The copy the phone shows when the server's page is slow to come (or the signal goes) was kept before
    the visit: it must show the visit done, or she records it again."""
    case = make_case(live_server, "陈晓红", registered_days_ago=40)  # her monthly visit is overdue
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    context.route("**/api/pwa/pages*", lambda route: route.abort())  # the kept pages are not refreshed
    page.goto(f"/p/{case.pregnancy_id}/visit")
    page.locator("html[data-ready=true]").wait_for(state="attached")
    page.locator("form.record-form button[type=submit]").click()
    expect(page.locator("p.ok[role=status]")).to_have_text("已保存")  # saved online, by the server
    assert count(live_server, PrenatalVisit) == 1 and outbox(page) == []

    context.set_offline(True)
    page.goto(f"/women/{case.woman_id}")
    page.locator("html[data-ready=true]").wait_for(state="attached")
    expect(page.locator("meta[name=kept-at]")).to_have_count(1)  # the phone's own copy, from before the visit
    expect(page.locator(".synced-tag").first).to_be_visible()  # … showing the visit done


def test_a_sign_in_whose_answer_never_comes_keeps_her_pages_and_shows_the_apps_own_page(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    case = make_case(live_server, "陈晓红")
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    context.clear_cookies()  # her session ended: she is asked to sign in again
    context.route(
        "**/login", lambda route: route.abort() if route.request.method == "POST" else route.continue_()
    )
    page.goto("/login")
    page.fill("input[name=phone]", CADRE_A)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("没有网络")  # the app's page, not the browser's error

    context.set_offline(True)
    page.goto(f"/women/{case.woman_id}")
    expect(page.locator("meta[name=kept-at]")).to_have_count(1)  # her pages are still on the phone
    expect(page.locator("h1")).to_have_text("陈晓红")


def test_one_page_fetch_that_never_answers_does_not_stop_every_later_refresh(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    case = make_case(live_server, "陈晓红")
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    user = page.evaluate("document.querySelector('meta[name=user]').content")
    before = page.evaluate(f"suifang.outbox.getMeta('refreshed:{user}')")
    make_visit(live_server, case)  # her case page changed on the server: the next refresh fetches it
    hanging: list[Route] = []

    def first_hangs(route: Route) -> None:
        if hanging:
            route.continue_()  # the signal is back for every later fetch
        else:
            hanging.append(route)  # this one never answers

    context.route(f"**/women/{case.woman_id}", first_hangs)
    refresh = "navigator.serviceWorker.ready.then((r) => r.active.postMessage({ type: 'refresh-pages' }))"
    deadline = time.monotonic() + 30
    while not hanging and time.monotonic() < deadline:  # (a refresh already running is joined, not restarted)
        page.evaluate(refresh)
        time.sleep(1)
    assert hanging  # that fetch hangs, and keeps hanging

    deadline = time.monotonic() + 90
    after = before
    while after == before and time.monotonic() < deadline:
        page.evaluate(refresh)
        time.sleep(2)
        after = page.evaluate(f"suifang.outbox.getMeta('refreshed:{user}')")
    assert after != before  # a later refresh ran to its end


def test_an_entry_whose_upload_got_no_answer_says_so_when_she_tries_to_change_it(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    case = make_case(live_server, "陈晓红")
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    context.route("**/sync/push", lambda route: route.abort())  # every upload is cut off
    context.set_offline(True)
    page.goto(f"/p/{case.pregnancy_id}/visit")
    save_offline(page)
    context.set_offline(False)
    deadline = time.monotonic() + 20
    while not (outbox(page) and outbox(page)[0].get("sent_at")) and time.monotonic() < deadline:
        page.evaluate("() => suifang.sync.run({ user: document.querySelector('meta[name=user]').content })")
        time.sleep(0.5)
    [entry] = outbox(page)
    assert entry.get("sent_at")  # tried, no answer

    page.goto("/pending")
    card = page.locator(f'#pending-entries li[data-op="{entry["op_id"]}"]')
    expect(card).to_contain_text("已发出，未收到答复")  # not "being sent": nothing is sending now

    said: list[str] = []
    page.on("dialog", lambda dialog: (said.append(dialog.message), dialog.accept()))
    page.goto(f"{entry['path']}#entry={entry['op_id']}")
    page.locator("html[data-ready=true]").wait_for(state="attached")
    page.locator("form.record-form button[type=submit]").click()
    deadline = time.monotonic() + 10
    while not said and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert said and "没有收到服务器的答复" in said[0]
