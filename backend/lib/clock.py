"""Time: UTC instants for records, local dates for the schedule (a day changes at local midnight)."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_today(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()


def local_now(tz: str) -> datetime:
    return datetime.now(ZoneInfo(tz))


def utc_offset_minutes(tz: str) -> int:
    """The zone's offset from UTC right now (480 for Asia/Shanghai): with it a phone set to another zone still
    tells the service's date."""
    offset = datetime.now(ZoneInfo(tz)).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0
