"""What a phone checks before it keeps an entry with no signal (DOMAIN.md §3: the server's rules, "where the
phone can check them"). Each field's limits and messages come from the server's own rules and are written
into the form as data attributes, which `pwa/js/checks.js` reads: nothing is bounded or worded twice. Rules
that need the stored case (a visit after registration, one outcome per pregnancy) stay on the server, which
checks everything again when the entry syncs."""

import re
from datetime import date, timedelta

from markupsafe import Markup

from backend.cases import forms, rules
from backend.lib.i18n import Text
from backend.lib.idcard import IdProblem

BOUNDS: dict[str, rules.Bounds] = {**rules.FIELD_BOUNDS, "weight_g": rules.BIRTH_WEIGHT_G}  # of each baby
WHOLE = frozenset(
    {"bp_systolic", "bp_diastolic", "fetal_heart_bpm", "mother_bp_systolic", "mother_bp_diastolic"}
    | {"infant_weight_g", "gravidity", "parity", "weight_g"}
)
"""Read as whole numbers by the form readers (`forms.Reader.int`); the others as decimals."""
_BABY_WEIGHT = re.compile(r"babies-(\d+)-weight_g")
PAIRS = {"bp_diastolic": "bp_systolic", "mother_bp_diastolic": "mother_bp_systolic", "parity": "gravidity"}
"""A field checked against another of the same form: diastolic below systolic, parity below gravidity."""


def _attrs(values: dict[str, str]) -> Markup:
    return Markup(" ").join(Markup('{}="{}"').format(name, value) for name, value in values.items())


def number(name: str, locale: str) -> Markup:
    """The data attributes of a number field: its range and the server's messages for a value out of it or
    not a number (empty when the server sets it no range)."""
    baby = _BABY_WEIGHT.fullmatch(name)
    base = "weight_g" if baby else name
    bounds = BOUNDS.get(base)
    if bounds is None:
        return Markup("")
    label = rules.BABY_WEIGHT_LABEL.format(n=int(baby.group(1)) + 1) if baby else None
    beyond = rules.check_range(name, bounds.hi + 1, bounds, label)[0].text  # as the server says it
    values = {
        "data-lo": f"{bounds.lo:g}",
        "data-hi": f"{bounds.hi:g}",
        "data-range": beyond.in_(locale),
        "data-nan": forms.BAD_NUMBER.in_(locale),
    }
    if base in WHOLE:
        values["data-whole"] = "1"
    if (other := PAIRS.get(name)) is not None:
        values["data-below"] = other
        values["data-below-msg"] = _below_message(name, locale)
    return _attrs(values)


def _below_message(name: str, locale: str) -> str:
    if name == "parity":  # "{most}" is filled in on the phone, as the server fills it
        return rules.PARITY_NOT_BELOW_GRAVIDITY.in_(locale)
    return rules.DIASTOLIC_NOT_BELOW_SYSTOLIC.in_(locale)


def not_future(name: str, locale: str) -> Markup:
    """The server's message for a date after today (the field's `max` holds today)."""
    label = rules.LABELS.get(name)
    if label is None:
        return Markup("")
    today = date(2000, 1, 1)
    text = rules.check_not_future(name, today + timedelta(days=1), today, label)[0].text
    return _attrs({"data-future": text.in_(locale)})


def identity(name: str, locale: str) -> Markup:
    """The ID number's shape and check digit (GB 11643), and a mobile number's shape."""
    messages: dict[str, Text]
    if name == "id_number":
        messages = {
            "data-id-shape": rules.ID_MESSAGES[IdProblem.SHAPE],
            "data-id-check": rules.ID_MESSAGES[IdProblem.CHECK_DIGIT],
        }
    elif name == "phone":
        messages = {"data-mobile": rules.PHONE_NOT_MOBILE}
    else:
        return Markup("")
    return _attrs({attr: text.in_(locale) for attr, text in messages.items()})
