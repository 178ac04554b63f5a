"""Benchmark of what a phone downloads on its first visit (issue 4): the sign-in page, then Today, in Debian's
chromium with the service worker installing its shell — every HTML page, stylesheet, script, icon, the
manifest and the service worker — summed as gzip-compressed bytes (the size a compressing server or proxy
sends; PNG files count as they are). Separately: the pages the phone then keeps for offline reading (the
cadre's open cases and their forms), which are data, not the app.

Bar: the first visit < 150 KB compressed.
Run: .venv/bin/python bench/bench_download.py [--phone 13900000001]
"""

import argparse
import gzip
import platform
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import uvicorn
from playwright.sync_api import Response, sync_playwright

from backend.app import create_app
from backend.db import make_engine
from backend.demo import PASSWORD, seed_demo
from backend.migrate import upgrade
from backend.settings import Settings
from tests.browser import CHROMIUM
from tests.browser import CHROMIUM_ARGS as ARGS

BAR_KB = 150


@dataclass
class Tally:
    files: list[tuple[str, int, int]] = field(default_factory=list)  # path, raw bytes, compressed bytes

    def add(self, path: str, body: bytes, content_type: str) -> None:
        packed = len(body) if content_type.startswith("image/") else len(gzip.compress(body, 6))
        self.files.append((path, len(body), packed))

    @property
    def raw(self) -> int:
        return sum(raw for _, raw, _ in self.files)

    @property
    def packed(self) -> int:
        return sum(packed for _, _, packed in self.files)


def serve(settings: Settings) -> tuple[uvicorn.Server, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, run_migrations=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def is_offline_copy(path: str) -> bool:
    """Pages the worker fetches to keep for offline reading (after the first visit proper)."""
    return path.startswith(
        ("/women/", "/p/", "/edit/", "/correct/", "/offline/", "/api/pwa/pages")
    ) or path in (
        "/women",
        "/pending",
        "/settings",
        "/register",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phone", default="13900000001", help="demo login (default: the cadre of 东岭村)")
    args, _ = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            data_dir=Path(folder),
            secret_key="bench-secret-key-long-enough-for-hkdf-32",
            environment="test",
            run_alert_job=False,
        )
        engine = make_engine(settings)
        upgrade(engine)
        seed_demo(engine, settings)
        engine.dispose()
        server, base = serve(settings)
        first, offline = Tally(), Tally()
        seen: list[tuple[str, bool, bytes, str]] = []
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                context = browser.new_context(
                    base_url=base,
                    viewport={"width": 360, "height": 780},
                    service_workers="allow",
                    locale="zh-CN",
                )

                def on_response(response: Response) -> None:
                    if (
                        response.from_service_worker
                        or response.request.method != "GET"
                        or response.status >= 300
                    ):
                        return  # served by the worker from the phone, or not a download
                    try:
                        body = response.body()
                    except Exception:  # the body is gone (a navigation replaced the page)
                        body = b""
                    seen.append(
                        (
                            response.url,
                            bool(response.request.service_worker),
                            body,
                            response.headers.get("content-type", ""),
                        )
                    )

                context.on("response", on_response)
                page = context.new_page()
                page.goto("/login")
                page.fill("#f-phone", args.phone)
                page.fill("#f-password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url("**/")
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and not page.evaluate(
                    "async () => Boolean(globalThis.suifang"  # the modules may still be loading
                    " && await suifang.outbox.getMeta('refreshed:'"
                    " + document.querySelector('meta[name=user]').content))"
                ):
                    page.wait_for_timeout(250)
                page.wait_for_timeout(500)
                cookies = {c["name"]: c["value"] for c in context.cookies()}
                browser.close()
            # Playwright gives no body for what the worker fetched into its caches: fetch those again, with
            # the same session, as they were sent.
            with httpx.Client(base_url=base, cookies=cookies) as client:
                for url, by_worker, body, content_type in seen:
                    parts = urlsplit(url)
                    path = parts.path + (f"?{parts.query}" if parts.query else "")
                    if not body:
                        again = client.get(path)
                        body, content_type = again.content, again.headers.get("content-type", "")
                    (offline if by_worker and is_offline_copy(parts.path) else first).add(
                        path, body, content_type
                    )
        finally:
            server.should_exit = True

    print(
        f"bench_download — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{platform.python_version()}, chromium {CHROMIUM}, demo login {args.phone}"
    )
    print("\nfirst visit (sign-in page, Today, the service worker and its shell):")
    for path, raw, packed in sorted(first.files, key=lambda f: -f[2]):
        print(f"  {packed / 1024:7.1f} KB  ({raw / 1024:6.1f} KB raw)  {path}")
    verdict = "OK" if first.packed < BAR_KB * 1024 else "OVER"
    print(
        f"  total {first.packed / 1024:.1f} KB compressed ({first.raw / 1024:.1f} KB raw) in "
        f"{len(first.files)} downloads — bar < {BAR_KB} KB: {verdict}"
    )
    print(
        f"\nthen kept for offline reading: {len(offline.files)} pages, "
        f"{offline.packed / 1024:.1f} KB compressed ({offline.raw / 1024:.1f} KB raw)"
    )
    return 0 if first.packed < BAR_KB * 1024 else 1


if __name__ == "__main__":
    sys.exit(main())
