"""负责专干: which cadre answers for a pregnancy (DOMAIN.md §3).

A pregnancy keeps the cadre last set on it (`Pregnancy.cadre_id`): the cadre who registered it or took it
over by a transfer, or the one the township supervisor chose. Who answers *now* is worked out from that and
the village's active cadres, so a cadre who leaves, or loses the village, hands her cases on without a write:
to the village's only cadre, or — when several share the village — to nobody until the supervisor chooses
(the township answers meanwhile, as for a village with no cadre)."""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, exists, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from backend.accounts.models import User, UserArea
from backend.accounts.services import Actor
from backend.cases.models import DueItem, Outcome, Pregnancy, Woman
from backend.cases.queries import overdue_count


def answerable(stored: uuid.UUID | None, cadres: Sequence[uuid.UUID]) -> uuid.UUID | None:
    """The cadre who answers for a case of a village whose active cadres are `cadres`: the one set on it
    while she still answers for the village, else the village's only cadre, else nobody."""
    if stored is not None and stored in cadres:
        return stored
    return cadres[0] if len(cadres) == 1 else None


def cadre_on_arrival(db: Session, actor: Actor, village_code: str) -> uuid.UUID | None:
    """The cadre to set on a case arriving in a village (registered there, or transferred in): the writer
    when she is one of its cadres, else whoever answers for a case of that village set to nobody."""
    if actor.role == "village" and village_code in actor.area_codes:
        return actor.user_id  # her own village: she is signed in, so active — no query
    return answerable(actor.user_id, village_cadres(db, [village_code])[village_code])


_VILLAGE_CADRES = (
    sa_select(col(UserArea.area_code), col(User.id))
    .join(User, col(User.id) == col(UserArea.user_id))
    .where(
        col(UserArea.area_code).in_(bindparam("codes", expanding=True)),
        col(User.role) == "village",
        col(User.active).is_(True),
    )
    .order_by(col(UserArea.area_code), col(User.id))
)
"""Built once: it runs on every page a cadre opens (her badge), and building it cost more than running it."""


def village_cadres(db: Session, codes: Iterable[str]) -> dict[str, list[uuid.UUID]]:
    """Active cadres of each village, in a fixed order (by id)."""
    out: dict[str, list[uuid.UUID]] = defaultdict(list)
    wanted = sorted(set(codes))
    if wanted:
        for code, user_id in db.execute(_VILLAGE_CADRES, {"codes": wanted}).all():
            out[code].append(user_id)
    return out


def shared(cadres: dict[str, list[uuid.UUID]]) -> dict[str, list[uuid.UUID]]:
    """Of villages and their active cadres, those several cadres share (the only ones where who answers for
    a case can differ from case to case)."""
    return {code: ids for code, ids in cadres.items() if len(ids) > 1}


def _shared_by(db: Session, actor: Actor) -> dict[str, list[uuid.UUID]]:
    """The villages a cadre shares with another, with their cadres; empty for anyone else."""
    return shared(village_cadres(db, actor.area_codes)) if actor.role == "village" else {}


@dataclass(frozen=True)
class CaseCadre:
    """Who answers for one case (None: nobody, the township meanwhile) and whom the supervisor may choose."""

    answering: User | None
    choices: list[User]


def responsible_cadre(db: Session, pregnancy: Pregnancy) -> CaseCadre:
    ids = village_cadres(db, [pregnancy.village_code])[pregnancy.village_code]
    users = {u.id: u for u in db.exec(select(User).where(col(User.id).in_(ids))).all()} if ids else {}
    who = answerable(pregnancy.cadre_id, ids)
    choices = sorted(users.values(), key=lambda u: (u.name, str(u.id)))
    return CaseCadre(users.get(who) if who else None, choices)


def colleagues_cases(
    db: Session, actor: Actor, cases: Iterable[tuple[uuid.UUID, str, uuid.UUID | None]]
) -> dict[uuid.UUID, str]:
    """For a cadre's Today: of these (pregnancy, village, cadre set) the cases another cadre of a village
    she shares answers for, with that cadre's name. Empty for anyone else, and for a cadre alone in her
    villages (no query then beyond the village's cadres)."""
    cadres = _shared_by(db, actor)
    if not cadres:
        return {}
    others: dict[uuid.UUID, uuid.UUID] = {}
    for pregnancy_id, code, stored in cases:
        if code in cadres and (who := answerable(stored, cadres[code])) not in (None, actor.user_id):
            others[pregnancy_id] = who
    if not others:
        return {}
    names = dict(
        db.execute(
            sa_select(col(User.id), col(User.name)).where(col(User.id).in_(set(others.values())))
        ).all()
    )
    return {pid: names.get(who, "") for pid, who in others.items()}


@dataclass(frozen=True)
class Followed:
    """A case still followed in a village, for the supervisor's list of who answers for whom."""

    pregnancy_id: uuid.UUID
    woman_id: uuid.UUID
    woman_name: str
    registered_on: date
    delivered: bool
    answering: uuid.UUID | None


def followed_in_village(db: Session, code: str, cadres: Sequence[uuid.UUID]) -> list[Followed]:
    """The cases followed in a village — pregnancies open, or closed with a baby still followed (an open
    due item) — by name, each with the cadre who answers for it now."""
    still_followed = exists().where(col(DueItem.pregnancy_id) == Pregnancy.id, col(DueItem.is_open).is_(True))
    delivered = exists().where(col(Outcome.pregnancy_id) == Pregnancy.id)
    rows = db.execute(
        sa_select(
            col(Pregnancy.id),
            col(Woman.id),
            col(Woman.name),
            col(Pregnancy.registered_on),
            delivered,
            col(Pregnancy.cadre_id),
        )
        .join(Woman, col(Woman.id) == col(Pregnancy.woman_id))
        .where(col(Pregnancy.village_code) == code, or_(col(Pregnancy.status) == "open", still_followed))
        .order_by(col(Woman.name), col(Pregnancy.registered_on))
    ).all()
    return [
        Followed(pid, wid, name, registered_on, bool(born), answerable(stored, cadres))
        for pid, wid, name, registered_on, born, stored in rows
    ]


@dataclass(frozen=True)
class Handover:
    """What becomes of the cases a cadre answers for in one village when she leaves it: `to` her only
    colleague there, to nobody until the supervisor chooses (several), or to the township (none)."""

    village_code: str
    cases: int
    to: list[User]


def handover_if_she_leaves(db: Session, user_id: uuid.UUID, codes: Sequence[str]) -> list[Handover]:
    cadres = village_cadres(db, codes)
    out = []
    for code in sorted(codes):
        hers = sum(1 for c in followed_in_village(db, code, cadres[code]) if c.answering == user_id)
        others = [c for c in cadres[code] if c != user_id]
        users = db.exec(select(User).where(col(User.id).in_(others))).all() if others else []
        out.append(Handover(code, hers, sorted(users, key=lambda u: (u.name, str(u.id)))))
    return out


def colleagues_overdue(db: Session, actor: Actor, today: date) -> int:
    """Overdue items, in villages she shares, of the cases a colleague answers for: her badge and Today's
    overdue list leave them out (she sees them apart, under her colleague's name). 0 for anyone else."""
    cadres = _shared_by(db, actor)
    if not cadres:
        return 0
    rows = db.execute(
        sa_select(col(DueItem.village_code), col(Pregnancy.cadre_id), func.count())
        .join(Pregnancy, col(Pregnancy.id) == col(DueItem.pregnancy_id))
        .where(
            col(DueItem.village_code).in_(sorted(cadres)),
            col(DueItem.window_end) < today,
            col(DueItem.is_open).is_(True),
            or_(col(DueItem.missed_on).is_(None), col(DueItem.missed_on) > today),
        )
        .group_by(col(DueItem.village_code), col(Pregnancy.cadre_id))
    ).all()
    return sum(n for code, stored, n in rows if answerable(stored, cadres[code]) not in (None, actor.user_id))


def overdue_badge(db: Session, actor: Actor, today: date) -> int:
    """The number on the overdue badge of every page: the overdue items in her scope but her colleagues'."""
    return overdue_count(db, actor.scope, today) - colleagues_overdue(db, actor, today)
