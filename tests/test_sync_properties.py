"""Property of the push side (PROTOCOL.md §5), checked with hypothesis on SQLite and PostgreSQL:
operations from two devices, delivered in random batches with duplicates, reorderings (the devices
interleaved, old batches re-sent after newer ones) and replays, end in the same database state as applying
each distinct operation once, in order."""

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from backend.cases.models import Correction, DueItem, Pregnancy, PrenatalVisit, RiskGrade, Woman
from backend.cases.schedule_store import ITEM_VALUES
from backend.lib.fieldcrypt import FieldCipher
from sync.apply import BatchContext, apply_batch
from sync.models import SyncOperation
from tests.conftest import TEST_SECRET, VILLAGE_A, Cast

TODAY = date.today()
REGISTERED = TODAY - timedelta(days=25)
BASE_TIME = datetime.now(UTC) - timedelta(days=1)
N_PREGNANCIES = 2
NAMES = ("王芳", "王芬", "王方", "李芳")
PHONES = ("13911110000", "13922220000", "13933330000")
EXAMPLES = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def pregnancy_id(k: int) -> str:
    return str(uuid.UUID(int=0x5F00 + k))


def woman_id(k: int) -> str:
    return str(uuid.UUID(int=0x3F00 + k))


def registrations() -> list[dict[str, Any]]:
    return [
        {
            "op_id": str(uuid.UUID(int=0x1000 + k)),
            "kind": "register",
            "recorded_at": (BASE_TIME - timedelta(hours=1)).isoformat(),
            "data": {
                "id": pregnancy_id(k),
                "woman_id": woman_id(k),
                "name": f"孕妇{k}",
                "birth_date": "1995-01-02",
                "village_code": VILLAGE_A,
                "lmp": (REGISTERED - timedelta(days=70)).isoformat(),
                "gravidity": "2",
                "parity": "1",
                "registered_on": REGISTERED.isoformat(),
                "colour": "green",
            },
        }
        for k in range(N_PREGNANCIES)
    ]


@dataclass
class Device:
    user: str  # "cadre" or "supervisor"
    name: str
    ops: list[dict[str, Any]]


@st.composite
def device_ops(draw: st.DrawFn, user: str, name: str, clock: list[int]) -> Device:
    """What one phone recorded, in order: visits, grades, registration edits, amendments of its own visits."""
    ops: list[dict[str, Any]] = []
    visits: list[str] = []
    for _ in range(draw(st.integers(1, 9))):
        clock[0] += 1
        recorded = (BASE_TIME + timedelta(seconds=clock[0])).isoformat()
        k = draw(st.integers(0, N_PREGNANCIES - 1))
        choice = draw(st.sampled_from(("visit", "visit", "risk", "edit_woman", "edit_pregnancy", "amend")))
        op_id = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{name}-{clock[0]}"))
        record_id = str(uuid.uuid5(uuid.UUID(op_id), "record"))
        on = (REGISTERED + timedelta(days=draw(st.integers(0, 24)))).isoformat()
        data: dict[str, Any]
        if choice == "amend" and visits:
            data = {
                "id": record_id,
                "target_type": "prenatal_visit",
                "target_id": draw(st.sampled_from(visits)),
                "kind": "amend",
                "reason": "更正",
                "changes": {
                    "bp_systolic": str(draw(st.integers(100, 140))),
                    "advice": draw(st.sampled_from("甲乙丙")),
                },
            }
            kind = "correct"
        elif choice in ("visit", "amend"):
            data = {
                "id": record_id,
                "pregnancy_id": pregnancy_id(k),
                "visited_on": on,
                "kind": "home" if user == "cadre" else "township",
                "bp_systolic": "120",
                "bp_diastolic": "80",
            }
            kind = "visit"
            visits.append(record_id)
        elif choice == "risk":
            data = {
                "id": record_id,
                "pregnancy_id": pregnancy_id(k),
                "assessed_on": on,
                "colour": draw(st.sampled_from(("green", "yellow", "orange", "red"))),
            }
            kind = "risk"
        elif choice == "edit_woman":
            field, value = draw(
                st.sampled_from(
                    [("name", n) for n in NAMES]
                    + [("phone", p) for p in PHONES]
                    + [("address", a) for a in ("1组", "2组")]
                )
            )
            data = {
                "id": record_id,
                "target_type": "woman",
                "target_id": woman_id(k),
                "changes": {field: value},
            }
            kind = "edit_registration"
        else:
            edd = REGISTERED - timedelta(days=70) + timedelta(days=draw(st.integers(276, 284)))
            data = {
                "id": record_id,
                "target_type": "pregnancy",
                "target_id": pregnancy_id(k),
                "changes": {
                    "edd": edd.isoformat(),
                    "edd_source": draw(st.sampled_from(("ultrasound", "other"))),
                },
            }
            kind = "edit_registration"
        ops.append({"op_id": op_id, "kind": kind, "recorded_at": recorded, "data": data})
    return Device(user, name, ops)


@st.composite
def deliveries(draw: st.DrawFn, devices: list[Device]) -> list[tuple[Device, list[dict[str, Any]]]]:
    """Batches as the network delivered them: each device's entries in order, cut into batches; some batches
    sent again later (lost answers), some ops repeated inside a batch, the devices interleaved at random."""
    per_device: list[list[tuple[Device, list[dict[str, Any]]]]] = []
    for device in devices:
        batches: list[tuple[Device, list[dict[str, Any]]]] = []
        i = 0
        while i < len(device.ops):
            size = draw(st.integers(1, 4))
            batch = list(device.ops[i : i + size])
            if draw(st.booleans()) and batch:  # an entry sent twice (never ahead of itself)
                original = draw(st.integers(0, len(batch) - 1))
                batch.insert(draw(st.integers(original + 1, len(batch))), batch[original])
            batches.append((device, batch))
            if (
                draw(st.integers(0, 3)) == 0
            ):  # the answer was lost: the phone sends everything unacknowledged again
                batches.append((device, list(device.ops[max(0, i - 2) : i + size])))
            i += size
        per_device.append(batches)
    order: list[tuple[Device, list[dict[str, Any]]]] = []
    while any(per_device):
        candidates = [q for q in per_device if q]
        queue = draw(st.sampled_from(candidates))
        order.append(queue.pop(0))
    if draw(st.booleans()):  # a whole replay at the end
        order += [(d, list(d.ops)) for d in devices]
    return order


@contextmanager
def rolled_back(engine: Engine) -> Iterator[Session]:
    """A session whose every commit stays inside one outer transaction, undone at the end."""
    with engine.connect() as conn:
        outer = conn.begin()
        with Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False) as session:
            yield session
        outer.rollback()


def push(db: Session, actor: Any, device: str, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ctx = BatchContext(
        actor=actor,
        cipher=FieldCipher(TEST_SECRET),
        today=TODAY,
        received_at=datetime.now(UTC),
        device_id=device,
    )
    results = apply_batch(db, ctx, ops)
    db.commit()
    return results


def dump(db: Session) -> dict[str, Any]:
    """Everything a user or report could see, without what legitimately depends on arrival (server times,
    row numbers, an edit's `previous`, which of two edits was told `conflict`)."""

    def rows(model: Any, *names: str) -> list[tuple[Any, ...]]:
        return sorted(tuple(str(getattr(r, n)) for n in names) for r in db.exec(select(model)).all())

    return {
        "women": rows(Woman, "id", "name", "phone", "address", "village_code"),
        "pregnancies": rows(
            Pregnancy, "id", "edd", "edd_source", "gravidity", "parity", "high_risk", "status"
        ),
        "visits": rows(
            PrenatalVisit, "id", "pregnancy_id", "visited_on", "kind", "bp_systolic", "author_id", "device_id"
        ),
        "risks": rows(RiskGrade, "id", "pregnancy_id", "assessed_on", "colour"),
        "corrections": sorted(
            (
                str(c.id),
                str(c.target_id),
                c.kind,
                json.dumps(json.loads(c.changes), sort_keys=True),
                c.superseded,
            )
            for c in db.exec(select(Correction)).all()
        ),
        "due_items": rows(DueItem, *ITEM_VALUES),
        "operations": rows(SyncOperation, "op_id", "kind", "device_id"),
    }


@EXAMPLES
@given(data=st.data())
def test_any_delivery_of_two_devices_operations_ends_as_applying_each_once(
    engine: Engine, cast: Cast, data: st.DataObject
) -> None:
    clock = [0]
    devices = [
        data.draw(device_ops("cadre", "phone-a", clock)),
        data.draw(device_ops("supervisor", "phone-t", clock)),
    ]
    schedule = data.draw(deliveries(devices))
    with rolled_back(engine) as db:
        actors = {"cadre": cast.actor(cast.cadre_a, db), "supervisor": cast.actor(cast.sup_t, db)}
        assert {r["status"] for r in push(db, actors["cadre"], "setup", registrations())} == {"applied"}
        for device in devices:
            for o in device.ops:
                result = push(db, actors[device.user], device.name, [o])[0]
                assert result["status"] in ("applied", "conflict"), result
        expected = dump(db)
    with rolled_back(engine) as db:
        actors = {"cadre": cast.actor(cast.cadre_a, db), "supervisor": cast.actor(cast.sup_t, db)}
        push(db, actors["cadre"], "setup", registrations())
        seen: set[str] = set()
        for device, batch in schedule:
            for o, result in zip(batch, push(db, actors[device.user], device.name, batch), strict=True):
                first_time = o["op_id"] not in seen
                seen.add(o["op_id"])
                assert result["status"] in (("applied", "conflict") if first_time else ("duplicate",)), result
        n_ops = db.exec(select(SyncOperation).where(col(SyncOperation.device_id) != "setup")).all()
        assert len(n_ops) == len({o["op_id"] for d in devices for o in d.ops})
        assert dump(db) == expected
