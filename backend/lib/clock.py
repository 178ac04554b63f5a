"""Time: UTC instants for records, local dates for the schedule (a day changes at local midnight)."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_today(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()


def local_now(tz: str) -> datetime:
    return datetime.now(ZoneInfo(tz))
