"""Pull (PROTOCOL.md §6): the cases of a user's scope changed since a cursor over the change feed, as complete
snapshots a phone can render offline; cases that left the scope come back as `removed`. Also the guard that
keeps the cursor from passing a change whose transaction has not committed yet (PostgreSQL)."""

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from backend.accounts.services import Actor
from backend.cases import rules
from backend.cases.models import CaseChange, DueItem, Pregnancy, Woman
from backend.cases.schedule_store import FEED_LOCK, CaseRecords, item_of
from backend.lib.masking import mask_phone
from backend.schedule import state_of

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
FORGET_CLOSED_AFTER = timedelta(days=60)
"""The first full pull leaves out cases closed longer ago than this: nothing about them is due any more."""


WOMAN_FIELDS = ("id", "name", "birth_date", "id_masked", "address")
PREGNANCY_FIELDS = (
    "village_code",
    "status",
    "lmp",
    "edd",
    "edd_source",
    "gravidity",
    "parity",
    "registered_on",
    "high_risk",
    "closed_on",
    "close_reason",
)
RISK_FIELDS = ("id", "assessed_on", "colour", "purple", "factors")
VISIT_FIELDS = (
    "id",
    "visited_on",
    "kind",
    "check_no",
    "facility",
    "ga_days",
    "bp_systolic",
    "bp_diastolic",
    "weight_kg",
    "fundal_height_cm",
    "fetal_heart_bpm",
    "danger_signs",
    "advice",
    "next_on",
)
OUTCOME_FIELDS = ("id", "outcome_on", "outcome_type", "ga_days", "place", "mode", "discharge_on", "n_babies")
INFANT_FIELDS = ("id", "seq", "sex", "birth_weight_g", "alive_at_birth", "asphyxia", "defect", "high_risk")
POSTNATAL_FIELDS = (
    "id",
    "infant_id",
    "covers_mother",
    "visited_on",
    "milestone",
    "mother_temperature_c",
    "mother_bp_systolic",
    "mother_bp_diastolic",
    "breasts",
    "lochia",
    "wound",
    "mood",
    "infant_weight_g",
    "infant_temperature_c",
    "jaundice",
    "feeding",
    "umbilicus",
    "notes",
)
CLOSURE_FIELDS = ("id", "kind", "closed_on", "reason", "infant_id", "from_village_code", "to_village_code")
ITEM_FIELDS = (
    "kind",
    "seq",
    "infant_id",
    "window_start",
    "due_on",
    "window_end",
    "done_on",
    "cancelled_on",
    "missed_on",
)


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _empty(value: Any) -> bool:
    return value is None or value is False or (isinstance(value, str | list) and len(value) == 0)


def compact(row: Any, names: Sequence[str], **more: Any) -> dict[str, Any]:
    """The named attributes of a record plus `more`, as JSON values, leaving out null, "", false and []."""
    out = {name: _plain(getattr(row, name)) for name in names}
    out.update({k: _plain(v) for k, v in more.items()})
    return {k: v for k, v in out.items() if not _empty(v)}


def snapshot(
    records: CaseRecords, woman: Woman, items: Sequence[DueItem], seq: int, today: date, *, clear_phone: bool
) -> dict[str, Any]:
    """All a phone shows of one pregnancy offline: corrections applied, due items with today's state."""
    p = records.pregnancy
    phone = {"phone": woman.phone} if clear_phone else {}
    return compact(
        p,
        PREGNANCY_FIELDS,
        id=p.id,
        seq=seq,
        woman=compact(
            woman, WOMAN_FIELDS, **phone, phone_masked=mask_phone(woman.phone) if woman.phone else None
        ),
        risks=[compact(r, RISK_FIELDS) for r in records.risks],
        # gestational ages and the high-risk-newborn mark as the records read now (an amended outcome date or
        # an edited EDD moves them), not as stored when each record was made
        visits=[
            compact(v, VISIT_FIELDS, ga_days=(v.visited_on - rules.lmp_or_from_edd(p.lmp, p.edd)).days)
            for v in records.visits
        ],
        outcome=compact(records.outcome, OUTCOME_FIELDS, ga_days=records.ga_at_birth)
        if records.outcome
        else None,
        infants=[
            compact(
                i,
                INFANT_FIELDS,
                high_risk=records.infant_high_risk(i),
                death_on=d.closed_on if (d := records.death_of(i.id)) else None,
            )
            for i in records.infants
        ],
        postnatal=[compact(v, POSTNATAL_FIELDS) for v in records.postnatal],
        closures=[compact(c, CLOSURE_FIELDS) for c in records.closures],
        items=[compact(i, ITEM_FIELDS, state=state_of(item_of(i), today).value) for i in items],
    )


def parse_cursor(value: str | None) -> int:
    """The opaque cursor of the previous page (a change-feed position); ValueError when it is not one."""
    if value is None or value.strip() in ("", "0"):
        return 0
    number = int(value.strip())
    if number < 0 or number > 2**62:
        raise ValueError(value)
    return number


def pull_page(db: Session, actor: Actor, cursor: int, limit: int, today: date) -> dict[str, Any]:
    """One page of changes in the actor's scope after `cursor`: at most `limit` pregnancies, oldest first."""
    limit = max(1, min(limit, MAX_LIMIT))
    ceiling = committed_ceiling(db)
    last = func.max(CaseChange.seq)
    rows = db.exec(
        select(CaseChange.pregnancy_id, last)
        .where(
            col(CaseChange.seq) > cursor,
            col(CaseChange.seq) <= ceiling,
            actor.scope.clause(CaseChange.village_code),
        )
        .group_by(col(CaseChange.pregnancy_id))
        .order_by(last)
        .limit(limit + 1)
    ).all()
    more = len(rows) > limit
    page: list[tuple[uuid.UUID, int]] = [(pid, int(seq or 0)) for pid, seq in rows[:limit]]
    ids = [pid for pid, _ in page]
    pregnancies = (
        {p.id: p for p in db.exec(select(Pregnancy).where(col(Pregnancy.id).in_(ids))).all()} if ids else {}
    )
    women = _women(db, [p.woman_id for p in pregnancies.values()])
    items = _items(db, [pid for pid, p in pregnancies.items() if actor.scope.covers(p.village_code)])
    cases: list[dict[str, Any]] = []
    removed: list[str] = []
    for pid, seq in page:
        pregnancy = pregnancies.get(pid)
        if pregnancy is None or not actor.scope.covers(pregnancy.village_code):
            if cursor:
                removed.append(str(pid))
            continue
        if (
            not cursor
            and pregnancy.closed_on is not None
            and pregnancy.status != "open"
            and pregnancy.closed_on < today - FORGET_CLOSED_AFTER
        ):
            continue
        cases.append(
            snapshot(
                CaseRecords(db, pregnancy),
                women[pregnancy.woman_id],
                items.get(pid, []),
                seq,
                today,
                clear_phone=actor.role == "village",
            )
        )
    next_cursor = page[-1][1] if more else max(cursor, ceiling)
    return {
        "v": 1,
        "cursor": str(next_cursor),
        "more": more,
        "today": today.isoformat(),
        "cases": cases,
        "removed": removed,
    }


def _women(db: Session, ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, Woman]:
    if not ids:
        return {}
    return {w.id: w for w in db.exec(select(Woman).where(col(Woman.id).in_(set(ids)))).all()}


def _items(db: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[DueItem]]:
    out: dict[uuid.UUID, list[DueItem]] = {}
    if not ids:
        return out
    stmt = (
        select(DueItem)
        .where(col(DueItem.pregnancy_id).in_(ids))
        .order_by(col(DueItem.window_start), col(DueItem.kind), col(DueItem.seq))
    )
    for item in db.exec(stmt).all():
        out.setdefault(item.pregnancy_id, []).append(item)
    return out


def committed_ceiling(db: Session) -> int:
    """The highest change-feed position a cursor may reach now. On PostgreSQL sequence numbers are handed
    out before commit, so a transaction still writing may hold a lower one than a committed change. Taking the
    feed lock exclusively waits for every such writer (they hold it shared, see `hold_feed_lock`), so no lower
    number can appear afterwards. SQLite has one writer at a time and needs none of this."""
    top = select(func.coalesce(func.max(CaseChange.seq), 0))
    if db.get_bind().dialect.name != "postgresql":
        return int(db.exec(top).one() or 0)
    db.execute(text("SELECT pg_advisory_lock(:k)"), {"k": FEED_LOCK})
    try:
        return int(db.exec(top).one() or 0)
    finally:
        db.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": FEED_LOCK})
