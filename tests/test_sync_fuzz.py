"""Whatever a phone sends, each operation gets its answer and nothing a phone sent is dropped or retried for
ever: a field of a valid operation replaced by any JSON value — text with control characters or a NUL,
numbers past any column's range, dates in year 1 or 9999, objects where a string belongs — is `rejected` with
a message naming the field, or applied; never `retry` (the server's own fault, sent again at every sync), and
never at the cost of the valid operation sent with it. Hypothesis, on SQLite and PostgreSQL."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session

from backend.lib.fieldcrypt import FieldCipher
from sync.apply import BatchContext, apply_batch
from tests.conftest import TEST_SECRET, Cast
from tests.sync_support import correct_op, edit_op, op, register_op, risk_op, server_today, visit_op

ANSWERS = {"applied", "duplicate", "rejected", "conflict"}
EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=5),  # control characters, NUL among them
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "0001-01-01",
            "9999-12-31",
            "2026-02-30",
            "1e400",
            "-0",
            "99999999999999999999",
            "NaN",
            "Infinity",
            "x" * 5000,
            "王" * 400,
            "00000000-0000-0000-0000-000000000000",
            "13800000001",
            "990101100001",
            "990101100002",
            "true",
        ]
    ),
)
values = st.one_of(
    scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=8), scalars, max_size=3)
)


def push(engine: Engine, cast: Cast, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with Session(engine) as reading:
        actor = cast.actor(cast.sup_t, reading)
    with Session(engine, expire_on_commit=False) as db:
        batch = BatchContext(
            actor=actor, cipher=FieldCipher(TEST_SECRET), today=server_today(), received_at=datetime.now(UTC)
        )
        results = apply_batch(db, batch, ops)
        db.commit()
    return results


def templates(case: str, visit: str) -> dict[str, dict[str, Any]]:
    """A valid operation of each kind, new ids each time."""
    today = server_today()
    return {
        "register": register_op(),
        "visit": visit_op(case, today),
        "risk": risk_op(case, today, colour="orange"),
        "outcome": op(
            "outcome",
            {
                "id": str(uuid.uuid4()),
                "pregnancy_id": case,
                "outcome_on": today.isoformat(),
                "outcome_type": "live_birth",
                "place": "hospital",
                "mode": "vaginal",
                "n_babies": "1",
                "babies-0-id": str(uuid.uuid4()),
                "babies-0-sex": "2",
                "babies-0-weight_g": "3200",
            },
        ),
        "close": op(
            "close",
            {
                "id": str(uuid.uuid4()),
                "pregnancy_id": case,
                "kind": "lost",
                "closed_on": today.isoformat(),
                "reason": "外出",
            },
        ),
        "edit": edit_op("pregnancy", case, datetime.now(UTC), gravidity="3"),
        "correct": correct_op("prenatal_visit", visit, "amend", "记错了", weight_kg="60.1"),
    }


def a_case(engine: Engine, cast: Cast) -> tuple[str, str]:
    """An open case with a visit: new for each example (an example may close its case)."""
    reg = register_op(registered_on=server_today() - timedelta(days=60), confirm_duplicate="1")
    case = reg["data"]["id"]
    visit = visit_op(case, server_today() - timedelta(days=3))
    assert [r["status"] for r in push(engine, cast, [reg, visit])] == ["applied", "applied"]
    return case, visit["data"]["id"]


@EXAMPLES
@given(
    kind=st.sampled_from(["register", "visit", "risk", "outcome", "close", "edit", "correct"]),
    where=st.integers(min_value=0, max_value=30),
    value=values,
    whole_data=st.booleans(),
)
def test_any_value_in_any_field_is_answered_and_never_costs_the_valid_op_beside_it(
    engine: Engine, cast: Cast, kind: str, where: int, value: Any, whole_data: bool
) -> None:
    case, visit = a_case(engine, cast)
    bad = templates(case, visit)[kind]
    if whole_data and where == 0:
        bad["data"] = value
    elif where in (1, 2):
        bad[("recorded_at", "replaces")[where - 1]] = value
    else:
        data = bad["data"]
        fields = [*sorted(data), "changes", "confirm_duplicate", "unknown_field"]
        data[fields[where % len(fields)]] = value
    beside = visit_op(case, server_today() - timedelta(days=1))

    results = push(engine, cast, [bad, beside])

    assert [r["op_id"] for r in results] == [bad["op_id"], beside["op_id"]]
    assert results[0]["status"] in ANSWERS, results[0]
    if results[0]["status"] == "rejected":
        assert results[0]["errors"] and all(e["field"] and e["message"] for e in results[0]["errors"])
    assert results[1]["status"] in ("applied", "rejected"), results[1]  # the case may have been closed
    if results[1]["status"] == "rejected":
        assert kind in ("close", "outcome") and results[0]["status"] == "applied", results
