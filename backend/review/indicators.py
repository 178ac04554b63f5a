"""The formulas of DOMAIN.md §6 as pure functions: operational coverage, the BPHS indicators on the live-birth
cohort of a period, the app-defined high-risk management rate and the sex ratio at birth with its 95% CI.
Values in, counts out: no database, no clock. Loading the values is backend.review.reports' business."""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date
from functools import cached_property

from backend.lib.i18n import Text

SMALL_DENOMINATOR = 20
"""Rates over fewer than this many are flagged (DOMAIN.md §6; research §5.3 'small numbers')."""
EARLY_BOOKING_MAX_GA = 12 * 7 + 6  # 12+6 weeks, in days
POSTPARTUM_DAYS = 28
POSTPARTUM_TIMELY_DAYS = 7
NEWBORN_DAYS = 28
NEWBORN_ON_TIME_DAYS = 7
NEWBORN_ON_TIME_HIGH_RISK_DAYS = 3
SRB_MIN_BIRTHS = 1000
SRB_LEVELS = frozenset({"county", "prefecture", "province"})
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Rate:
    """A rate shown with its raw counts; `small` when its denominator is under 20. Nothing is capped: a rate
    over 100% shows a data anomaly."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def percent(self) -> str:
        v = self.value
        return "—" if v is None else f"{v * 100:.1f}%"

    @property
    def small(self) -> bool:
        return self.denominator < SMALL_DENOMINATOR


# ---------------------------------------------------------------------------------------------------------
# Operational coverage (§6): due items whose due date falls in the period.

CATEGORIES = ("on_time", "late", "overdue", "missed", "cancelled", "pending")


def coverage_category(
    day: date, window_end: date, done_on: date | None, cancelled_on: date | None, missed_on: date | None
) -> str:
    """What a due item counts as in the coverage of a report made on `day`: done on time, done late,
    cancelled, missed (its chain moved on or the case closed), overdue (still open, window over) or pending
    (its window still runs, nothing recorded yet). Mirrors backend.schedule.state_of; the SQL in
    backend.review.coverage computes the same split."""
    if done_on is not None and done_on <= day:
        return "on_time" if done_on <= window_end else "late"
    if cancelled_on is not None and cancelled_on <= day:
        return "cancelled"
    if missed_on is not None and missed_on <= day:
        return "missed"
    if window_end < day:
        return "overdue"
    return "pending"


@dataclass(frozen=True)
class Coverage:
    """Counts of due items; `coverage` = (on time + late) / (due − cancelled − pending).

    Items whose window still runs on the report day and carry no visit yet (`pending`) stay out of the rate
    until their window closes, so the current month is not shown as behind for visits that are not late;
    once the window closes they count as overdue or, when their chain moved on, missed."""

    on_time: int = 0
    late: int = 0
    overdue: int = 0
    missed: int = 0
    cancelled: int = 0
    pending: int = 0

    @property
    def due(self) -> int:
        return self.on_time + self.late + self.overdue + self.missed + self.cancelled + self.pending

    @property
    def done(self) -> int:
        return self.on_time + self.late

    @property
    def not_done(self) -> int:
        return self.overdue + self.missed

    @property
    def rate(self) -> Rate:
        return Rate(self.done, self.due - self.cancelled - self.pending)

    def below(self, target: float) -> bool:
        value = self.rate.value
        return value is not None and value < target

    def __add__(self, other: "Coverage") -> "Coverage":
        return Coverage(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __sub__(self, other: "Coverage") -> "Coverage":
        return Coverage(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    def plus(self, category: str, n: int = 1) -> "Coverage":
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values[category] += n
        return Coverage(**values)


def total_coverage(parts: Iterable[Coverage]) -> Coverage:
    out = Coverage()
    for part in parts:
        out = out + part
    return out


# ---------------------------------------------------------------------------------------------------------
# The live-birth cohort of a period: deliveries whose date falls in it.


@dataclass(frozen=True)
class Baby:
    sex: str  # GB/T 2261.1: 1 boy, 2 girl, 0/9 unknown
    alive_at_birth: bool = True
    high_risk: bool = False
    visits: tuple[date, ...] = ()
    """Dates of newborn visits recorded for this baby (any milestone)."""


@dataclass(frozen=True)
class Delivery:
    """One pregnancy outcome as the indicators see it (corrections already applied)."""

    outcome_on: date
    outcome_type: str
    registered_ga_days: int | None
    """Gestational age at registration (early booking)."""
    checks: frozenset[int] = frozenset()
    """Standard checks 1–5 recorded as attended."""
    discharge_on: date | None = None
    mother_visits: tuple[date, ...] = ()
    """Dates of postnatal visits that covered the mother."""
    babies: tuple[Baby, ...] = ()

    @cached_property
    def live_births(self) -> int:
        if self.outcome_type != "live_birth":
            return 0
        return sum(1 for b in self.babies if b.alive_at_birth)

    @property
    def anchor(self) -> date:
        """Discharge date where known, else the outcome date (DOMAIN.md §4.3)."""
        return self.discharge_on or self.outcome_on


def live_births(deliveries: Iterable[Delivery]) -> int:
    """活产数, the denominator of every BPHS indicator; twins count twice."""
    return sum(d.live_births for d in deliveries)


def _mothers(deliveries: Iterable[Delivery]) -> list[Delivery]:
    return [d for d in deliveries if d.live_births > 0]


def early_booking(deliveries: Sequence[Delivery]) -> Rate:
    """早孕建册率: mothers of the period's live births registered at 12+6 weeks or earlier ÷ live births.
    The numerator counts mothers and the denominator births, as the national form does: a mother of twins
    counts once above and twice below."""
    num = sum(
        1
        for d in _mothers(deliveries)
        if d.registered_ga_days is not None and d.registered_ga_days <= EARLY_BOOKING_MAX_GA
    )
    return Rate(num, live_births(deliveries))


def antenatal_management(deliveries: Sequence[Delivery]) -> Rate:
    """产前健康管理率: mothers with all five standard checks recorded ÷ live births."""
    num = sum(1 for d in _mothers(deliveries) if d.checks >= {1, 2, 3, 4, 5})
    return Rate(num, live_births(deliveries))


def postpartum_visit(deliveries: Sequence[Delivery], within_days: int = POSTPARTUM_DAYS) -> Rate:
    """产后访视率: mothers visited 0–28 days after discharge (or the delivery when there was no stay) ÷ live
    births; with `within_days=7`, the share visited in time (the BPHS service requirement)."""
    num = sum(
        1
        for d in _mothers(deliveries)
        if any(0 <= (v - d.anchor).days <= within_days for v in d.mother_visits)
    )
    return Rate(num, live_births(deliveries))


def newborn_visit(deliveries: Sequence[Delivery]) -> Rate:
    """新生儿访视率: live-born babies with a newborn visit within 28 days of birth ÷ live births."""
    num = sum(
        1
        for d in deliveries
        if d.outcome_type == "live_birth"
        for b in d.babies
        if b.alive_at_birth and any(0 <= (v - d.outcome_on).days <= NEWBORN_DAYS for v in b.visits)
    )
    return Rate(num, live_births(deliveries))


def newborn_visit_on_time(deliveries: Sequence[Delivery]) -> Rate:
    """Newborn visits on time: within 7 days of discharge (3 for a high-risk newborn) ÷ live births."""

    def on_time(d: Delivery, b: Baby) -> bool:
        limit = NEWBORN_ON_TIME_HIGH_RISK_DAYS if b.high_risk else NEWBORN_ON_TIME_DAYS
        return any(v >= d.outcome_on and (v - d.anchor).days <= limit for v in b.visits)

    num = sum(
        1
        for d in deliveries
        if d.outcome_type == "live_birth"
        for b in d.babies
        if b.alive_at_birth and on_time(d, b)
    )
    return Rate(num, live_births(deliveries))


@dataclass(frozen=True)
class HighRiskCase:
    """A pregnancy graded high risk (orange, red or purple) while followed in the period."""

    graded_on: date
    visits: tuple[date, ...] = ()
    """Prenatal and maternal postnatal visits, any date."""
    overdue_items: int = 0
    """Items due since the grading that were overdue or missed on the report day."""


def high_risk_management(cases: Sequence[HighRiskCase]) -> Rate:
    """高危管理率 (app-defined, not an official indicator): high-risk pregnancies with at least one visit
    after the grading and no overdue item ÷ high-risk pregnancies."""
    num = sum(1 for c in cases if c.overdue_items == 0 and any(v > c.graded_on for v in c.visits))
    return Rate(num, len(cases))


@dataclass(frozen=True)
class IndicatorSet:
    early_booking: Rate
    antenatal_management: Rate
    postpartum_visit: Rate
    postpartum_visit_7d: Rate
    newborn_visit: Rate
    newborn_visit_on_time: Rate
    high_risk_management: Rate

    def items(self) -> list[tuple[str, Rate]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


def indicator_set(deliveries: Sequence[Delivery], high_risk: Sequence[HighRiskCase]) -> IndicatorSet:
    return IndicatorSet(
        early_booking=early_booking(deliveries),
        antenatal_management=antenatal_management(deliveries),
        postpartum_visit=postpartum_visit(deliveries),
        postpartum_visit_7d=postpartum_visit(deliveries, POSTPARTUM_TIMELY_DAYS),
        newborn_visit=newborn_visit(deliveries),
        newborn_visit_on_time=newborn_visit_on_time(deliveries),
        high_risk_management=high_risk_management(high_risk),
    )


@dataclass(frozen=True)
class IndicatorDef:
    name: Text
    numerator: Text
    denominator: Text
    product_defined: bool = False


LIVE_BIRTHS = Text("同期活产数（双胎计2）", "live births in the period (twins count 2)")
INDICATORS: dict[str, IndicatorDef] = {
    "early_booking": IndicatorDef(
        Text("早孕建册率", "Early booking"),
        Text("孕12+6周及以前登记的产妇数", "mothers registered at 12+6 weeks or earlier"),
        LIVE_BIRTHS,
    ),
    "antenatal_management": IndicatorDef(
        Text("产前健康管理率", "Antenatal management"),
        Text("5次规范产检均有记录的产妇数", "mothers with all 5 standard checks recorded"),
        LIVE_BIRTHS,
    ),
    "postpartum_visit": IndicatorDef(
        Text("产后访视率", "Postpartum visit"),
        Text("出院后28天内接受产后访视的产妇数", "mothers visited within 28 days of discharge"),
        LIVE_BIRTHS,
    ),
    "postpartum_visit_7d": IndicatorDef(
        Text("产后7天内访视率", "Postpartum visit within 7 days"),
        Text("出院后7天内接受产后访视的产妇数", "mothers visited within 7 days of discharge"),
        LIVE_BIRTHS,
    ),
    "newborn_visit": IndicatorDef(
        Text("新生儿访视率", "Newborn visit"),
        Text("出生后28天内接受访视的新生儿数", "live births visited within 28 days of birth"),
        LIVE_BIRTHS,
    ),
    "newborn_visit_on_time": IndicatorDef(
        Text("新生儿访视及时率", "Newborn visit on time"),
        Text("出院后7天内（高危儿3天内）访视的新生儿数", "visited within 7 days of discharge (high-risk: 3)"),
        LIVE_BIRTHS,
    ),
    "high_risk_management": IndicatorDef(
        Text("高危管理率（本系统定义）", "High-risk management (app-defined)"),
        Text(
            "分级后有随访且无逾期项目的高危孕妇数",
            "high-risk pregnancies visited after grading, none overdue",
        ),
        Text(
            "期内在管的高危孕妇数（橙、红、紫）",
            "high-risk pregnancies followed in the period (orange, red, purple)",
        ),
        product_defined=True,
    ),
}


# ---------------------------------------------------------------------------------------------------------
# Sex ratio at birth (出生人口性别比), county level and above only.


@dataclass(frozen=True)
class SexRatio:
    """Boys per 100 girls among live births of known sex, with a Wilson 95% interval; `ratio` is None when
    fewer than 1,000 such births make it noise ("too few births to compute")."""

    boys: int
    girls: int
    unknown: int
    ratio: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def births(self) -> int:
        return self.boys + self.girls

    @property
    def computable(self) -> bool:
        return self.ratio is not None


class SexRatioRefused(ValueError):
    """The sex ratio at birth is never computed below county level (villages, townships, cadres)."""


def sex_ratio_at_birth(boys: int, girls: int, unknown: int, *, level: str) -> SexRatio:
    """SRB = boys ÷ girls × 100 over live births of known sex (unknown-sex births reported, not counted).
    Refuses any level below county; withholds the figure under 1,000 births of known sex."""
    if level not in SRB_LEVELS:
        raise SexRatioRefused(level)
    n = boys + girls
    if n < SRB_MIN_BIRTHS or boys == 0 or girls == 0:
        return SexRatio(boys, girls, unknown)
    p = boys / n
    lo_p, hi_p = wilson_interval(boys, n)
    return SexRatio(boys, girls, unknown, _odds(p), _odds(lo_p), _odds(hi_p))


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _odds(p: float) -> float:
    return math.inf if p >= 1 else 100 * p / (1 - p)
