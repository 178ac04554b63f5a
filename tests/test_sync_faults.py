"""Sync under faults: the answer lost after the server committed, a server error in the middle of a batch, a
restart between two halves of a batch, a device clock ten days off. In every case nothing is lost and nothing
is doubled (PROTOCOL.md §4–5)."""

import json
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from backend.cases import services
from backend.cases.models import Correction, Pregnancy, PrenatalVisit, RiskGrade, Woman
from backend.db import make_engine
from backend.settings import Settings
from sync import api as sync_api
from sync.models import SyncOperation
from tests.browser import LiveServer, live_server
from tests.conftest import PASSWORD, Cast
from tests.sync_support import (
    Phone,
    app_client,
    edit_op,
    register_op,
    risk_op,
    server_today,
    statuses,
    visit_op,
)

__all__ = ["live_server"]


def count(db: Session, model: type[SQLModel]) -> int:
    db.rollback()
    return int(db.exec(select(func.count()).select_from(model)).one())


def month_of_work(n_women: int = 3) -> list[dict[str, Any]]:
    """Registrations, visits and grades in the order a cadre recorded them."""
    today = server_today()
    ops: list[dict[str, Any]] = []
    for _ in range(n_women):
        reg = register_op()
        pid = reg["data"]["id"]
        ops += [
            reg,
            visit_op(pid, today - timedelta(days=12)),
            risk_op(pid, today - timedelta(days=12)),
            visit_op(pid, today - timedelta(days=2)),
        ]
    return ops


class LiveSession:
    """A signed-in HTTP client of the live server, plus a raw-socket sender that never reads the answer."""

    def __init__(self, server: LiveServer, phone: str) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=30)
        answer = self.http.post("/login", data={"phone": phone, "password": PASSWORD})
        assert answer.status_code == 303, answer.status_code
        self.csrf = self.http.get("/sync/session").json()["csrf_token"]

    def push(self, ops: list[dict[str, Any]]) -> dict[str, Any]:
        answer = self.http.post("/sync/push", json={"v": 1, "ops": ops}, headers={"X-CSRF-Token": self.csrf})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def send_and_hang_up_after_commit(self, ops: list[dict[str, Any]], db: Session) -> None:
        """Send the batch over a raw socket, wait until the server has committed it, then close the connection
        without reading a byte of the answer — a phone whose signal dropped at the worst moment."""
        body = json.dumps({"v": 1, "ops": ops}).encode()
        cookies = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        head = (
            f"POST /sync/push HTTP/1.1\r\nHost: 127.0.0.1:{self.server.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-CSRF-Token: {self.csrf}\r\nCookie: {cookies}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", self.server.port)) as sock:
            sock.sendall(head + body)
            deadline = time.monotonic() + 30
            while count(db, SyncOperation) < len(ops):
                assert time.monotonic() < deadline, "the server never committed the batch"
                time.sleep(0.02)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def live_db(live_server: LiveServer) -> Iterator[Session]:
    engine = make_engine(live_server.settings)
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_a_batch_whose_answer_was_lost_after_commit_is_sent_again_and_nothing_doubles(
    live_server: LiveServer, live_db: Session
) -> None:
    ops = month_of_work()
    phone = LiveSession(live_server, "13800000001")
    phone.send_and_hang_up_after_commit(ops, live_db)
    again = phone.push(ops)
    phone.close()
    assert set(statuses(again)) == {"duplicate"}
    assert {r["original"] for r in again["results"]} == {"applied"}
    assert count(live_db, Pregnancy) == 3
    assert count(live_db, PrenatalVisit) == 6
    assert count(live_db, SyncOperation) == len(ops)


def test_a_server_restart_between_two_halves_of_a_batch_loses_and_doubles_nothing(
    live_server: LiveServer, live_db: Session
) -> None:
    ops = month_of_work(4)
    half = len(ops) // 2
    phone = LiveSession(live_server, "13800000001")
    first = phone.push(ops[:half])
    live_server.restart()
    phone.http.close()
    phone = LiveSession(live_server, "13800000001")  # the session lives in the database: still signed in too
    whole = phone.push(ops)  # the phone re-sends everything it holds, acknowledged or not
    phone.close()
    assert set(statuses(first)) == {"applied"}
    assert statuses(whole) == ["duplicate"] * half + ["applied"] * (len(ops) - half)
    assert count(live_db, Pregnancy) == 4
    assert count(live_db, PrenatalVisit) == 8
    assert count(live_db, SyncOperation) == len(ops)


def test_a_server_error_in_one_op_answers_it_retry_and_applies_the_others(
    settings: Settings,
    cast: Cast,
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ops = month_of_work(2)
    real = services.set_risk_grade
    doomed = uuid.UUID(ops[2]["data"]["id"])
    failing = {"on": True}

    def fails_for_the_first_grade(db: Session, ctx: Any, data: Any) -> Any:
        if failing["on"] and data.id == doomed:
            raise RuntimeError("disk on fire while writing 刘春梅 13912345678")
        return real(db, ctx, data)

    monkeypatch.setattr(services, "set_risk_grade", fails_for_the_first_grade)
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        first = phone.push(ops)
        failing["on"] = False  # fixed; the phone sends what it still holds
        second = phone.push(ops)
    assert statuses(first) == ["applied", "applied", "retry", "applied"] * 1 + ["applied"] * 4
    assert first["results"][2]["reason"] == "server_error"
    assert "RuntimeError" in caplog.text and "13912345678" not in caplog.text and "刘春梅" not in caplog.text
    assert statuses(second) == ["duplicate", "duplicate", "applied", "duplicate"] + ["duplicate"] * 4
    assert count(db, RiskGrade) == 2 + 2  # two first grades at registration, two grades pushed
    assert count(db, PrenatalVisit) == 4
    assert count(db, SyncOperation) == len(ops)


def test_a_500_for_the_whole_request_leaves_nothing_half_applied(
    settings: Settings, cast: Cast, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    ops = month_of_work(2)
    real = sync_api.json_response
    calls = {"n": 0}

    def breaks_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the answer could not be built")
        return real(*args, **kwargs)

    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        monkeypatch.setattr(sync_api, "json_response", breaks_once)
        broken = phone.push_raw({"v": 1, "ops": ops})
        assert broken.status_code == 500
        assert broken.headers["content-type"].startswith("application/problem+json")
        assert count(db, SyncOperation) == 0  # rolled back as a whole: the phone still holds every op
        again = phone.push(ops)
    assert set(statuses(again)) == {"applied"}
    assert count(db, Pregnancy) == 2
    assert count(db, PrenatalVisit) == 4


def test_a_device_clock_ten_days_off_still_applies_each_op_once(
    settings: Settings, cast: Cast, db: Session
) -> None:
    now = datetime.now().astimezone()
    ops = month_of_work(2)
    for skew in (timedelta(days=10), timedelta(days=-10)):
        for o in ops:
            o["recorded_at"] = (now + skew - timedelta(hours=1)).isoformat()
        with app_client(settings) as client:
            phone = Phone(client, "13800000001")
            first = phone.push(ops, sent_at=(now + skew).isoformat())
            second = phone.push(ops, sent_at=(now + skew).isoformat())
        assert set(statuses(second)) == {"duplicate"}
        assert first["results"][0]["status"] in ("applied", "duplicate")
    assert count(db, Pregnancy) == 2
    stored = db.exec(select(SyncOperation)).first()
    assert stored is not None and stored.recorded_at is not None
    assert abs(stored.recorded_at - (now + timedelta(days=10) - timedelta(hours=1))) < timedelta(seconds=1)
    pregnancy = db.exec(select(Pregnancy)).first()
    assert pregnancy is not None
    assert abs(pregnancy.recorded_at - (now - timedelta(hours=1))) < timedelta(minutes=5)  # corrected


@pytest.mark.parametrize("fast_first", [True, False])
def test_of_two_edits_the_one_made_later_wins_though_its_rivals_clock_runs_ten_days_fast(
    settings: Settings, cast: Cast, db: Session, fast_first: bool
) -> None:
    reg = register_op()
    woman = reg["data"]["woman_id"]
    now = datetime.now().astimezone()
    fast = timedelta(days=10)
    early_on_fast_phone = edit_op("woman", woman, now - timedelta(hours=2) + fast, name="李早")
    later_on_good_phone = edit_op("woman", woman, now - timedelta(hours=1), name="李晚")
    with app_client(settings) as client:
        Phone(client, "13800000001").push([reg])

        def send_fast() -> dict[str, Any]:
            return Phone(client, "13800000001", device_id="fast").push(
                [early_on_fast_phone], sent_at=(now + fast).isoformat()
            )

        def send_good() -> dict[str, Any]:
            return Phone(client, "13800000010", device_id="good").push(
                [later_on_good_phone], sent_at=now.isoformat()
            )

        if fast_first:
            fast_answer, good_answer = send_fast(), send_good()
        else:
            good_answer, fast_answer = send_good(), send_fast()
    db.rollback()
    db.expire_all()
    assert db.get(Woman, uuid.UUID(woman)).name == "李晚"  # type: ignore[union-attr]
    assert statuses(good_answer) == ["applied"]
    if fast_first:
        assert statuses(fast_answer) == ["applied"]  # it stood until the later edit arrived
    else:
        assert statuses(fast_answer) == ["conflict"]
        assert fast_answer["results"][0]["winner"]["name"]["value"] == "李晚"
        assert fast_answer["results"][0]["winner"]["name"]["label"] == {"zh": "姓名", "en": "Name"}
    loser = db.get(Correction, uuid.UUID(early_on_fast_phone["data"]["id"]))
    assert loser is not None and loser.superseded


def test_a_fault_that_passes_is_absorbed_by_the_careful_second_attempt(
    settings: Settings, cast: Cast, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quick way fails the whole batch on a fault of ours; the careful way applies it again op by op, so a
    fault that does not recur (a lock, a dropped connection) costs nothing."""
    ops = month_of_work(2)
    real = services.set_risk_grade
    calls = {"n": 0}

    def fails_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database is locked")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "set_risk_grade", fails_once)
    with app_client(settings) as client:
        body = Phone(client, "13800000001").push(ops)
    assert statuses(body) == ["applied"] * len(ops)
    assert calls["n"] == 3  # the failed call, then both grades in the careful attempt
    assert count(db, RiskGrade) == 2 + 2
    assert count(db, PrenatalVisit) == 4
    assert count(db, SyncOperation) == len(ops)


def test_a_case_whose_due_items_cannot_be_planned_holds_back_only_its_own_ops(
    settings: Settings, cast: Cast, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backend.cases import schedule_store

    ops = month_of_work(
        2
    )  # two women, four ops each; the second woman's LMP one day earlier tells them apart
    ops[4]["data"]["lmp"] = (
        (datetime.fromisoformat(ops[4]["data"]["lmp"]) - timedelta(days=1)).date().isoformat()
    )
    doomed_lmp = datetime.fromisoformat(ops[0]["data"]["lmp"]).date()
    real = schedule_store.plan_items
    failing = {"on": True}

    def fails_for_the_first_woman(facts: Any, rules: Any) -> Any:
        if failing["on"] and facts.lmp == doomed_lmp:
            raise ZeroDivisionError("a bug in planning")
        return real(facts, rules)

    monkeypatch.setattr(schedule_store, "plan_items", fails_for_the_first_woman)
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        first = phone.push(ops)
        failing["on"] = False  # the bug fixed and deployed; the phone sends what it still holds
        second = phone.push(ops)
    assert statuses(first) == ["retry"] * 4 + ["applied"] * 4
    assert [r["reason"] for r in first["results"][:4]] == ["server_error", "waiting", "waiting", "waiting"]
    assert statuses(second) == ["applied"] * 4 + ["duplicate"] * 4
    assert count(db, Pregnancy) == 2
    assert count(db, PrenatalVisit) == 4
    assert count(db, SyncOperation) == len(ops)


def test_an_op_failing_after_its_record_was_written_leaves_no_trace_in_the_case(
    settings: Settings, cast: Cast, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = register_op()
    pid = reg["data"]["id"]
    doomed = visit_op(pid, server_today() - timedelta(days=3))
    later = risk_op(pid, server_today() - timedelta(days=2), colour="orange")
    real = services.common.audit  # looked up where _done stores and audits a record

    def fails_after_the_visit_was_flushed(
        db: Session, user_id: Any, action: str, *args: Any, **kwargs: Any
    ) -> None:
        if action == "prenatal_visit":
            raise RuntimeError("audit log unavailable")
        real(db, user_id, action, *args, **kwargs)

    monkeypatch.setattr(services.common, "audit", fails_after_the_visit_was_flushed)
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        body = phone.push([reg, doomed, later])
        case = phone.pull()["cases"][0]
    assert statuses(body) == ["applied", "retry", "applied"]
    assert "visits" not in case
    assert not any(item.get("done_on") for item in case["items"])  # the schedule never saw the undone visit
    assert case["high_risk"] is True  # the grade after it was applied and counted
    assert count(db, PrenatalVisit) == 0


def test_absurd_device_clocks_never_refuse_or_break_an_op(
    settings: Settings, cast: Cast, db: Session
) -> None:
    ops = month_of_work(1)
    for o, when in zip(
        ops, ("0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59", "yesterday", None), strict=True
    ):
        o["recorded_at"] = when
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        body = phone.push(ops, sent_at="0001-01-01T00:00:00Z")
        again = phone.push(ops, sent_at=12345)
    assert set(statuses(body)) == {"applied"}
    assert set(statuses(again)) == {"duplicate"}
