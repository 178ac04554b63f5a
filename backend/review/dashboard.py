"""The supervisor's dashboard for one township and period: a row per village and per cadre (coverage,
people in follow-up, last sync, rejected operations; a cadre's are those of the cases she answers for),
villages without an active cadre, and the 12-month trend. Sorting is by a named column, so plain links
sort it without JavaScript."""

import importlib
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from backend.review import by_cadre
from backend.review import coverage as cov
from backend.review.cache import per_village
from backend.review.indicators import Coverage, total_coverage
from backend.review.periods import Period, last_months, month_of
from backend.scope import Scope


@dataclass(frozen=True)
class VillageBoard:
    """A village's figures on the dashboard for one period (kept between requests, never changed)."""

    coverage: Coverage
    trend: tuple[Coverage, ...]
    pregnancies: int
    infants: int


@dataclass
class VillageRow:
    code: str
    name: str
    coverage: Coverage
    pregnancies: int
    infants: int
    cadres: list[cov.Cadre]
    unanswered: int = 0
    """People followed here with no cadre answering for them (a village several cadres share, none chosen)."""


@dataclass
class CadreRow:
    user_id: uuid.UUID
    name: str
    villages: list[str]
    coverage: Coverage
    pregnancies: int
    infants: int
    last_sync_at: datetime | None
    rejected: int | None
    """Operations of hers the server rejected and she has not fixed or discarded; None when unknown."""


@dataclass
class Dashboard:
    area_code: str
    area_name: str
    period: Period
    villages: list[VillageRow]
    cadres: list[CadreRow]
    total: Coverage
    pregnancies: int
    infants: int
    trend: list[tuple[Period, Coverage]]
    rejected_known: bool

    @property
    def unassigned(self) -> list[VillageRow]:
        """Villages with no active cadre: their open items are the township's until one is assigned."""
        return [v for v in self.villages if not v.cadres]


def sync_query(name: str) -> Callable[[Session, Scope], Any] | None:
    """A supervisor query of the sync package (sync/queries.py), looked up at run time because domain
    packages never import `sync` (DESIGN.md §2); None when it is not there."""
    try:
        module = importlib.import_module("sync.queries")
    except ImportError:
        return None
    fn: Callable[[Session, Scope], Any] | None = getattr(module, name, None)
    return fn


def rejected_counts(db: Session, scope: Scope) -> Mapping[uuid.UUID, int] | None:
    """Pending rejected sync operations per user; None (shown as "—") when sync cannot tell."""
    fn = sync_query("rejected_counts")
    return None if fn is None else dict(fn(db, scope))


def as_of(period: Period, today: date) -> date:
    """The day people in follow-up are counted: the period's last day, or today while it runs."""
    return min(period.end, today)


def build_dashboard(db: Session, township: str, area_name: str, period: Period, today: date) -> Dashboard:
    scope = Scope((township[:9],))
    trend_months = last_months(month_of(as_of(period, today)), 12)
    day = as_of(period, today)

    def compute(part: Scope) -> dict[str, VillageBoard]:
        fixes = cov.load_corrections(db, part)
        moves = cov.load_moves(db, part, fixes)
        # One pass over the due items of the trend's months; a month inside it needs no second query.
        counts = cov.coverage_counts(db, part, trend_months, today, moves)
        if period in trend_months:
            index = trend_months.index(period)
            per_period = {code: c for (code, i), c in counts.items() if i == index}
        else:
            per_period = cov.coverage_by_village(db, part, period, today, moves)
        pregnancies = cov.active_pregnancies(db, part, day)
        infants = cov.infants_in_follow_up(db, part, day)
        villages = {code for code, _ in counts} | set(per_period) | set(pregnancies) | set(infants)
        return {
            v: VillageBoard(
                per_period.get(v, Coverage()),
                tuple(counts.get((v, i), Coverage()) for i in range(len(trend_months))),
                pregnancies[v],
                infants[v],
            )
            for v in villages
            if part.covers(v)
        }

    boards = per_village(
        db,
        ("dashboard", scope.prefixes, period, today),
        scope,
        compute,
        lambda villages: cov.linked_villages(db, villages),
    )
    per_period = {v: b.coverage for v, b in boards.items()}
    pregnancies = Counter({v: b.pregnancies for v, b in boards.items()})
    infants = Counter({v: b.infants for v, b in boards.items()})
    trend = [
        (m, total_coverage(b.trend[index] for b in boards.values())) for index, m in enumerate(trend_months)
    ]
    cadres = cov.cadres_in(db, scope)
    by_village = cov.responsible(cadres)
    # A village's figures are its cadre's; one several cadres share is split by who answers for each case.
    shared = by_cadre.shared_villages(
        db, {code: [c.user_id for c in cs] for code, cs in by_village.items()}, period, today, day
    )
    villages = [
        VillageRow(
            a.code,
            a.name,
            per_period.get(a.code, Coverage()),
            pregnancies[a.code],
            infants[a.code],
            by_village.get(a.code, []),
            shared.unanswered(a.code),
        )
        for a in cov.villages_in(db, scope)
    ]
    names = {v.code: v.name for v in villages}
    rejected = rejected_counts(db, scope)

    def hers(c: cov.Cadre, code: str) -> tuple[Coverage, int, int]:
        if len(by_village[code]) == 1:
            return per_period.get(code, Coverage()), pregnancies[code], infants[code]
        key = (code, c.user_id)
        return shared.coverage.get(key, Coverage()), shared.pregnancies[key], shared.infants[key]

    cadre_rows = []
    for c in cadres:
        parts = [hers(c, code) for code in c.villages]
        cadre_rows.append(
            CadreRow(
                c.user_id,
                c.name,
                [names.get(code, code) for code in c.villages],
                total_coverage(p[0] for p in parts),
                sum(p[1] for p in parts),
                sum(p[2] for p in parts),
                c.last_sync_at,
                None if rejected is None else rejected.get(c.user_id, 0),
            )
        )
    return Dashboard(
        township,
        area_name,
        period,
        villages,
        cadre_rows,
        total_coverage(v.coverage for v in villages),
        sum(v.pregnancies for v in villages),
        sum(v.infants for v in villages),
        trend,
        rejected is not None,
    )


SORT_KEYS: dict[str, Callable[[Any], Any]] = {
    # Villages in the order of their statistical codes, as the 月报 lists them (a code point order of
    # Chinese names is no order anyone reads); a cadre by her name.
    "name": lambda r: getattr(r, "code", r.name),
    "pregnancies": lambda r: r.pregnancies,
    "infants": lambda r: r.infants,
    "due": lambda r: r.coverage.due,
    "on_time": lambda r: r.coverage.on_time,
    "late": lambda r: r.coverage.late,
    "overdue": lambda r: r.coverage.overdue,
    "missed": lambda r: r.coverage.missed,
    "cancelled": lambda r: r.coverage.cancelled,
    "coverage": lambda r: (r.coverage.rate.value is None, r.coverage.rate.value or 0.0),
    "sync": lambda r: (r.last_sync_at is None, r.last_sync_at.timestamp() if r.last_sync_at else 0.0),
    "rejected": lambda r: r.rejected or 0,
}


def sort_rows(rows: Sequence[Any], key: str, direction: str) -> list[Any]:
    """Rows sorted by a named column (unknown names sort by name); `direction` is asc or desc. Places with
    nothing due sort last whichever way coverage is sorted."""
    fn = SORT_KEYS.get(key, SORT_KEYS["name"])
    if key == "coverage":
        present = [r for r in rows if r.coverage.rate.value is not None]
        absent = [r for r in rows if r.coverage.rate.value is None]
        return sorted(present, key=fn, reverse=direction == "desc") + absent
    return sorted(rows, key=fn, reverse=direction == "desc")
