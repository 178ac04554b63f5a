"""The monthly report (月报, DOMAIN.md §6) and the county comparison: per village (or per township) and in
total — coverage, the BPHS indicators on the period's live births, registrations, outcomes by type, live
births by sex, deaths, transfers and losses. Loads the records (corrections applied) and hands values to the
pure formulas of backend.review.indicators. Every count is attributed to the village the woman belonged to on
the day it happened (registration, delivery, due date), so a mid-period transfer splits her history."""

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import Session, col, select

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
    Coverage,
    Delivery,
    HighRiskCase,
    IndicatorSet,
    SexRatio,
    coverage_category,
    indicator_set,
    sex_ratio_at_birth,
    total_coverage,
)
from backend.review.periods import Period
from backend.scope import Scope, township_of

OUTCOME_ORDER = (
    "live_birth",
    "stillbirth",
    "spontaneous_abortion",
    "induced_abortion",
    "termination",
    "ectopic",
    "molar",
    "maternal_death",
)
HIGH_COLOURS = ("orange", "red")


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
class UnitReport:
    """One row of the report: a village (township report) or a township (county view), or the total."""

    code: str
    name: str
    coverage: Coverage
    indicators: IndicatorSet
    events: Events


@dataclass
class Report:
    period: Period
    area_code: str
    area_name: str
    level: str  # township or county: what the area is; rows are one level down
    rows: list[UnitReport]
    total: UnitReport
    today: date
    sex_ratio: SexRatio | None = None
    """Only on a county (or wider) report; None on a township's."""


@dataclass
class Cohort:
    """What one area's report is computed from, attributed to villages."""

    deliveries: list[tuple[str, Delivery]]
    high_risk: list[tuple[str, HighRiskCase]]
    events: dict[str, Events]


# ---------------------------------------------------------------------------------------------------------


def _in_scope(scope: Scope, moves: cov.Moves) -> ColumnElement[bool]:
    clause = scope.clause(Pregnancy.village_code)
    return or_(clause, col(Pregnancy.id).in_(moves.ids)) if moves.ids else clause


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
    deliveries = _deliveries(db, scope, period, fixes, moves, events)
    _registrations(db, scope, period, moves, events)
    _closures(db, scope, period, fixes, deliveries, events)
    high_risk = _high_risk(db, scope, period, today, fixes, moves)
    return Cohort([(v, d) for v, d, _ in deliveries], high_risk, dict(events))


def _deliveries(
    db: Session,
    scope: Scope,
    period: Period,
    fixes: dict[uuid.UUID, list[Correction]],
    moves: cov.Moves,
    events: dict[str, Events],
) -> list[tuple[str, Delivery, uuid.UUID]]:
    """Outcomes dated in the period with their babies, standard checks and postnatal visits."""
    where = [
        _in_scope(scope, moves),
        _during(Outcome.outcome_on, period, _ids_of(fixes, "outcome"), Outcome.id),
    ]
    rows = db.exec(
        select(Outcome, Pregnancy).join(Pregnancy, col(Pregnancy.id) == Outcome.pregnancy_id).where(*where)
    ).all()
    pregnancies = {p.id: p for _, p in rows}
    outcomes = [
        o for o in cov.apply_corrections([o for o, _ in rows], fixes) if period.contains(o.outcome_on)
    ]
    cohort = (
        select(Outcome.pregnancy_id).join(Pregnancy, col(Pregnancy.id) == Outcome.pregnancy_id).where(*where)
    )

    babies: dict[uuid.UUID, list[Infant]] = defaultdict(list)
    for i in db.exec(
        select(Infant).where(col(Infant.pregnancy_id).in_(cohort)).order_by(col(Infant.seq))
    ).all():
        babies[i.outcome_id].append(i)
    checks: dict[uuid.UUID, set[int]] = defaultdict(set)
    visits = db.exec(
        select(PrenatalVisit).where(
            col(PrenatalVisit.pregnancy_id).in_(cohort), col(PrenatalVisit.kind) == "check"
        )
    ).all()
    for v in cov.apply_corrections(visits, fixes):
        if v.kind == "check" and v.check_no:
            checks[v.pregnancy_id].add(v.check_no)
    mother_visits: dict[uuid.UUID, list[date]] = defaultdict(list)
    baby_visits: dict[uuid.UUID, list[date]] = defaultdict(list)
    postnatal = db.exec(select(PostnatalVisit).where(col(PostnatalVisit.pregnancy_id).in_(cohort))).all()
    for pv in cov.apply_corrections(postnatal, fixes):
        if pv.covers_mother:
            mother_visits[pv.pregnancy_id].append(pv.visited_on)
        if pv.infant_id is not None:
            baby_visits[pv.infant_id].append(pv.visited_on)

    out: list[tuple[str, Delivery, uuid.UUID]] = []
    for o in sorted(outcomes, key=lambda o: (o.outcome_on, str(o.id))):
        p = pregnancies[o.pregnancy_id]
        village = moves.village_on(p.id, p.village_code, o.outcome_on)
        if not scope.covers(village):
            continue
        lmp = p.lmp or p.edd - timedelta(days=280)
        delivery = Delivery(
            outcome_on=o.outcome_on,
            outcome_type=o.outcome_type,
            registered_ga_days=(p.registered_on - lmp).days,
            checks=frozenset(checks.get(p.id, ())),
            discharge_on=o.discharge_on,
            mother_visits=tuple(sorted(mother_visits.get(p.id, ()))),
            babies=tuple(
                Baby(i.sex, i.alive_at_birth, i.high_risk, tuple(sorted(baby_visits.get(i.id, ()))))
                for i in babies.get(o.id, ())
            ),
        )
        out.append((village, delivery, p.id))
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


def _registrations(
    db: Session, scope: Scope, period: Period, moves: cov.Moves, events: dict[str, Events]
) -> None:
    rows = db.exec(
        select(col(Pregnancy.id), col(Pregnancy.village_code), col(Pregnancy.registered_on)).where(
            _in_scope(scope, moves),
            col(Pregnancy.registered_on) >= period.start,
            col(Pregnancy.registered_on) <= period.end,
        )
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
    deliveries: Sequence[tuple[str, Delivery, uuid.UUID]],
    events: dict[str, Events],
) -> None:
    """Transfers in and out, moves out of the system (迁出), losses (失访) and deaths, by the village the
    woman belonged to when they happened. A maternal death is counted once per pregnancy, whether recorded
    as an outcome, a closure or both."""
    rows = db.exec(
        select(Closure).where(
            or_(scope.clause(Closure.from_village_code), scope.clause(Closure.to_village_code)),
            _during(Closure.closed_on, period, _ids_of(fixes, "closure"), Closure.id),
        )
    ).all()
    dead_mothers: dict[uuid.UUID, str] = {
        pid: v for v, d, pid in deliveries if d.outcome_type == "maternal_death"
    }
    for c in cov.apply_corrections(rows, fixes):
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
    moves: cov.Moves,
) -> list[tuple[str, HighRiskCase]]:
    """Pregnancies whose latest grade was orange, red or purple while they were followed in the period."""
    high = or_(col(RiskGrade.colour).in_(HIGH_COLOURS), col(RiskGrade.purple).is_(True))
    candidates = (
        select(RiskGrade.pregnancy_id)
        .join(Pregnancy, col(Pregnancy.id) == RiskGrade.pregnancy_id)
        .where(
            _in_scope(scope, moves),
            high,
            col(RiskGrade.assessed_on) <= period.end,
            col(Pregnancy.registered_on) <= period.end,
            or_(col(Pregnancy.closed_on).is_(None), col(Pregnancy.closed_on) >= period.start),
        )
    )
    pregnancies = {p.id: p for p in db.exec(select(Pregnancy).where(col(Pregnancy.id).in_(candidates))).all()}
    if not pregnancies:
        return []
    ids = list(pregnancies)

    def by_pregnancy(model: Any) -> dict[uuid.UUID, list[Any]]:
        rows: list[Any] = list(db.exec(select(model).where(col(model.pregnancy_id).in_(candidates))).all())
        out: dict[uuid.UUID, list[Any]] = defaultdict(list)
        for r in cov.apply_corrections(rows, fixes):
            out[r.pregnancy_id].append(r)
        return out

    grades = by_pregnancy(RiskGrade)
    outcomes = by_pregnancy(Outcome)
    prenatal = by_pregnancy(PrenatalVisit)
    postnatal = by_pregnancy(PostnatalVisit)
    items: dict[uuid.UUID, list[DueItem]] = defaultdict(list)
    for item in db.exec(
        select(DueItem).where(
            col(DueItem.pregnancy_id).in_(candidates),
            col(DueItem.infant_id).is_(None),
            col(DueItem.due_on) <= period.end,
        )
    ).all():
        items[item.pregnancy_id].append(item)

    out: list[tuple[str, HighRiskCase]] = []
    for pid in ids:
        p = pregnancies[pid]
        outcome = min(outcomes.get(pid, []), key=lambda o: o.outcome_on, default=None)
        if outcome is not None and outcome.outcome_on < period.start:
            continue
        as_of = min(period.end, outcome.outcome_on) if outcome else period.end
        ordered = sorted(
            (g for g in grades.get(pid, []) if g.assessed_on <= as_of),
            key=lambda g: (g.assessed_on, g.recorded_at),
        )
        if not ordered or not is_high_risk(ordered[-1].colour, ordered[-1].purple):
            continue
        graded_on = ordered[-1].assessed_on
        for g in reversed(ordered):  # the start of the current run of high grades
            if not is_high_risk(g.colour, g.purple):
                break
            graded_on = g.assessed_on
        visits = [v.visited_on for v in prenatal.get(pid, []) if v.kind != "urged"]
        visits += [v.visited_on for v in postnatal.get(pid, []) if v.covers_mother]
        overdue = sum(
            1
            for i in items.get(pid, [])
            if i.due_on >= graded_on
            and coverage_category(today, i.window_end, i.done_on, i.cancelled_on, i.missed_on)
            in ("overdue", "missed")
        )
        village = moves.village_on(pid, p.village_code, min(period.end, today))
        if scope.covers(village):
            out.append((village, HighRiskCase(graded_on, tuple(sorted(visits)), overdue)))
    return out


# ---------------------------------------------------------------------------------------------------------


def build_report(
    db: Session,
    scope: Scope,
    period: Period,
    today: date,
    *,
    area_code: str,
    area_name: str,
    level: str,
    units: Sequence[tuple[str, str]],
    unit_of: Callable[[str], str],
) -> Report:
    """A report whose rows are `units` (code, name); each village's counts go to row `unit_of(village)`."""
    fixes = cov.load_corrections(db, scope)
    moves = cov.load_moves(db, scope, fixes)
    coverage = cov.coverage_by_village(db, scope, period, today, moves)
    cohort = load_cohort(db, scope, period, today, fixes, moves)

    names = dict(units)
    extra = sorted(
        {unit_of(v) for v in (*coverage, *cohort.events, *(v for v, _ in cohort.deliveries))} - set(names)
    )
    order = [*names, *extra]
    cov_by: dict[str, list[Coverage]] = defaultdict(list)
    for village, c in coverage.items():
        cov_by[unit_of(village)].append(c)
    del_by: dict[str, list[Delivery]] = defaultdict(list)
    for village, d in cohort.deliveries:
        del_by[unit_of(village)].append(d)
    hr_by: dict[str, list[HighRiskCase]] = defaultdict(list)
    for village, h in cohort.high_risk:
        hr_by[unit_of(village)].append(h)
    ev_by: dict[str, Events] = defaultdict(Events)
    for village, e in cohort.events.items():
        ev_by[unit_of(village)].add(e)

    rows = [
        UnitReport(
            code,
            names.get(code, code),
            total_coverage(cov_by.get(code, [])),
            indicator_set(del_by.get(code, []), hr_by.get(code, [])),
            ev_by.get(code, Events()),
        )
        for code in order
    ]
    total_events = Events()
    for r in rows:
        total_events.add(r.events)
    total = UnitReport(
        area_code,
        area_name,
        total_coverage(r.coverage for r in rows),
        indicator_set([d for _, d in cohort.deliveries], [h for _, h in cohort.high_risk]),
        total_events,
    )
    sex_ratio = None
    if level != "township":
        sex_ratio = sex_ratio_at_birth(
            total_events.boys, total_events.girls, total_events.unknown_sex, level=level
        )
    return Report(period, area_code, area_name, level, rows, total, today, sex_ratio)


def township_report(db: Session, township: str, period: Period, today: date) -> Report:
    """The 月报 of one township: a row per village."""
    scope = Scope((township[:9],))
    names = cov.area_names(db, scope)
    villages = [(a.code, a.name) for a in cov.villages_in(db, scope)]
    return build_report(
        db,
        scope,
        period,
        today,
        area_code=township,
        area_name=names.get(township, township),
        level="township",
        units=villages,
        unit_of=lambda v: v,
    )


def county_report(db: Session, county: str, period: Period, today: date) -> Report:
    """The county view: a row per township, the sex ratio at birth for the county as a whole."""
    scope = Scope((county[:6],))
    names = cov.area_names(db, scope)
    townships = sorted((c, n) for c, n in names.items() if c[9:] == "000" and c[6:] != "000000")
    return build_report(
        db,
        scope,
        period,
        today,
        area_code=county,
        area_name=names.get(county, county),
        level="county",
        units=townships,
        unit_of=township_of,
    )
