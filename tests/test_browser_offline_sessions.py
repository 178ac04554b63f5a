"""The outbox and people, in Debian's chromium: an entry the server sends back stays with its message until it
is corrected; a session that ended while offline keeps the outbox and asks to sign in again; a phone shared by
two cadres never shows or uploads one's entries under the other; signing out with entries left warns first;
the pending entries can be exported as a file; an entry sent back can be discarded."""

import contextlib
import json
import time
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import BrowserContext, Dialog, Page, Route, expect
from playwright.sync_api import Error as PlaywrightError
from sqlmodel import select

from backend.accounts.models import AuditEntry
from backend.accounts.services import revoke_sessions
from backend.cases.models import PrenatalVisit
from sync.models import SyncOperation
from tests.browser import *  # noqa: F403
from tests.browser import LiveServer, screenshot, sign_in
from tests.browser_offline import (
    CADRE_A,
    CADRE_B,
    count,
    expect_pending,
    make_birth,
    make_case,
    outbox,
    save_offline,
    server_db,
    server_today,
    submit,
    user_id,
    wait_until_kept_offline,
)

pytestmark = pytest.mark.browser
PAGE_CACHES = "async () => (await caches.keys()).filter((n) => n.startsWith('suifang-pages-'))"


def visit_offline(
    page: Page, context: BrowserContext, pregnancy_id: uuid.UUID, on: str | None = None
) -> None:
    context.set_offline(True)
    page.goto(f"/p/{pregnancy_id}/visit")
    if on:
        page.locator("html[data-ready=true]").wait_for(state="attached")
        page.fill("#f-visited_on", on)
    save_offline(page)


def test_a_visit_the_server_refuses_stays_with_the_message_and_goes_again_once_corrected(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    """The phone checks what its kept case allows; what it cannot know (here a birth the township recorded
    after the phone last refreshed) the server refuses on sync."""
    case = make_case(live_server, "陈晓红", registered_days_ago=40)
    today = server_today(live_server)
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    make_birth(live_server, case, today - timedelta(days=3))
    visit_offline(page, context, case.pregnancy_id, on=today.isoformat())
    refused = outbox(page)[0]

    context.set_offline(False)
    state = page.locator("#sync-state")
    expect(state).to_have_attribute("data-rejected", "1", timeout=30_000)
    expect(state).to_contain_text("1 条被退回")
    assert count(live_server, PrenatalVisit) == 0
    page.goto("/pending")
    card = page.locator(f'#pending-entries li[data-op="{refused["op_id"]}"]')
    expect(card).to_contain_text("被退回")
    expect(card.locator(".error")).to_contain_text("产前访视日期不能晚于妊娠结局日期")
    # the field as the form names it, not by its code
    expect(card.locator(".error b")).to_have_text("访视日期：")
    card.locator("summary").click()
    expect(card.locator("dt").first).not_to_contain_text("_")
    expect(card.locator("dl")).to_contain_text("访视日期")
    screenshot(page, "offline-pending-rejected")

    card.locator("a", has_text="查看或修改").click()
    expect(page.locator(".field.invalid .error")).to_contain_text("产前访视日期不能晚于妊娠结局日期")
    page.fill("#f-visited_on", (today - timedelta(days=4)).isoformat())
    submit(page)
    expect(page).to_have_url(f"{live_server.url}/pending")
    expect(state).to_have_attribute("data-rejected", "0", timeout=30_000)
    expect_pending(page, 0, timeout=30_000)
    assert count(live_server, PrenatalVisit, id=refused["data"]["id"]) == 1
    with server_db(live_server) as db:
        visit = db.get(PrenatalVisit, uuid.UUID(refused["data"]["id"]))
        assert visit is not None and visit.visited_on == today - timedelta(days=4)
        ops = {str(op.op_id): op.status for op in db.exec(select(SyncOperation)).all()}
    assert ops[refused["op_id"]] == "replaced"  # the server keeps the refusal, answered by the fix
    assert sorted(ops.values()) == ["applied", "replaced"]


def test_a_session_ended_while_offline_keeps_the_outbox_and_finishes_after_signing_in(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    case = make_case(live_server, "陈晓红")
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    visit_offline(page, context, case.pregnancy_id)
    entry = outbox(page)[0]
    with server_db(live_server) as db:
        revoke_sessions(db, uuid.UUID(user_id(page)))
        db.commit()

    context.set_offline(False)
    banner = page.locator("#banner")
    expect(banner).to_contain_text("请重新登录以完成同步", timeout=30_000)
    expect(page.locator("#sync-state")).to_have_attribute("data-state", "signin")
    assert [e["op_id"] for e in outbox(page)] == [entry["op_id"]]
    assert count(live_server, PrenatalVisit) == 0
    screenshot(page, "offline-session-ended")

    banner.locator('a[href="/login"]').click()
    page.fill("#f-phone", CADRE_A)
    page.fill("#f-password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    expect_pending(page, 0, timeout=30_000)
    expect(banner).not_to_contain_text("请重新登录")
    assert count(live_server, PrenatalVisit, id=entry["data"]["id"]) == 1


def test_a_shared_phone_never_shows_or_uploads_one_cadres_entries_under_another(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    hers = make_case(live_server, "陈晓红")
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    cadre_a = user_id(page)
    visit_offline(page, context, hers.pregnancy_id)
    entry = outbox(page)[0]

    # whose session an upload travels under: the CSRF token is bound to the server session that sent it
    a_token = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    uploads: list[tuple[str, list[str]]] = []

    def refuse_while_a_is_signed_in(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        uploads.append(
            (route.request.headers.get("x-csrf-token", ""), [o["op_id"] for o in body.get("ops", [])])
        )
        with contextlib.suppress(PlaywrightError):  # the page may have navigated away meanwhile
            route.fulfill(status=503, content_type="application/problem+json", body='{"title":"down"}')

    context.route("**/sync/push", refuse_while_a_is_signed_in)
    context.set_offline(False)
    expect(page.locator("#sync-state")).to_have_attribute("data-state", "failed", timeout=30_000)

    # A signs out with an entry left: the phone warns first, and forgets her pages.
    warnings: list[str] = []

    def accept(dialog: Dialog) -> None:
        warnings.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.goto("/settings")
    page.wait_for_selector("#logout-form[data-guarded]", state="attached")
    page.locator("#logout-form button[type=submit]").click()
    page.wait_for_url("**/login**")
    assert warnings and "1 条记录没有同步" in warnings[0]
    assert page.evaluate(PAGE_CACHES) == []
    context.unroute_all(behavior="ignoreErrors")

    sign_in(page, CADRE_B)
    wait_until_kept_offline(page)
    expect(page.locator("#sync-state")).to_have_attribute("data-pending", "0")
    expect(page.locator("#pending-list")).to_be_hidden()
    assert page.evaluate(PAGE_CACHES) == [f"suifang-pages-{user_id(page)}"]
    context.set_offline(True)
    page.goto(f"/women/{hers.woman_id}")
    expect(page.locator("main")).not_to_contain_text(hers.name)
    page.goto("/pending")
    expect(page.locator("#pending-entries")).to_contain_text("没有待同步的记录")
    context.set_offline(False)
    page.evaluate("() => suifang.sync.run({ user: document.querySelector('meta[name=user]').content })")
    assert count(live_server, PrenatalVisit) == 0  # B's session never carried A's entry

    page.goto("/settings")
    page.locator("#logout-form button[type=submit]").click()
    page.wait_for_url("**/login**")
    sign_in(page, CADRE_A)
    expect_pending(page, 0, timeout=30_000)
    assert count(live_server, PrenatalVisit, id=entry["data"]["id"]) == 1
    with server_db(live_server) as db:
        visit = db.get(PrenatalVisit, uuid.UUID(entry["data"]["id"]))
        assert visit is not None and str(visit.author_id) == cadre_a
    assert uploads and all(token == a_token for token, ops in uploads if entry["op_id"] in ops)


def test_the_pending_entries_can_be_exported_as_a_file(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    case = make_case(live_server, "陈晓红")
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    visit_offline(page, context, case.pregnancy_id)
    entry = outbox(page)[0]
    page.goto("/pending")
    page.once("dialog", lambda dialog: dialog.accept("手机要维修，先备份"))  # why: it holds names
    with page.expect_download() as download:
        page.locator("#export-pending").click()
    assert "陈晓红" not in download.value.suggested_filename
    assert download.value.suggested_filename.endswith(".json")
    exported = json.loads(download.value.path().read_text())
    assert exported["user_id"] == user_id(page)
    assert [e["op_id"] for e in exported["entries"]] == [entry["op_id"]]
    assert exported["entries"][0]["data"]["pregnancy_id"] == str(case.pregnancy_id)
    assert "csrf" not in json.dumps(exported)
    # who and why reach the audit log with the next sync (the export was made with no signal)
    context.set_offline(False)
    deadline = time.monotonic() + 30
    logged: list[AuditEntry] = []
    while not logged and time.monotonic() < deadline:
        time.sleep(0.5)
        with server_db(live_server) as db:
            exports = select(AuditEntry).where(AuditEntry.action == "export_pending_entries")
            logged = list(db.exec(exports).all())
    [note] = logged
    assert note.detail == "entries=1 reason=手机要维修，先备份"
    assert str(note.user_id) == user_id(page)


def test_a_sent_back_entry_can_be_discarded_and_the_server_is_told(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    case = make_case(live_server, "陈晓红", registered_days_ago=40)
    today = server_today(live_server)
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    make_birth(live_server, case, today - timedelta(days=3))  # recorded by the township; the phone is offline
    visit_offline(page, context, case.pregnancy_id, on=today.isoformat())
    refused = outbox(page)[0]
    context.set_offline(False)
    expect(page.locator("#sync-state")).to_have_attribute("data-rejected", "1", timeout=30_000)

    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/pending")
    page.locator(f'#pending-entries li[data-op="{refused["op_id"]}"] button', has_text="放弃").click()
    expect(page.locator("#pending-entries")).to_contain_text("没有待同步的记录")
    expect(page.locator("#sync-state")).to_have_attribute("data-rejected", "0")
    page.locator("#sync-now").click()
    deadline = time.monotonic() + 20
    status = ""
    while status != "discarded" and time.monotonic() < deadline:
        time.sleep(0.2)
        with server_db(live_server) as db:
            op = db.get(SyncOperation, uuid.UUID(refused["op_id"]))
            status = op.status if op else ""
    assert status == "discarded"  # the supervisor no longer counts it as sent back
    expect(page.locator("#sync-state")).not_to_contain_text("待同步")
    assert outbox(page) == []
    assert count(live_server, PrenatalVisit) == 0
