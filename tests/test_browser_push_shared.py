"""A phone shared by two cadres: the one signed in now gets the phone's notifications (her own counts) as soon
as she opens the app, not the one who signed out (DESIGN §4; pwa_push_research.md pitfall 21)."""

import time

import pytest
from playwright.sync_api import Page
from sqlmodel import Session, select

from backend.accounts.models import User
from backend.alerts.models import PushSubscription
from backend.db import make_engine
from tests.browser import *  # noqa: F403
from tests.browser import LiveServer, sign_in
from tests.push_receiver import push_receiver_fixture  # noqa: F401 - the fixture
from tests.test_browser_push import (  # noqa: F401 - the fixtures
    CADRE_A,
    context,
    live_server,
    subscription,
    turn_notifications_on,
)

pytestmark = pytest.mark.browser
CADRE_B = "13800000002"


def owners(server: LiveServer) -> list[str]:
    engine = make_engine(server.settings)
    try:
        with Session(engine) as db:
            rows = db.exec(select(PushSubscription)).all()
            return [user.phone for row in rows if (user := db.get(User, row.user_id)) is not None]
    finally:
        engine.dispose()


def test_the_next_cadre_to_sign_in_on_a_shared_phone_takes_its_notifications_over(
    page: Page,
    live_server: LiveServer,  # noqa: F811 - the fixture imported above
) -> None:
    sign_in(page, CADRE_A)
    turn_notifications_on(page)
    assert owners(live_server) == [CADRE_A]
    page.goto("/settings")
    page.locator("#logout-form button[type=submit]").click()
    page.wait_for_url("**/login**")

    sign_in(page, CADRE_B)  # opens Today; she never visits the settings page
    deadline = time.monotonic() + 15
    while owners(live_server) != [CADRE_B] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert owners(live_server) == [CADRE_B]
