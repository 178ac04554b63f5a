"""How ID numbers and phone numbers are shown in lists: masked, never in clear.

Input too short to mask safely comes back fully masked; None or empty input comes back as "".
"""

from backend.lib.idcard import normalise_id
from backend.lib.parsing import normalise_phone

MASK = "*"
# 6 + 4 visible characters keep the area and the last four, hiding the birth date (positions 7–14).
_ID_HEAD, _ID_TAIL, _ID_MIN_LENGTH = 6, 4, 15
_PHONE_HEAD, _PHONE_TAIL, _PHONE_MIN_LENGTH = 3, 4, 11


def _mask(value: str, head: int, tail: int, min_length: int) -> str:
    if len(value) < min_length:
        return MASK * len(value)
    return value[:head] + MASK * (len(value) - head - tail) + value[-tail:]


def mask_id(id_number: str | None) -> str:
    """ "11010519491231002X" -> "110105********002X"; shorter than 15 characters -> all stars."""
    return _mask(normalise_id(id_number or ""), _ID_HEAD, _ID_TAIL, _ID_MIN_LENGTH)


def mask_phone(phone: str | None) -> str:
    """ "13812341234" (or "+86 138 1234 1234") -> "138****1234"; shorter than 11 digits -> all stars."""
    return _mask(normalise_phone(phone), _PHONE_HEAD, _PHONE_TAIL, _PHONE_MIN_LENGTH)
