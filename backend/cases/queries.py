"""Reads of the field app, all filtered by the caller's scope: the work list (今日工作), the overdue count,
women search, and one woman's case."""

import json
import uuid
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import ColumnElement, Executable, and_, bindparam, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from backend.cases.models import (
    Closure,
    Correction,
    DueItem,
    FieldRecord,
    Infant,
    Outcome,
    PostnatalVisit,
    Pregnancy,
    PrenatalVisit,
    RiskGrade,
    Woman,
)
from backend.cases.schedule_store import CaseRecords, corrected
from backend.scope import Scope

# Statements are built once (per scope) with bound parameters: building a SELECT of fourteen columns costs
# more CPU than running it, and these run on every page.


def _visible_open() -> list[ColumnElement[bool]]:
    """Open items that have not become missed by :today (the chain moved on, or the case closed)."""
    return [
        col(DueItem.is_open).is_(True),
        or_(col(DueItem.missed_on).is_(None), col(DueItem.missed_on) > bindparam("today")),
    ]


@lru_cache(maxsize=4096)
def _overdue_count_statement(prefixes: tuple[str, ...]) -> Executable:
    return (
        sa_select(func.count())
        .select_from(DueItem)
        .where(
            Scope(prefixes).clause(DueItem.village_code),
            col(DueItem.window_end) < bindparam("today"),
            *_visible_open(),
        )
    )


def overdue_count(db: Session, scope: Scope, today: date) -> int:
    """How many items are overdue in scope today — the badge on every page and the digest's number."""
    db.flush()  # the Core query bypasses the session's autoflush
    stmt = _overdue_count_statement(scope.prefixes)
    return int(db.connection().execute(stmt, {"today": today}).scalar_one())


@dataclass(frozen=True)
class WorkItem:
    item_id: int
    pregnancy_id: uuid.UUID
    woman_id: uuid.UUID
    woman_name: str
    village_code: str
    kind: str
    window_start: date
    due_on: date
    window_end: date
    infant_id: uuid.UUID | None
    infant_sex: str | None
    infant_seq: int | None
    n_babies: int | None
    high_risk: bool
    cadre_id: uuid.UUID | None
    """The cadre set on the case (who answers: backend.cases.responsibility)."""
    colour: str | None = None
    purple: bool = False

    def days_overdue(self, today: date) -> int:
        return (today - self.window_end).days

    @property
    def subject(self) -> str:
        """Whom the item is about beyond the pregnancy: "mother" for the mother's postnatal items, "baby"
        for a baby's, "" for prenatal ones."""
        if self.infant_id is not None:
            return "baby"
        return "mother" if self.kind.startswith(("mother_", "loss_")) else ""

    @property
    def twin_no(self) -> int | None:
        """The baby's number when she has brothers or sisters of the same birth."""
        return self.infant_seq if self.n_babies and self.n_babies > 1 else None


@dataclass
class WorkList:
    overdue: list[WorkItem]
    today: list[WorkItem]
    week: list[WorkItem]
    upcoming: list[WorkItem]

    @property
    def total(self) -> int:
        return len(self.overdue) + len(self.today) + len(self.week) + len(self.upcoming)

    @property
    def items(self) -> list[WorkItem]:
        return [*self.overdue, *self.today, *self.week, *self.upcoming]

    def without(self, pregnancy_ids: Container[uuid.UUID]) -> "WorkList":
        """The list without the items of these pregnancies."""
        parts = (self.overdue, self.today, self.week, self.upcoming)
        return WorkList(*([i for i in part if i.pregnancy_id not in pregnancy_ids] for part in parts))


@lru_cache(maxsize=4096)
def _work_list_statement(prefixes: tuple[str, ...]) -> Executable:
    columns = (
        DueItem.id,
        DueItem.pregnancy_id,
        Woman.id,
        Woman.name,
        DueItem.village_code,
        DueItem.kind,
        DueItem.window_start,
        DueItem.due_on,
        DueItem.window_end,
        DueItem.infant_id,
        Infant.sex,
        Infant.seq,
        Outcome.n_babies,
        Pregnancy.high_risk,
        Pregnancy.cadre_id,
    )
    return (
        sa_select(*(col(c) for c in columns))
        .join(Pregnancy, col(Pregnancy.id) == DueItem.pregnancy_id)
        .join(Woman, col(Woman.id) == Pregnancy.woman_id)
        .outerjoin(Infant, col(Infant.id) == DueItem.infant_id)
        .outerjoin(Outcome, col(Outcome.id) == Infant.outcome_id)
        .where(
            Scope(prefixes).clause(DueItem.village_code),
            col(DueItem.window_start) <= bindparam("horizon"),
            *_visible_open(),
        )
        .order_by(col(DueItem.window_end), col(DueItem.due_on))
    )


def work_list(db: Session, scope: Scope, today: date, horizon_days: int = 30) -> WorkList:
    """今日工作: overdue first (longest first), then due now, then the next 7 days, then the next month."""
    stmt = _work_list_statement(scope.prefixes)
    params = {"today": today, "horizon": today + timedelta(days=horizon_days)}
    db.flush()  # the Core queries below bypass the session's autoflush
    rows: list[tuple[Any, ...]] = [tuple(row) for row in db.connection().execute(stmt, params)]
    colours = latest_colours(db, {row[1] for row in rows})
    out = WorkList([], [], [], [])
    week_end = today + timedelta(days=7)
    for row in rows:
        colour, purple = colours.get(row[1], (None, False))
        item = WorkItem(*(*row, colour, purple))
        if item.window_end < today:
            out.overdue.append(item)
        elif item.window_start <= today and item.due_on <= today:
            out.today.append(item)
        elif item.due_on <= week_end:
            out.week.append(item)
        else:
            out.upcoming.append(item)
    out.today.sort(key=lambda i: i.window_end)
    out.week.sort(key=lambda i: i.due_on)
    out.upcoming.sort(key=lambda i: i.due_on)
    return out


_GRADES = sa_select(
    *(
        col(c)
        for c in (
            RiskGrade.id,
            RiskGrade.pregnancy_id,
            RiskGrade.assessed_on,
            RiskGrade.recorded_at,
            RiskGrade.colour,
            RiskGrade.purple,
        )
    )
).where(col(RiskGrade.pregnancy_id).in_(bindparam("ids", expanding=True)))
_FIXES = sa_select(
    col(Correction.target_id), col(Correction.kind), col(Correction.changes), col(Correction.recorded_at)
).where(col(Correction.target_id).in_(bindparam("ids", expanding=True)))


def latest_colours(
    db: Session, pregnancy_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[str | None, bool]]:
    """The latest five-colour grade (colour, purple flag) of each pregnancy, corrections applied.

    Plain column reads rather than ORM objects: Today asks this for every pregnancy on the page."""
    ids = list(pregnancy_ids)
    if not ids:
        return {}
    conn = db.connection()
    grades = conn.execute(_GRADES, {"ids": ids}).all()
    if not grades:
        return {}
    fixes: dict[uuid.UUID, list[tuple[Any, str, str]]] = {}
    for target, kind, changes, at in conn.execute(_FIXES, {"ids": [g[0] for g in grades]}):
        fixes.setdefault(target, []).append((at, kind, changes))
    latest: dict[uuid.UUID, tuple[Any, Any, str, bool]] = {}
    for grade in grades:
        grade_id, pregnancy_id, on, at, colour, purple = cast(tuple[Any, ...], grade)
        for _, kind, changes in sorted(fixes.get(grade_id, []), key=lambda f: f[0]):
            if kind == "void":
                break
            amended = json.loads(changes)
            on = _as_date(amended.get("assessed_on", on))
            colour, purple = amended.get("colour", colour), bool(amended.get("purple", purple))
        else:
            if pregnancy_id not in latest or (on, at) >= latest[pregnancy_id][:2]:
                latest[pregnancy_id] = (on, at, colour, purple)
    return {pid: (colour, purple) for pid, (_, _, colour, purple) in latest.items()}


@dataclass(frozen=True)
class WomanRow:
    woman: Woman
    pregnancy: Pregnancy | None
    outcome_on: date | None = None  # of the open pregnancy, once its outcome is recorded (as corrected)

    @property
    def order(self) -> tuple[int, int, str]:
        """Pregnant first, the soonest due first; then those after their outcome, the latest first; then
        women with no open pregnancy, by name."""
        if self.pregnancy is None:
            return (2, 0, self.woman.name)
        if self.outcome_on is None:
            return (0, self.pregnancy.edd.toordinal(), self.woman.name)
        return (1, -self.outcome_on.toordinal(), self.woman.name)


def search_women(
    db: Session, scope: Scope, query: str = "", limit: int = 200, *, open_only: bool = False
) -> list[WomanRow]:
    """孕产妇 list: by name, phone tail or ID tail; masked ID and phone are shown, never the clear ID."""
    stmt = (
        select(Woman, Pregnancy)
        .outerjoin(Pregnancy, and_(col(Pregnancy.woman_id) == Woman.id, col(Pregnancy.status) == "open"))
        .where(scope.clause(Woman.village_code))
    )
    q = query.strip()
    if q:
        tail = q.upper()
        stmt = stmt.where(
            or_(
                col(Woman.name).contains(q, autoescape=True),
                col(Woman.phone).endswith(tail, autoescape=True),
                col(Woman.id_masked).endswith(tail, autoescape=True),
            )
        )
    if open_only:
        stmt = stmt.where(col(Pregnancy.id).is_not(None))
    stmt = stmt.order_by(col(Pregnancy.id).is_(None), col(Pregnancy.edd), col(Woman.name)).limit(limit)
    found = list(db.exec(stmt))
    outcomes = _outcome_dates(db, [p.id for _, p in found if p is not None])
    rows = [WomanRow(w, p, outcomes.get(p.id) if p is not None else None) for w, p in found]
    return sorted(rows, key=lambda row: row.order)


def _outcome_dates(db: Session, pregnancy_ids: list[uuid.UUID]) -> dict[uuid.UUID, date]:
    """The outcome date of each of these pregnancies that has one, corrections applied (a voided outcome
    counts as none)."""
    if not pregnancy_ids:
        return {}
    outcomes = list(db.exec(select(Outcome).where(col(Outcome.pregnancy_id).in_(pregnancy_ids))).all())
    if not outcomes:
        return {}
    corrections = db.exec(
        select(Correction).where(col(Correction.target_id).in_([o.id for o in outcomes]))
    ).all()
    return {o.pregnancy_id: o.outcome_on for o in corrected(outcomes, list(corrections))}


def possible_duplicates(
    db: Session, scope: Scope, *, id_index: str | None, name: str, birth_date: date | None
) -> list[Woman]:
    """Women in scope with the same ID number (by keyed hash), or the same name and birth date."""
    conditions = []
    if id_index:
        conditions.append(col(Woman.id_index) == id_index)
    if name and birth_date:
        conditions.append(and_(col(Woman.name) == name, col(Woman.birth_date) == birth_date))
    if not conditions:
        return []
    return list(
        db.exec(select(Woman).where(scope.clause(Woman.village_code), or_(*conditions)).limit(5)).all()
    )


RECORD_MODELS: dict[str, type[FieldRecord]] = {
    "prenatal_visit": PrenatalVisit,
    "postnatal_visit": PostnatalVisit,
    "outcome": Outcome,
    "risk_grade": RiskGrade,
    "closure": Closure,
}


@dataclass
class TimelineEntry:
    """One line of the case history: a record as it now reads (amendments applied), or as it was written
    when it has been voided; with its corrections, so nothing disappears from view."""

    on: date
    record_type: str
    record: Any
    recorded_at: datetime
    void: Correction | None = None
    corrections: list[Correction] = field(default_factory=list)

    @staticmethod
    def changes(correction: Correction) -> list[tuple[str, Any, Any]]:
        """(field, value before, value after) of a correction, ISO dates back as dates for display."""
        before, after = json.loads(correction.previous), json.loads(correction.changes)
        return [(name, _as_date(before.get(name)), _as_date(value)) for name, value in after.items()]


def _as_date(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


@dataclass
class CaseView:
    woman: Woman
    pregnancies: list[Pregnancy]
    current: Pregnancy | None
    records: CaseRecords | None
    items: list[DueItem]
    timeline: list[TimelineEntry] = field(default_factory=list)
    earlier_babies: list["EarlierBaby"] = field(default_factory=list)
    """Babies of her earlier pregnancies still followed (items open after her next one was registered)."""


@dataclass
class EarlierBaby:
    """A baby of one of her earlier pregnancies still followed: born on the (corrected) outcome date,
    high-risk as the records now read (`CaseRecords.infant_high_risk`), with all her items."""

    pregnancy: Pregnancy
    infant: Infant
    born: date | None
    high_risk: bool
    items: list[DueItem]


def _earlier_babies(db: Session, earlier: list[Pregnancy]) -> list[EarlierBaby]:
    """The live babies of these pregnancies that still have open items."""
    followed = [p for p in earlier if p.close_reason == "completed"]
    if not followed:
        return []
    by_id = {p.id: p for p in followed}
    items = db.exec(
        select(DueItem)
        .where(col(DueItem.pregnancy_id).in_(list(by_id)), col(DueItem.infant_id).is_not(None))
        .order_by(col(DueItem.window_start), col(DueItem.kind))
    ).all()
    open_babies = {i.infant_id for i in items if i.is_open}
    if not open_babies:
        return []
    infants = db.exec(select(Infant).where(col(Infant.id).in_(list(open_babies)))).all()
    records = {pid: CaseRecords(db, by_id[pid]) for pid in {baby.pregnancy_id for baby in infants}}
    return [
        EarlierBaby(
            pregnancy=by_id[baby.pregnancy_id],
            infant=baby,
            born=outcome.outcome_on if (outcome := records[baby.pregnancy_id].outcome) is not None else None,
            high_risk=records[baby.pregnancy_id].infant_high_risk(baby),
            items=[i for i in items if i.infant_id == baby.id],
        )
        for baby in sorted(infants, key=lambda b: (by_id[b.pregnancy_id].registered_on, b.seq))
    ]


def woman_in_scope(db: Session, scope: Scope, woman_id: uuid.UUID) -> Woman | None:
    woman = db.get(Woman, woman_id)
    return woman if woman is not None and scope.covers(woman.village_code) else None


def case_view(
    db: Session, scope: Scope, woman_id: uuid.UUID, *, with_timeline: bool = False
) -> CaseView | None:
    """One woman's case: her pregnancies, the current one's records and due items (and, for the case page,
    the timeline with voided records and registration edits, and the babies of her earlier pregnancies still
    followed)."""
    woman = woman_in_scope(db, scope, woman_id)
    if woman is None:
        return None
    pregnancies = list(
        db.exec(
            select(Pregnancy)
            .where(Pregnancy.woman_id == woman.id)
            .order_by(col(Pregnancy.registered_on).desc())
        ).all()
    )
    current = next((p for p in pregnancies if p.status == "open"), pregnancies[0] if pregnancies else None)
    records = CaseRecords(db, current) if current else None
    items = (
        list(
            db.exec(
                select(DueItem)
                .where(DueItem.pregnancy_id == current.id)
                .order_by(col(DueItem.window_start), col(DueItem.kind))
            ).all()
        )
        if current
        else []
    )
    view = CaseView(woman, pregnancies, current, records, items)
    if with_timeline:  # the case page; the forms need neither
        view.earlier_babies = _earlier_babies(db, [p for p in pregnancies if p is not current])
        if current is not None and records is not None:
            view.timeline = timeline(db, woman, current, records)
    return view


def timeline(db: Session, woman: Woman, pregnancy: Pregnancy, records: CaseRecords) -> list[TimelineEntry]:
    """Everything recorded about a pregnancy, newest first; voided records stay, marked with their void."""
    by_target: dict[uuid.UUID, list[Correction]] = {}
    for c in sorted(records.corrections, key=lambda c: c.recorded_at):
        by_target.setdefault(c.target_id, []).append(c)
    entries: list[TimelineEntry] = []

    def add(record_type: str, rows: Iterable[Any], on: str) -> None:
        for row in rows:
            entries.append(
                TimelineEntry(
                    getattr(row, on), record_type, row, row.recorded_at, corrections=by_target.get(row.id, [])
                )
            )

    add("prenatal_visit", records.visits, "visited_on")
    add("risk_grade", records.risks, "assessed_on")
    add("outcome", [records.outcome] if records.outcome else [], "outcome_on")
    add("postnatal_visit", records.postnatal, "visited_on")
    add("closure", records.closures, "closed_on")
    voids = [c for c in records.corrections if c.kind == "void"]
    for record_type, model in RECORD_MODELS.items():
        ids = [c.target_id for c in voids if c.target_type == record_type]
        if not ids:
            continue
        for row in db.exec(select(model).where(col(model.id).in_(ids))).all():
            on = next(
                getattr(row, n)
                for n in ("visited_on", "assessed_on", "outcome_on", "closed_on")
                if hasattr(row, n)
            )
            mine = by_target.get(row.id, [])
            entries.append(
                TimelineEntry(
                    on,
                    record_type,
                    row,
                    row.recorded_at,
                    void=next(c for c in mine if c.kind == "void"),
                    corrections=mine,
                )
            )
    edits = db.exec(
        select(Correction).where(
            col(Correction.target_id).in_([woman.id, pregnancy.id]), Correction.kind == "edit"
        )
    ).all()
    entries.append(
        TimelineEntry(
            pregnancy.registered_on,
            "registration",
            pregnancy,
            pregnancy.recorded_at,
            corrections=sorted(edits, key=lambda c: c.recorded_at),
        )
    )
    entries.sort(key=lambda e: (e.on, e.recorded_at), reverse=True)
    return entries
