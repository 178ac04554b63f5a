"""A slow request holds up nobody else: a sign-in hashing its password (argon2, ~0.1 s) or a supervisor's
report being built (up to half a second for a year) runs off the event loop and without SQLite's write lock,
so pages still answer and phones still sync meanwhile. Each test stops the slow request half-way (a gate) and
checks that others are served; none measures time."""

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from backend.accounts import services as accounts
from backend.accounts.models import AuditEntry
from backend.db import make_engine
from backend.review import exports
from tests.browser import LiveServer, free_port
from tests.conftest import PASSWORD, VILLAGE_A, VILLAGE_B, sqlite_with_cast
from tests.sync_support import register_op

WAIT = 30  # seconds; only reached when something is wrong
QUICK = 10  # a request made while the slow one waits: fails the test by timing out on the old design


class Gate:
    """Wraps a function so that its calls stop until released; `entered` tells that one has."""

    def __init__(self) -> None:
        self.entered, self.released = threading.Event(), threading.Event()

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def gated(*args: Any, **kwargs: Any) -> Any:
            self.entered.set()
            assert self.released.wait(WAIT)
            return fn(*args, **kwargs)

        return gated


@pytest.fixture
def server(tmp_path: Path, sqlite_template: Path) -> Iterator[LiveServer]:
    live = LiveServer(sqlite_with_cast(tmp_path, sqlite_template), free_port())
    live.start()
    yield live
    live.stop()


def signed_in(server: LiveServer, phone: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=server.url, timeout=QUICK)
    assert client.post("/login", data={"phone": phone, "password": PASSWORD}).status_code == 303
    return client, client.get("/sync/session").json()["csrf_token"]


def in_background(request: Callable[[], httpx.Response]) -> tuple[threading.Thread, list[httpx.Response]]:
    answers: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: answers.append(request()))
    thread.start()
    return thread, answers


def others_are_served(server: LiveServer, phone: str, village: str) -> None:
    """While the slow request waits: a page answers, and a phone's registration is saved."""
    client, csrf = signed_in(server, phone)
    try:
        assert client.get("/healthz").status_code == 200
        pushed = client.post(
            "/sync/push", json={"v": 1, "ops": [register_op(village=village)]}, headers={"X-CSRF-Token": csrf}
        )
        assert pushed.status_code == 200
        assert [r["status"] for r in pushed.json()["results"]] == ["applied"]
    finally:
        client.close()


def test_a_sign_in_hashing_its_password_holds_up_no_one(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate()
    monkeypatch.setattr(accounts, "_verify", gate.wrap(accounts._verify))
    with httpx.Client(base_url=server.url, timeout=WAIT) as cadre:
        thread, answers = in_background(
            lambda: cadre.post("/login", data={"phone": "13800000001", "password": PASSWORD})
        )
        try:
            assert gate.entered.wait(WAIT)
            monkeypatch.undo()  # the other user's own sign-in is not held
            others_are_served(server, "13800000002", VILLAGE_B)
        finally:
            gate.released.set()
            thread.join(WAIT)
        assert [a.status_code for a in answers] == [303]
        assert cadre.get("/", follow_redirects=False).status_code == 200  # her session works


def test_a_report_being_built_holds_up_no_one_and_is_still_recorded(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export's audit entry is written after a phone committed meanwhile: on SQLite, written in the
    transaction that read the report, it would fail (stale snapshot)."""
    supervisor, _ = signed_in(server, "13800000010")
    gate = Gate()
    monkeypatch.setattr(exports, "report_xlsx", gate.wrap(exports.report_xlsx))
    supervisor.timeout = httpx.Timeout(WAIT)
    thread, answers = in_background(lambda: supervisor.get("/review/report.xlsx"))
    try:
        assert gate.entered.wait(WAIT)
        others_are_served(server, "13800000001", VILLAGE_A)
    finally:
        gate.released.set()
        thread.join(WAIT)
        supervisor.close()
    assert [a.status_code for a in answers] == [200]
    assert answers[0].content.startswith(b"PK")  # a workbook
    engine = make_engine(server.settings)
    with Session(engine) as db:
        recorded = db.exec(select(AuditEntry).where(col(AuditEntry.action) == "export_report")).all()
    engine.dispose()
    assert len(recorded) == 1
