"""Imports every table so SQLModel.metadata is complete (Alembic and create_app rely on it)."""

from backend.accounts.models import AuditEntry, LoginSession, User, UserArea
from backend.alerts.models import Alert, PushSubscription
from backend.areas.models import Area
from backend.cases.models import (
    CaseChange,
    Closure,
    Correction,
    DueItem,
    Infant,
    Outcome,
    PostnatalVisit,
    Pregnancy,
    PrenatalVisit,
    RiskGrade,
    Woman,
)

__all__ = [
    "Area",
    "AuditEntry",
    "Closure",
    "Correction",
    "DueItem",
    "Infant",
    "LoginSession",
    "Outcome",
    "PostnatalVisit",
    "Pregnancy",
    "PrenatalVisit",
    "RiskGrade",
    "User",
    "UserArea",
    "Woman",
]
from sync.models import SyncOperation

__all__ += ["Alert", "CaseChange", "PushSubscription", "SyncOperation"]
