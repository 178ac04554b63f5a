"""Installing Suifang and updating it, in Debian's chromium: Chromium finds nothing that keeps the app from
being installed (a persistent profile, as installability needs), and a new release waits until the cadre taps
"重新加载", then replaces the old shell cache."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser import *  # noqa: F403
from tests.browser import LiveServer, persistent_phone, screenshot, sign_in
from tests.browser_offline import CADRE_A, outbox, poll, wait_until_kept_offline

pytestmark = pytest.mark.browser

CACHES = "async () => await caches.keys()"


@pytest.fixture
def installed_profile(browser: Browser, live_server: LiveServer, tmp_path: Path) -> Iterator[BrowserContext]:
    """A persistent Chromium profile: the only kind in which Chromium will consider installing an app."""
    with persistent_phone(browser, live_server, tmp_path) as context:
        yield context


def test_chromium_reports_no_installability_errors(installed_profile: BrowserContext) -> None:
    page = installed_profile.new_page()
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    page.reload()
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    cdp = installed_profile.new_cdp_session(page)
    assert cdp.send("Page.getInstallabilityErrors") == {"installabilityErrors": []}
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"].endswith("/manifest.webmanifest")
    assert manifest["errors"] == []


def test_a_new_release_waits_for_the_tap_then_replaces_the_shell_cache(
    page: Page, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    old = page.locator('meta[name="build"]').get_attribute("content")
    kept = page.evaluate(
        """async () => (await suifang.outbox.add({op_id: crypto.randomUUID(), kind: 'risk', data: {},
            user_id: document.querySelector('meta[name=user]').content, subject: {}})).op_id"""
    )
    assert f"suifang-static-{old}" in page.evaluate(CACHES)

    monkeypatch.setattr("backend.app.build_id", lambda: "release00002")
    live_server.restart()
    page.goto("/women")  # a navigation checks for a new worker
    banner = page.locator("#banner")
    expect(banner).to_contain_text("新版本已就绪", timeout=30_000)
    screenshot(page, "pwa-update-ready")
    assert f"suifang-static-{old}" in page.evaluate(CACHES)  # nothing replaced before the tap

    with page.expect_navigation():  # the tap activates the new worker, which reloads the page
        page.locator("#reload-update").click()
    names = poll(
        page, "async () => (await caches.keys()).includes('suifang-static-release00002') && caches.keys()"
    )
    assert f"suifang-static-{old}" not in names
    assert any(name.startswith("suifang-pages-") for name in names)  # the cadre's offline pages stay
    page.locator("html[data-ready=true]").wait_for(state="attached")
    assert kept in [e["op_id"] for e in outbox(page)]  # the outbox outlives the release
