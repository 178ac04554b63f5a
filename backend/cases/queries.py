"""Reads of the field app, all filtered by the caller's scope: the work list (今日工作), the overdue count,
women search, and one woman's case."""

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from backend.cases.models import DueItem, Infant, Pregnancy, Woman
from backend.cases.schedule_store import CaseRecords
from backend.scope import Scope


def _visible_open(today: date) -> list[object]:
    """Open items that have not become missed by `today` (the chain moved on, or the case closed)."""
    return [col(DueItem.is_open).is_(True),
            or_(col(DueItem.missed_on).is_(None), col(DueItem.missed_on) > today)]


def overdue_count(db: Session, scope: Scope, today: date) -> int:
    """How many items are overdue in scope today — the badge on every page and the digest's number."""
    stmt = select(func.count()).select_from(DueItem).where(
        scope.clause(DueItem.village_code), col(DueItem.window_end) < today, *_visible_open(today)
    )
    return int(db.exec(stmt).one())


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
    high_risk: bool

    def days_overdue(self, today: date) -> int:
        return (today - self.window_end).days


@dataclass
class WorkList:
    overdue: list[WorkItem]
    today: list[WorkItem]
    week: list[WorkItem]
    upcoming: list[WorkItem]

    @property
    def total(self) -> int:
        return len(self.overdue) + len(self.today) + len(self.week) + len(self.upcoming)


def work_list(db: Session, scope: Scope, today: date, horizon_days: int = 30) -> WorkList:
    """今日工作: overdue first (longest first), then due now, then the next 7 days, then the next month."""
    stmt = (
        select(DueItem.id, DueItem.pregnancy_id, Woman.id, Woman.name, DueItem.village_code, DueItem.kind,
               DueItem.window_start, DueItem.due_on, DueItem.window_end, DueItem.infant_id, Infant.sex,
               Infant.seq, Pregnancy.high_risk)
        .join(Pregnancy, col(Pregnancy.id) == DueItem.pregnancy_id)
        .join(Woman, col(Woman.id) == Pregnancy.woman_id)
        .outerjoin(Infant, col(Infant.id) == DueItem.infant_id)
        .where(scope.clause(DueItem.village_code), col(DueItem.window_start) <= today + timedelta(days=horizon_days),
               *_visible_open(today))
        .order_by(col(DueItem.window_end), col(DueItem.due_on))
    )
    out = WorkList([], [], [], [])
    for row in db.exec(stmt):
        item = WorkItem(*row)  # type: ignore[arg-type]
        if item.window_end < today:
            out.overdue.append(item)
        elif item.window_start <= today and item.due_on <= today:
            out.today.append(item)
        elif item.due_on <= today + timedelta(days=7):
            out.week.append(item)
        else:
            out.upcoming.append(item)
    out.today.sort(key=lambda i: i.window_end)
    out.week.sort(key=lambda i: i.due_on)
    out.upcoming.sort(key=lambda i: i.due_on)
    return out


@dataclass(frozen=True)
class WomanRow:
    woman: Woman
    pregnancy: Pregnancy | None


def search_women(db: Session, scope: Scope, query: str = "", limit: int = 200, *, open_only: bool = False) -> list[WomanRow]:
    """孕产妇 list: by name, phone tail or ID tail; masked ID and phone are shown, never the clear ID."""
    stmt = (
        select(Woman, Pregnancy)
        .outerjoin(Pregnancy, and_(col(Pregnancy.woman_id) == Woman.id, col(Pregnancy.status) == "open"))
        .where(scope.clause(Woman.village_code))
    )
    q = query.strip()
    if q:
        tail = q.upper()
        stmt = stmt.where(or_(col(Woman.name).contains(q), col(Woman.phone).endswith(tail),
                              col(Woman.id_masked).endswith(tail)))
    if open_only:
        stmt = stmt.where(col(Pregnancy.id).is_not(None))
    stmt = stmt.order_by(col(Pregnancy.id).is_(None), col(Woman.name)).limit(limit)
    return [WomanRow(w, p) for w, p in db.exec(stmt)]


def possible_duplicates(db: Session, scope: Scope, *, id_index: str | None, name: str,
                        birth_date: date | None) -> list[Woman]:
    """Women in scope with the same ID number (by keyed hash), or the same name and birth date."""
    conditions = []
    if id_index:
        conditions.append(col(Woman.id_index) == id_index)
    if name and birth_date:
        conditions.append(and_(col(Woman.name) == name, col(Woman.birth_date) == birth_date))
    if not conditions:
        return []
    return list(db.exec(select(Woman).where(scope.clause(Woman.village_code), or_(*conditions)).limit(5)).all())


@dataclass
class CaseView:
    woman: Woman
    pregnancies: list[Pregnancy]
    current: Pregnancy | None
    records: CaseRecords | None
    items: list[DueItem]


def woman_in_scope(db: Session, scope: Scope, woman_id: uuid.UUID) -> Woman | None:
    woman = db.get(Woman, woman_id)
    return woman if woman is not None and scope.covers(woman.village_code) else None


def case_view(db: Session, scope: Scope, woman_id: uuid.UUID) -> CaseView | None:
    woman = woman_in_scope(db, scope, woman_id)
    if woman is None:
        return None
    pregnancies = list(db.exec(select(Pregnancy).where(Pregnancy.woman_id == woman.id)
                               .order_by(col(Pregnancy.registered_on).desc())).all())
    current = next((p for p in pregnancies if p.status == "open"), pregnancies[0] if pregnancies else None)
    records = CaseRecords(db, current) if current else None
    items = list(db.exec(select(DueItem).where(DueItem.pregnancy_id == current.id)
                         .order_by(col(DueItem.window_start), col(DueItem.kind))).all()) if current else []
    return CaseView(woman, pregnancies, current, records, items)
