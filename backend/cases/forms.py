"""Turn what a form or a sync operation sent (strings) into typed inputs, naming each field that won't parse.

HTML forms and sync operations share these parsers, so a phone offline and a browser online are held to the
same rules (the range and cross-record rules live in backend.cases.rules).
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from backend.cases.rules import OUTCOME_TYPES, SEX_CODES, check_each_alone
from backend.lib.i18n import FieldError, Text, ValidationFailed
from backend.lib.parsing import parse_date, parse_decimal, parse_int

BAD_DATE = Text("请输入有效日期，如 2026-11-23 或 2026年11月23日", "Enter a valid date, e.g. 2026-11-23")
BAD_NUMBER = Text("请输入数字", "Enter a number")
REQUIRED = Text("此项必填", "This field is required")
BAD_CHOICE = Text("请选择一项", "Choose one of the options")
BAD_ID = Text("编号无效", "Invalid identifier")

EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2199, 12, 31)
VISIT_KINDS = ("home", "township", "check", "phone", "urged")
COLOURS = ("green", "yellow", "orange", "red")
MILESTONES = ("1w", "2w", "1m", "3m", "6m", "12m", "42d", "loss", "extra")
CLOSURE_KINDS = ("transferred", "moved_out", "lost", "died")
FEEDINGS = ("breast", "mixed", "formula")
EDD_SOURCES = ("lmp", "ultrasound", "other")


_CONTROL_CHARACTERS = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def clean_text(value: str) -> str:
    """Typed text without control characters (a NUL byte cannot even be stored in PostgreSQL), trimmed."""
    return value.translate(_CONTROL_CHARACTERS).strip()


class Reader:
    """Reads typed values out of a string mapping, collecting one error per bad field."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.errors: list[FieldError] = []
        self.values: dict[str, object] = {}  # what was read, for `finish`

    def text(self, name: str, *, required: bool = False, max_length: int = 500) -> str:
        value = clean_text(str(self.raw.get(name) or ""))
        if required and not value:
            self.errors.append(FieldError(name, REQUIRED))
        self.values[name] = value[:max_length]
        return value[:max_length]

    def date(self, name: str, *, required: bool = False) -> date | None:
        try:
            value = parse_date(str(self.raw.get(name) or ""))
        except ValueError:
            self.errors.append(FieldError(name, BAD_DATE))
            return None
        if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
            # No follow-up date lies outside these; refusing them here also keeps date arithmetic in range.
            self.errors.append(FieldError(name, BAD_DATE))
            return None
        if value is None and required:
            self.errors.append(FieldError(name, REQUIRED))
        return value

    def int(self, name: str, *, required: bool = False) -> int | None:
        try:
            value = parse_int(str(self.raw.get(name) or ""))
        except ValueError:
            self.errors.append(FieldError(name, BAD_NUMBER))
            return None
        if value is None and required:
            self.errors.append(FieldError(name, REQUIRED))
        self.values[name] = value
        return value

    def float(self, name: str) -> float | None:
        try:
            value = parse_decimal(str(self.raw.get(name) or ""))
        except ValueError:
            self.errors.append(FieldError(name, BAD_NUMBER))
            return None
        self.values[name] = value
        return value

    def choice(self, name: str, options: tuple[str, ...], *, required: bool = True, default: str = "") -> str:
        value = str(self.raw.get(name) or default).strip()
        if value and value not in options:
            self.errors.append(FieldError(name, BAD_CHOICE))
            return ""
        if required and not value:
            self.errors.append(FieldError(name, REQUIRED))
        return value

    def flag(self, name: str) -> bool:
        return str(self.raw.get(name) or "").strip().lower() in ("1", "on", "true", "yes")

    def uuid(self, name: str, *, required: bool = True) -> uuid.UUID | None:
        value = str(self.raw.get(name) or "").strip()
        if not value:
            if required:
                self.errors.append(FieldError(name, REQUIRED))
            return None
        try:
            return uuid.UUID(value)
        except ValueError:
            self.errors.append(FieldError(name, BAD_ID))
            return None

    def finish(self) -> None:
        """Refuse the form if a value did not read; the values that did are checked on their own too
        (ranges, ID number, phone), so one answer names every field the user must change."""
        if self.errors:
            bad = {e.field for e in self.errors}
            alone = check_each_alone({n: v for n, v in self.values.items() if n not in bad})
            raise ValidationFailed([*self.errors, *alone])


def new_or(reader: Reader, name: str) -> uuid.UUID:
    """The client-generated UUID of a new record; a missing one gets a fresh UUID (plain HTML forms)."""
    return reader.uuid(name, required=False) or uuid.uuid4()


@dataclass
class RegistrationInput:
    woman_id: uuid.UUID
    pregnancy_id: uuid.UUID
    name: str
    id_number: str
    birth_date: date | None
    phone: str
    village_code: str
    address: str
    lmp: date | None
    edd: date | None
    edd_source: str
    gravidity: int | None
    parity: int | None
    registered_on: date | None
    colour: str


def read_registration(raw: Mapping[str, Any]) -> RegistrationInput:
    r = Reader(raw)
    data = RegistrationInput(
        woman_id=new_or(r, "woman_id"),
        pregnancy_id=new_or(r, "id"),
        name=r.text("name", required=True, max_length=40),
        id_number=r.text("id_number", max_length=30),
        birth_date=r.date("birth_date"),
        phone=r.text("phone", max_length=30),
        village_code=r.text("village_code", required=True, max_length=12),
        address=r.text("address", max_length=120),
        lmp=r.date("lmp"),
        edd=r.date("edd"),
        edd_source=r.choice("edd_source", EDD_SOURCES, required=False, default="lmp"),
        gravidity=r.int("gravidity", required=True),
        parity=r.int("parity", required=True),
        registered_on=r.date("registered_on", required=True),
        colour=r.choice("colour", COLOURS, required=False),
    )
    r.finish()
    return data


@dataclass
class PrenatalVisitInput:
    id: uuid.UUID
    pregnancy_id: uuid.UUID
    visited_on: date
    kind: str
    check_no: int | None
    facility: str
    bp_systolic: int | None
    bp_diastolic: int | None
    weight_kg: float | None
    fundal_height_cm: float | None
    fetal_heart_bpm: int | None
    danger_signs: str
    advice: str
    next_on: date | None


CHECK_REQUIRED = Text("请选择第几次产前检查", "Choose which standard check this was")


def read_prenatal_visit(raw: Mapping[str, Any]) -> PrenatalVisitInput:
    r = Reader(raw)
    record_id, pregnancy_id = new_or(r, "id"), r.uuid("pregnancy_id")
    visited_on = r.date("visited_on", required=True)
    kind = r.choice("kind", VISIT_KINDS)
    check_no = r.int("check_no")
    if (
        kind in ("check", "urged")
        and raw.get("check_no") not in (None, "")
        and check_no not in (1, 2, 3, 4, 5)
    ):
        r.errors.append(FieldError("check_no", CHECK_REQUIRED))
    if kind == "check" and check_no is None and not any(e.field == "check_no" for e in r.errors):
        r.errors.append(FieldError("check_no", CHECK_REQUIRED))
    data = PrenatalVisitInput(
        id=record_id,
        pregnancy_id=pregnancy_id or uuid.UUID(int=0),
        visited_on=visited_on or date.min,
        kind=kind,
        check_no=check_no if kind in ("check", "urged") else None,
        facility=r.text("facility", max_length=80),
        bp_systolic=r.int("bp_systolic"),
        bp_diastolic=r.int("bp_diastolic"),
        weight_kg=r.float("weight_kg"),
        fundal_height_cm=r.float("fundal_height_cm"),
        fetal_heart_bpm=r.int("fetal_heart_bpm"),
        danger_signs=r.text("danger_signs", max_length=300),
        advice=r.text("advice", max_length=500),
        next_on=r.date("next_on"),
    )
    r.finish()
    return data


@dataclass
class RiskInput:
    id: uuid.UUID
    pregnancy_id: uuid.UUID
    assessed_on: date
    colour: str
    purple: bool
    factors: str


def read_risk(raw: Mapping[str, Any]) -> RiskInput:
    r = Reader(raw)
    data = RiskInput(
        id=new_or(r, "id"),
        pregnancy_id=r.uuid("pregnancy_id") or uuid.UUID(int=0),
        assessed_on=r.date("assessed_on", required=True) or date.min,
        colour=r.choice("colour", COLOURS),
        purple=r.flag("purple"),
        factors=r.text("factors", max_length=500),
    )
    r.finish()
    return data


@dataclass
class BabyInput:
    id: uuid.UUID
    sex: str
    weight_g: int | None
    alive: bool
    asphyxia: bool
    defect: bool


@dataclass
class OutcomeInput:
    id: uuid.UUID
    pregnancy_id: uuid.UUID
    outcome_on: date
    outcome_type: str
    place: str
    mode: str
    discharge_on: date | None
    babies: list[BabyInput] = field(default_factory=list)


MAX_BABIES = 6


def read_outcome(raw: Mapping[str, Any]) -> OutcomeInput:
    r = Reader(raw)
    outcome_type = r.choice("outcome_type", OUTCOME_TYPES)
    n = r.int("n_babies") or 0
    babies: list[BabyInput] = []
    if outcome_type in ("live_birth", "stillbirth"):
        for i in range(min(max(n, 1), MAX_BABIES)):
            p = f"babies-{i}-"
            babies.append(
                BabyInput(
                    id=new_or(r, p + "id"),
                    sex=r.choice(p + "sex", SEX_CODES),
                    weight_g=r.int(p + "weight_g", required=True),
                    alive=r.choice(
                        p + "alive", ("1", "0"), default="1" if outcome_type == "live_birth" else "0"
                    )
                    == "1",
                    asphyxia=r.flag(p + "asphyxia"),
                    defect=r.flag(p + "defect"),
                )
            )
    data = OutcomeInput(
        id=new_or(r, "id"),
        pregnancy_id=r.uuid("pregnancy_id") or uuid.UUID(int=0),
        outcome_on=r.date("outcome_on", required=True) or date.min,
        outcome_type=outcome_type,
        place=r.text("place", max_length=20),
        mode=r.text("mode", max_length=20),
        discharge_on=r.date("discharge_on"),
        babies=babies,
    )
    r.finish()
    return data


@dataclass
class PostnatalInput:
    id: uuid.UUID
    pregnancy_id: uuid.UUID
    infant_id: uuid.UUID | None
    covers_mother: bool
    visited_on: date
    milestone: str
    mother_temperature_c: float | None
    mother_bp_systolic: int | None
    mother_bp_diastolic: int | None
    breasts: str
    lochia: str
    wound: str
    mood: str
    infant_weight_g: int | None
    infant_temperature_c: float | None
    jaundice: str
    feeding: str
    umbilicus: str
    notes: str


NOBODY_VISITED = Text("请至少选择母亲或一个婴儿", "Choose the mother, a baby, or both")


def read_postnatal(raw: Mapping[str, Any]) -> PostnatalInput:
    r = Reader(raw)
    infant_id = r.uuid("infant_id", required=False)
    covers_mother = r.flag("covers_mother")
    if infant_id is None and not covers_mother:
        r.errors.append(FieldError("covers_mother", NOBODY_VISITED))
    data = PostnatalInput(
        id=new_or(r, "id"),
        pregnancy_id=r.uuid("pregnancy_id") or uuid.UUID(int=0),
        infant_id=infant_id,
        covers_mother=covers_mother,
        visited_on=r.date("visited_on", required=True) or date.min,
        milestone=r.choice("milestone", MILESTONES),
        mother_temperature_c=r.float("mother_temperature_c"),
        mother_bp_systolic=r.int("mother_bp_systolic"),
        mother_bp_diastolic=r.int("mother_bp_diastolic"),
        breasts=r.text("breasts", max_length=60),
        lochia=r.text("lochia", max_length=60),
        wound=r.text("wound", max_length=60),
        mood=r.text("mood", max_length=60),
        infant_weight_g=r.int("infant_weight_g"),
        infant_temperature_c=r.float("infant_temperature_c"),
        jaundice=r.text("jaundice", max_length=20),
        feeding=r.choice("feeding", ("", *FEEDINGS), required=False),
        umbilicus=r.text("umbilicus", max_length=20),
        notes=r.text("notes", max_length=500),
    )
    r.finish()
    return data


@dataclass
class ClosureInput:
    id: uuid.UUID
    pregnancy_id: uuid.UUID
    infant_id: uuid.UUID | None
    kind: str
    closed_on: date
    reason: str
    to_village_code: str


def read_closure(raw: Mapping[str, Any]) -> ClosureInput:
    r = Reader(raw)
    kind = r.choice("kind", CLOSURE_KINDS)
    data = ClosureInput(
        id=new_or(r, "id"),
        pregnancy_id=r.uuid("pregnancy_id") or uuid.UUID(int=0),
        infant_id=r.uuid("infant_id", required=False)
        if kind == "died"
        else None,  # only a baby can die alone
        kind=kind,
        closed_on=r.date("closed_on", required=True) or date.min,
        reason=r.text("reason", required=kind == "lost", max_length=300),
        to_village_code=r.text("to_village_code", required=kind == "transferred", max_length=12),
    )
    r.finish()
    return data


@dataclass
class CorrectionInput:
    id: uuid.UUID
    target_type: str
    target_id: uuid.UUID
    kind: str
    changes: dict[str, str]
    reason: str


CORRECTABLE = ("prenatal_visit", "postnatal_visit", "outcome", "risk_grade", "closure", "woman", "pregnancy")


def read_correction(raw: Mapping[str, Any]) -> CorrectionInput:
    r = Reader(raw)
    changes = raw.get("changes")
    if not isinstance(changes, dict):
        changes = {
            k.removeprefix("new-"): str(v) for k, v in raw.items() if k.startswith("new-") and str(v) != ""
        }
    data = CorrectionInput(
        id=new_or(r, "id"),
        target_type=r.choice("target_type", CORRECTABLE),
        target_id=r.uuid("target_id") or uuid.UUID(int=0),
        kind=r.choice("kind", ("amend", "void", "edit")),
        changes={str(k): str(v) for k, v in changes.items()},
        reason=r.text("reason", required=True, max_length=300),
    )
    r.finish()
    return data
