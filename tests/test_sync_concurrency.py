"""Several phones syncing at the same moment (the morning after a day without signal): every batch is applied
whole, nothing is lost or doubled, on SQLite (one writer at a time) and PostgreSQL."""

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine, event, func
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from backend.app import create_app
from backend.areas.models import Area
from backend.cases.models import Pregnancy, PrenatalVisit
from backend.db import begin_writing, make_engine
from backend.lib.fieldcrypt import FieldCipher
from sync.apply import BatchContext, apply_batch
from sync.models import SyncOperation
from tests.browser import LiveServer, live_server
from tests.case_factories import registration_form
from tests.conftest import PASSWORD, TEST_SECRET, VILLAGE_A, VILLAGE_B, Cast, sqlite_with_cast
from tests.sync_support import register_op, server_today, visit_op

__all__ = ["live_server"]

PHONES = 6
CASES = 8
LIVE = 12  # requests released at once against the live server


def a_phones_batch(village: str) -> list[dict[str, Any]]:
    today = server_today()
    ops = []
    for _ in range(CASES):
        reg = register_op(village=village)
        pid = reg["data"]["id"]
        ops += [reg, visit_op(pid, today - timedelta(days=6)), visit_op(pid, today - timedelta(days=1))]
    return ops


def test_phones_pushing_at_the_same_moment_are_each_applied_whole(
    engine: Engine, cast: Cast, db: Session
) -> None:
    cadres = [(cast.cadre_a, VILLAGE_A), (cast.cadre_b, VILLAGE_B)]
    batches = [(cadres[i % 2][0], a_phones_batch(cadres[i % 2][1])) for i in range(PHONES)]
    start = threading.Barrier(PHONES)
    answers: list[list[dict[str, Any]]] = [[] for _ in range(PHONES)]
    errors: list[BaseException] = []

    def push(i: int) -> None:
        user, ops = batches[i]
        try:
            with Session(engine, expire_on_commit=False) as session:
                batch = BatchContext(
                    actor=cast.actor(user, session),
                    cipher=FieldCipher(TEST_SECRET),
                    today=server_today(),
                    received_at=datetime.now(UTC),
                    device_id=f"phone-{i}",
                )
                start.wait()
                answers[i] = apply_batch(session, batch, ops)
                session.commit()
        except BaseException as exc:  # reported below, with the others' results
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(PHONES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for answer, (_, ops) in zip(answers, batches, strict=True):
        assert [r["status"] for r in answer] == ["applied"] * len(ops)
    count = lambda model: db.exec(select(func.count()).select_from(model)).one()  # noqa: E731
    assert count(Pregnancy) == PHONES * CASES
    assert count(PrenatalVisit) == PHONES * CASES * 2
    assert count(SyncOperation) == PHONES * CASES * 3


def test_phones_syncing_and_forms_posted_at_the_same_moment_on_a_live_server(live_server: LiveServer) -> None:
    """The same through the real server: phones pushing batches while others post the registration form
    online, all released at once. Every request succeeds the first time; nothing is doubled."""
    phones = {0: "13800000001", 1: "13800000002"}
    villages = {0: VILLAGE_A, 1: VILLAGE_B}
    start = threading.Barrier(LIVE)
    codes: list[tuple[str, int]] = []
    lock = threading.Lock()
    forms: list[str] = []

    def work(i: int) -> None:
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            answer = http.post("/login", data={"phone": phones[i % 2], "password": PASSWORD})
            assert answer.status_code == 303
            csrf = http.get("/sync/session").json()["csrf_token"]
            if i % 3:  # a form posted online (two in three)
                form = registration_form(villages[i % 2], server_today(), name=f"并发{i}")
                start.wait()
                answer = http.post("/register", data={**form, "csrf": csrf})
                with lock:
                    codes.append(("form", answer.status_code))
                    forms.append(form["id"])
            else:  # a phone's batch
                ops = a_phones_batch(villages[i % 2])
                start.wait()
                answer = http.post("/sync/push", json={"v": 1, "ops": ops}, headers={"X-CSRF-Token": csrf})
                statuses = (
                    {r["status"] for r in answer.json()["results"]} if answer.status_code == 200 else set()
                )
                with lock:
                    codes.append(("push", answer.status_code if statuses == {"applied"} else -1))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(LIVE)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(codes) == sorted([("form", 303)] * len(forms) + [("push", 200)] * (LIVE - len(forms)))
    engine = make_engine(live_server.settings)
    with Session(engine) as db:
        pregnancies = db.exec(select(func.count()).select_from(Pregnancy)).one()
    engine.dispose()
    assert pregnancies == len(forms) + (LIVE - len(forms)) * CASES


def test_on_sqlite_a_transaction_that_read_first_cannot_write_after_another_committed(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """Why writers take SQLite's lock up front: with a plain BEGIN, a transaction that has read, then finds
    another writer committed in between, fails at once when it writes (WAL: its snapshot is stale, and the
    busy timeout does not apply). Begun with `begin_writing`, the other writer waits its turn instead."""
    engine = make_engine(sqlite_with_cast(tmp_path, sqlite_template))
    area = lambda code: Area(code=code, name=code)  # noqa: E731

    def other_writer(code: str) -> None:
        with Session(engine) as other:
            other.add(area(code))
            other.commit()

    with Session(engine) as first:
        first.exec(select(Area)).all()  # read: the snapshot is taken
        other_writer("990101100091")
        first.add(area("990101100092"))
        with pytest.raises(OperationalError):
            first.commit()
    with Session(engine) as first:
        begin_writing(first)
        first.exec(select(Area)).all()
        waiting = threading.Thread(target=other_writer, args=("990101100093",))
        waiting.start()
        time.sleep(0.3)  # the other writer is now waiting for the lock, not failing
        first.add(area("990101100094"))
        first.commit()
        waiting.join(timeout=30)
    with Session(engine) as db:
        codes = set(db.exec(select(Area.code).where(col(Area.code).like("9901011000__"))).all())
    engine.dispose()
    assert {"990101100091", "990101100093", "990101100094"} <= codes and "990101100092" not in codes


def test_a_request_that_may_write_begins_holding_the_write_lock_and_a_read_does_not(
    tmp_path: Path, sqlite_template: Path
) -> None:
    settings = sqlite_with_cast(tmp_path, sqlite_template)
    begins: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        with TestClient(app=create_app(settings, run_migrations=False)) as client:
            signed = client.post(
                "/login", data={"phone": "13800000001", "password": PASSWORD}, follow_redirects=False
            )
            assert signed.status_code == 303
            writes = list(begins)
            begins.clear()
            today = client.get("/", follow_redirects=False)
            assert today.status_code == 200 and "今日工作" in today.text  # signed in; Today only reads
            reads = list(begins)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert reads and set(reads) == {"BEGIN"}
    assert writes and set(writes) == {"BEGIN IMMEDIATE"}
