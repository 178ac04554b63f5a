"""POST /sync/push: each operation applied exactly once by its op_id, answered on its own, through the same
validation as the online forms (PROTOCOL.md §2–5). Runs on SQLite and PostgreSQL."""

import dataclasses
import gzip
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func
from sqlmodel import Session, SQLModel, col, select

from backend.accounts.models import AuditEntry, User
from backend.cases.models import Pregnancy, PrenatalVisit, RiskGrade, Woman
from backend.lib.clock import local_today
from backend.settings import Settings
from sync.models import SyncOperation
from sync.queries import rejected_counts, rejected_operations
from tests.conftest import VILLAGE_B, VILLAGE_C, Cast
from tests.sync_support import (
    Phone,
    app_client,
    correct_op,
    op,
    register_op,
    risk_op,
    server_today,
    statuses,
    visit_op,
)


def fresh(db: Session) -> None:
    """See what the app wrote through its own engine: a new snapshot, nothing cached."""
    db.rollback()
    db.expire_all()


def count(db: Session, model: type[SQLModel], *where: Any) -> int:
    fresh(db)
    return int(db.exec(select(func.count()).select_from(model).where(*where)).one())


def test_the_same_batch_twice_stores_one_record_each_and_answers_duplicate(
    settings: Settings, cast: Cast, db: Session
) -> None:
    today = server_today()
    reg = register_op()
    pid = reg["data"]["id"]
    batch = [reg, visit_op(pid, today - timedelta(days=10)), risk_op(pid, today - timedelta(days=9))]
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        first = phone.push(batch)
        second = phone.push(batch)
    assert statuses(first) == ["applied", "applied", "applied"]
    assert statuses(second) == ["duplicate", "duplicate", "duplicate"]
    assert [r["original"] for r in second["results"]] == ["applied"] * 3
    assert [r["record_id"] for r in second["results"]] == [r["record_id"] for r in first["results"]]
    assert count(db, Pregnancy) == 1
    assert count(db, PrenatalVisit) == 1
    assert count(db, RiskGrade) == 2  # the registration's first grade and the new one
    assert count(db, SyncOperation) == 3


def test_an_op_repeated_inside_one_batch_is_applied_once(settings: Settings, cast: Cast, db: Session) -> None:
    reg = register_op()
    with app_client(settings) as client:
        body = Phone(client, "13800000001").push([reg, reg])
    assert statuses(body) == ["applied", "duplicate"]
    assert count(db, Pregnancy) == 1


def test_a_new_op_id_for_a_record_already_stored_is_a_duplicate(
    settings: Settings, cast: Cast, db: Session
) -> None:
    reg = register_op()
    again = {**reg, "op_id": str(uuid.uuid4())}
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        phone.push([reg])
        body = phone.push([again])
    assert body["results"][0]["status"] == "duplicate"
    assert body["results"][0]["original"] == "applied"
    assert count(db, Pregnancy) == 1


def test_a_visit_dated_before_registration_is_rejected_alone_with_messages_in_both_languages(
    settings: Settings, cast: Cast, db: Session
) -> None:
    today = server_today()
    first, third = register_op(), register_op()
    pid = first["data"]["id"]
    early = visit_op(pid, today - timedelta(days=30))  # registered 20 days ago
    batch = [first, early, third]
    with app_client(settings) as client:
        body = Phone(client, "13800000001").push(batch)
    assert statuses(body) == ["applied", "rejected", "applied"]
    rejected = body["results"][1]
    assert rejected["reason"] == "invalid"
    error = next(e for e in rejected["errors"] if e["field"] == "visited_on")
    assert "登记" in error["zh"] and "registration" in error["en"].lower()
    assert error["message"] == error["zh"]  # the cadre reads Chinese unless she chose English
    assert count(db, Pregnancy) == 2
    assert count(db, PrenatalVisit) == 0


def test_a_rejected_op_replayed_answers_its_rejection_again(
    settings: Settings, cast: Cast, db: Session
) -> None:
    reg = register_op()
    bad = visit_op(reg["data"]["id"], server_today() - timedelta(days=40))
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        phone.push([reg, bad])
        body = phone.push([bad])
    result = body["results"][0]
    assert (result["status"], result["original"]) == ("duplicate", "rejected")
    assert result["errors"][0]["field"] == "visited_on"


def test_a_corrected_resend_applies_and_resolves_the_rejected_op(
    settings: Settings, cast: Cast, db: Session
) -> None:
    today = server_today()
    reg = register_op()
    bad = visit_op(reg["data"]["id"], today - timedelta(days=40))
    fixed = {
        **bad,
        "op_id": str(uuid.uuid4()),
        "replaces": bad["op_id"],
        "data": {**bad["data"], "visited_on": (today - timedelta(days=5)).isoformat()},
    }
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        phone.push([reg, bad])
        fresh(db)
        scope_t = cast.actor(cast.sup_t, db).scope
        assert rejected_counts(db, scope_t) == {cast.cadre_a.id: 1}
        body = phone.push([fixed])
    assert statuses(body) == ["applied"]
    assert count(db, PrenatalVisit) == 1
    assert rejected_counts(db, scope_t) == {}
    assert db.get(SyncOperation, uuid.UUID(bad["op_id"])).status == "replaced"  # type: ignore[union-attr]


def test_a_discarded_rejected_op_stops_counting_for_the_supervisor(
    settings: Settings, cast: Cast, db: Session
) -> None:
    reg = register_op()
    bad = visit_op(reg["data"]["id"], server_today() - timedelta(days=40))
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        phone.push([reg, bad])
        body = phone.push([op("discard", {"reason": "录错了"}, replaces=bad["op_id"])])
        again = phone.push([op("discard", {}, replaces=bad["op_id"])])
        unknown = phone.push([op("discard", {}, replaces=str(uuid.uuid4()))])
    assert statuses(body) == statuses(again) == statuses(unknown) == ["applied"]
    fresh(db)
    assert rejected_counts(db, cast.actor(cast.sup_t, db).scope) == {}
    assert db.get(SyncOperation, uuid.UUID(bad["op_id"])).status == "discarded"  # type: ignore[union-attr]


def test_rejected_operations_are_listed_per_cadre_within_the_supervisors_township_only(
    settings: Settings, cast: Cast, db: Session
) -> None:
    bad_a = visit_op(str(uuid.uuid4()), server_today())
    bad_c = visit_op(str(uuid.uuid4()), server_today())
    with app_client(settings) as client:
        Phone(client, "13800000001").push([bad_a])
        Phone(client, "13800000003").push([bad_c])
    fresh(db)
    assert rejected_counts(db, cast.actor(cast.sup_t, db).scope) == {cast.cadre_a.id: 1}
    assert rejected_counts(db, cast.actor(cast.sup_u, db).scope) == {cast.cadre_c.id: 1}
    assert rejected_counts(db, cast.actor(cast.county, db).scope) == {cast.cadre_a.id: 1, cast.cadre_c.id: 1}
    listed = rejected_operations(db, cast.actor(cast.sup_t, db).scope)
    assert [(r.op_id, r.kind, r.reason) for r in listed] == [
        (uuid.UUID(bad_a["op_id"]), "visit", "not_found")
    ]


def test_dependants_of_a_rejected_registration_wait_instead_of_being_rejected(
    settings: Settings, cast: Cast, db: Session
) -> None:
    today = server_today()
    bad_reg = register_op(parity="5", gravidity="2")  # parity > gravidity − 1
    visit = visit_op(bad_reg["data"]["id"], today - timedelta(days=3))
    other = register_op()
    with app_client(settings) as client:
        body = Phone(client, "13800000001").push([bad_reg, visit, other])
    assert statuses(body) == ["rejected", "retry", "applied"]
    assert body["results"][1] == {
        "op_id": visit["op_id"],
        "status": "retry",
        "reason": "waiting",
        "after": bad_reg["op_id"],
    }
    assert count(db, SyncOperation, col(SyncOperation.op_id) == uuid.UUID(visit["op_id"])) == 0


def test_visits_to_a_case_of_another_village_or_township_are_rejected_as_not_found(
    settings: Settings, cast: Cast, db: Session
) -> None:
    reg_b = register_op(village=VILLAGE_B)
    reg_c = register_op(village=VILLAGE_C)
    today = server_today()
    with app_client(settings) as client:
        Phone(client, "13800000002").push([reg_b])
        Phone(client, "13800000003").push([reg_c])
        body = Phone(client, "13800000001").push(
            [
                visit_op(reg_b["data"]["id"], today),
                visit_op(reg_c["data"]["id"], today),
                register_op(village=VILLAGE_B),
            ]
        )
    assert statuses(body) == ["rejected", "rejected", "rejected"]
    assert [r["reason"] for r in body["results"]] == ["not_found", "not_found", "invalid"]
    assert body["results"][2]["errors"][0]["field"] == "village_code"
    assert count(db, PrenatalVisit) == 0


def test_malformed_operations_are_answered_one_by_one(settings: Settings, cast: Cast, db: Session) -> None:
    good = register_op()
    ops: list[Any] = [
        "not an object",
        {"op_id": "nope", "kind": "visit", "data": {}},
        {"op_id": str(uuid.uuid4()), "kind": "teleport", "data": {}},
        {"op_id": str(uuid.uuid4()), "kind": "visit", "data": ["a", "list"]},
        {"op_id": str(uuid.uuid4()), "kind": "visit", "data": {"visited_on": {"nested": 1}}},
        {"op_id": str(uuid.uuid4()), "kind": "visit"},
        {"op_id": str(uuid.uuid4()), "kind": "visit", "data": {}},
        good,
    ]
    with app_client(settings) as client:
        body = Phone(client, "13800000001").push(ops)
    assert statuses(body) == ["rejected"] * 7 + ["applied"]
    assert [r.get("reason") for r in body["results"][:7]] == ["malformed"] * 6 + ["invalid"]
    missing = {e["field"] for e in body["results"][6]["errors"]}
    assert {"pregnancy_id", "visited_on", "kind"} <= missing
    assert count(db, Pregnancy) == 1


def test_numbers_and_booleans_in_data_are_read_like_form_strings(
    settings: Settings, cast: Cast, db: Session
) -> None:
    reg = register_op(gravidity=1, parity=0)
    risk = risk_op(reg["data"]["id"], server_today())
    risk["data"]["purple"] = True
    with app_client(settings) as client:
        body = Phone(client, "13800000001").push([reg, risk])
    assert statuses(body) == ["applied", "applied"]
    fresh(db)
    assert db.exec(select(Pregnancy)).one().parity == 0
    assert db.exec(select(RiskGrade).where(col(RiskGrade.purple).is_(True))).one()


def test_whole_request_errors_are_problem_documents_and_apply_nothing(
    settings: Settings, cast: Cast, db: Session
) -> None:
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        headers = {"X-CSRF-Token": phone.csrf, "Content-Type": "application/json"}
        not_json = client.post("/sync/push", content=b"{nope", headers=headers)
        not_gzip = client.post("/sync/push", content=b"xx", headers={**headers, "Content-Encoding": "gzip"})
        no_ops = phone.push_raw({"v": 1})
        future = phone.push_raw({"v": 2, "ops": []})
        huge = phone.push_raw({"v": 1, "ops": [register_op() for _ in range(501)]})
        bomb = gzip.compress(b"[" + b" " * 6_000_000 + b"]")
        inflated = client.post("/sync/push", content=bomb, headers={**headers, "Content-Encoding": "gzip"})
    assert [r.status_code for r in (not_json, not_gzip, no_ops, future, huge, inflated)] == [
        400,
        400,
        400,
        400,
        413,
        413,
    ]
    assert all(
        r.headers["content-type"].startswith("application/problem+json") for r in (not_json, no_ops, huge)
    )
    assert future.json()["supported"] == [1]
    assert huge.json()["max_ops"] == 500
    assert count(db, Pregnancy) == 0


def test_a_gzip_request_body_is_accepted(settings: Settings, cast: Cast, db: Session) -> None:
    body = json.dumps({"v": 1, "ops": [register_op()]}).encode()
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        answer = client.post(
            "/sync/push",
            content=gzip.compress(body),
            headers={
                "X-CSRF-Token": phone.csrf,
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
            },
        )
    assert answer.status_code == 200
    assert statuses(answer.json()) == ["applied"]


def test_an_expired_session_gets_401_and_a_missing_csrf_token_403(
    settings: Settings, cast: Cast, db: Session
) -> None:
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        no_token = client.post("/sync/push", json={"ops": [register_op()]})
        stale = client.post("/sync/push", json={"ops": [register_op()]}, headers={"X-CSRF-Token": "old"})
        client.cookies.clear()
        signed_out = phone.push_raw({"ops": [register_op()]})
        session = client.get("/sync/session")
    assert (no_token.status_code, stale.status_code) == (403, 403)
    assert (signed_out.status_code, session.status_code) == (401, 401)
    assert signed_out.headers["content-type"].startswith("application/problem+json")
    assert count(db, Pregnancy) == 0


def test_a_county_user_may_not_push(settings: Settings, cast: Cast, db: Session) -> None:
    with app_client(settings) as client:
        answer = Phone(client, "13800000020").push_raw({"ops": [register_op()]})
    assert answer.status_code == 403


def test_a_township_visit_from_a_supervisors_phone_is_applied_and_refused_from_a_cadres(
    settings: Settings, cast: Cast, db: Session
) -> None:
    reg = register_op()
    today = server_today()
    with app_client(settings) as client:
        Phone(client, "13800000001").push([reg])
        cadre = Phone(client, "13800000001").push([visit_op(reg["data"]["id"], today, kind="township")])
        sup = Phone(client, "13800000010").push([visit_op(reg["data"]["id"], today, kind="township")])
    assert statuses(cadre) == ["rejected"] and statuses(sup) == ["applied"]


def test_every_push_updates_the_users_last_sync_time(settings: Settings, cast: Cast, db: Session) -> None:
    with app_client(settings) as client:
        Phone(client, "13800000001").push([visit_op(str(uuid.uuid4()), server_today())])
    fresh(db)
    user = db.get(User, cast.cadre_a.id)
    assert user is not None and user.last_sync_at is not None
    assert db.get(User, cast.cadre_b.id).last_sync_at is None  # type: ignore[union-attr]


def test_a_possible_duplicate_woman_is_rejected_until_confirmed(
    settings: Settings, cast: Cast, db: Session
) -> None:
    first = register_op(name="王芳", birth_date="1994-02-03")
    second = register_op(name="王芳", birth_date="1994-02-03")
    confirmed = register_op(name="王芳", birth_date="1994-02-03", confirm_duplicate=True)
    confirmed["replaces"] = second["op_id"]
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        phone.push([first])
        refused = phone.push([second])
        accepted = phone.push([confirmed])
    result = refused["results"][0]
    assert result["status"] == "rejected" and result["errors"][0]["field"] == "name"
    assert result["possible_duplicates"][0]["woman_id"] == first["data"]["woman_id"]
    assert statuses(accepted) == ["applied"]
    assert count(db, Woman) == 2


def test_dates_one_day_past_the_servers_today_are_accepted_and_two_days_refused(
    settings: Settings, cast: Cast, db: Session
) -> None:
    reg = register_op()
    pid = reg["data"]["id"]
    today = server_today()
    with app_client(settings) as client:
        body = Phone(client, "13800000001").push(
            [reg, visit_op(pid, today + timedelta(days=1)), visit_op(pid, today + timedelta(days=2))]
        )
    assert statuses(body) == ["applied", "applied", "rejected"]


def test_the_supervisor_sees_a_push_of_another_township_as_nothing(
    settings: Settings, cast: Cast, db: Session
) -> None:
    with app_client(settings) as client:
        Phone(client, "13800000003").push([visit_op(str(uuid.uuid4()), server_today())])
    fresh(db)
    assert rejected_counts(db, cast.actor(cast.sup_t, db).scope) == {}


@pytest.mark.parametrize(("zone", "offset"), [("Asia/Shanghai", 480), ("Asia/Kathmandu", 345), ("UTC", 0)])
def test_the_session_tells_the_phone_the_services_date_clock_and_zone(
    settings: Settings, cast: Cast, zone: str, offset: int
) -> None:
    with app_client(dataclasses.replace(settings, timezone=zone)) as client:
        Phone(client, "13800000001")
        session = client.get("/sync/session").json()
    assert session["utc_offset_min"] == offset
    assert session["today"] == local_today(zone).isoformat()
    told = datetime.fromisoformat(session["server_time"].replace("Z", "+00:00"))
    assert (told + timedelta(minutes=offset)).date() == local_today(zone)  # what the phone computes


def test_records_written_earlier_in_a_batch_are_found_by_its_later_operations(
    settings: Settings, cast: Cast, db: Session
) -> None:
    """The batch reads its records before the first operation and remembers which are missing: a record one of
    its operations then writes must be found by the later ones (a duplicate, a correction's target)."""
    today = server_today()
    reg = register_op()
    pid = reg["data"]["id"]
    visit = visit_op(pid, today - timedelta(days=5))
    same_visit = {**visit, "op_id": str(uuid.uuid4())}  # another op, the same record: a duplicate
    same_pregnancy = {**reg, "op_id": str(uuid.uuid4())}
    amend = correct_op("prenatal_visit", visit["data"]["id"], "amend", "血压记错", bp_systolic="125")
    with app_client(settings) as client:
        body = Phone(client, "13800000001").push([reg, visit, same_visit, same_pregnancy, amend])
    assert statuses(body) == ["applied", "applied", "duplicate", "duplicate", "applied"]
    assert count(db, PrenatalVisit) == 1
    assert count(db, Pregnancy) == 1


def test_a_batch_reads_its_records_together_not_one_query_per_operation(
    settings: Settings, cast: Cast, db: Session
) -> None:
    today = server_today()
    regs = [register_op() for _ in range(5)]
    visits = [visit_op(regs[0]["data"]["id"], today - timedelta(days=d % 15)) for d in range(60)]
    visits += [risk_op(r["data"]["id"], today - timedelta(days=3)) for r in regs]
    selects: list[str] = []

    def count_selects(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        phone.push(regs)
        event.listen(Engine, "before_cursor_execute", count_selects)
        try:
            body = phone.push(visits)
        finally:
            event.remove(Engine, "before_cursor_execute", count_selects)
    assert set(statuses(body)) == {"applied"}
    # 65 operations; per-operation lookups would be ≥ 130 statements (the record by id, its pregnancy)
    assert len(selects) < 30, len(selects)


def test_each_applied_op_is_audited_once_and_a_refused_one_not_at_all(
    settings: Settings, cast: Cast, db: Session
) -> None:
    """A batch writes its audit entries together at its end: one per record written, with the author and
    device, none for an operation refused (before or after it wrote), none twice for a replay."""
    today = server_today()
    reg = register_op()
    pid = reg["data"]["id"]
    visit = visit_op(pid, today - timedelta(days=5))
    early = visit_op(pid, today - timedelta(days=300))  # before registration: refused before writing
    # Refused after writing: voiding the closure of her first pregnancy would reopen it while a second one
    # is open; the correction and its audit entry were already written when the check failed.
    closure = op(
        "close",
        {"id": str(uuid.uuid4()), "pregnancy_id": pid, "kind": "moved_out", "closed_on": today.isoformat()},
    )
    second = register_op(woman_id=reg["data"]["woman_id"], registered_on=today)
    void = correct_op("closure", closure["data"]["id"], "void", "登记错了")
    batch = [reg, visit, early, closure, second, void]
    with app_client(settings) as client:
        phone = Phone(client, "13800000001", device_id="phone-7")
        body = phone.push(batch)
        phone.push(batch)
    assert statuses(body) == ["applied", "applied", "rejected", "applied", "applied", "rejected"]
    assert body["results"][5]["errors"][0]["field"] == "kind"
    entries = db.exec(select(AuditEntry).where(col(AuditEntry.device) == "phone-7")).all()
    assert sorted((e.action, e.target_id) for e in entries) == sorted(
        [
            ("register_pregnancy", pid),
            ("prenatal_visit", visit["data"]["id"]),
            ("closure_moved_out", closure["data"]["id"]),
            ("register_pregnancy", second["data"]["id"]),
        ]
    )
    assert {e.user_id for e in entries} == {cast.cadre_a.id}


def test_an_export_of_the_pending_entries_is_logged_with_who_and_why(
    settings: Settings, cast: Cast, db: Session
) -> None:
    """DOMAIN §7: exports of personal lists are logged with who and why — the phone's escape hatch too, told
    by an `export_note` op (made offline as often as not)."""
    note = op("export_note", {"entries": 3, "reason": "交给乡卫生院核对"})
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        body = phone.push([note])
        again = phone.push([note])
        short = phone.push([op("export_note", {"entries": 3, "reason": "看"})])
        no_count = phone.push([op("export_note", {"entries": "three", "reason": "交给乡卫生院核对"})])
    assert statuses(body) == ["applied"] and statuses(again) == ["duplicate"]
    assert statuses(short) == statuses(no_count) == ["rejected"]
    assert [e["field"] for e in short["results"][0]["errors"]] == ["reason"]
    assert [e["field"] for e in no_count["results"][0]["errors"]] == ["entries"]
    fresh(db)
    [logged] = db.exec(select(AuditEntry).where(AuditEntry.action == "export_pending_entries")).all()
    assert logged.user_id == cast.cadre_a.id
    assert logged.detail == "entries=3 reason=交给乡卫生院核对"
