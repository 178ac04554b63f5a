"""Push end to end in Debian's chromium: the settings page subscribes (through a stubbed
`pushManager.subscribe` — headless Chromium cannot reach a real push service), the real server sends to the
local push service, and the message it decrypted goes into the real service worker with CDP
`ServiceWorker.deliverPushMessage`, also after the worker was stopped; the notification is read back with
`registration.getNotifications()`, and a tap on it (a `notificationclick` dispatched in the worker: no CDP
method clicks a notification) opens the overdue list."""

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page
from sqlmodel import Session, select

from backend.alerts.models import Alert, PushSubscription
from backend.alerts.services import run_alerts
from backend.db import make_engine
from backend.push.sender import PushSender
from backend.push.vapid import load_or_create_keys
from tests.alert_factories import make_item, make_pregnancy
from tests.browser import *  # noqa: F403
from tests.browser import PHONE, LiveServer, free_port, screenshot, sign_in
from tests.conftest import VILLAGE_A, sqlite_with_cast
from tests.push_receiver import PushReceiver, push_receiver_fixture  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser

CADRE_A = "13800000001"

STUB = """
(() => {
  // Pitfall 12: a real subscribe() hangs or fails in headless Chromium. Resolve to the local push service's
  // subscription instead, remembered across pages like a real one.
  // KEY holds the server key it was made with; OLD, when a test sets it, a subscription made before
  // (with the key in KEY), which subscribe() replaces with SUB as a browser's new subscription would;
  // FAIL, when set, makes the next subscribe() fail as one with no signal does.
  const SUB = %s;
  const KEY = 'test-push-stub';
  const OLD = 'test-push-stub-old';
  const FAIL = 'test-push-stub-fail';
  const bytes = (b64) => Uint8Array.from(atob(b64.replace(/-/g, '+').replace(/_/g, '/')
    .padEnd(Math.ceil(b64.length / 4) * 4, '=')), (c) => c.charCodeAt(0));
  const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
    .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const make = (serverKey) => {
    const sub = JSON.parse(localStorage.getItem(OLD) || 'null') || SUB;
    return {
      endpoint: sub.endpoint,
      expirationTime: null,
      options: { userVisibleOnly: true, applicationServerKey: bytes(serverKey).buffer },
      getKey: (name) => bytes(sub.keys[name]).buffer,
      toJSON: () => ({ endpoint: sub.endpoint, expirationTime: null, keys: sub.keys }),
      unsubscribe: async () => { localStorage.removeItem(KEY); localStorage.removeItem(OLD); return true; },
    };
  };
  PushManager.prototype.subscribe = async function (options) {
    if (localStorage.getItem(FAIL)) {  // a test's push service out of reach, once
      localStorage.removeItem(FAIL);
      throw new DOMException('Registration failed - push service error', 'AbortError');
    }
    localStorage.removeItem(OLD);
    localStorage.setItem(KEY, b64(options.applicationServerKey));
    return make(localStorage.getItem(KEY));
  };
  PushManager.prototype.subscribe.isTestStub = true;
  PushManager.prototype.getSubscription = async function () {
    const key = localStorage.getItem(KEY);
    return key ? make(key) : null;
  };
  PushManager.prototype.permissionState = async () => 'granted';
})();
"""

NOTIFICATIONS = """
async () => {
  const registration = await navigator.serviceWorker.ready;
  const shown = await registration.getNotifications();
  return shown.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
}
"""


@pytest.fixture
def live_server(tmp_path: Path, sqlite_template: Path, push_receiver: PushReceiver) -> Iterator[LiveServer]:
    """The app served for real on a fresh SQLite database with the test cast, allowed to push to the local
    push service (the alert job is run by the tests, at a chosen time)."""
    settings = sqlite_with_cast(tmp_path, sqlite_template, push_allowed_hosts=(push_receiver.origin,))
    server = LiveServer(settings, free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def subscription(live_server: LiveServer, push_receiver: PushReceiver) -> dict[str, Any]:
    """The browser's subscription at the local push service, which refuses pushes signed with another key
    than the server's."""
    key = load_or_create_keys(live_server.settings.data_dir).public_key_b64url
    return push_receiver.subscription(application_server_key=key)


@pytest.fixture
def context(
    browser: Browser, live_server: LiveServer, subscription: dict[str, Any]
) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        viewport=PHONE,
        base_url=live_server.url,
        locale="zh-CN",
        service_workers="allow",
        permissions=["notifications"],
    )
    ctx.add_init_script(STUB % json.dumps(subscription))
    yield ctx
    ctx.close()


# -- helpers -------------------------------------------------------------------------------------------------


def service_worker_ready(page: Page) -> None:
    """The app registers /sw.js itself; registering it again is a no-op that also covers a page that has not
    yet done so. Waits until the worker is active."""
    page.evaluate(
        "async () => { await navigator.serviceWorker.register('/sw.js', { scope: '/' });"
        " await navigator.serviceWorker.ready; }"
    )


def worker_session(context: BrowserContext, page: Page) -> tuple[CDPSession, str]:
    """A CDP session with the ServiceWorker domain on, and the registration id of the app's worker."""
    cdp = context.new_cdp_session(page)
    registrations: dict[str, str] = {}
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.update(
            {r["scopeURL"]: r["registrationId"] for r in event["registrations"] if not r["isDeleted"]}
        ),
    )
    cdp.send("ServiceWorker.enable")
    scope = page.url.split("/", 3)[:3]
    want = "/".join(scope) + "/"
    deadline = time.monotonic() + 10
    while want not in registrations and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    return cdp, registrations[want]


def stop_workers(cdp: CDPSession, page: Page) -> None:
    """Stop the service worker and wait until Chromium reports it stopped: a push sent while it is still
    stopping can be lost with it, which is not what these tests are about."""
    stopped: list[str] = []
    cdp.on(
        "ServiceWorker.workerVersionUpdated",
        lambda event: stopped.extend(
            v["runningStatus"] for v in event["versions"] if v["runningStatus"] == "stopped"
        ),
    )
    cdp.send("ServiceWorker.stopAllWorkers")
    deadline = time.monotonic() + 10
    while not stopped and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    page.wait_for_timeout(200)


def deliver(cdp: CDPSession, page: Page, registration_id: str, data: str) -> None:
    origin = "/".join(page.url.split("/", 3)[:3])
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": origin, "registrationId": registration_id, "data": data},
    )


def notifications(page: Page, until: Callable[[list[dict[str, Any]]], bool] = bool) -> list[dict[str, Any]]:
    """What the phone shows, once `until` holds (by default: something is shown); the worker shows it
    asynchronously after the delivery."""
    shown: list[dict[str, Any]] = []
    for _ in range(400):  # up to 40 s: starting a worker took over 20 s once, a benchmark running beside
        shown = page.evaluate(NOTIFICATIONS)
        if until(shown):
            return shown
        page.wait_for_timeout(100)
    return shown


def turn_notifications_on(page: Page) -> None:
    page.goto("/settings")
    service_worker_ready(page)
    page.reload()
    section = page.locator("#push-settings")
    section.wait_for(state="visible")
    assert section.get_attribute("data-state") == "off"
    page.click("#push-on")
    page.wait_for_selector("#push-settings[data-state=on]")


def saved_subscriptions(server: LiveServer) -> list[PushSubscription]:
    engine = make_engine(server.settings)
    with Session(engine) as db:
        rows = list(db.exec(select(PushSubscription)).all())
    engine.dispose()
    return rows


def run_alert_job(server: LiveServer, receiver: PushReceiver, now: datetime) -> None:
    """One pass of the alert job against the served database (the same code the in-app job and cron run)."""

    async def one_pass() -> None:
        engine = make_engine(server.settings)
        keys = load_or_create_keys(server.settings.data_dir)
        async with PushSender(keys, server.settings.push_contact, allowed_hosts=[receiver.origin]) as sender:
            await run_alerts(engine, server.settings, sender, now=now)
        engine.dispose()

    # Playwright's sync API keeps an event loop running in this thread: run the pass in another one.
    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: _run(one_pass, errors))
    thread.start()
    thread.join(timeout=60)
    assert errors == []


def _run(coroutine: Any, errors: list[BaseException]) -> None:
    try:
        asyncio.run(coroutine())
    except BaseException as exc:
        errors.append(exc)


def give_cadre_a_an_overdue_visit(server: LiveServer, today: Any) -> None:
    engine = make_engine(server.settings)
    with Session(engine) as db:
        from backend.accounts.models import User

        cadre = db.exec(select(User).where(User.phone == CADRE_A)).one()
        pregnancy = make_pregnancy(db, cadre, VILLAGE_A, edd=today + timedelta(days=60))
        make_item(db, pregnancy, today, start=-9, due=-5, end=-2)
        db.commit()
    engine.dispose()


# -- the tests -----------------------------------------------------------------------------------------------


def test_the_push_stub_is_installed_so_no_test_waits_on_a_real_push_service(page: Page) -> None:
    sign_in(page, CADRE_A)
    assert page.evaluate("PushManager.prototype.subscribe.isTestStub === true")


def test_a_cadre_turns_notifications_on_and_a_test_notification_reaches_her_phone(
    page: Page,
    context: BrowserContext,
    live_server: LiveServer,
    push_receiver: PushReceiver,
    subscription: dict[str, Any],
) -> None:
    sign_in(page, CADRE_A)

    turn_notifications_on(page)

    assert "通知已开启" in page.inner_text("#push-status")
    assert "尚未送达" in page.inner_text("#push-last")
    [row] = saved_subscriptions(live_server)
    assert row.endpoint == subscription["endpoint"]

    page.click("#push-test")
    page.wait_for_selector("#push-last:has-text('上次送达')")
    assert "测试通知已发送" in page.inner_text("#push-status")
    # told on the service's clock, as every time on the phone (this browser runs in the machine's zone, UTC)
    china = datetime.now(ZoneInfo("Asia/Shanghai"))
    told = {f"上次送达：今天 {m:%H:%M}" for m in (china - timedelta(minutes=1), china)}
    assert page.inner_text("#push-last").strip() in told
    [message] = push_receiver.delivered(subscription["endpoint"])
    cdp, registration_id = worker_session(context, page)
    deliver(cdp, page, registration_id, message.plaintext.decode())

    [shown] = notifications(page)
    assert (shown["title"], shown["tag"]) == ("随访测试通知", "suifang-test")
    assert shown["body"] == "通知已开启：逾期随访会这样提醒您。"
    screenshot(page, "push-settings-on-360")

    page.reload()  # the next visit shows when the last one arrived (the subscription is re-sent)
    page.wait_for_selector("#push-settings[data-state=on]")
    assert "上次送达" in page.inner_text("#push-last")


def test_the_morning_digest_wakes_a_stopped_worker_and_a_tap_opens_the_overdue_list(
    page: Page,
    context: BrowserContext,
    live_server: LiveServer,
    push_receiver: PushReceiver,
    subscription: dict[str, Any],
) -> None:
    tz = ZoneInfo(live_server.settings.timezone)
    today = datetime.now(tz).date()
    give_cadre_a_an_overdue_visit(live_server, today)
    sign_in(page, CADRE_A)
    turn_notifications_on(page)
    cdp, registration_id = worker_session(context, page)

    run_alert_job(
        live_server, push_receiver, datetime.combine(today, datetime.min.time(), tz) + timedelta(hours=8)
    )

    [message] = push_receiver.delivered(subscription["endpoint"])
    assert message.payload == {
        "title": "随访提醒",
        "body": "逾期 1 项。点击查看。",
        "url": "/#overdue",
        "tag": "overdue-digest",
        "badge_count": 1,
    }
    stop_workers(cdp, page)
    deliver(cdp, page, registration_id, message.plaintext.decode())

    [shown] = notifications(page)
    assert (shown["title"], shown["body"], shown["tag"]) == (
        "随访提醒",
        "逾期 1 项。点击查看。",
        "overdue-digest",
    )
    assert shown["data"]["url"] == "/#overdue"

    page.goto("/settings")
    [worker] = [w for w in context.service_workers if w.url.endswith("/sw.js")][-1:]
    worker.evaluate(
        """async () => {
          const [notification] = await self.registration.getNotifications({ tag: 'overdue-digest' });
          const event = new NotificationEvent('notificationclick', { notification });
          try {
            self.dispatchEvent(event);
          } catch (err) {
            // a synthetic event cannot waitUntil(); the handler has already started navigating
          }
        }"""
    )
    page.wait_for_url("**/#overdue")
    assert page.locator("#overdue .count").inner_text() == "1"
    with Session(make_engine(live_server.settings)) as db:
        statuses = [a.status for a in db.exec(select(Alert).where(Alert.kind == "overdue-digest"))]
    assert sorted(statuses) == ["nothing", "nothing", "sent"]  # cadres B and C had nothing overdue


def test_a_newer_digest_replaces_the_older_one_on_the_phone(page: Page, context: BrowserContext) -> None:
    sign_in(page, CADRE_A)
    page.goto("/settings")
    service_worker_ready(page)
    cdp, registration_id = worker_session(context, page)
    for count in (2, 3):
        payload = {
            "title": "随访提醒",
            "body": f"逾期 {count} 项。",
            "url": "/#overdue",
            "tag": "overdue-digest",
            "badge_count": count,
        }
        deliver(cdp, page, registration_id, json.dumps(payload, ensure_ascii=False))
        expected = [f"逾期 {count} 项。"]
        shown = notifications(page, until=lambda shown, want=expected: [n["body"] for n in shown] == want)

        assert [n["body"] for n in shown] == expected  # one notification: the newer replaced the older


@pytest.mark.parametrize("data", ["", "not json at all", '{"title": 3}', "[1, 2]"])
def test_an_unreadable_push_still_shows_a_notification(
    page: Page, context: BrowserContext, data: str
) -> None:
    sign_in(page, CADRE_A)
    page.goto("/settings")
    service_worker_ready(page)
    cdp, registration_id = worker_session(context, page)
    stop_workers(cdp, page)

    deliver(cdp, page, registration_id, data)

    [shown] = notifications(page)
    assert shown["title"] == "随访提醒"
    assert shown["data"]["url"] == "/#overdue"


def test_a_link_to_another_site_in_a_push_opens_the_overdue_list_instead(
    page: Page, context: BrowserContext
) -> None:
    sign_in(page, CADRE_A)
    page.goto("/settings")
    service_worker_ready(page)
    cdp, registration_id = worker_session(context, page)
    payload = {"title": "t", "body": "b", "url": "https://evil.example.com/x", "tag": "overdue-digest"}

    deliver(cdp, page, registration_id, json.dumps(payload))

    [shown] = notifications(page)
    assert shown["data"]["url"] == "/#overdue"


def test_blocked_notifications_say_how_to_allow_them(browser: Browser, live_server: LiveServer) -> None:
    ctx = browser.new_context(viewport=PHONE, base_url=live_server.url, locale="zh-CN")
    ctx.add_init_script("Object.defineProperty(Notification, 'permission', { get: () => 'denied' });")
    page = ctx.new_page()
    sign_in(page, CADRE_A)
    page.goto("/settings")

    page.wait_for_selector("#push-settings[data-state=blocked]")
    assert "允许“通知”" in page.inner_text("#push-status")
    assert not page.is_visible("#push-on")
    ctx.close()


def test_an_iphone_in_safari_is_told_to_add_the_app_to_the_home_screen_first(
    browser: Browser, live_server: LiveServer
) -> None:
    ctx = browser.new_context(
        viewport=PHONE,
        base_url=live_server.url,
        locale="zh-CN",
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
    )
    ctx.add_init_script("delete window.PushManager;")  # as in a Safari tab: no push outside the Home Screen
    page = ctx.new_page()
    sign_in(page, CADRE_A)
    page.goto("/settings")

    page.wait_for_selector("#push-settings[data-state=unsupported]")
    assert "添加到主屏幕" in page.inner_text("#push-hint")
    assert "逾期数量仍显示" in page.inner_text("#push-status")
    assert page.locator("#overdue-badge").is_visible()
    screenshot(page, "push-settings-iphone-360")
    ctx.close()


def test_turning_notifications_off_forgets_the_subscription_on_the_server(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, CADRE_A)
    turn_notifications_on(page)

    page.click("#push-off")

    page.wait_for_selector("#push-settings[data-state=off]")
    assert saved_subscriptions(live_server) == []


def test_the_subscription_is_sent_again_when_the_app_opens(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    sign_in(page, CADRE_A)
    turn_notifications_on(page)
    engine = make_engine(live_server.settings)
    with Session(engine) as db:  # the server lost it (say, a 410 from a stale copy)
        for row in db.exec(select(PushSubscription)):
            db.delete(row)
        db.commit()
    engine.dispose()

    fresh = context.new_page()  # a new tab is a new app session
    fresh.goto("/")
    for _ in range(100):
        if saved_subscriptions(live_server):
            break
        fresh.wait_for_timeout(50)

    assert len(saved_subscriptions(live_server)) == 1


def test_the_push_handler_shows_its_notification_inside_wait_until(
    page: Page, context: BrowserContext
) -> None:
    """A browser may stop the worker as soon as the push handler returns: showNotification must be inside
    event.waitUntil, or the notification can be lost (and Chrome shows its own "updated in the background").
    A synthetic PushEvent cannot waitUntil(), so its waitUntil is replaced by one that keeps the promise."""
    sign_in(page, CADRE_A)
    page.goto("/settings")
    service_worker_ready(page)
    [worker] = [w for w in context.service_workers if w.url.endswith("/sw.js")][-1:]
    payload = {"title": "随访提醒", "body": "逾期 4 项。", "url": "/#overdue", "tag": "overdue-digest"}

    kept = worker.evaluate(
        """async (data) => {
          const event = new PushEvent('push', { data });
          const promises = [];
          Object.defineProperty(event, 'waitUntil', { value: (promise) => { promises.push(promise); } });
          self.dispatchEvent(event);
          const kept = promises.length;  // counted before anything else is awaited
          await Promise.all(promises);
          const shown = await self.registration.getNotifications({ tag: 'overdue-digest' });
          return { kept, bodies: shown.map((n) => n.body) };
        }""",
        json.dumps(payload, ensure_ascii=False),
    )

    assert kept == {"kept": 1, "bodies": ["逾期 4 项。"]}


def signed_in_with_an_old_key_subscription(
    page: Page, live_server: LiveServer, push_receiver: PushReceiver, tmp_path: Path
) -> str:
    """The cadre signed in on a phone whose subscription was made with a server key since replaced; returns
    the server's key now."""
    (tmp_path / "old-key").mkdir()
    old_key = load_or_create_keys(tmp_path / "old-key").public_key_b64url
    server_key = load_or_create_keys(live_server.settings.data_dir).public_key_b64url
    assert old_key != server_key
    old = push_receiver.subscription(application_server_key=old_key)
    sign_in(page, CADRE_A)
    service_worker_ready(page)
    page.evaluate(
        """([key, old]) => {
          localStorage.setItem('test-push-stub', key);
          localStorage.setItem('test-push-stub-old', JSON.stringify(old));
        }""",
        [old_key, old],
    )
    return server_key


def test_a_subscription_made_with_an_older_server_key_is_made_again_with_the_new_one(
    page: Page,
    live_server: LiveServer,
    push_receiver: PushReceiver,
    subscription: dict[str, Any],
    tmp_path: Path,
) -> None:
    """After the server's VAPID key changed, pushes signed with the new key to a subscription made with the
    old one are refused (403): opening the app subscribes again with the server's key and saves that."""
    server_key = signed_in_with_an_old_key_subscription(page, live_server, push_receiver, tmp_path)
    assert saved_subscriptions(live_server) == []

    page.goto("/")  # a page load sends the subscription again (not only the settings page)
    for _ in range(100):
        if saved_subscriptions(live_server):
            break
        page.wait_for_timeout(50)

    assert [row.endpoint for row in saved_subscriptions(live_server)] == [subscription["endpoint"]]
    stub = page.evaluate(
        "[localStorage.getItem('test-push-stub'), localStorage.getItem('test-push-stub-old')]"
    )
    assert stub == [server_key, None]


def test_a_subscription_lost_while_changing_server_keys_is_made_again_at_the_next_app_open(
    page: Page,
    live_server: LiveServer,
    push_receiver: PushReceiver,
    subscription: dict[str, Any],
    tmp_path: Path,
) -> None:
    """The old-key subscription must go before a new one can be made; when making the new one fails (no
    signal at that moment), the phone has none. Notifications were on and nobody turned them off: the next
    app open subscribes again, instead of leaving her without reminders until she finds the settings page."""
    server_key = signed_in_with_an_old_key_subscription(page, live_server, push_receiver, tmp_path)
    page.evaluate("localStorage.setItem('test-push-stub-fail', '1')")  # the next subscribe() fails
    page.goto("/")  # the old subscription is dropped, the new one fails
    for _ in range(100):
        if page.evaluate("localStorage.getItem('test-push-stub-fail') === null"):
            break
        page.wait_for_timeout(50)
    assert page.evaluate("localStorage.getItem('test-push-stub')") is None
    assert saved_subscriptions(live_server) == []

    page.goto("/")  # the next app open
    for _ in range(100):
        if saved_subscriptions(live_server):
            break
        page.wait_for_timeout(50)

    assert [row.endpoint for row in saved_subscriptions(live_server)] == [subscription["endpoint"]]
    assert page.evaluate("localStorage.getItem('test-push-stub')") == server_key


def test_notifications_turned_off_here_are_not_turned_on_again_by_opening_the_app(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, CADRE_A)
    turn_notifications_on(page)
    page.click("#push-off")
    page.wait_for_selector("#push-settings[data-state=off]")

    page.goto("/")
    page.goto("/settings")
    page.wait_for_selector("#push-settings[data-state=off]")
    assert saved_subscriptions(live_server) == []
    assert page.evaluate("localStorage.getItem('test-push-stub')") is None
