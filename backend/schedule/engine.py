"""The follow-up schedule (DOMAIN.md §4) as pure functions: facts of one pregnancy in, due items out.

Nothing here touches a database or a clock: `plan_items(facts, rules)` lists every expected visit with its
window and what closed it; `state_of(item, day)` derives its state on any day. Materialising, querying and
showing items is the callers' business.
"""

import uuid
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from backend.schedule.rules import Rules

DAY = timedelta(days=1)
LOSS_TYPES = frozenset({"spontaneous_abortion", "induced_abortion", "termination", "ectopic", "molar"})
DELIVERY_TYPES = frozenset({"live_birth", "stillbirth"})


class State(StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"
    DONE_ON_TIME = "done_on_time"
    DONE_LATE = "done_late"
    CANCELLED = "cancelled"
    MISSED = "missed"


DONE_STATES = frozenset({State.DONE_ON_TIME, State.DONE_LATE})


@dataclass(frozen=True)
class RiskFact:
    on: date
    high: bool


@dataclass(frozen=True)
class PrenatalVisitFact:
    """kind: home, township, check, phone or urged; check_no 1–5 for a standard check attended."""

    on: date
    kind: str
    check_no: int | None = None
    id: uuid.UUID | None = None


@dataclass(frozen=True)
class OutcomeFact:
    on: date
    type: str
    discharge_on: date | None = None


@dataclass(frozen=True)
class InfantFact:
    id: uuid.UUID
    alive_at_birth: bool = True
    high_risk: bool = False
    death_on: date | None = None


@dataclass(frozen=True)
class PostnatalVisitFact:
    """milestone: 1w, 2w, 1m, 3m, 6m, 12m, 42d, loss or extra; infant_id set for the baby part."""

    on: date
    milestone: str
    infant_id: uuid.UUID | None = None
    covers_mother: bool = False
    id: uuid.UUID | None = None


@dataclass(frozen=True)
class PregnancyFacts:
    """Everything the schedule needs to know about one pregnancy (amendments and voids already applied)."""

    registered_on: date
    edd: date
    lmp: date | None = None
    risks: Sequence[RiskFact] = ()
    prenatal_visits: Sequence[PrenatalVisitFact] = ()
    outcome: OutcomeFact | None = None
    infants: Sequence[InfantFact] = ()
    postnatal_visits: Sequence[PostnatalVisitFact] = ()
    closed_on: date | None = None
    """Date the case left follow-up (moved out, lost to follow-up) or the mother died."""
    closed_kind: str | None = None

    @property
    def effective_lmp(self) -> date:
        return self.lmp if self.lmp is not None else self.edd - timedelta(days=280)


@dataclass(frozen=True)
class Item:
    """One expected visit. `missed_on`: from that day on an undone item counts as missed."""

    kind: str
    seq: int
    window_start: date
    due_on: date
    window_end: date
    infant_id: uuid.UUID | None = None
    done_on: date | None = None
    done_by: uuid.UUID | None = None
    cancelled_on: date | None = None
    missed_on: date | None = None
    rules_version: str = ""
    label: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> tuple[str, int, uuid.UUID | None]:
        return (self.kind, self.seq, self.infant_id)


def state_of(item: Item, day: date) -> State:
    """The item's state as it stood at the end of `day`; total over every date."""
    if item.done_on is not None and item.done_on <= day:
        return State.DONE_ON_TIME if item.done_on <= item.window_end else State.DONE_LATE
    if item.cancelled_on is not None and item.cancelled_on <= day:
        return State.CANCELLED
    if item.missed_on is not None and item.missed_on <= day:
        return State.MISSED
    if day < item.window_start:
        return State.UPCOMING
    if day <= item.window_end:
        return State.DUE
    return State.OVERDUE


def plan_items(facts: PregnancyFacts, rules: Rules) -> list[Item]:
    """Every due item of one pregnancy: prenatal chains and checks, the outcome, and postnatal care."""
    mother_stop = facts.closed_on
    prenatal_stop = _earliest(facts.outcome.on if facts.outcome else None, mother_stop)
    prenatal = sorted(facts.prenatal_visits, key=_by_date_then_id)
    high_risk_on = _risk_lookup(facts.risks)
    normal, high = timedelta(days=rules.village_interval), timedelta(days=rules.village_interval_high_risk)
    township = timedelta(days=rules.township_interval)
    items: list[Item] = []
    items += _chain(
        "village",
        facts,
        [v for v in prenatal if v.kind == "home"],
        lambda anchor: high if high_risk_on(anchor) else normal,
        rules.village_half_window,
        prenatal_stop,
        rules,
    )
    items += _chain(
        "township",
        facts,
        [v for v in prenatal if v.kind == "township"],
        lambda _anchor: township,
        rules.township_half_window,
        prenatal_stop,
        rules,
    )
    items += _standard_checks(facts, prenatal, prenatal_stop, rules)
    items += _outcome_item(facts, mother_stop, rules)
    items += _postnatal_items(facts, rules)
    registered = facts.registered_on
    return [i for i in items if i.due_on >= registered]


def _chain(
    kind: str,
    facts: PregnancyFacts,
    visits: list[PrenatalVisitFact],
    interval: Callable[[date], timedelta],
    half_window: int,
    stop: date | None,
    rules: Rules,
) -> list[Item]:
    """An interval chain (§4.1): each item is due `interval` after the visit that closed the previous one,
    or after the previous due date when nobody came, in which case the unvisited item becomes missed as soon
    as the next window opens. `visits` come sorted by `_by_date_then_id`."""
    horizon = facts.effective_lmp + timedelta(days=rules.last_gestational_day)
    if stop is not None:
        visits = [v for v in visits if v.on <= stop]
    items: list[Item] = []
    anchor = facts.registered_on
    due = anchor + interval(anchor)
    seq, vi, w = 1, 0, timedelta(days=half_window)
    while True:
        start, end = due - w, due + w
        if start > horizon or (stop is not None and start > stop):
            break
        next_due = due + interval(due)
        next_start = next_due - w
        while vi < len(visits) and visits[vi].on <= anchor:
            vi += 1  # a second visit on the same day closes nothing more
        if vi < len(visits) and (visits[vi].on <= end or visits[vi].on < next_start):
            visit = visits[vi]
            items.append(_item(kind, seq, start, due, end, None, visit, None, stop, rules))
            anchor, vi = visit.on, vi + 1
            due = anchor + interval(anchor)
        else:
            # never missed before its own window has ended, even where two windows share a day (high risk)
            missed_on = max(next_start, end + DAY)
            items.append(_item(kind, seq, start, due, end, None, None, missed_on, stop, rules))
            due = next_due
        seq += 1
    return items


def _standard_checks(
    facts: PregnancyFacts, visits: list[PrenatalVisitFact], stop: date | None, rules: Rules
) -> list[Item]:
    """The five standard checks (§4.2) by gestational age; each is missed once the next one's window opens.
    `visits` come sorted by `_by_date_then_id`."""
    lmp = facts.effective_lmp
    windows = [(lmp + timedelta(days=lo), lmp + timedelta(days=hi)) for lo, hi in rules.checks]
    attended: dict[int, PrenatalVisitFact] = {}
    for v in visits:
        if v.kind == "check" and v.check_no is not None:
            attended.setdefault(v.check_no, v)
    items: list[Item] = []
    for n, (start, end) in enumerate(windows, start=1):
        if end < facts.registered_on or (stop is not None and start > stop):
            continue
        missed_on = windows[n][0] if n < len(windows) else end + timedelta(days=rules.grace_days)
        visit = attended.get(n)
        if visit is not None and stop is not None and visit.on > stop:
            visit = None
        start = max(start, facts.registered_on)
        items.append(_item(f"check{n}", n, start, end, end, None, visit, missed_on, stop, rules))
    return items


def _outcome_item(facts: PregnancyFacts, stop: date | None, rules: Rules) -> list[Item]:
    """结局登记: the outcome is expected at the EDD; not planned when the pregnancy ended before it."""
    start, end = facts.edd, facts.edd + timedelta(days=rules.outcome_window)
    if facts.outcome is not None:
        if facts.outcome.on < start:
            return []
        # Closed by the outcome itself, whatever happened to the case afterwards.
        return [Item("outcome", 1, start, start, end, done_on=facts.outcome.on, rules_version=rules.version)]
    if stop is not None and start > stop:
        return []
    return [_item("outcome", 1, start, start, end, None, None, None, stop, rules)]


def _postnatal_items(facts: PregnancyFacts, rules: Rules) -> list[Item]:
    """§4.3: the mother's 1-week and 42-day visits or care after loss, and each live baby's milestones."""
    outcome = facts.outcome
    if outcome is None or outcome.type == "maternal_death":
        return []
    birth = outcome.on
    anchor = outcome.discharge_on or outcome.on
    mother_stop = facts.closed_on
    items: list[Item] = []
    if outcome.type in DELIVERY_TYPES:
        m42 = rules.mother_42d
        plan = [
            (
                "mother_1w",
                anchor,
                anchor + timedelta(days=rules.one_week),
                anchor + timedelta(days=rules.one_week),
            ),
            (
                "mother_42d",
                birth + timedelta(days=m42.start),
                birth + timedelta(days=m42.due),
                birth + timedelta(days=m42.end),
            ),
        ]
        visits = [v for v in facts.postnatal_visits if v.covers_mother]
        items += _series(plan, visits, {"mother_1w": "1w", "mother_42d": "42d"}, None, mother_stop, rules)
    elif outcome.type in LOSS_TYPES:
        loss = rules.loss_care
        plan = [
            (
                "loss_care",
                birth + timedelta(days=loss.start),
                birth + timedelta(days=loss.due),
                birth + timedelta(days=loss.end),
            )
        ]
        visits = [v for v in facts.postnatal_visits if v.covers_mother]
        items += _series(plan, visits, {"loss_care": "loss"}, None, mother_stop, rules)
    if outcome.type != "live_birth":
        return items
    family_stop = facts.closed_on if facts.closed_kind in ("moved_out", "lost") else None
    later = [
        (
            f"infant_{name}",
            birth + timedelta(days=w.start),
            birth + timedelta(days=w.due),
            birth + timedelta(days=w.end),
        )
        for name, w in rules.infant_milestones
    ]
    milestones = {kind: kind.removeprefix("infant_") for kind, *_ in later} | {"infant_1w": "1w"}
    for baby in facts.infants:
        if not baby.alive_at_birth:
            continue
        first = timedelta(days=rules.one_week_high_risk if baby.high_risk else rules.one_week)
        plan = [("infant_1w", anchor, anchor + first, anchor + first), *later]
        visits = [v for v in facts.postnatal_visits if v.infant_id == baby.id]
        stop = _earliest(baby.death_on, family_stop)
        items += _series(plan, visits, milestones, baby.id, stop, rules)
    return items


def _series(
    plan: list[tuple[str, date, date, date]],
    visits: Iterable[PostnatalVisitFact],
    milestone_of: dict[str, str],
    infant_id: uuid.UUID | None,
    stop: date | None,
    rules: Rules,
) -> list[Item]:
    """Fixed milestones closed by the first visit recorded for that milestone; an undone one becomes missed
    when the next milestone's window opens, the last one `grace_days` after its window."""
    first_visit: dict[str, PostnatalVisitFact] = {}
    for v in sorted(visits, key=_by_date_then_id):
        first_visit.setdefault(v.milestone, v)
    items: list[Item] = []
    for i, (kind, start, due, end) in enumerate(plan):
        if stop is not None and start > stop:
            # continue, not break: a late discharge puts the 1-week window after the 2-week one, and a
            # milestone whose window closed before the death must still be planned (and counted missed).
            continue
        missed_on = plan[i + 1][1] if i + 1 < len(plan) else end + timedelta(days=rules.grace_days)
        visit = first_visit.get(milestone_of[kind])
        if visit is not None and stop is not None and visit.on > stop:
            visit = None
        items.append(
            _item(kind, 1, start, due, end, infant_id, visit, max(missed_on, end + DAY), stop, rules)
        )
    return items


def _item(
    kind: str,
    seq: int,
    start: date,
    due: date,
    end: date,
    infant_id: uuid.UUID | None,
    visit: PrenatalVisitFact | PostnatalVisitFact | None,
    missed_on: date | None,
    stop: date | None,
    rules: Rules,
) -> Item:
    """One item, closed by `visit` if there is one; otherwise an outcome, closure or death on `stop` cancels
    it while its window still runs and makes it missed once the window has closed.

    Built in one go (no `dataclasses.replace`): planning a county's items is dominated by object creation."""
    if visit is not None:
        return Item(kind, seq, start, due, end, infant_id, visit.on, visit.id, None, None, rules.version)
    if stop is not None:
        if end >= stop:
            return Item(
                kind, seq, start, due, end, infant_id, None, None, max(stop, start), None, rules.version
            )
        missed_on = stop if missed_on is None else min(missed_on, stop)
    return Item(kind, seq, start, due, end, infant_id, None, None, None, missed_on, rules.version)


def _risk_lookup(risks: Sequence[RiskFact]) -> Callable[[date], bool]:
    """Whether the latest grade on or before a day is high risk (orange, red or purple)."""
    # A stable sort on the day alone: of two grades on one day the one listed last (recorded last) counts,
    # as "latest counts" (DOMAIN.md §3) asks; callers list them in the order they were recorded.
    ordered = sorted(risks, key=lambda r: r.on)
    days = [r.on for r in ordered]

    def high_risk_on(day: date) -> bool:
        latest = bisect_right(days, day) - 1
        return latest >= 0 and ordered[latest].high

    return high_risk_on


def _by_date_then_id(visit: PrenatalVisitFact | PostnatalVisitFact) -> tuple[date, int]:
    """By date, then id: two visits on one day close the same item whatever order the caller gives them."""
    return (visit.on, visit.id.int if visit.id is not None else -1)


def _earliest(*days: date | None) -> date | None:
    present = [d for d in days if d is not None]
    return min(present) if present else None


def gestational_age_days(lmp: date, on: date) -> int:
    return (on - lmp).days


def format_ga(days: int, locale: str = "zh") -> str:
    """孕12+3周 / 12+3 weeks."""
    weeks, rest = divmod(days, 7)
    return f"{weeks}+{rest} weeks" if locale == "en" else f"孕{weeks}+{rest}周"
