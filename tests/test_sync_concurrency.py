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
from sqlalchemy import Engine, event, func, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from backend.accounts.models import LoginSession, User
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
    """And a sign-in hashes the password in a transaction that only reads, then writes its session holding
    the lock (tests/test_slow_requests.py shows why)."""
    settings = sqlite_with_cast(tmp_path, sqlite_template)
    begins: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    def during(request: Any) -> list[str]:
        begins.clear()
        request()
        return list(begins)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        with TestClient(app=create_app(settings, run_migrations=False)) as client:
            form = {"phone": "13800000001", "password": PASSWORD}
            sign_in = during(lambda: client.post("/login", data=form, follow_redirects=False))
            csrf = client.get("/sync/session").json()["csrf_token"]
            push = {"v": 1, "ops": [register_op(village=VILLAGE_A)]}
            writes = during(lambda: client.post("/sync/push", json=push, headers={"X-CSRF-Token": csrf}))
            reads = during(lambda: client.get("/", follow_redirects=False))
            today = client.get("/", follow_redirects=False)
            assert today.status_code == 200 and "今日工作" in today.text  # signed in; Today only reads
            assert client.get("/women").text.count(push["ops"][0]["data"]["name"]) == 1  # the push was saved
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert sign_in == ["BEGIN", "BEGIN IMMEDIATE"]
    assert writes and set(writes) == {"BEGIN IMMEDIATE"}
    assert reads and set(reads) == {"BEGIN"}


def test_a_page_that_writes_after_reading_the_session_never_writes_from_a_stale_snapshot(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """A GET writes now and then: once an hour it slides the session's expiry forward, and /lang stores the
    language. Both come after the request has read the session; written from that read's snapshot, the write
    fails on SQLite when a phone committed in between. Here one always does."""
    settings = sqlite_with_cast(tmp_path, sqlite_template)
    other = make_engine(settings)
    squeezed: list[str] = []
    codes = iter(range(990101100051, 990101100099))

    def phone_commits_right_after_the_session_is_read(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        if "FROM login_session" in statement and not squeezed:
            squeezed.append(statement)
            with Session(other) as db:
                db.add(Area(code=str(next(codes)), name="x"))
                db.commit()

    with TestClient(app=create_app(settings, run_migrations=False)) as client:
        form = {"phone": "13800000001", "password": PASSWORD}
        assert client.post("/login", data=form, follow_redirects=False).status_code == 303
        with Session(other) as db:  # the session was last seen two hours ago
            db.execute(update(LoginSession).values(last_seen_at=datetime.now(UTC) - timedelta(hours=2)))
            db.commit()
        event.listen(Engine, "after_cursor_execute", phone_commits_right_after_the_session_is_read)
        try:
            answers = []
            for path in ("/", "/lang/en"):
                squeezed.clear()
                answers.append(client.get(path, follow_redirects=False).status_code)
                assert squeezed, path  # the phone did commit in between
        finally:
            event.remove(Engine, "after_cursor_execute", phone_commits_right_after_the_session_is_read)
    with Session(other) as db:
        seen = db.exec(select(LoginSession.last_seen_at)).one()
        locale = db.exec(select(User.locale).where(col(User.phone) == "13800000001")).one()
    other.dispose()
    assert answers == [200, 303]
    assert datetime.now(UTC) - seen.replace(tzinfo=UTC) < timedelta(hours=1) and locale == "en"
