"""Imports every table so SQLModel.metadata is complete (Alembic and create_app rely on it)."""

from backend.accounts.models import AuditEntry, LoginSession, User, UserArea
from backend.areas.models import Area
from backend.cases.models import (
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
