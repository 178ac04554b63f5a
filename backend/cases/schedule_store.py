"""Bridge between stored records and the pure schedule: load a pregnancy's facts (corrections applied) and
rewrite its materialised due items in the caller's transaction."""

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

from sqlalchemy import insert
from sqlmodel import Session, col, delete, select

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
from backend.lib.parsing import parse_date
from backend.schedule import (
    InfantFact,
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


class CaseRecords:
    """Everything stored about one pregnancy, corrections applied — what case pages and the schedule read."""

    def __init__(self, db: Session, pregnancy: Pregnancy) -> None:
        pid = pregnancy.id
        self.pregnancy = pregnancy
        visits = db.exec(select(PrenatalVisit).where(PrenatalVisit.pregnancy_id == pid)).all()
        risks = db.exec(select(RiskGrade).where(RiskGrade.pregnancy_id == pid)).all()
        outcomes = db.exec(select(Outcome).where(Outcome.pregnancy_id == pid)).all()
        infants = db.exec(select(Infant).where(Infant.pregnancy_id == pid).order_by(col(Infant.seq))).all()
        postnatal = db.exec(select(PostnatalVisit).where(PostnatalVisit.pregnancy_id == pid)).all()
        closures = db.exec(select(Closure).where(Closure.pregnancy_id == pid)).all()
        ids = [r.id for r in (*visits, *risks, *outcomes, *postnatal, *closures)]
        self.corrections = (
            list(db.exec(select(Correction).where(col(Correction.target_id).in_(ids))).all()) if ids else []
        )
        self.visits = sorted(corrected(visits, self.corrections), key=lambda v: (v.visited_on, v.recorded_at))
        self.risks = sorted(corrected(risks, self.corrections), key=lambda r: (r.assessed_on, r.recorded_at))
        live_outcomes = corrected(outcomes, self.corrections)
        self.outcome = live_outcomes[0] if live_outcomes else None
        self.infants = [i for i in infants if self.outcome is not None and i.outcome_id == self.outcome.id]
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
                    i.high_risk,
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


DEFERRED_REFRESH = "suifang_deferred_refresh"


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
    so deferring changes no validation outcome; a pregnancy whose writes were all rolled back is skipped."""
    if db.info.get(DEFERRED_REFRESH) is not None:
        yield  # nested: the outermost block refreshes
        return
    pending: dict[uuid.UUID, None] = {}
    db.info[DEFERRED_REFRESH] = pending
    try:
        yield
    finally:
        db.info.pop(DEFERRED_REFRESH, None)
    for pregnancy_id in pending:
        pregnancy = db.get(Pregnancy, pregnancy_id)
        if pregnancy is not None:
            _refresh_now(db, pregnancy)


def _refresh_now(db: Session, pregnancy: Pregnancy) -> CaseRecords:
    records = CaseRecords(db, pregnancy)
    items = plan_items(records.facts(), load_rules(pregnancy.rules_version))
    db.exec(delete(DueItem).where(col(DueItem.pregnancy_id) == pregnancy.id))
    rows = [
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
    if rows:  # one executemany; building ORM objects for every item cost more than the planning itself
        db.execute(insert(DueItem), rows)
    db.add(CaseChange(pregnancy_id=pregnancy.id, village_code=pregnancy.village_code))
    high = records.high_risk
    if pregnancy.high_risk != high:
        pregnancy.high_risk = high
        db.add(pregnancy)
    return records


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
