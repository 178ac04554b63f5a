"""Bridge between stored records and the pure schedule: load a pregnancy's facts (corrections applied) and
rewrite its materialised due items in the caller's transaction."""

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, TypeVar

from sqlalchemy import bindparam, event, text
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, select

from backend.cases import rules
from backend.cases.locks import lock_for_writing
from backend.cases.models import (
    CaseChange,
    Closure,
    Correction,
    DueItem,
    Infant,
    Outcome,
    PostnatalVisit,
    Pregnancy,
    PrenatalVisit,
    RiskGrade,
)
from backend.cases.prefetch import chunks
from backend.db import transaction_root
from backend.lib.clock import utcnow
from backend.lib.parsing import parse_date
from backend.schedule import (
    InfantFact,
    Item,
    OutcomeFact,
    PostnatalVisitFact,
    PregnancyFacts,
    PrenatalVisitFact,
    RiskFact,
    load_rules,
    plan_items,
)

R = TypeVar("R")
HIGH_RISK_COLOURS = frozenset({"orange", "red"})


def corrected(rows: Iterable[R], corrections: Sequence[Correction]) -> list[R]:
    """Rows as they now read: voided ones dropped, amendments overlaid in the order they were made.
    The stored rows are never changed (visits and outcomes are append-only)."""
    by_target: dict[uuid.UUID, list[Correction]] = {}
    for c in sorted(corrections, key=lambda c: (c.recorded_at, str(c.id))):
        by_target.setdefault(c.target_id, []).append(c)
    out: list[R] = []
    for row in rows:
        changes = by_target.get(row.id, [])  # type: ignore[attr-defined]
        if any(c.kind == "void" for c in changes):
            continue
        amended = [c for c in changes if c.kind == "amend"]
        if amended:
            row = row.model_copy()  # type: ignore[attr-defined]
            for c in amended:
                for name, value in json.loads(c.changes).items():
                    _set_typed(row, name, value)
        out.append(row)
    return out


def _set_typed(row: Any, name: str, value: Any) -> None:
    """Assign a JSON value to a model field, converting dates back from their ISO text."""
    if name not in type(row).model_fields:
        return
    current = getattr(row, name)
    annotation = str(type(row).model_fields[name].annotation)
    if value is not None and "date" in annotation and isinstance(value, str):
        value = parse_date(value)
    elif value is not None and isinstance(current, bool):
        value = bool(value)
    setattr(row, name, value)


def is_high_risk(colour: str, purple: bool) -> bool:
    return colour in HIGH_RISK_COLOURS or purple


@dataclass
class CaseRows:
    """The stored rows of one pregnancy, as read from the database (no corrections applied yet)."""

    visits: list[PrenatalVisit] = field(default_factory=list)
    risks: list[RiskGrade] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    infants: list[Infant] = field(default_factory=list)
    postnatal: list[PostnatalVisit] = field(default_factory=list)
    closures: list[Closure] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)

    def ids(self) -> list[uuid.UUID]:
        return [r.id for r in (*self.visits, *self.risks, *self.outcomes, *self.postnatal, *self.closures)]


ROW_LISTS: dict[type, str] = {
    PrenatalVisit: "visits",
    RiskGrade: "risks",
    Outcome: "outcomes",
    Infant: "infants",
    PostnatalVisit: "postnatal",
    Closure: "closures",
}
BATCH_ROWS = "suifang_case_rows"


def case_rows(db: Session, pregnancy_id: uuid.UUID) -> CaseRows:
    """A pregnancy's rows: read from the database, or inside `deferred_refresh` from the batch's copy, which
    is read once and then kept current by every flush of the session (see `_track_new_rows`)."""
    kept: dict[uuid.UUID, CaseRows] | None = db.info.get(BATCH_ROWS)
    if kept is not None and pregnancy_id in kept:
        return kept[pregnancy_id]
    rows = load_case_rows(db, [pregnancy_id]).get(pregnancy_id, CaseRows())
    if kept is not None:
        kept[pregnancy_id] = rows
    return rows


def load_case_rows(db: Session, pregnancy_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, CaseRows]:
    """The rows of several pregnancies in seven queries."""
    out: dict[uuid.UUID, CaseRows] = {pid: CaseRows() for pid in pregnancy_ids}
    if not out:
        return out
    for model, name in ROW_LISTS.items():
        stmt: Any = select(model).where(col(model.pregnancy_id).in_(list(out)))  # type: ignore[attr-defined]
        for row in db.exec(stmt).all():
            getattr(out[row.pregnancy_id], name).append(row)
    owner = {rid: pid for pid, rows in out.items() for rid in rows.ids()}
    for chunk in chunks(list(owner)):
        for c in db.exec(select(Correction).where(col(Correction.target_id).in_(chunk))).all():
            out[owner[c.target_id]].corrections.append(c)
    return out


def prefetch_case_rows(db: Session, pregnancy_ids: Iterable[uuid.UUID]) -> None:
    """Inside `deferred_refresh`: read the rows of these pregnancies now, together, rather than one by one."""
    kept: dict[uuid.UUID, CaseRows] | None = db.info.get(BATCH_ROWS)
    if kept is None:
        return
    missing = [pid for pid in dict.fromkeys(pregnancy_ids) if pid not in kept]
    for chunk in chunks(missing):
        kept.update(load_case_rows(db, chunk))


@event.listens_for(Session, "transient_to_pending")
def _track_new_rows(session: Session, obj: Any) -> None:
    """Keep the batch's copy of case rows current: every record added joins its pregnancy's rows at once,
    flushed or not (a rolled-back savepoint drops the whole copy, see below)."""
    kept: dict[uuid.UUID, CaseRows] | None = session.info.get(BATCH_ROWS)
    if kept is None:
        return
    if isinstance(obj, Pregnancy):  # registered in this batch: nothing stored for it yet
        kept.setdefault(obj.id, CaseRows())
        return
    name = ROW_LISTS.get(type(obj))
    if name is not None:
        rows = kept.get(obj.pregnancy_id)
        if rows is not None:
            getattr(rows, name).append(obj)
    elif isinstance(obj, Correction) and obj.kind != "edit":  # an edit changes a registration, not a row
        for rows in kept.values():
            if obj.target_id in rows.ids():
                rows.corrections.append(obj)
                break


@event.listens_for(Session, "after_soft_rollback")
def _forget_rows_on_rollback(session: Session, _previous: Any) -> None:
    """A rolled-back savepoint may have added rows the copy holds: drop the copy, it is re-read on demand."""
    kept: dict[uuid.UUID, CaseRows] | None = session.info.get(BATCH_ROWS)
    if kept:
        kept.clear()


class CaseRecords:
    """Everything stored about one pregnancy, corrections applied — what case pages and the schedule read."""

    def __init__(self, db: Session, pregnancy: Pregnancy) -> None:
        self.pregnancy = pregnancy
        rows = case_rows(db, pregnancy.id)
        visits, risks, outcomes, infants = rows.visits, rows.risks, rows.outcomes, rows.infants
        postnatal, closures = rows.postnatal, rows.closures
        self.corrections = list(rows.corrections)
        self.visits = sorted(corrected(visits, self.corrections), key=lambda v: (v.visited_on, v.recorded_at))
        self.risks = sorted(corrected(risks, self.corrections), key=lambda r: (r.assessed_on, r.recorded_at))
        live_outcomes = corrected(outcomes, self.corrections)
        self.outcome = live_outcomes[0] if live_outcomes else None
        live = self.outcome.id if self.outcome is not None else None
        self.infants = sorted((i for i in infants if i.outcome_id == live), key=lambda i: i.seq)
        self.postnatal = sorted(
            corrected(postnatal, self.corrections), key=lambda v: (v.visited_on, v.recorded_at)
        )
        self.closures = sorted(
            corrected(closures, self.corrections), key=lambda c: (c.closed_on, c.recorded_at)
        )

    @property
    def high_risk(self) -> bool:
        return bool(self.risks) and is_high_risk(self.risks[-1].colour, self.risks[-1].purple)

    def death_of(self, infant_id: uuid.UUID) -> Closure | None:
        return next((c for c in self.closures if c.kind == "died" and c.infant_id == infant_id), None)

    @property
    def mother_closure(self) -> Closure | None:
        return next((c for c in self.closures if c.infant_id is None and c.kind != "transferred"), None)

    @property
    def ga_at_birth(self) -> int | None:
        """GA at the outcome in days, from the corrected outcome date and the LMP (EDD − 280 when unknown)
        as now registered; None before an outcome. `Outcome.ga_days` is only its value at recording."""
        if self.outcome is None:
            return None
        return rules.ga_at_birth(self.outcome.outcome_on, self.pregnancy.lmp, self.pregnancy.edd)

    def infant_high_risk(self, infant: Infant) -> bool:
        """Whether this baby is a high-risk newborn as the records now read (`rules.newborn_high_risk`);
        `Infant.high_risk` is only what it was when the outcome was recorded."""
        if self.outcome is None:  # a baby of a voided outcome is no newborn of this case
            return False
        return rules.newborn_high_risk(
            outcome_on=self.outcome.outcome_on,
            lmp=self.pregnancy.lmp,
            edd=self.pregnancy.edd,
            weight_g=infant.birth_weight_g,
            asphyxia=infant.asphyxia,
            defect=infant.defect,
        )

    def facts(self) -> PregnancyFacts:
        p, outcome, closure = self.pregnancy, self.outcome, self.mother_closure
        return PregnancyFacts(
            registered_on=p.registered_on,
            edd=p.edd,
            lmp=p.lmp,
            risks=[RiskFact(r.assessed_on, is_high_risk(r.colour, r.purple)) for r in self.risks],
            prenatal_visits=[PrenatalVisitFact(v.visited_on, v.kind, v.check_no, v.id) for v in self.visits],
            outcome=OutcomeFact(outcome.outcome_on, outcome.outcome_type, outcome.discharge_on)
            if outcome
            else None,
            infants=[
                InfantFact(
                    i.id,
                    i.alive_at_birth,
                    self.infant_high_risk(i),
                    death.closed_on if (death := self.death_of(i.id)) else None,
                )
                for i in self.infants
            ],
            postnatal_visits=[
                PostnatalVisitFact(v.visited_on, v.milestone, v.infant_id, v.covers_mother, v.id)
                for v in self.postnatal
            ],
            closed_on=closure.closed_on if closure else None,
            closed_kind=closure.kind if closure else None,
        )


FEED_LOCK = 0x53_46_43_43  # "SFCC": advisory lock between change-feed writers and cursor readers (PostgreSQL)
FEED_LOCK_HELD = "suifang_feed_lock"


def hold_feed_lock(session: Session) -> None:
    """A transaction writing to the change feed holds the feed lock, shared, till it ends (PostgreSQL hands
    out sequence numbers before commit; sync.pull.committed_ceiling takes the lock exclusively, so a cursor
    never passes a change whose transaction is still open). Called by whatever writes case_change rows."""
    root = transaction_root(session)
    if root is None or session.info.get(FEED_LOCK_HELD) is root:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": FEED_LOCK})
    session.info[FEED_LOCK_HELD] = root


@event.listens_for(Session, "before_flush")
def _feed_writer(session: Session, _context: Any, _instances: Any) -> None:
    """Change-feed rows added as objects take the lock before they are flushed."""
    if any(isinstance(obj, CaseChange) for obj in session.new):
        hold_feed_lock(session)


DEFERRED_REFRESH = "suifang_deferred_refresh"
DUE_ITEM_TABLE = SQLModel.metadata.tables["due_item"]
CASE_CHANGE_TABLE = SQLModel.metadata.tables["case_change"]


def refresh_due_items(db: Session, pregnancy: Pregnancy) -> CaseRecords | None:
    """Recompute a pregnancy's due items and replace the stored ones, inside the caller's transaction.
    Inside `deferred_refresh(db)` the pregnancy is only noted (and None returned): it is refreshed once when
    the block ends."""
    pending: dict[uuid.UUID, None] | None = db.info.get(DEFERRED_REFRESH)
    if pending is not None:
        pending[pregnancy.id] = None
        return None
    return _refresh_now(db, pregnancy)


@contextmanager
def deferred_refresh(db: Session) -> Iterator[None]:
    """Refresh each pregnancy written in the block once, when the block ends without error, instead of after
    every write: a sync batch touches one pregnancy many times. No rule reads due items or the high-risk flag,
    so deferring changes no validation outcome; a pregnancy whose writes were all rolled back is skipped.
    Inside the block the rows of each pregnancy are read once and kept current in memory (`case_rows`)."""
    if db.info.get(DEFERRED_REFRESH) is not None:
        yield  # nested: the outermost block refreshes
        return
    pending: dict[uuid.UUID, None] = {}
    db.info[DEFERRED_REFRESH] = pending
    db.info[BATCH_ROWS] = {}
    try:
        yield
        refresh_many(db, list(pending))
    finally:
        db.info.pop(DEFERRED_REFRESH, None)
        db.info.pop(BATCH_ROWS, None)


def _refresh_now(db: Session, pregnancy: Pregnancy) -> CaseRecords:
    db.flush()  # the record just added is one of the facts
    return _refresh(db, [pregnancy])[0][0]


def refresh_many(
    db: Session, pregnancy_ids: Sequence[uuid.UUID], *, only_changed: bool = False
) -> set[uuid.UUID]:
    """`_refresh_now` for many pregnancies at once: read together, due items rewritten and change-feed rows
    added with a few statements per 500 pregnancies. Returns those whose items or flag differed from the
    plan (`_refresh`)."""
    changed: set[uuid.UUID] = set()
    for chunk in chunks(list(pregnancy_ids)):
        pregnancies = db.exec(select(Pregnancy).where(col(Pregnancy.id).in_(chunk))).all()
        if pregnancies:
            changed |= _refresh(db, pregnancies, only_changed=only_changed)[1]
    return changed


def _refresh(
    db: Session, pregnancies: Sequence[Pregnancy], *, only_changed: bool = False
) -> tuple[list[CaseRecords], set[uuid.UUID]]:
    """Plan these pregnancies' items from their records, make the stored items match, note the change in the
    feed and keep each high-risk flag current. Returns the records read and the pregnancies whose stored
    items or flag differed from the plan. A write notes every pregnancy it wrote to in the feed; with
    `only_changed`, only those that differed are noted (`replan`)."""
    records = [CaseRecords(db, p) for p in pregnancies]
    planned = [row for p, r in zip(pregnancies, records, strict=True) for row in _item_rows(p, r)]
    changed = _rewrite_items(db, [p.id for p in pregnancies], planned)
    for pregnancy, case in zip(pregnancies, records, strict=True):
        if pregnancy.high_risk != case.high_risk:
            pregnancy.high_risk = case.high_risk
            db.add(pregnancy)
            changed.add(pregnancy.id)
    noted = [p for p in pregnancies if p.id in changed] if only_changed else pregnancies
    if noted:
        now = utcnow()
        hold_feed_lock(db)
        db.execute(
            CASE_CHANGE_TABLE.insert(),
            [{"pregnancy_id": p.id, "village_code": p.village_code, "at": now} for p in noted],
        )
    return records, changed


def replan(db: Session, pregnancy_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Plan these pregnancies' due items again from their records and store what differs; the ones that
    differed are returned and noted in the change feed, so phones fetch those cases again. For after a
    release that changed how items are planned: stored items are rewritten only when their pregnancy is
    written, so the cases written before it keep the old plan until then (`suifang schedule replan`)."""
    lock_for_writing(db, pregnancy_ids)  # a write to one of them meanwhile waits, and is not planned over
    return refresh_many(db, pregnancy_ids, only_changed=True)


ITEM_VALUES = (
    "pregnancy_id",
    "infant_id",
    "kind",
    "seq",
    "window_start",
    "due_on",
    "window_end",
    "done_on",
    "done_by",
    "cancelled_on",
    "missed_on",
    "is_open",
    "village_code",
    "rules_version",
)
_STORED_ITEMS = sa_select(DUE_ITEM_TABLE.c.id, *(DUE_ITEM_TABLE.c[name] for name in ITEM_VALUES)).where(
    DUE_ITEM_TABLE.c.pregnancy_id.in_(bindparam("ids", expanding=True))
)


def _rewrite_items(
    db: Session, pregnancy_ids: list[uuid.UUID], planned: list[dict[str, Any]]
) -> set[uuid.UUID]:
    """Make the stored due items of these pregnancies exactly `planned`: rows that differ are deleted, rows
    missing inserted, the rest left alone; returns the pregnancies that had any. A visit changes one or two
    items of a pregnancy's twenty or so, and writing rows costs far more than reading them."""
    stale: dict[tuple[Any, ...], list[int]] = {}
    for row in db.connection().execute(_STORED_ITEMS, {"ids": pregnancy_ids}):
        stale.setdefault(tuple(row[1:]), []).append(row[0])
    missing = []
    for item in planned:
        same = stale.get(tuple(item[name] for name in ITEM_VALUES))
        if same:
            same.pop()
        else:
            missing.append(item)
    gone = [row_id for ids in stale.values() for row_id in ids]
    for chunk in chunks(gone):
        db.execute(DUE_ITEM_TABLE.delete().where(DUE_ITEM_TABLE.c.id.in_(chunk)))
    if missing:  # one executemany; building ORM objects for every item cost more than the planning itself
        db.execute(DUE_ITEM_TABLE.insert(), missing)
    return {key[0] for key, ids in stale.items() if ids} | {item["pregnancy_id"] for item in missing}


def _item_rows(pregnancy: Pregnancy, records: CaseRecords) -> list[dict[str, Any]]:
    """The pregnancy's planned items as due_item rows."""
    items = plan_items(records.facts(), load_rules(pregnancy.rules_version))
    return [
        {
            "pregnancy_id": pregnancy.id,
            "infant_id": i.infant_id,
            "kind": i.kind,
            "seq": i.seq,
            "window_start": i.window_start,
            "due_on": i.due_on,
            "window_end": i.window_end,
            "done_on": i.done_on,
            "done_by": i.done_by,
            "cancelled_on": i.cancelled_on,
            "missed_on": i.missed_on,
            "is_open": i.done_on is None and i.cancelled_on is None,
            "village_code": pregnancy.village_code,
            "rules_version": i.rules_version,
        }
        for i in items
    ]


def item_of(row: DueItem) -> Item:
    """A stored due item as the schedule's Item again, for `state_of` (overdue, due, upcoming, …)."""
    return Item(
        row.kind,
        row.seq,
        row.window_start,
        row.due_on,
        row.window_end,
        row.infant_id,
        row.done_on,
        row.done_by,
        row.cancelled_on,
        row.missed_on,
        row.rules_version,
    )


def as_json_dict(obj: Any) -> dict[str, Any]:
    """A plain dict of a dataclass or model, dates as ISO text (for corrections and sync payloads)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        data = {f.name: getattr(obj, f.name) for f in fields(obj)}
    else:
        data = obj.model_dump()
    return {
        k: (v.isoformat() if hasattr(v, "isoformat") else str(v) if isinstance(v, uuid.UUID) else v)
        for k, v in data.items()
    }
