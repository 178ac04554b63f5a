"""Loading a period's records for the report (corrections applied): the deliveries with their babies,
standard checks and postnatal visits, registrations, closures (transfers, losses, deaths) and high-risk cases,
each attributed to the village the woman belonged to on the day it happened (registration, delivery, due
date), so a mid-period transfer splits her history. Values for the pure formulas of indicators.py."""

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, exists, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from backend.cases import rules
from backend.cases.models import (
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
from backend.cases.schedule_store import is_high_risk
from backend.review import coverage as cov
from backend.review.indicators import (
    Baby,
    Delivery,
    HighRiskCase,
)
from backend.review.periods import Period
from backend.review.reads import one_of, read
from backend.scope import Scope

HIGH_COLOURS = ("orange", "red")
MAX_BOUND_IDS = 1000
VISIT_TAIL = timedelta(days=120)
"""How long after the period a postnatal visit can still count for one of its deliveries: 28 days after a
discharge, allowing for a long hospital stay."""
PRENATAL_TAIL_DAYS = 315 - 280
"""Days from the EDD to the last gestational day the schedule plans visits for (45 weeks)."""


@dataclass
class Events:
    """Counts of what happened in the period in one place."""

    registrations: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    boys: int = 0
    girls: int = 0
    unknown_sex: int = 0
    maternal_deaths: int = 0
    infant_deaths: int = 0
    transfers_in: int = 0
    transfers_out: int = 0
    moved_out: int = 0
    lost: int = 0

    @property
    def live_births(self) -> int:
        return self.boys + self.girls + self.unknown_sex

    def add(self, other: "Events") -> None:
        for name in (
            "registrations",
            "boys",
            "girls",
            "unknown_sex",
            "maternal_deaths",
            "infant_deaths",
            "transfers_in",
            "transfers_out",
            "moved_out",
            "lost",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.outcomes.update(other.outcomes)


@dataclass
class Cohort:
    """What one area's report is computed from, attributed to villages."""

    deliveries: list[tuple[str, Delivery]]
    high_risk: list[tuple[str, HighRiskCase]]
    events: dict[str, Events]


# ---------------------------------------------------------------------------------------------------------


def _in_scope(scope: Scope, moves: cov.Moves) -> ColumnElement[bool]:
    """Pregnancies in the scope now, or transferred out of it (their past counts here). The village code is
    read through `|| ''` so the planner drives these queries from the period's dates or the risk grades
    rather than from every pregnancy of the scope (on SQLite it otherwise walks the village index)."""
    village_level = all(len(p) == 12 for p in scope.prefixes)  # a few villages: their index is the way in
    clause = scope.clause(Pregnancy.village_code if village_level else col(Pregnancy.village_code) + "")
    outside = moves.outside(scope)
    return or_(clause, col(Pregnancy.id).in_(outside)) if outside else clause


def _raw(column: Any) -> Any:
    """An id column read as text (32 hex digits as SQLite stores it, the hyphenated form on PostgreSQL): no
    uuid.UUID built per row, and dictionaries keyed by ids hash plain strings."""
    return cast(col(column), String).label(column.key)


def _raw_key(db: Session) -> Callable[[uuid.UUID], Any]:
    """What `_raw` reads for a given UUID on this database."""
    return (lambda u: u.hex) if db.get_bind().dialect.name == "sqlite" else str


def _ids_of(fixes: dict[uuid.UUID, list[Correction]], target_type: str) -> set[uuid.UUID]:
    return {tid for tid, cs in fixes.items() if any(c.target_type == target_type for c in cs)}


def _during(column: Any, period: Period, amended: set[uuid.UUID], id_column: Any) -> ColumnElement[bool]:
    """Rows dated in the period, plus every amended row (an amendment may move a date into it)."""
    inside = and_(col(column) >= period.start, col(column) <= period.end)
    return or_(inside, col(id_column).in_(amended)) if amended else inside


def load_cohort(
    db: Session,
    scope: Scope,
    period: Period,
    today: date,
    fixes: dict[uuid.UUID, list[Correction]],
    moves: cov.Moves,
) -> Cohort:
    events: dict[str, Events] = defaultdict(Events)
    key = _raw_key(db)
    raw = _Raw(
        _in_scope(scope, moves),
        cov.Moves({key(k): v for k, v in moves.by_pregnancy.items()}),
        {key(k): v for k, v in fixes.items()},
    )
    deliveries = _deliveries(db, scope, period, fixes, raw, events)
    _registrations(db, scope, period, raw, events)
    _closures(db, scope, period, fixes, deliveries, events)
    high_risk = _high_risk(db, scope, period, today, fixes, raw)
    return Cohort([(v, d) for v, d, _ in deliveries], high_risk, dict(events))


@dataclass(frozen=True)
class _Raw:
    """What the queries of one load share: the scope clause (it binds uuids), and the transfers and
    corrections keyed by ids as `_raw` reads them."""

    in_scope: ColumnElement[bool]
    moves: cov.Moves
    fixes: dict[Any, list[Correction]]


def _deliveries(
    db: Session,
    scope: Scope,
    period: Period,
    fixes: dict[uuid.UUID, list[Correction]],
    raw: "_Raw",
    events: dict[str, Events],
) -> list[tuple[str, Delivery, uuid.UUID | None]]:
    """Outcomes dated in the period with their babies, standard checks and postnatal visits. Ids are read
    as text (`_raw`): turning tens of thousands of them into UUID objects was most of a year's cost."""
    moves, raw_fixes = raw.moves, raw.fixes
    where = [
        raw.in_scope,
        _during(Outcome.outcome_on, period, _ids_of(fixes, "outcome"), Outcome.id),
    ]
    rows = read(
        db,
        sa_select(
            _raw(Outcome.id),
            _raw(Outcome.pregnancy_id),
            col(Outcome.outcome_on),
            col(Outcome.outcome_type),
            col(Outcome.discharge_on),
            col(Pregnancy.village_code),
            col(Pregnancy.lmp),
            col(Pregnancy.edd),
            col(Pregnancy.registered_on),
        )
        .join(Pregnancy, col(Pregnancy.id) == Outcome.pregnancy_id)
        .where(*where),
    ).all()
    outcomes = [o for o in cov.fixed(rows, raw_fixes) if period.contains(o.outcome_on)]

    # The pregnancies of those outcomes: as a list of ids for a month (a few hundred: index seeks), as the
    # same query again for longer periods (one scan of the outcome table beats binding thousands of ids).
    pregnancies = sorted({o.pregnancy_id for o in outcomes})

    def in_cohort(column: Any) -> ColumnElement[bool]:
        if len(outcomes) <= MAX_BOUND_IDS:
            return one_of(db, column, pregnancies)
        return col(column).in_(
            sa_select(col(Outcome.pregnancy_id))
            .join(Pregnancy, col(Pregnancy.id) == Outcome.pregnancy_id)
            .where(*where)
        )

    babies: dict[Any, list[Any]] = defaultdict(list)
    for i in read(
        db,
        sa_select(
            _raw(Infant.outcome_id),
            col(Infant.sex),
            col(Infant.alive_at_birth),
            col(Infant.birth_weight_g),
            col(Infant.asphyxia),
            col(Infant.defect),
            _raw(Infant.id),
        )
        .where(in_cohort(Infant.pregnancy_id))
        .order_by(col(Infant.seq)),
    ).all():
        babies[i.outcome_id].append(i)
    # Standard checks and postnatal visits come aggregated, one row per pregnancy (or baby): the dates as
    # text, so a year of a county is a few thousand rows. Corrected records are read one by one.
    checks: dict[Any, set[int]] = defaultdict(set)
    corrected = [tid for tid, cs in fixes.items() if any(c.target_type == "prenatal_visit" for c in cs)]
    check_lists = (
        sa_select(
            _raw(PrenatalVisit.pregnancy_id),
            func.aggregate_strings(cast(PrenatalVisit.check_no, String), ","),
        )
        .where(
            in_cohort(PrenatalVisit.pregnancy_id),
            col(PrenatalVisit.kind) == "check",
            col(PrenatalVisit.check_no).is_not(None),
        )
        .group_by(col(PrenatalVisit.pregnancy_id))
    )
    if corrected:
        check_lists = check_lists.where(col(PrenatalVisit.id).not_in(corrected))
        for v in cov.fixed(
            read(
                db,
                sa_select(
                    _raw(PrenatalVisit.id),
                    _raw(PrenatalVisit.pregnancy_id),
                    col(PrenatalVisit.kind),
                    col(PrenatalVisit.check_no),
                ).where(in_cohort(PrenatalVisit.pregnancy_id), col(PrenatalVisit.id).in_(corrected)),
            ).all(),
            raw_fixes,
        ):
            if v.kind == "check" and v.check_no:
                checks[v.pregnancy_id].add(v.check_no)
    for pid, numbers in read(db, check_lists).all():
        checks[pid].update(int(n) for n in numbers.split(","))

    mother_visits: dict[Any, list[date]] = defaultdict(list)
    baby_visits: dict[Any, list[date]] = defaultdict(list)

    def note(pregnancy_id: Any, infant_id: Any, covers_mother: bool, on: date) -> None:
        if covers_mother:
            mother_visits[pregnancy_id].append(on)
        if infant_id is not None:
            baby_visits[infant_id].append(on)

    # every visit the rates look at falls within 28 days of a delivery or discharge in the period
    in_reach = [
        in_cohort(PostnatalVisit.pregnancy_id),
        col(PostnatalVisit.visited_on) >= period.start,
        col(PostnatalVisit.visited_on) <= period.end + VISIT_TAIL,
    ]
    fixed_visits = list(_ids_of(fixes, "postnatal_visit"))
    visit_lists = (
        sa_select(
            _raw(PostnatalVisit.pregnancy_id),
            _raw(PostnatalVisit.infant_id),
            col(PostnatalVisit.covers_mother),
            func.aggregate_strings(cast(PostnatalVisit.visited_on, String), ","),
        )
        .where(*in_reach)
        .group_by(
            col(PostnatalVisit.pregnancy_id), col(PostnatalVisit.infant_id), col(PostnatalVisit.covers_mother)
        )
    )
    if fixed_visits:
        visit_lists = visit_lists.where(col(PostnatalVisit.id).not_in(fixed_visits))
        for pv in cov.fixed(
            read(
                db,
                sa_select(
                    _raw(PostnatalVisit.id),
                    _raw(PostnatalVisit.pregnancy_id),
                    _raw(PostnatalVisit.infant_id),
                    col(PostnatalVisit.covers_mother),
                    col(PostnatalVisit.visited_on),
                ).where(in_cohort(PostnatalVisit.pregnancy_id), col(PostnatalVisit.id).in_(fixed_visits)),
            ).all(),
            raw_fixes,
        ):
            note(pv.pregnancy_id, pv.infant_id, pv.covers_mother, pv.visited_on)
    for pid, infant_id, covers_mother, days_text in read(db, visit_lists).all():
        for text in days_text.split(","):
            note(pid, infant_id, covers_mother, date.fromisoformat(text[:10]))

    out: list[tuple[str, Delivery, uuid.UUID | None]] = []
    for o in sorted(outcomes, key=lambda o: (o.outcome_on, str(o.id))):
        pid = o.pregnancy_id
        village = moves.village_on(pid, o.village_code, o.outcome_on)
        if not scope.covers(village):
            continue
        lmp = rules.lmp_or_from_edd(o.lmp, o.edd)
        delivery = Delivery(
            outcome_on=o.outcome_on,
            outcome_type=o.outcome_type,
            registered_ga_days=(o.registered_on - lmp).days,
            checks=frozenset(checks.get(pid, ())),
            discharge_on=o.discharge_on,
            mother_visits=tuple(sorted(mother_visits.get(pid, ()))),
            babies=tuple(
                Baby(
                    i.sex,
                    i.alive_at_birth,
                    # from the corrected outcome date and the EDD as now registered, never Infant.high_risk
                    rules.newborn_high_risk(
                        outcome_on=o.outcome_on,
                        lmp=o.lmp,
                        edd=o.edd,
                        weight_g=i.birth_weight_g,
                        asphyxia=i.asphyxia,
                        defect=i.defect,
                    ),
                    tuple(sorted(baby_visits.get(i.id, ()))),
                )
                for i in babies.get(o.id, ())
            ),
        )
        dead = o.outcome_type == "maternal_death"  # the one use of the id, by _closures
        out.append((village, delivery, uuid.UUID(pid) if dead else None))
        e = events[village]
        e.outcomes[o.outcome_type] += 1
        if o.outcome_type == "live_birth":
            for b in delivery.babies:
                if b.alive_at_birth:
                    if b.sex == "1":
                        e.boys += 1
                    elif b.sex == "2":
                        e.girls += 1
                    else:
                        e.unknown_sex += 1
    return out


def _registrations(db: Session, scope: Scope, period: Period, raw: _Raw, events: dict[str, Events]) -> None:
    moves = raw.moves
    rows = read(
        db,
        sa_select(_raw(Pregnancy.id), col(Pregnancy.village_code), col(Pregnancy.registered_on)).where(
            raw.in_scope,
            col(Pregnancy.registered_on) >= period.start,
            col(Pregnancy.registered_on) <= period.end,
        ),
    ).all()
    for pid, current, registered_on in rows:
        village = moves.village_on(pid, current, registered_on)
        if scope.covers(village):
            events[village].registrations += 1


def _closures(
    db: Session,
    scope: Scope,
    period: Period,
    fixes: dict[uuid.UUID, list[Correction]],
    deliveries: Sequence[tuple[str, Delivery, uuid.UUID | None]],
    events: dict[str, Events],
) -> None:
    """Transfers in and out, moves out of the system (迁出), losses (失访) and deaths, by the village the
    woman belonged to when they happened. A maternal death is counted once per pregnancy, whether recorded
    as an outcome, a closure or both."""
    rows = read(
        db,
        sa_select(
            col(Closure.id),
            col(Closure.pregnancy_id),
            col(Closure.infant_id),
            col(Closure.kind),
            col(Closure.closed_on),
            col(Closure.from_village_code),
            col(Closure.to_village_code),
        ).where(
            or_(scope.clause(Closure.from_village_code), scope.clause(Closure.to_village_code)),
            _during(Closure.closed_on, period, _ids_of(fixes, "closure"), Closure.id),
        ),
    ).all()
    dead_mothers: dict[uuid.UUID, str] = {pid: v for v, _, pid in deliveries if pid is not None}
    for c in cov.fixed(rows, fixes):
        if not period.contains(c.closed_on):
            continue
        source = c.from_village_code or ""
        if c.kind == "transferred":
            if scope.covers(source):
                events[source].transfers_out += 1
            if scope.covers(c.to_village_code):
                events[c.to_village_code or ""].transfers_in += 1
            continue
        if not scope.covers(source):
            continue
        if c.kind == "moved_out":
            events[source].moved_out += 1
        elif c.kind == "lost":
            events[source].lost += 1
        elif c.kind == "died" and c.infant_id is not None:
            events[source].infant_deaths += 1
        elif c.kind == "died":
            dead_mothers.setdefault(c.pregnancy_id, source)
    for village in dead_mothers.values():
        events[village].maternal_deaths += 1


def _high_risk(
    db: Session,
    scope: Scope,
    period: Period,
    today: date,
    fixes: dict[uuid.UUID, list[Correction]],
    raw: _Raw,
) -> list[tuple[str, HighRiskCase]]:
    """Pregnancies whose latest grade was orange, red or purple while they were followed in the period."""
    in_scope, moves, raw_fixes = raw.in_scope, raw.moves, raw.fixes
    graded_high = exists().where(
        col(RiskGrade.pregnancy_id) == Pregnancy.id,
        or_(col(RiskGrade.colour).in_(HIGH_COLOURS), col(RiskGrade.purple).is_(True)),
        col(RiskGrade.assessed_on) <= period.end,
    )
    villages = dict(
        read(
            db,
            sa_select(_raw(Pregnancy.id), col(Pregnancy.village_code)).where(
                in_scope,
                col(Pregnancy.registered_on) <= period.end,
                # prenatal follow-up runs to 45 weeks at most (schedule rules: last_gestational_day)
                col(Pregnancy.edd) >= period.start - timedelta(days=PRENATAL_TAIL_DAYS),
                or_(col(Pregnancy.closed_on).is_(None), col(Pregnancy.closed_on) >= period.start),
                graded_high,
            ),
        ).all()
    )  # those delivered before the period drop out below, once their (corrected) outcome is read
    if not villages:
        return []
    ids = sorted(villages)  # an id list from here on: the subquery would run again for every table

    def by_pregnancy(
        pregnancies: Sequence[Any], *columns: Any, where: Sequence[Any] = ()
    ) -> dict[uuid.UUID, list[Any]]:
        model = columns[0].class_
        rows = read(
            db,
            sa_select(*(_raw(c) if c.key.endswith("id") else col(c) for c in columns)).where(
                one_of(db, model.pregnancy_id, pregnancies), *where
            ),
        ).all()
        out: dict[uuid.UUID, list[Any]] = defaultdict(list)
        for r in cov.fixed(rows, raw_fixes):
            out[r.pregnancy_id].append(r)
        return out

    # The outcome, then the grades, decide who is counted: the visits and items are read for those only.
    outcomes = by_pregnancy(ids, Outcome.id, Outcome.pregnancy_id, Outcome.outcome_on)
    as_of: dict[Any, date] = {}
    for pid in ids:
        outcome = min(outcomes.get(pid, []), key=lambda o: o.outcome_on, default=None)
        if outcome is None or outcome.outcome_on >= period.start:
            as_of[pid] = min(period.end, outcome.outcome_on) if outcome else period.end
    grades = by_pregnancy(
        list(as_of),
        RiskGrade.id,
        RiskGrade.pregnancy_id,
        RiskGrade.assessed_on,
        RiskGrade.colour,
        RiskGrade.purple,
        RiskGrade.recorded_at,
    )
    graded: dict[Any, date] = {}
    for pid, day in as_of.items():
        ordered = sorted(
            (g for g in grades.get(pid, []) if g.assessed_on <= day),
            key=lambda g: (g.assessed_on, g.recorded_at),
        )
        if not ordered or not is_high_risk(ordered[-1].colour, ordered[-1].purple):
            continue
        graded_on = ordered[-1].assessed_on
        for g in reversed(ordered):  # the start of the current run of high grades
            if not is_high_risk(g.colour, g.purple):
                break
            graded_on = g.assessed_on
        graded[pid] = graded_on
    if not graded:
        return []
    kept = list(graded)
    # The latest visit is all the rate needs; corrected visits are read one by one (they are rare).
    corrected = [tid for tid, cs in fixes.items() if any(c.target_type == "prenatal_visit" for c in cs)]
    prenatal: dict[uuid.UUID, list[Any]] = defaultdict(list)
    latest = (
        sa_select(_raw(PrenatalVisit.pregnancy_id), func.max(PrenatalVisit.visited_on).label("visited_on"))
        .where(one_of(db, PrenatalVisit.pregnancy_id, kept), col(PrenatalVisit.kind) != "urged")
        .group_by(col(PrenatalVisit.pregnancy_id))
    )
    if corrected:
        latest = latest.where(col(PrenatalVisit.id).not_in(corrected))
        prenatal = by_pregnancy(
            kept,
            PrenatalVisit.id,
            PrenatalVisit.pregnancy_id,
            PrenatalVisit.visited_on,
            where=[col(PrenatalVisit.kind) != "urged", col(PrenatalVisit.id).in_(corrected)],
        )
    for pid, visited_on in read(db, latest).all():
        prenatal[pid].append(SimpleNamespace(visited_on=visited_on))
    postnatal = by_pregnancy(
        kept,
        PostnatalVisit.id,
        PostnatalVisit.pregnancy_id,
        PostnatalVisit.visited_on,
        where=[col(PostnatalVisit.covers_mother).is_(True)],
    )
    # The items that count against the case: due since the grading, neither done nor cancelled, window over
    # by today — each of them overdue or missed (coverage_category), so their due dates are all it takes.
    items: dict[uuid.UUID, list[date]] = defaultdict(list)
    for pid, due_on in read(
        db,
        sa_select(_raw(DueItem.pregnancy_id), col(DueItem.due_on)).where(
            one_of(db, DueItem.pregnancy_id, kept),
            col(DueItem.infant_id).is_(None),
            col(DueItem.due_on) >= min(graded.values()),
            col(DueItem.due_on) <= period.end,
            col(DueItem.window_end) < today,
            col(DueItem.done_on).is_(None),  # not is_open: that index would win over the pregnancy's
            col(DueItem.cancelled_on).is_(None),
        ),
    ).all():
        items[pid].append(due_on)

    out: list[tuple[str, HighRiskCase]] = []
    for pid, graded_on in graded.items():
        visits = [v.visited_on for v in prenatal.get(pid, [])]
        visits += [v.visited_on for v in postnatal.get(pid, [])]
        overdue = sum(1 for due_on in items.get(pid, []) if due_on >= graded_on)
        village = moves.village_on(pid, villages[pid], min(period.end, today))
        if scope.covers(village):
            out.append((village, HighRiskCase(graded_on, tuple(sorted(visits)), overdue)))
    return out
