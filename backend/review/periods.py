"""Reporting periods of DOMAIN.md §6: a month, a quarter, a calendar year or a maternal-health year
(妇幼卫生年报 reporting year, 1 Oct of the year before to 30 Sep), named in URLs as 2026-11, 2026-Q3, 2026 or
mch2026."""

import re
from dataclasses import dataclass
from datetime import date, timedelta

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_MCH = re.compile(r"^mch(\d{4})$", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    """Whole local dates, inclusive at both ends."""

    kind: str  # month, quarter, year, mch
    start: date
    end: date

    @property
    def key(self) -> str:
        """The URL name of the period (round-trips through `parse_period`)."""
        if self.kind == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "year":
            return str(self.start.year)
        return f"mch{self.end.year}"

    def label(self, locale: str = "zh") -> str:
        s = self.start
        if self.kind == "month":
            return f"{s.strftime('%b')} {s.year}" if locale == "en" else f"{s.year}年{s.month}月"
        if self.kind == "quarter":
            q = (s.month - 1) // 3 + 1
            return f"Q{q} {s.year}" if locale == "en" else f"{s.year}年第{q}季度"
        if self.kind == "year":
            return str(s.year) if locale == "en" else f"{s.year}年"
        if locale == "en":
            return f"MCH year {self.end.year} (Oct {s.year}–Sep {self.end.year})"
        return f"{self.end.year}妇幼年度（{s.year}年10月—{self.end.year}年9月）"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def month_of(day: date) -> Period:
    start = day.replace(day=1)
    return Period("month", start, _next_month(start) - timedelta(days=1))


def quarter_of(day: date) -> Period:
    start = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    end = _next_month(_next_month(_next_month(start))) - timedelta(days=1)
    return Period("quarter", start, end)


def year_of(day: date) -> Period:
    return Period("year", date(day.year, 1, 1), date(day.year, 12, 31))


def mch_year_of(day: date) -> Period:
    """The maternal-health year holding `day`: 1 Oct – 30 Sep, named by the year it ends in."""
    ends = day.year + 1 if day.month >= 10 else day.year
    return Period("mch", date(ends - 1, 10, 1), date(ends, 9, 30))


FIRST_YEAR = 2000
"""No period starts before this year or after next year: a report of year 1 or 9999 means nothing (and would
reach dates Python cannot hold)."""


def parse_period(text: str | None, today: date, default: Period | None = None) -> Period:
    """A period from its URL name; anything unreadable or out of range means `default`, else this month
    (the dashboard's default)."""
    value = (text or "").strip()
    period: Period | None = None
    try:
        if m := _MONTH.match(value):
            period = month_of(date(int(m[1]), int(m[2]), 1))
        elif m := _QUARTER.match(value):
            period = quarter_of(date(int(m[1]), (int(m[2]) - 1) * 3 + 1, 1))
        elif m := _YEAR.match(value):
            period = year_of(date(int(m[1]), 1, 1))
        elif m := _MCH.match(value):
            period = mch_year_of(date(int(m[1]), 9, 30))
    except ValueError:
        period = None
    if period is not None and period.start.year >= FIRST_YEAR and period.end.year <= today.year + 1:
        return period
    return default or month_of(today)


REPORT_DUE_DAY = 10


def report_month(today: date) -> Period:
    """The month whose report (月报) is being filed: the one before until the 10th, when it is due
    (DOMAIN.md §6), then this one."""
    if today.day <= REPORT_DUE_DAY:
        return month_of(today.replace(day=1) - timedelta(days=1))
    return month_of(today)


def last_months(end_month: Period, n: int = 12) -> list[Period]:
    """The `n` months ending with the month holding `end_month.end`, oldest first (the trend chart)."""
    months = [month_of(end_month.end)]
    while len(months) < n:
        months.insert(0, month_of(months[0].start - timedelta(days=1)))
    return months


def choices(today: date, locale: str = "zh") -> list[tuple[str, str]]:
    """The periods offered in the picker: the last 13 months, the last 5 quarters, this and last year, this
    and last maternal-health year."""
    out = [(p.key, p.label(locale)) for p in reversed(last_months(month_of(today), 13))]
    q = quarter_of(today)
    for _ in range(5):
        out.append((q.key, q.label(locale)))
        q = quarter_of(q.start - timedelta(days=1))
    for y in (today.year, today.year - 1):
        out.append((str(y), year_of(date(y, 1, 1)).label(locale)))
    m = mch_year_of(today)
    for p in (m, mch_year_of(m.start - timedelta(days=1))):
        out.append((p.key, p.label(locale)))
    return out


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)
