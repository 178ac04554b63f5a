"""People who sign in, their places, their sessions, and the audit trail of what they did."""

import uuid
from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime
from backend.lib.clock import utcnow

ROLES = ("village", "township", "county")


class User(SQLModel, table=True):
    """A village cadre (村计生专干), township supervisor (乡镇妇幼专干) or county administrator."""

    __tablename__ = "app_user"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    phone: str = Field(max_length=11, unique=True)
    name: str = Field(max_length=40)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=10)
    locale: str = Field(default="zh", max_length=5)
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_sync_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class UserArea(SQLModel, table=True):
    """An area a user answers for: villages (cadre), a township (supervisor) or a county (admin)."""

    __tablename__ = "user_area"

    user_id: uuid.UUID = Field(foreign_key="app_user.id", primary_key=True)
    area_code: str = Field(foreign_key="area.code", primary_key=True, max_length=12, index=True)


class LoginSession(SQLModel, table=True):
    """A server-side sign-in: revocable, long-lived on phones. The cookie holds a token; we keep its hash."""

    __tablename__ = "login_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    device: str = Field(default="", max_length=120)


class AuditEntry(SQLModel, table=True):
    """Who did what, when, from which device. Never holds a name, ID number or phone in `detail`."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    user_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    action: str = Field(max_length=40)
    target_type: str = Field(default="", max_length=40)
    target_id: str = Field(default="", max_length=40)
    device: str = Field(default="", max_length=120)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
