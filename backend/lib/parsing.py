"""Lenient parsing of form input typed on Chinese phones: full-width characters, Chinese dates, phone numbers.

Parsers return None for an empty field and raise `ParseError` (a ValueError with a bilingual `Text`).
"""

import re
from datetime import date

from backend.lib.i18n import Text

# Full-width forms U+FF01..U+FF5E sit exactly 0xFEE0 above their ASCII twins; U+3000 is the ideographic space.
_HALFWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

# Typed in Chinese input mode, the full stop key gives "。" where a decimal point was meant.
_IDEOGRAPHIC_FULL_STOP = "。"

_DATE_WITH_SEPARATORS = re.compile(r"(\d{4})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{1,2})", re.ASCII)
_DATE_IN_CHINESE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?", re.ASCII)
_DATE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII)
_DATE_FORMS = (_DATE_WITH_SEPARATORS, _DATE_IN_CHINESE, _DATE_COMPACT)
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_PHONE_SEPARATORS = re.compile(r"[\s\-().]", re.ASCII)
_MOBILE = re.compile(r"1[3-9]\d{9}", re.ASCII)

DATE_UNREADABLE = Text(
    "无法识别的日期，请按 2026-11-23 或 2026年11月23日 的格式填写",
    "Could not read the date; write it like 2026-11-23",
)
DATE_IMPOSSIBLE = Text(
    "日期不存在（{value}），请核对月份和日期", "There is no such date ({value}); check the month and day"
)
NOT_A_WHOLE_NUMBER = Text("请填写整数", "Enter a whole number")
NOT_A_NUMBER = Text("请填写数字", "Enter a number")


class ParseError(ValueError):
    """Input that cannot be read; `text` says why in both languages, for the form to show beside the field."""

    def __init__(self, text: Text) -> None:
        super().__init__(text.en)
        self.text = text


def to_halfwidth(s: str) -> str:
    """Turn full-width digits, letters, punctuation and the ideographic space into their ASCII forms."""
    return s.translate(_HALFWIDTH)


def _cleaned(s: str | None) -> str:
    return to_halfwidth(s).strip() if s else ""


def _match_date_form(text: str) -> re.Match[str] | None:
    for form in _DATE_FORMS:
        match = form.fullmatch(text)
        if match is not None:
            return match
    return None


def parse_date(s: str | None) -> date | None:
    """Read 2026-11-23, 2026/11/23, 2026.11.23, 20261123 or 2026年11月23日 (full-width digits too)."""
    text = _cleaned(s)
    if not text:
        return None
    match = _match_date_form(text)
    if match is None:
        raise ParseError(DATE_UNREADABLE)
    # The last two groups are month and day in every accepted form; the separator form has one more group.
    year, month, day = int(match.group(1)), int(match.groups()[-2]), int(match.groups()[-1])
    try:
        return date(year, month, day)
    except ValueError:
        raise ParseError(DATE_IMPOSSIBLE.format(value=f"{year}-{month:02d}-{day:02d}")) from None


def parse_int(s: str | None) -> int | None:
    """Read a whole number, full-width digits allowed."""
    text = _cleaned(s)
    if not text:
        return None
    if not _INTEGER.fullmatch(text):
        raise ParseError(NOT_A_WHOLE_NUMBER)
    return int(text)


def parse_decimal(s: str | None) -> float | None:
    """Read a decimal number; the point may be ".", full-width "．" or the ideographic "。"."""
    text = _cleaned(s).replace(_IDEOGRAPHIC_FULL_STOP, ".")
    if not text:
        return None
    if not _DECIMAL.fullmatch(text):
        raise ParseError(NOT_A_NUMBER)
    return float(text)


def normalise_phone(s: str | None) -> str:
    """Drop spaces, dashes, dots, brackets and a +86 / 0086 / 86 country code; never raises.

    Anything else (letters, a wrong length) is kept, so `is_valid_mobile` can refuse it.
    """
    text = _PHONE_SEPARATORS.sub("", to_halfwidth(s or ""))
    if text.startswith("+86"):
        return text[3:]
    if text.startswith("0086"):
        return text[4:]
    if len(text) == 13 and text.startswith("86"):
        return text[2:]
    return text


def is_valid_mobile(s: str | None) -> bool:
    """True for a mainland mobile number (11 digits, 13x–19x) once normalised."""
    return _MOBILE.fullmatch(normalise_phone(s)) is not None
