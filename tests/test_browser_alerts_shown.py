"""DOMAIN.md §5 in Debian's chromium: a morning digest the push service kept refusing is retried by the real
alert job, given up, and then shown on the settings page ("…的逾期提醒未能送达手机"), in Chinese and in
English, until a later digest reaches the phone. Fixtures and the push stub are those of test_browser_push."""

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page
from sqlmodel import Session, select

from backend.alerts.models import Alert
from backend.alerts.services import MAX_ATTEMPTS
from backend.db import make_engine
from tests.browser import *  # noqa: F403
from tests.browser import LiveServer, screenshot, sign_in
from tests.push_receiver import PushReceiver, push_receiver_fixture  # noqa: F401 - the fixture
from tests.test_browser_push import (  # noqa: F401 - the fixtures
    CADRE_A,
    context,
    give_cadre_a_an_overdue_visit,
    live_server,
    run_alert_job,
    subscription,
    turn_notifications_on,
)

pytestmark = pytest.mark.browser


def statuses(server: LiveServer) -> dict[date, str]:
    engine = make_engine(server.settings)
    try:
        with Session(engine) as db:
            rows = db.exec(select(Alert).where(Alert.kind == "overdue-digest", Alert.status != "nothing"))
            return {row.local_day: row.status for row in rows}
    finally:
        engine.dispose()


def settings_says(page: Page) -> str:
    page.goto("/settings")
    page.wait_for_selector("#push-settings[data-state=on]")
    page.wait_for_function("() => document.querySelector('#push-last').textContent !== ''")
    return page.inner_text("#push-missed") if page.is_visible("#push-missed") else ""


def test_a_digest_that_could_not_be_delivered_is_shown_on_the_settings_page_until_one_arrives(
    page: Page,
    live_server: LiveServer,  # noqa: F811 - the fixture imported above
    push_receiver: PushReceiver,
    subscription: dict[str, Any],  # noqa: F811 - the fixture imported above
) -> None:
    tz = ZoneInfo(live_server.settings.timezone)
    today = datetime.now(tz).date()
    morning = datetime.combine(today, datetime.min.time(), tz) + timedelta(hours=8)
    give_cadre_a_an_overdue_visit(live_server, today)
    sign_in(page, CADRE_A)
    turn_notifications_on(page)
    assert not page.is_visible("#push-missed")

    push_receiver.respond(subscription["endpoint"], 503, {"Retry-After": "60"})
    for attempt in range(MAX_ATTEMPTS):  # retried with backoff, then given up
        run_alert_job(live_server, push_receiver, morning + timedelta(minutes=2 * attempt))
    assert statuses(live_server) == {today: "gave_up"}

    said = settings_says(page)
    assert said == (
        f"{today.year}年{today.month}月{today.day}日的逾期提醒未能送达手机。"
        "逾期数量请看每页顶部；可发送测试通知检查。"
    )
    assert page.locator("#push-missed").is_visible()
    screenshot(page, "push-settings-given-up-360")

    page.goto("/lang/en")
    month = today.strftime("%b")
    assert settings_says(page) == (
        f"The overdue reminder of {today.day} {month} {today.year} could not be delivered to this phone. "
        "The overdue count is at the top of every page; send a test notification to check."
    )

    push_receiver.program(subscription["endpoint"], None)  # the push service accepts pushes again
    run_alert_job(live_server, push_receiver, morning + timedelta(days=1))
    assert statuses(live_server) == {today: "gave_up", today + timedelta(days=1): "sent"}
    assert settings_says(page) == ""
