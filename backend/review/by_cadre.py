"""A shared village's figures split by the cadre each case was last set to (DOMAIN.md §3 负责专干, §6 "per
cadre"). Only villages several cadres share need this: in a village with one cadre she answers for every
case, and its figures are hers. Read at request time (the split follows who answers now, which changes
when a cadre joins or leaves a village, and that is not a write to any case), over a handful of villages.

An item counted in a village a woman has since left (her transfer moved what fell due before it back there)
is nobody's in that village: who answered for her then is not kept."""

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from backend.cases.models import DueItem, Pregnancy
from backend.cases.responsibility import answerable, shared
from backend.review import coverage as cov
from backend.review.indicators import Coverage, coverage_category, total_coverage
from backend.review.periods import Period
from backend.review.reads import read
from backend.scope import Scope

Key = tuple[str, uuid.UUID | None]
"""(village, the cadre set on the case)"""


def coverage_split(
    db: Session, codes: Sequence[str], period: Period, today: date, moves: cov.Moves
) -> dict[Key, Coverage]:
    """cov.coverage_by_village for these villages, split by the cadre set on each case."""
    category = cov.category_of_items(today)
    in_period = and_(col(DueItem.due_on) >= period.start, col(DueItem.due_on) <= period.end)
    stmt = (
        sa_select(col(DueItem.village_code), col(Pregnancy.cadre_id), category, func.count())
        .join(Pregnancy, col(Pregnancy.id) == col(DueItem.pregnancy_id))
        .where(col(DueItem.village_code).in_(codes), in_period)
        .group_by(col(DueItem.village_code), col(Pregnancy.cadre_id), category)
    )
    counts: dict[Key, Counter[str]] = defaultdict(Counter)
    for code, cadre, cat, n in read(db, stmt).all():
        counts[(code, cadre)][cat] += n
    if moves.ids:
        rows = read(
            db,
            sa_select(
                col(DueItem.pregnancy_id),
                col(DueItem.village_code),
                col(Pregnancy.cadre_id),
                col(DueItem.due_on),
                col(DueItem.window_end),
                col(DueItem.done_on),
                col(DueItem.cancelled_on),
                col(DueItem.missed_on),
            )
            .join(Pregnancy, col(Pregnancy.id) == col(DueItem.pregnancy_id))
            .where(col(DueItem.pregnancy_id).in_(sorted(moves.ids)), in_period),
        ).all()
        for pid, current, cadre, due_on, window_end, done_on, cancelled_on, missed_on in rows:
            cat = coverage_category(today, window_end, done_on, cancelled_on, missed_on)
            if current in codes:
                counts[(current, cadre)][cat] -= 1
            then = moves.village_on(pid, current, due_on)
            if then in codes:
                counts[(then, cadre if then == current else None)][cat] += 1
    return {key: Coverage(**c) for key, c in counts.items() if any(c.values())}


def pregnancies_split(db: Session, codes: Sequence[str], on: date) -> Counter[Key]:
    """cov.active_pregnancies for these villages, split by the cadre set on each case."""
    stmt = (
        sa_select(col(Pregnancy.village_code), col(Pregnancy.cadre_id), func.count())
        .where(col(Pregnancy.village_code).in_(codes), *cov.in_prenatal_follow_up(on))
        .group_by(col(Pregnancy.village_code), col(Pregnancy.cadre_id))
    )
    return Counter({(code, cadre): n for code, cadre, n in read(db, stmt).all()})


def infants_split(db: Session, codes: Sequence[str], on: date) -> Counter[Key]:
    """cov.infants_in_follow_up for these villages, split by the cadre set on each baby's case."""
    stmt = cov.babies_followed(on, col(DueItem.village_code).in_(codes), by_cadre=True)
    return Counter({(code, cadre): n for code, cadre, n in read(db, stmt).all()})


@dataclass(frozen=True)
class Shared:
    """Figures of shared villages by who answers now: (village, cadre, or None for nobody) → figure."""

    coverage: dict[Key, Coverage] = field(default_factory=dict)
    pregnancies: Counter[Key] = field(default_factory=Counter)
    infants: Counter[Key] = field(default_factory=Counter)

    def unanswered(self, code: str) -> int:
        """People followed in the village with nobody answering for them: the supervisor should choose."""
        return self.pregnancies[(code, None)] + self.infants[(code, None)]


def shared_villages(
    db: Session,
    cadres: dict[str, list[uuid.UUID]],
    period: Period,
    today: date,
    day: date,
) -> Shared:
    """The figures of the villages with more than one active cadre (`cadres`: village → its cadres), each
    part given to whoever answers now for the cases it counts (`answerable`)."""
    cadres = shared(cadres)
    codes = sorted(cadres)
    if not codes:
        return Shared()
    scope = Scope(tuple(codes))
    moves = cov.load_moves(db, scope, cov.load_corrections(db, scope))

    def who(key: Key) -> Key:
        return key[0], answerable(key[1], cadres[key[0]])

    coverage: dict[Key, list[Coverage]] = defaultdict(list)
    for key, figure in coverage_split(db, codes, period, today, moves).items():
        coverage[who(key)].append(figure)
    pregnancies: Counter[Key] = Counter()
    for key, n in pregnancies_split(db, codes, day).items():
        pregnancies[who(key)] += n
    infants: Counter[Key] = Counter()
    for key, n in infants_split(db, codes, day).items():
        infants[who(key)] += n
    return Shared({k: total_coverage(parts) for k, parts in coverage.items()}, pregnancies, infants)
