"""Push subscriptions and the alerts sent through them (DOMAIN.md §5)."""

import uuid
from datetime import date, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime
from backend.lib.clock import utcnow


class PushSubscription(SQLModel, table=True):
    """A browser's push subscription, upserted by endpoint and owned by the signed-in user."""

    __tablename__ = "push_subscription"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    endpoint: str = Field(max_length=1000, unique=True)
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Alert(SQLModel, table=True):
    """One digest for one user, kind and local day — recorded once (the unique key), so no run, process or
    restart sends it twice. `status`: pending, sending (claimed by a process until `next_attempt_at`), sent,
    retry, gave_up, no_subscription, or nothing (nothing to say that day; see backend/alerts/services.py)."""

    __table_args__ = (
        UniqueConstraint("user_id", "kind", "local_day", name="uq_alert_once_per_day"),
        Index("ix_alert_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    kind: str = Field(max_length=20)
    local_day: date
    status: str = Field(default="pending", max_length=16)
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", max_length=300)
