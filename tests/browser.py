"""Browser-test support: the real app served by uvicorn on a loopback port (SQLite, demo-like data) and
Debian's chromium driven by Playwright. Import the fixtures in a test module:

    from tests.browser import *  # noqa: F403  (live_server, browser, page, sign_in, screenshot)
"""

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from backend.app import create_app
from backend.settings import Settings

CHROMIUM = os.environ.get("SUIFANG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE = {"width": 360, "height": 780}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """The app on http://127.0.0.1:<port>, restartable (for fault-injection tests)."""

    settings: Settings
    port: int
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        app = create_app(self.settings, run_migrations=False)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("live server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)
        self.server = self.thread = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def live_server(tmp_path: Path, sqlite_template: Path) -> Iterator[LiveServer]:
    """A fresh SQLite database (migrated) with the test cast, served for real. Browser tests run on SQLite;
    the same services are exercised on PostgreSQL by the API tests."""
    from tests.conftest import sqlite_with_cast

    server = LiveServer(sqlite_with_cast(tmp_path, sqlite_template), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Module-scoped: Playwright's sync API keeps an event loop running while it lives, which would break the
    asyncio tests of later modules; closing it with each module keeps the two apart."""
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        viewport=PHONE, base_url=live_server.url, locale="zh-CN", service_workers="allow"
    )
    yield ctx
    ctx.close()


@contextmanager
def persistent_phone(browser: Browser, live_server: LiveServer, folder: Path) -> Iterator[BrowserContext]:
    """A persistent Chromium profile in `folder`: the only kind that installs an app or keeps a service worker
    running with no page open."""
    context = browser.browser_type.launch_persistent_context(
        str(folder / "profile"),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        base_url=live_server.url,
        viewport=PHONE,
        locale="zh-CN",
    )
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    p = context.new_page()
    p.set_default_timeout(10_000)
    return p


def sign_in(page: Page, phone: str, password: str = "correct-horse-battery") -> None:
    page.goto("/login")
    page.fill("#f-phone", phone)
    page.fill("#f-password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def screenshot(page: Page, name: str, **kwargs: Any) -> Path:
    """Save a test artefact under test-artifacts/ (kept by CI as evidence of what users see)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, **kwargs)
    return path


__all__ = ["LiveServer", "browser", "context", "live_server", "page", "screenshot", "sign_in"]
