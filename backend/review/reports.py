"""The monthly report (月报, DOMAIN.md §6) and the county comparison: per village (or per township) and in
total — coverage, the BPHS indicators on the period's live births, registrations, outcomes by type, live
births by sex, deaths, transfers and losses — from the records backend.review.cohort loads, handed to the pure
formulas of backend.review.indicators; figures kept per village between requests (backend.review.cache)."""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from backend.review import cache
from backend.review import coverage as cov
from backend.review.cohort import Cohort, Events, load_cohort
from backend.review.indicators import (
    Coverage,
    Delivery,
    HighRiskCase,
    IndicatorSet,
    SexRatio,
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


# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VillageFigures:
    """Everything a report counts for one village in one period (never changed once built)."""

    coverage: Coverage
    deliveries: tuple[Delivery, ...]
    high_risk: tuple[HighRiskCase, ...]
    events: Events


def _figures_of(db: Session, scope: Scope, period: Period, today: date) -> dict[str, VillageFigures]:
    fixes = cov.load_corrections(db, scope)
    moves = cov.load_moves(db, scope, fixes)
    coverage = cov.coverage_by_village(db, scope, period, today, moves)
    cohort = load_cohort(db, scope, period, today, fixes, moves)
    deliveries: dict[str, list[Delivery]] = defaultdict(list)
    for v, d in cohort.deliveries:
        deliveries[v].append(d)
    high_risk: dict[str, list[HighRiskCase]] = defaultdict(list)
    for v, h in cohort.high_risk:
        high_risk[v].append(h)
    villages = {*coverage, *deliveries, *high_risk, *cohort.events}
    return {
        v: VillageFigures(
            coverage.get(v, Coverage()),
            tuple(deliveries.get(v, ())),
            tuple(high_risk.get(v, ())),
            cohort.events.get(v, Events()),
        )
        for v in villages
        if scope.covers(v)
    }


def village_figures(db: Session, scope: Scope, period: Period, today: date) -> dict[str, VillageFigures]:
    """A report's figures per village, kept between requests: after a write only the villages whose change
    feed moved are computed again — with the villages linked to them by a transfer, since a woman's past
    counts where she was — so a county view stays quick while cadres keep syncing."""
    return cache.per_village(
        db,
        ("figures", scope.prefixes, period, today),
        scope,
        lambda part: _figures_of(db, part, period, today),
        lambda villages: cov.linked_villages(db, villages),
    )


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

    figures = village_figures(db, scope, period, today)
    coverage = {v: f.coverage for v, f in figures.items()}
    cohort = Cohort(
        [(v, d) for v, f in figures.items() for d in f.deliveries],
        [(v, h) for v, f in figures.items() for h in f.high_risk],
        {v: f.events for v, f in figures.items()},
    )

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
