"""Scope (DOMAIN.md §2): which villages a user may see, as 12-digit code prefixes — the one rule every
query returning personal data goes through."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_

PREFIX_LENGTH = {"village": 12, "township": 9, "county": 6}


@dataclass(frozen=True)
class Scope:
    """A set of area-code prefixes; a record is in scope when its village code starts with one of them."""

    prefixes: tuple[str, ...]

    @classmethod
    def for_role(cls, role: str, area_codes: list[str] | tuple[str, ...]) -> "Scope":
        length = PREFIX_LENGTH[role]
        return cls(tuple(sorted({code[:length] for code in area_codes})))

    def covers(self, village_code: str | None) -> bool:
        return village_code is not None and any(village_code.startswith(p) for p in self.prefixes)

    def clause(self, column: Any) -> ColumnElement[bool]:
        """SQL condition on a village-code column. Written as ranges (code >= p AND code < p + ':') rather
        than LIKE so both SQLite and PostgreSQL use a plain b-tree index; ':' sorts right after '9'."""
        if not self.prefixes:
            return false()
        ranges = [and_(column >= p, column < p + ":") if len(p) < 12 else column == p for p in self.prefixes]
        return ranges[0] if len(ranges) == 1 else or_(*ranges)


def township_of(code: str) -> str:
    return code[:9] + "000"


def county_of(code: str) -> str:
    return code[:6] + "000000"


def level_of(code: str) -> str:
    """province, prefecture, county, township or village, from where the zeros start."""
    if code[9:] != "000":
        return "village"
    if code[6:] != "000000":
        return "township"
    if code[4:] != "00000000":
        return "county"
    if code[2:] != "0000000000":
        return "prefecture"
    return "province"
