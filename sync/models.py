"""What the sync endpoint remembers of each operation a phone pushed: applied exactly once by its UUID."""

import uuid
from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime
from backend.lib.clock import utcnow


class SyncOperation(SQLModel, table=True):
    """An operation received from a device and its result (applied, rejected, conflict). A replay of the same
    op_id answers `duplicate` with the stored result and changes nothing."""

    __tablename__ = "sync_operation"
    __table_args__ = (Index("ix_sync_operation_user_status", "user_id", "status"),)

    op_id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id")
    device_id: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    status: str = Field(max_length=12)
    result: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    recorded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
