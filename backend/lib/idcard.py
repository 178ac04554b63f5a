"""Resident ID numbers (居民身份证号码, GB 11643-1999): normalising, MOD 11-2 check digit, birth date inside.

Layout: 6-digit area code, birth date YYYYMMDD, 3-digit order code (odd for men, even for women), check digit.
"""

import re
from datetime import date
from enum import StrEnum

from backend.lib.parsing import to_halfwidth

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"\d{17}[\dX]", re.ASCII)
_SEVENTEEN_DIGITS = re.compile(r"\d{17}", re.ASCII)
_AREA = re.compile(r"\d{6}", re.ASCII)
# Years before this cannot belong to anyone alive; the published test vector 440524188001010014 is from 1880.
EARLIEST_BIRTH_YEAR = 1800


class IdProblem(StrEnum):
    """Why a string is not a valid ID number, most basic first."""

    SHAPE = "shape"  # not 17 digits followed by a digit or X
    CHECK_DIGIT = "check_digit"  # the last character does not match MOD 11-2
    BIRTH_DATE = "birth_date"  # characters 7–14 are not a real date from EARLIEST_BIRTH_YEAR on


def normalise_id(s: str) -> str:
    """Strip all spaces, turn full-width characters into ASCII and upper-case the final x."""
    return "".join(to_halfwidth(s).split()).upper()


def check_digit(first17: str) -> str:
    """The MOD 11-2 check character ("0"–"9" or "X") for the first 17 digits of an ID number."""
    if not _SEVENTEEN_DIGITS.fullmatch(first17):
        raise ValueError("check_digit needs exactly 17 ASCII digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def _embedded_birth_date(id_number: str) -> date | None:
    year, month, day = int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14])
    if year < EARLIEST_BIRTH_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def id_problem(s: str) -> IdProblem | None:
    """What is wrong with `s` as an ID number, or None when it is valid; a lower-case final x is accepted.

    `s` is checked as given: call `normalise_id` first for input typed by people.
    """
    upper = s.upper()
    if not _SHAPE.fullmatch(upper):
        return IdProblem.SHAPE
    if check_digit(upper[:17]) != upper[17]:
        return IdProblem.CHECK_DIGIT
    if _embedded_birth_date(upper) is None:
        return IdProblem.BIRTH_DATE
    return None


def is_valid_id(s: str) -> bool:
    """True for 17 digits and a digit or X/x with the right check digit and a real birth date inside."""
    return id_problem(s) is None


def birth_date_of(id_number: str) -> date:
    """The birth date written inside a valid ID number (normalised first); ValueError for an invalid one."""
    normalised = normalise_id(id_number)
    problem = id_problem(normalised)
    born = _embedded_birth_date(normalised) if problem is None else None
    if born is None:
        raise ValueError(f"not a valid ID number ({problem})")
    return born


def synthetic_id(area6: str, birth: date, seq: int) -> str:
    """A valid made-up ID number for demo data; `seq` (0–999) is the order code: even for a woman."""
    if not _AREA.fullmatch(area6):
        raise ValueError("area6 must be 6 ASCII digits")
    if not 0 <= seq <= 999:
        raise ValueError("seq must be between 0 and 999")
    if birth.year < EARLIEST_BIRTH_YEAR:
        raise ValueError(f"birth year must be {EARLIEST_BIRTH_YEAR} or later")
    first17 = f"{area6}{birth.year:04d}{birth.month:02d}{birth.day:02d}{seq:03d}"
    return first17 + check_digit(first17)
