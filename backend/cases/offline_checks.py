"""What a phone checks before it keeps an entry with no signal (DOMAIN.md §3: the server's rules, "where the
phone can check them"). Each field's limits and messages come from the server's own rules and are written
into the form as data attributes, which `pwa/js/checks.js` reads: nothing is bounded or worded twice. A form
kept for a stored case also carries the dates the case bounds (a visit not before registration, an outcome
within 315 days of the LMP: `case_dates`). What needs more than the case's own page (a woman's other
pregnancies, an entry still on the phone) stays on the server, which checks everything again on sync."""

import json
import re
from collections.abc import Callable
from datetime import date, timedelta

from markupsafe import Markup

from backend.cases import forms, rules
from backend.cases.schedule_store import CaseRecords
from backend.cases.services.common import CLOSED_BEFORE_REGISTRATION, _lmp
from backend.cases.services.outcomes import check_outcome_of
from backend.lib.i18n import FieldError, Text
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


DAY = timedelta(days=1)
FAR = date(9999, 1, 1)
"""`today` when a rule is asked what it says of a date: nothing then lies in the future."""
Probe = Callable[[date], list[FieldError]]


def _said(probe: Probe, name: str, on: date) -> Text | None:
    """What the server's rule says of `name` on this date, if anything."""
    return next((e.text for e in probe(on) if e.field == name), None)


def case_dates(form: str, records: CaseRecords, locale: str) -> dict[str, Markup]:
    """The limits a stored case sets on the date fields of one of its forms, as `data-limits` (a JSON list, in
    the order the server checks them: the first one broken is the message). Each limit is a first or last
    allowed day and the server's words for a day beyond it, got by asking the server's rule about that day;
    words that count days from the LMP carry `{ga}` or `{days}` and the day counted from, filled in on the
    phone as the server fills them."""
    pregnancy, outcome = records.pregnancy, records.outcome
    lmp = _lmp(pregnancy)
    limits: list[dict[str, str]] = []

    def first(probe: Probe, name: str, on: date) -> None:
        if (text := _said(probe, name, on - DAY)) is not None:
            limits.append({"min": on.isoformat(), "msg": text.in_(locale)})

    def last(probe: Probe, name: str, on: date) -> None:
        if (text := _said(probe, name, on + DAY)) is not None:
            limits.append({"max": on.isoformat(), "msg": text.in_(locale)})

    if form == "visit":
        name = "visited_on"

        def visit(on: date) -> list[FieldError]:
            return rules.check_prenatal_visit_date(
                visited_on=on,
                registered_on=pregnancy.registered_on,
                outcome_on=outcome.outcome_on if outcome else None,
                lmp_or_none=lmp,
                today=FAR,
            )

        first(visit, name, pregnancy.registered_on)
        if outcome is not None:
            last(visit, name, outcome.outcome_on)
        first(visit, name, lmp)
        ga_max = lmp + timedelta(days=rules.GA_MAX_DAYS)
        if _said(visit, name, ga_max + DAY) is not None:
            template = rules.GA_AT_VISIT.format(ga="{ga}").in_(locale)
            limits.append({"max": ga_max.isoformat(), "msg": template, "from": lmp.isoformat()})
    elif form == "outcome" and outcome is None:
        name = "outcome_on"

        def outcome_on(on: date) -> list[FieldError]:
            return check_outcome_of(
                records, outcome_on=on, outcome_type="live_birth", discharge_on=None, babies=[], today=FAR
            )

        first(outcome_on, name, lmp)
        longest = lmp + timedelta(days=rules.OUTCOME_MAX_DAYS_AFTER_LMP)
        if _said(outcome_on, name, longest + DAY) is not None:
            too_long = (
                rules.OUTCOME_TOO_LONG_AFTER_LMP_FROM_EDD
                if pregnancy.lmp is None
                else rules.OUTCOME_TOO_LONG_AFTER_LMP
            )
            limits.append(
                {
                    "max": longest.isoformat(),
                    "msg": too_long.format(days="{days}").in_(locale),
                    "from": lmp.isoformat(),
                }
            )
        if records.visits:
            first(outcome_on, name, records.visits[-1].visited_on)
    elif form == "postnatal" and outcome is not None:
        name = "visited_on"

        def postnatal(on: date) -> list[FieldError]:
            return rules.check_postnatal_visit_date(visited_on=on, outcome_on=outcome.outcome_on, today=FAR)

        first(postnatal, name, outcome.outcome_on)
    elif form == "close":
        name = "closed_on"
        limits.append(
            {"min": pregnancy.registered_on.isoformat(), "msg": CLOSED_BEFORE_REGISTRATION.in_(locale)}
        )
    else:
        return {}
    return {name: _attrs({"data-limits": json.dumps(limits, ensure_ascii=False)})} if limits else {}
