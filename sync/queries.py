"""What the township supervisor sees of sync (PROTOCOL.md §7): operations still pending-rejected per cadre,
and registration edits that lost to a later edit from another device. Every query is filtered by the caller's
scope."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.accounts.models import UserArea
from backend.cases.models import Correction, Pregnancy
from backend.lib.masking import mask_phone
from backend.scope import Scope
from sync.models import SyncOperation

PENDING_REJECTED = "rejected"


def _users_in(scope: Scope) -> Any:
    return select(UserArea.user_id).where(scope.clause(UserArea.area_code))


def rejected_counts(db: Session, scope: Scope) -> dict[uuid.UUID, int]:
    """User id → how many of her operations the server rejected and she has neither fixed nor discarded yet,
    for the users whose area lies in `scope`. Users with none are absent."""
    stmt = (
        select(SyncOperation.user_id, func.count())
        .where(
            col(SyncOperation.status) == PENDING_REJECTED, col(SyncOperation.user_id).in_(_users_in(scope))
        )
        .group_by(col(SyncOperation.user_id))
    )
    return {user_id: int(n) for user_id, n in db.exec(stmt).all()}


@dataclass(frozen=True)
class RejectedOperation:
    """One pending-rejected operation: which kind, when it arrived, why (field names and messages only — no
    personal data)."""

    op_id: uuid.UUID
    user_id: uuid.UUID
    device_id: str
    kind: str
    reason: str
    errors: list[dict[str, str]]
    recorded_at: datetime | None
    received_at: datetime


def rejected_operations(
    db: Session, scope: Scope, user_id: uuid.UUID | None = None
) -> list[RejectedOperation]:
    """The pending-rejected operations of the users in `scope` (or of one of them), oldest first."""
    stmt = select(SyncOperation).where(
        col(SyncOperation.status) == PENDING_REJECTED, col(SyncOperation.user_id).in_(_users_in(scope))
    )
    if user_id is not None:
        stmt = stmt.where(col(SyncOperation.user_id) == user_id)
    out = []
    for row in db.exec(stmt.order_by(col(SyncOperation.received_at), col(SyncOperation.op_id))).all():
        result = json.loads(row.result)
        out.append(
            RejectedOperation(
                row.op_id,
                row.user_id,
                row.device_id,
                row.kind,
                str(result.get("reason", "")),
                [{k: e[k] for k in ("field", "zh", "en") if k in e} for e in result.get("errors", [])],
                row.recorded_at,
                row.received_at,
            )
        )
    return out


@dataclass(frozen=True)
class ConflictingEdit:
    """A registration field two devices edited: the earlier edit (by device time) lost and stays in history.
    Phone numbers are shown masked."""

    target_type: str  # woman | pregnancy
    target_id: uuid.UUID
    woman_id: uuid.UUID
    village_code: str
    field: str
    lost_value: Any
    lost_edit_id: uuid.UUID
    lost_by: uuid.UUID
    lost_device: str
    lost_at: datetime
    won_value: Any
    won_edit_id: uuid.UUID
    won_by: uuid.UUID
    won_device: str
    won_at: datetime


def conflicting_edits(db: Session, scope: Scope) -> list[ConflictingEdit]:
    """Registration edits in `scope` that lost a field to a later edit from another device (or another user),
    newest first. Successive edits from one device are ordinary updates, not conflicts."""
    losers = db.exec(
        select(Correction).where(
            col(Correction.kind) == "edit",
            col(Correction.superseded).is_(True),
            scope.clause(Correction.village_code),
        )
    ).all()
    if not losers:
        return []
    targets = {c.target_id for c in losers}
    edits = db.exec(
        select(Correction).where(col(Correction.kind) == "edit", col(Correction.target_id).in_(targets))
    ).all()
    by_target: dict[uuid.UUID, list[Correction]] = {}
    for c in edits:
        by_target.setdefault(c.target_id, []).append(c)
    pregnancies = {
        p.id: p.woman_id for p in db.exec(select(Pregnancy).where(col(Pregnancy.id).in_(targets))).all()
    }
    out: list[ConflictingEdit] = []
    for loser in losers:
        lost = json.loads(loser.changes)
        for name, value in lost.items():
            rivals = [c for c in by_target[loser.target_id] if name in json.loads(c.changes)]
            winner = max(rivals, key=lambda c: (c.recorded_at, str(c.id)))
            if winner.id == loser.id or (
                winner.device_id == loser.device_id and winner.author_id == loser.author_id
            ):
                continue
            shown = mask_phone if name == "phone" else (lambda v: v)
            out.append(
                ConflictingEdit(
                    target_type=loser.target_type,
                    target_id=loser.target_id,
                    woman_id=pregnancies.get(loser.target_id, loser.target_id),
                    village_code=loser.village_code,
                    field=name,
                    lost_value=shown(value),
                    lost_edit_id=loser.id,
                    lost_by=loser.author_id,
                    lost_device=loser.device_id,
                    lost_at=loser.recorded_at,
                    won_value=shown(json.loads(winner.changes)[name]),
                    won_edit_id=winner.id,
                    won_by=winner.author_id,
                    won_device=winner.device_id,
                    won_at=winner.recorded_at,
                )
            )
    out.sort(key=lambda e: (e.won_at, str(e.lost_edit_id), e.field), reverse=True)
    return out
