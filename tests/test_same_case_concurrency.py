"""Two writers on the same case at the same moment — the cadre's phone syncing while the township doctor saves
a form — end as if one had gone first: nothing doubled, every rule kept, the later edit still the winner.

On SQLite one writer holds the database at a time (BEGIN IMMEDIATE), so the second simply waits. On PostgreSQL
two transactions run side by side: unless the second waits for the first's case before it reads it, it checks
and plans from a case without the first's record, and both commit. Each test holds the first writer's
transaction open until the second has either finished or is waiting for it, then lets the first commit."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session, select

from backend.accounts.models import User
from backend.cases import forms, services
from backend.cases.models import Correction, Outcome, Pregnancy, Woman
from backend.db import begin_writing
from backend.lib.fieldcrypt import FieldCipher
from backend.lib.i18n import ValidationFailed
from sync.apply import BatchContext, apply_batch
from tests.case_factories import make_outcome, make_registration, outcome_form, stored_and_planned
from tests.conftest import TEST_SECRET, VILLAGE_A, Cast
from tests.side_by_side import second_while_first_is_open
from tests.sync_support import correct_op, edit_op, op, register_op, risk_op, server_today, visit_op

Results = list[dict[str, Any]]


def push(engine: Engine, cast: Cast, user: User, ops: list[dict[str, Any]]) -> tuple[Session, Results]:
    """Apply `ops` as `user`'s phone, leaving the transaction open: the caller commits."""
    with Session(engine) as reading:
        actor = cast.actor(user, reading)
    session = Session(engine, expire_on_commit=False)
    batch = BatchContext(
        actor=actor,
        cipher=FieldCipher(TEST_SECRET),
        today=server_today(),
        received_at=datetime.now(UTC),
        device_id=f"phone-{user.phone}",
    )
    return session, apply_batch(session, batch, ops)


def committed(engine: Engine, cast: Cast, user: User, ops: list[dict[str, Any]]) -> Results:
    session, results = push(engine, cast, user, ops)
    session.commit()
    session.close()
    return results


def side_by_side(
    engine: Engine,
    cast: Cast,
    first: tuple[User, list[dict[str, Any]]],
    second: tuple[User, list[dict[str, Any]]] | Callable[[], Results],
) -> tuple[Results, Results]:
    """`first` applied, then `second` (a batch, or any write that commits) started while `first` is still
    uncommitted; `first` commits only once `second` has finished or is waiting for a lock (PostgreSQL) or the
    write lock (SQLite)."""
    session, first_results = push(engine, cast, *first)
    write = second if callable(second) else lambda: committed(engine, cast, *second)

    def commit_first() -> None:
        session.commit()
        session.close()

    return first_results, second_while_first_is_open(engine, commit_first, write)


def a_case(engine: Engine, cast: Cast) -> str:
    reg = register_op(village=VILLAGE_A, registered_on=server_today() - timedelta(days=120))
    assert [r["status"] for r in committed(engine, cast, cast.cadre_a, [reg])] == ["applied"]
    return str(reg["data"]["id"])


def test_two_visits_to_one_case_at_once_leave_its_due_items_as_planned_from_both(
    engine: Engine, cast: Cast
) -> None:
    pid = a_case(engine, cast)
    today = server_today()
    first = visit_op(pid, today - timedelta(days=10))
    second = visit_op(pid, today - timedelta(days=3))
    a, b = side_by_side(engine, cast, (cast.cadre_a, [first]), (cast.sup_t, [second]))
    assert [r["status"] for r in a + b] == ["applied", "applied"]
    with Session(engine) as db:
        pregnancy = db.get(Pregnancy, uuid.UUID(pid))
        assert pregnancy is not None
        stored, planned = stored_and_planned(db, pregnancy)
    assert stored == planned  # not two versions of the months the visits moved


def test_two_outcomes_of_one_case_at_once_store_one(engine: Engine, cast: Cast) -> None:
    pid = a_case(engine, cast)
    with Session(engine) as db:
        pregnancy = db.get(Pregnancy, uuid.UUID(pid))
        assert pregnancy is not None
    born = server_today() - timedelta(days=2)
    outcomes = [op("outcome", outcome_form(pregnancy, born, [(sex, "3200")])) for sex in ("1", "2")]
    a, b = side_by_side(engine, cast, (cast.cadre_a, outcomes[:1]), (cast.sup_t, outcomes[1:]))
    assert a[0]["status"] == "applied"
    assert b[0]["status"] == "rejected"
    with Session(engine) as db:
        stored = db.exec(select(Outcome).where(Outcome.pregnancy_id == uuid.UUID(pid))).all()
    assert [o.id for o in stored] == [uuid.UUID(outcomes[0]["data"]["id"])]


def test_two_edits_of_one_field_at_once_keep_the_one_made_later_on_its_phone(
    engine: Engine, cast: Cast
) -> None:
    """The edit made later on its phone reaches the server first: the earlier one, arriving while the first is
    still being saved, must still lose, not overwrite it."""
    pid = a_case(engine, cast)
    with Session(engine) as db:
        pregnancy = db.get(Pregnancy, uuid.UUID(pid))
        assert pregnancy is not None
        woman_id = str(pregnancy.woman_id)
    now = datetime.now(UTC)
    later = edit_op("woman", woman_id, now - timedelta(minutes=5), phone="13911112222")
    earlier = edit_op("woman", woman_id, now - timedelta(hours=2), phone="13933334444")
    a, b = side_by_side(engine, cast, (cast.cadre_a, [later]), (cast.sup_t, [earlier]))
    assert a[0]["status"] == "applied"
    assert b[0]["status"] == "conflict"
    with Session(engine) as db:
        woman = db.get(Woman, uuid.UUID(woman_id))
        assert woman is not None and woman.phone == "13911112222"
        edits = {
            c.id: c.superseded for c in db.exec(select(Correction).where(Correction.kind == "edit")).all()
        }
    assert edits == {uuid.UUID(later["data"]["id"]): False, uuid.UUID(earlier["data"]["id"]): True}


def test_one_visit_carried_by_a_sync_and_a_form_at_once_is_saved_once(engine: Engine, cast: Cast) -> None:
    """One bar of signal: the phone's sync carries a visit while the form's post of the same visit (the same
    record id), which seemed lost, is saved again. The form must find the visit, not clash with it."""
    pid = a_case(engine, cast)
    synced = visit_op(pid, server_today() - timedelta(days=1))

    def post_the_form() -> Results:
        with Session(engine, expire_on_commit=False) as db:
            ctx = cast.ctx(cast.cadre_a, db, server_today())
            db.commit()  # as a form's request does: its write begins holding the write lock
            begin_writing(db)
            written = services.record_prenatal_visit(db, ctx, forms.read_prenatal_visit(synced["data"]))
            db.commit()
        return [
            {"status": "duplicate" if written.duplicate else "applied", "record_id": str(written.record_id)}
        ]

    a, b = side_by_side(engine, cast, (cast.cadre_a, [synced]), post_the_form)
    assert (a[0]["status"], b[0]["status"]) == ("applied", "duplicate")
    assert a[0]["record_id"] == b[0]["record_id"] == synced["data"]["id"]


@pytest.mark.parametrize("db_kind", ["postgres"])
def test_a_form_that_read_the_case_before_it_was_closed_elsewhere_is_refused(
    engine: Engine, cast: Cast
) -> None:
    """The visit form's request had read the case while it was open; the case is closed by another writer
    before the visit is written. Once its turn comes, the visit must see the case as it now is. (PostgreSQL
    only: on SQLite a request that may write holds the database from its start, so it cannot have read the
    case before another writer's commit — test_sync_concurrency.py checks that.)"""
    pid = a_case(engine, cast)
    closing = op(
        "close",
        {
            "id": str(uuid.uuid4()),
            "pregnancy_id": pid,
            "kind": "moved_out",
            "closed_on": server_today().isoformat(),
            "reason": "外出务工",
        },
    )
    visit = visit_op(pid, server_today())
    reading = Session(engine, expire_on_commit=False)
    ctx = cast.ctx(cast.sup_t, reading, server_today())
    reading.commit()
    begin_writing(reading)
    pregnancy = reading.get(Pregnancy, uuid.UUID(pid))  # as a page reads its case before its write
    assert pregnancy is not None and pregnancy.status == "open"
    refused: list[str] = []

    def post_the_visit() -> Results:
        with reading:
            try:
                services.record_prenatal_visit(reading, ctx, forms.read_prenatal_visit(visit["data"]))
            except ValidationFailed as exc:
                refused.extend(e.field for e in exc.errors)
                reading.rollback()
                return [{"status": "rejected"}]
            reading.commit()
        return [{"status": "applied"}]

    a, b = side_by_side(engine, cast, (cast.cadre_a, [closing]), post_the_visit)
    assert (a[0]["status"], b[0]["status"]) == ("applied", "rejected")
    assert refused == ["pregnancy_id"]


@pytest.mark.parametrize("db_kind", ["postgres"])
def test_a_batch_takes_the_locks_of_its_cases_in_one_statement(engine: Engine, cast: Cast) -> None:
    """Taken once, before anything is read, then only remembered: a lock statement per operation (and the
    re-reading that comes with it) cost a third of PostgreSQL's apply rate."""
    cases = [a_case(engine, cast) for _ in range(3)]
    today = server_today()
    ops = [visit_op(pid, today - timedelta(days=d)) for pid in cases for d in (1, 2)]
    ops += [edit_op("pregnancy", cases[0], datetime.now(UTC), gravidity="3"), register_op()]
    statements = statements_of(engine, lambda: committed(engine, cast, cast.cadre_a, ops))
    assert len([s for s in statements if "pg_advisory_xact_lock(" in s]) == 1


@pytest.mark.parametrize("db_kind", ["postgres"])
def test_a_batch_locks_the_cases_it_reaches_without_naming_them_with_the_others(
    engine: Engine, cast: Cast
) -> None:
    """A correction names only its record, and a new pregnancy of a known woman closes her finished one:
    their cases are locked in the batch's one statement, before anything is read — not later, while holding
    the others' (two batches each waiting for a lock the other holds: PostgreSQL fails one)."""
    today = server_today()
    named, corrected = a_case(engine, cast), a_case(engine, cast)
    visit = visit_op(corrected, today - timedelta(days=3))
    assert [r["status"] for r in committed(engine, cast, cast.cadre_a, [visit])] == ["applied"]
    with Session(engine, expire_on_commit=False) as db:  # a woman whose pregnancy has ended
        ctx = cast.ctx(cast.cadre_a, db, today)
        finished = make_registration(
            db, ctx, VILLAGE_A, registered_on=today - timedelta(days=250), lmp=today - timedelta(days=300)
        )
        make_outcome(db, ctx, finished, today - timedelta(days=30))
        db.commit()
    ops = [
        visit_op(named, today - timedelta(days=1)),
        correct_op("prenatal_visit", visit["data"]["id"], "void", "录错了孕妇"),
        register_op(woman_id=str(finished.woman_id), registered_on=today - timedelta(days=5)),
    ]
    statements = statements_of(engine, lambda: committed(engine, cast, cast.cadre_a, ops))
    assert len([s for s in statements if "pg_advisory_xact_lock(" in s]) == 1
    with Session(engine) as db:
        assert db.get(Pregnancy, finished.id).close_reason == "completed"  # type: ignore[union-attr]
        assert db.exec(select(Correction).where(Correction.target_id == uuid.UUID(visit["data"]["id"]))).one()


@pytest.mark.parametrize("db_kind", ["postgres"])
def test_a_form_registering_a_known_woman_locks_her_earlier_pregnancy_with_hers(
    engine: Engine, cast: Cast
) -> None:
    today = server_today()
    with Session(engine, expire_on_commit=False) as db:
        ctx = cast.ctx(cast.sup_t, db, today)
        finished = make_registration(
            db, ctx, VILLAGE_A, registered_on=today - timedelta(days=250), lmp=today - timedelta(days=300)
        )
        make_outcome(db, ctx, finished, today - timedelta(days=30))
        db.commit()

    def register() -> Results:
        with Session(engine) as db:
            ctx = cast.ctx(cast.sup_t, db, today)
            make_registration(db, ctx, VILLAGE_A, woman_id=str(finished.woman_id))
            db.commit()
        return [{"status": "applied"}]

    statements = statements_of(engine, register)
    assert len([s for s in statements if "pg_advisory_xact_lock(" in s]) == 1
    with Session(engine) as db:
        assert db.get(Pregnancy, finished.id).close_reason == "completed"  # type: ignore[union-attr]


def statements_of(engine: Engine, write: Callable[[], Results]) -> list[str]:
    """The SQL statements `write` sent (its results must all be applied)."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        results = write()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert {r["status"] for r in results} == {"applied"}, results
    return statements


def test_a_batch_sent_again_while_the_first_send_is_still_being_applied_answers_duplicate(
    engine: Engine, cast: Cast
) -> None:
    """One bar of signal: the phone gave up waiting and sent the batch again while the server was still
    applying the first. The second waits for the first and answers each op as the first did."""
    pid = a_case(engine, cast)
    ops = [visit_op(pid, server_today() - timedelta(days=1)), risk_op(pid, server_today(), colour="red")]
    a, b = side_by_side(engine, cast, (cast.cadre_a, ops), (cast.cadre_a, ops))
    assert [r["status"] for r in a] == ["applied", "applied"]
    assert [(r["status"], r["original"]) for r in b] == [("duplicate", "applied")] * 2
