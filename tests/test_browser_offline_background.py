"""Background Sync in Debian's chromium (a persistent profile, where Chromium allows it): entries saved with
no signal reach the server after the cadre closed the app, sent by the service worker."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext

from backend.cases.models import PrenatalVisit
from tests.browser import *  # noqa: F403
from tests.browser import LiveServer, persistent_phone, sign_in
from tests.browser_offline import (
    CADRE_A,
    count,
    expect_pending,
    make_case,
    outbox,
    save_offline,
    wait_until_kept_offline,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer, tmp_path: Path) -> Iterator[BrowserContext]:
    with persistent_phone(browser, live_server, tmp_path) as context:
        yield context


def test_the_worker_sends_the_outbox_when_signal_returns_after_the_app_was_closed(
    phone: BrowserContext, live_server: LiveServer
) -> None:
    case = make_case(live_server, "陈晓红")
    page = phone.pages[0] if phone.pages else phone.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    phone.set_offline(True)
    page.goto(f"/p/{case.pregnancy_id}/visit")
    save_offline(page)
    expect_pending(page, 1)
    entry = outbox(page)[0]
    assert page.evaluate("async () => (await navigator.serviceWorker.ready).sync.getTags()") == [
        "suifang-outbox"
    ]
    page.close()  # the cadre closes the app; no page is left to run the sync

    phone.set_offline(False)
    deadline = time.monotonic() + 30
    while not count(live_server, PrenatalVisit, id=entry["data"]["id"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert count(live_server, PrenatalVisit, id=entry["data"]["id"]) == 1

    again = phone.new_page()
    again.goto("/pending")
    expect_pending(again, 0)
