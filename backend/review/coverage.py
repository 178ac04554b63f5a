"""Operational coverage for supervisors (DOMAIN.md §6): due items of a period per village and per cadre, the
people in follow-up, the trend over 12 months, a village's open items and the escalation list — every query
filtered by the caller's scope. Items and people follow a transferred woman: what fell due before the
transfer counts for the village she left."""

import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, case, exists, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from backend.accounts.models import User, UserArea
from backend.areas.models import Area
from backend.cases.models import (
    Closure,
    Correction,
    DueItem,
    Infant,
    Outcome,
    Pregnancy,
    Woman,
)
from backend.cases.responsibility import answerable
from backend.cases.schedule_store import corrected
from backend.lib.masking import mask_phone
from backend.lib.parsing import parse_date
from backend.review.indicators import Coverage, coverage_category
from backend.review.periods import Period
from backend.review.reads import one_of, read
from backend.scope import Scope

R = TypeVar("R")
INFANT_LOOKBACK = timedelta(days=400)
"""No baby is still followed this long after its first item (6 or 12 months of follow-up plus a late
discharge): bounds the scan for infants in follow-up."""


# ---------------------------------------------------------------------------------------------------------
# Places and people


def villages_in(db: Session, scope: Scope) -> list[Area]:
    """The villages in scope, by code."""
    rows = db.exec(select(Area).where(scope.clause(Area.code)).order_by(col(Area.code))).all()
    return [a for a in rows if a.code[9:] != "000"]


def village_codes(db: Session, scope: Scope) -> list[str]:
    """The codes of the villages in scope (a column read: no Area objects)."""
    rows = read(db, sa_select(col(Area.code)).where(scope.clause(Area.code))).scalars().all()
    return sorted(c for c in rows if c[9:] != "000")


def area_names(db: Session, scope: Scope) -> dict[str, str]:
    """Names of every area in scope and of the townships and county above it."""
    prefixes = {p[:6] for p in scope.prefixes}
    wide = Scope(tuple(sorted(prefixes)))
    return dict(read(db, sa_select(col(Area.code), col(Area.name)).where(wide.clause(Area.code))).all())


@dataclass(frozen=True)
class Cadre:
    user_id: uuid.UUID
    name: str
    phone: str
    villages: tuple[str, ...]
    last_sync_at: datetime | None


def cadres_in(db: Session, scope: Scope) -> list[Cadre]:
    """Active village cadres answering for villages in scope (a cadre's villages outside it are left out)."""
    rows = db.exec(
        select(User, UserArea.area_code)
        .join(UserArea, col(UserArea.user_id) == User.id)
        .where(col(User.role) == "village", col(User.active).is_(True), scope.clause(UserArea.area_code))
        .order_by(col(User.name), col(UserArea.area_code))
    ).all()
    by_user: dict[uuid.UUID, tuple[User, list[str]]] = {}
    for user, code in rows:
        by_user.setdefault(user.id, (user, []))[1].append(code)
    return [Cadre(u.id, u.name, u.phone, tuple(codes), u.last_sync_at) for u, codes in by_user.values()]


def responsible(cadres: Sequence[Cadre]) -> dict[str, list[Cadre]]:
    """Village code → its active cadres; a village missing here has none, and its open items are the
    township's until a cadre is assigned."""
    out: dict[str, list[Cadre]] = defaultdict(list)
    for c in cadres:
        for code in c.villages:
            out[code].append(c)
    return out


def answering(cadres: Sequence[Cadre], stored: uuid.UUID | None) -> Cadre | None:
    """Which of a village's cadres answers for a case set to `stored` (`responsibility.answerable`)."""
    who = answerable(stored, [c.user_id for c in cadres])
    return next((c for c in cadres if c.user_id == who), None)


# ---------------------------------------------------------------------------------------------------------
# Corrections and transfers


def county_scope(scope: Scope) -> Scope:
    return Scope(tuple(sorted({p[:6] for p in scope.prefixes})))


def load_corrections(db: Session, scope: Scope) -> dict[uuid.UUID, list[Correction]]:
    """Voids and amendments in the county of the scope, by the record they correct (they are rare)."""
    rows = db.exec(
        select(Correction).where(
            col(Correction.kind).in_(("void", "amend")), county_scope(scope).clause(Correction.village_code)
        )
    ).all()
    out: dict[uuid.UUID, list[Correction]] = defaultdict(list)
    for c in rows:
        out[c.target_id].append(c)
    return out


def apply_corrections(rows: Iterable[R], fixes: dict[uuid.UUID, list[Correction]]) -> list[R]:
    rows = list(rows)
    relevant = [c for r in rows for c in fixes.get(r.id, ())]  # type: ignore[attr-defined]
    return corrected(rows, relevant) if relevant else rows


def fixed(rows: Iterable[Any], fixes: dict[uuid.UUID, list[Correction]]) -> list[Any]:
    """Column rows (with an `id`) as they now read: voided ones dropped, amendments overlaid. The light
    twin of schedule_store.corrected for the report's column selects (corrections are rare: untouched rows
    pass through as they are)."""
    out: list[Any] = []
    for row in rows:
        changes = fixes.get(row.id)
        if not changes:
            out.append(row)
            continue
        if any(c.kind == "void" for c in changes):
            continue
        values = SimpleNamespace(**row._mapping)
        for c in sorted(changes, key=lambda c: (c.recorded_at, str(c.id))):
            for name, value in json.loads(c.changes).items():
                if hasattr(values, name):
                    current = getattr(values, name)
                    if isinstance(current, date) and isinstance(value, str):
                        value = parse_date(value)
                    setattr(values, name, value)
        out.append(values)
    return out


@dataclass(frozen=True)
class Transfer:
    pregnancy_id: uuid.UUID
    on: date
    from_code: str
    to_code: str


@dataclass
class Moves:
    """Transfers touching the scope (from or to one of its villages), to tell where a woman was on a day."""

    by_pregnancy: dict[uuid.UUID, list[Transfer]] = field(default_factory=dict)

    @property
    def ids(self) -> set[uuid.UUID]:
        return set(self.by_pregnancy)

    def outside(self, scope: Scope) -> set[uuid.UUID]:
        """Pregnancies that left the scope by a transfer: their rows no longer match the scope's codes."""
        return {pid for pid, ts in self.by_pregnancy.items() if not scope.covers(ts[-1].to_code)}

    def village_on(self, pregnancy_id: uuid.UUID, current: str, day: date) -> str:
        """The village she belonged to on `day`: a transfer dated X moves what falls due from X on."""
        for t in self.by_pregnancy.get(pregnancy_id, ()):
            if day < t.on:
                return t.from_code
        return current


def load_moves(db: Session, scope: Scope, fixes: dict[uuid.UUID, list[Correction]]) -> Moves:
    rows = read(
        db,
        sa_select(
            col(Closure.id),
            col(Closure.pregnancy_id),
            col(Closure.closed_on),
            col(Closure.from_village_code),
            col(Closure.to_village_code),
            col(Closure.recorded_at),
        ).where(
            col(Closure.kind) == "transferred",
            or_(scope.clause(Closure.from_village_code), scope.clause(Closure.to_village_code)),
        ),
    ).all()
    moves = Moves()
    for c in sorted(fixed(rows, fixes), key=lambda c: (c.closed_on, c.recorded_at)):
        if c.from_village_code and c.to_village_code:
            moves.by_pregnancy.setdefault(c.pregnancy_id, []).append(
                Transfer(c.pregnancy_id, c.closed_on, c.from_village_code, c.to_village_code)
            )
    return moves


def linked_villages(db: Session, villages: set[str]) -> set[str]:
    """The villages plus every village a woman moved between to or from one of them: her past counts where
    she was, so a change to her case can change their figures too."""
    if not villages:
        return villages
    codes = sorted(villages)
    moved = select(Closure.pregnancy_id).where(
        col(Closure.kind) == "transferred",
        or_(col(Closure.from_village_code).in_(codes), col(Closure.to_village_code).in_(codes)),
    )
    rows = db.execute(
        sa_select(col(Closure.from_village_code), col(Closure.to_village_code)).where(
            col(Closure.kind) == "transferred", col(Closure.pregnancy_id).in_(moved)
        )
    ).all()
    return villages | {c for row in rows for c in row if c}


def overdue_by_village(db: Session, scope: Scope, today: date) -> dict[str, int]:
    """backend.cases.queries.overdue_count split by village (the header badge of the review pages, kept per
    village so a write recounts one village, not the county)."""
    stmt = (
        sa_select(col(DueItem.village_code), func.count())
        .where(
            _village_in(db, scope, village_codes(db, scope)),
            col(DueItem.is_open).is_(True),
            or_(col(DueItem.missed_on).is_(None), col(DueItem.missed_on) > today),
            col(DueItem.window_end) < today,
        )
        .group_by(col(DueItem.village_code))
    )
    return dict(read(db, stmt).all())


# ---------------------------------------------------------------------------------------------------------
# Coverage


def category_of_items(today: date) -> ColumnElement[str]:
    """coverage_category in SQL (the same order of tests)."""
    done = and_(col(DueItem.done_on).is_not(None), col(DueItem.done_on) <= today)
    return case(
        (and_(done, col(DueItem.done_on) <= col(DueItem.window_end)), "on_time"),
        (done, "late"),
        (and_(col(DueItem.cancelled_on).is_not(None), col(DueItem.cancelled_on) <= today), "cancelled"),
        (and_(col(DueItem.missed_on).is_not(None), col(DueItem.missed_on) <= today), "missed"),
        (col(DueItem.window_end) < today, "overdue"),
        else_="pending",
    )


def _bucket(starts: Sequence[date]) -> ColumnElement[int]:
    """Index of the period a due date falls in, written as a CASE so both engines agree."""
    if len(starts) == 1:
        return case((col(DueItem.due_on) >= starts[0], 0), else_=0)
    return case(*[(col(DueItem.due_on) < s, i) for i, s in enumerate(starts[1:])], else_=len(starts) - 1)


CoverageKey = tuple[str, int]  # (village code, bucket index)


def _village_in(db: Session, scope: Scope, codes: Sequence[str]) -> ColumnElement[bool]:
    """The scope as a list of its villages (every case's village is a known area: services check it), so
    the (village_code, due_on) index is sought once per village for the period's dates instead of walked
    through every due item of the scope; a scope with no known village falls back to its code ranges."""
    return one_of(db, DueItem.village_code, codes) if codes else scope.clause(DueItem.village_code)


def coverage_counts(
    db: Session, scope: Scope, periods: Sequence[Period], today: date, moves: Moves
) -> dict[CoverageKey, Coverage]:
    """Coverage per (village, period) for consecutive periods, as of `today`. One grouped query over the
    due-item index (it holds every date the category needs: the table is not read); items of transferred
    women are then moved item by item from their current village to the village of their due date."""
    starts = [p.start for p in periods]
    end = periods[-1].end
    category, bucket = category_of_items(today), _bucket(starts)
    codes = village_codes(db, scope)
    stmt = (
        select(DueItem.village_code, bucket, category, func.count())
        .where(_village_in(db, scope, codes), col(DueItem.due_on) >= starts[0], col(DueItem.due_on) <= end)
        .group_by(col(DueItem.village_code), bucket, category)
    )
    counts: dict[CoverageKey, Counter[str]] = defaultdict(Counter)
    for code, index, cat, n in read(db, stmt).all():
        counts[(code, index)][cat] += n
    moved = moves.ids
    if moved:
        # Taken back out where the grouped query counted them (a NOT IN there would cost a probe per item
        # and the pregnancy id in the index), counted again where they belonged on their due date.
        counted = set(codes) if codes else None
        rows = read(
            db,
            sa_select(
                col(DueItem.pregnancy_id),
                col(DueItem.village_code),
                col(DueItem.due_on),
                col(DueItem.window_end),
                col(DueItem.done_on),
                col(DueItem.cancelled_on),
                col(DueItem.missed_on),
            ).where(
                one_of(db, DueItem.pregnancy_id, moved),
                col(DueItem.due_on) >= starts[0],
                col(DueItem.due_on) <= end,
            ),
        ).all()
        for pid, current, due_on, window_end, done_on, cancelled_on, missed_on in rows:
            index = max(i for i, s in enumerate(starts) if due_on >= s)
            cat = coverage_category(today, window_end, done_on, cancelled_on, missed_on)
            if (current in counted) if counted is not None else scope.covers(current):
                counts[(current, index)][cat] -= 1
            code = moves.village_on(pid, current, due_on)
            if scope.covers(code):
                counts[(code, index)][cat] += 1
    return {key: Coverage(**by_category) for key, by_category in counts.items() if any(by_category.values())}


def coverage_by_village(
    db: Session, scope: Scope, period: Period, today: date, moves: Moves
) -> dict[str, Coverage]:
    return {code: cov for (code, _), cov in coverage_counts(db, scope, [period], today, moves).items()}


# ---------------------------------------------------------------------------------------------------------
# People in follow-up


def in_prenatal_follow_up(on: date) -> list[ColumnElement[bool]]:
    """A pregnancy under prenatal follow-up on a day: registered, no outcome yet, not closed."""
    voided = exists().where(col(Correction.target_id) == Outcome.id, col(Correction.kind) == "void")
    delivered = exists().where(
        col(Outcome.pregnancy_id) == Pregnancy.id, col(Outcome.outcome_on) <= on, ~voided
    )
    return [
        col(Pregnancy.registered_on) <= on,
        or_(col(Pregnancy.closed_on).is_(None), col(Pregnancy.closed_on) > on),
        ~delivered,
    ]


def active_pregnancies(db: Session, scope: Scope, on: date) -> Counter[str]:
    """Pregnancies under prenatal follow-up on a day, by the village they are in now."""
    stmt = (
        select(Pregnancy.village_code, func.count())
        .where(scope.clause(Pregnancy.village_code), *in_prenatal_follow_up(on))
        .group_by(col(Pregnancy.village_code))
    )
    return Counter(dict(db.exec(stmt).all()))


def babies_followed(on: date, where: ColumnElement[bool], *, by_cadre: bool = False) -> Any:
    """Babies followed on a day, counted per village (and per cadre set on the case, `by_cadre`): their
    first item has opened and a planned, uncancelled item still runs (items stop being planned when
    follow-up ends: 6 months, death, moving out)."""
    live = or_(col(DueItem.cancelled_on).is_(None), col(DueItem.cancelled_on) > on)
    groups: list[Any] = [col(DueItem.village_code), *([col(Pregnancy.cadre_id)] if by_cadre else [])]
    per_baby = sa_select(*groups, col(DueItem.infant_id))
    if by_cadre:
        per_baby = per_baby.join(Pregnancy, col(Pregnancy.id) == col(DueItem.pregnancy_id))
    babies = (
        per_baby.where(
            where,
            col(DueItem.infant_id).is_not(None),
            col(DueItem.due_on) >= on - INFANT_LOOKBACK,
            live,
        )
        .group_by(*groups, col(DueItem.infant_id))
        .having(and_(func.min(DueItem.window_start) <= on, func.max(DueItem.window_end) >= on))
        .subquery()
    )
    keys = [babies.c[g.key] for g in groups]
    return sa_select(*keys, func.count()).group_by(*keys)


def infants_in_follow_up(db: Session, scope: Scope, on: date) -> Counter[str]:
    """Babies followed on a day, by village (`babies_followed`)."""
    return Counter(dict(read(db, babies_followed(on, scope.clause(DueItem.village_code))).all()))


# ---------------------------------------------------------------------------------------------------------
# Open items: a village's list and the supervisor's escalations


@dataclass(frozen=True)
class OpenItem:
    woman_id: uuid.UUID
    woman_name: str
    village_code: str
    kind: str
    due_on: date
    window_start: date
    window_end: date
    infant_seq: int | None
    high_risk: bool
    cadre_id: uuid.UUID | None = None
    """The cadre set on the case (who answers: `answering`)."""

    def days_overdue(self, today: date) -> int:
        return (today - self.window_end).days


def open_items(db: Session, scope: Scope, today: date, *, overdue_by: int | None = None) -> list[OpenItem]:
    """Open items in scope whose window has opened, not yet missed; with `overdue_by`, only those overdue by
    more than that many days. Longest overdue first."""
    conditions = [
        scope.clause(DueItem.village_code),
        col(DueItem.is_open).is_(True),
        or_(col(DueItem.missed_on).is_(None), col(DueItem.missed_on) > today),
        col(DueItem.window_start) <= today,
    ]
    if overdue_by is not None:
        conditions.append(col(DueItem.window_end) < today - timedelta(days=overdue_by))
    stmt = (
        sa_select(
            col(Woman.id),
            col(Woman.name),
            col(DueItem.village_code),
            col(DueItem.kind),
            col(DueItem.due_on),
            col(DueItem.window_start),
            col(DueItem.window_end),
            col(Infant.seq),
            col(Pregnancy.high_risk),
            col(Pregnancy.cadre_id),
        )
        .join(Pregnancy, col(Pregnancy.id) == DueItem.pregnancy_id)
        .join(Woman, col(Woman.id) == Pregnancy.woman_id)
        .outerjoin(Infant, col(Infant.id) == DueItem.infant_id)
        .where(*conditions)
        .order_by(col(DueItem.window_end), col(Woman.name))
    )
    return [OpenItem(*row) for row in db.execute(stmt).all()]


@dataclass(frozen=True)
class Loss:
    woman_id: uuid.UUID
    woman_name: str
    village_code: str
    closed_on: date
    reason: str
    cadre_id: uuid.UUID | None = None


def losses(db: Session, scope: Scope, period: Period, fixes: dict[uuid.UUID, list[Correction]]) -> list[Loss]:
    """Women recorded lost to follow-up (失访) in the period, most recent first."""
    rows = db.exec(
        select(Closure, Woman.id, Woman.name, Pregnancy.cadre_id)
        .join(Pregnancy, col(Pregnancy.id) == Closure.pregnancy_id)
        .join(Woman, col(Woman.id) == Pregnancy.woman_id)
        .where(
            col(Closure.kind) == "lost",
            scope.clause(Closure.from_village_code),
            col(Closure.closed_on) >= period.start - timedelta(days=366),
        )
    ).all()
    names = {c.id: (wid, name, cadre) for c, wid, name, cadre in rows}
    out = [
        Loss(*names[c.id][:2], c.from_village_code or "", c.closed_on, c.reason, names[c.id][2])
        for c in apply_corrections([c for c, *_ in rows], fixes)
        if period.contains(c.closed_on)
    ]
    return sorted(out, key=lambda x: x.closed_on, reverse=True)


@dataclass(frozen=True)
class ConflictingEdit:
    woman_id: uuid.UUID | None
    woman_name: str
    village_code: str
    target_type: str
    fields: tuple[str, ...]
    recorded_at: datetime
    """When the edit that lost was made (device time)."""
    lost_value: Any = None
    """The value of the edit that lost (a phone number masked), when one field is known."""
    lost_by: str = ""
    """Who made the edit that lost (the user's name)."""
    lost_device: str = ""
    won_value: Any = None
    """The value kept, when known."""
    won_by: str = ""
    won_device: str = ""
    won_at: datetime | None = None
    """When the edit that was kept was made; None when sync cannot tell."""


def _user_names(db: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {u.id: u.name for u in db.exec(select(User).where(col(User.id).in_(wanted))).all()}


def from_sync_conflicts(db: Session, scope: Scope, rows: Sequence[Any]) -> list[ConflictingEdit]:
    """The rows of sync.queries.conflicting_edits (one per lost field) with the woman's name and the names of
    who made each edit, in scope."""
    rows = [r for r in rows if scope.covers(r.village_code)]
    ids = {r.woman_id for r in rows}
    names = {w.id: w.name for w in db.exec(select(Woman).where(col(Woman.id).in_(ids))).all()} if ids else {}
    people = _user_names(db, [r.lost_by for r in rows] + [r.won_by for r in rows])
    return [
        ConflictingEdit(
            r.woman_id,
            names.get(r.woman_id, ""),
            r.village_code,
            r.target_type,
            (r.field,),
            r.lost_at,
            lost_value=r.lost_value,
            lost_by=people.get(r.lost_by, ""),
            lost_device=r.lost_device,
            won_value=r.won_value,
            won_by=people.get(r.won_by, ""),
            won_device=r.won_device,
            won_at=r.won_at,
        )
        for r in rows
    ]


def superseded_edits(db: Session, scope: Scope, limit: int = 100) -> list[ConflictingEdit]:
    """Registration edits that lost to a later edit of the same field from another device (DESIGN.md §3):
    kept in history, listed for the supervisor."""
    rows = db.exec(
        select(Correction)
        .where(
            col(Correction.kind) == "edit",
            col(Correction.superseded).is_(True),
            scope.clause(Correction.village_code),
        )
        .order_by(col(Correction.recorded_at).desc())
        .limit(limit)
    ).all()
    people = _user_names(db, [c.author_id for c in rows])
    out = []
    for c in rows:
        woman: Woman | None
        if c.target_type == "woman":
            woman = db.get(Woman, c.target_id)
        else:
            p = db.get(Pregnancy, c.target_id)
            woman = db.get(Woman, p.woman_id) if p else None
        changes = json.loads(c.changes)
        value = next(iter(changes.values())) if len(changes) == 1 else None
        out.append(
            ConflictingEdit(
                woman.id if woman else None,
                woman.name if woman else "",
                c.village_code,
                c.target_type,
                tuple(changes),
                c.recorded_at,
                lost_value=mask_phone(value) if "phone" in changes and value else value,
                lost_by=people.get(c.author_id, ""),
                lost_device=c.device_id,
            )
        )
    return out
