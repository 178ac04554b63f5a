"""Writes of the follow-up workflow (登记, 随访, 结局, 产后访视, 结案, 更正).
Each takes a session, checks scope
and the rules of DOMAIN.md §3, writes append-only records keyed by the client's UUID, and refreshes the
pregnancy's due items in the same transaction. Re-sending a record with a known UUID changes nothing."""

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from annotated_types import MaxLen
from sqlmodel import Session, col, select

from backend.accounts.services import Actor, audit
from backend.areas.models import Area
from backend.cases import rules
from backend.cases.forms import (
    BAD_CHOICE,
    CHECK_REQUIRED,
    COLOURS,
    EDD_SOURCES,
    MILESTONES,
    VISIT_KINDS,
    ClosureInput,
    CorrectionInput,
    OutcomeInput,
    PostnatalInput,
    PrenatalVisitInput,
    RegistrationInput,
    RiskInput,
    clean_text,
)
from backend.cases.models import (
    CaseChange,
    Closure,
    Correction,
    FieldRecord,
    Infant,
    Outcome,
    PostnatalVisit,
    Pregnancy,
    PrenatalVisit,
    RiskGrade,
    Woman,
)
from backend.cases.schedule_store import CaseRecords, as_json_dict, refresh_due_items
from backend.lib.clock import utcnow
from backend.lib.fieldcrypt import FieldCipher
from backend.lib.i18n import FieldError, Text, ValidationFailed
from backend.lib.idcard import normalise_id
from backend.lib.masking import mask_id
from backend.lib.parsing import normalise_phone
from backend.schedule import CURRENT_VERSION


class NotFound(Exception):
    """The record does not exist or lies outside the caller's scope (the two are indistinguishable)."""


class Forbidden(Exception):
    """The caller's role may not do this."""


OUT_OF_SCOPE_VILLAGE = Text("该村不在您的管辖范围内", "This village is outside your area")
UNKNOWN_VILLAGE = Text("未知的村代码", "Unknown village code")
ALREADY_OPEN = Text("该孕妇已有一个在管的妊娠", "This woman already has an open pregnancy")
OUTCOME_EXISTS = Text("该妊娠已登记结局", "An outcome is already recorded for this pregnancy")
NO_OUTCOME_YET = Text("请先登记妊娠结局", "Record the pregnancy outcome first")
CASE_CLOSED = Text("该个案已结案", "This case is closed")
TOWNSHIP_ONLY = Text("乡级访视只能由乡镇人员登记", "Only township staff record township visits")
SAME_VILLAGE = Text("请选择另一个村", "Choose a different village")
UNKNOWN_INFANT = Text("未找到该婴儿", "Unknown baby")
NOTHING_TO_CHANGE = Text("请至少修改一项", "Change at least one field")
NOT_CORRECTABLE = Text("该字段不能修改", "This field cannot be changed")
CLOSED_BEFORE_REGISTRATION = Text(
    "结案日期不能早于登记日期", "The closing date cannot be before registration"
)
ALREADY_VOID = Text("该记录已作废", "This record has already been voided")
TRANSFER_FIXED = Text(
    "转村记录不能更正或作废；如转错了村，请再次转村",
    "A transfer cannot be corrected or voided; if it went to the wrong village, transfer again",
)
EDD_FROM_LMP = timedelta(days=280)


def is_high_risk_newborn(ga_days: int | None, weight_g: int | None, asphyxia: bool, defect: bool) -> bool:
    """GA under 37 weeks, weight under 2,500 g, asphyxia or a birth defect: first visit within 3 days."""
    return (
        (ga_days is not None and ga_days < 37 * 7)
        or (weight_g is not None and weight_g < 2500)
        or asphyxia
        or defect
    )


@dataclass(frozen=True)
class WriteContext:
    """Who writes, from which device, at what device time, on which local day, with which ID-number cipher."""

    actor: Actor
    today: date
    cipher: FieldCipher
    device_id: str = "web"
    recorded_at: datetime | None = None

    def stamp(self, record: FieldRecord) -> None:
        record.author_id = self.actor.user_id
        record.device_id = self.device_id[:64]
        record.recorded_at = self.recorded_at or utcnow()
        record.received_at = utcnow()


@dataclass(frozen=True)
class Written:
    """What a write produced; `duplicate` when the UUID was already known and nothing changed."""

    record_id: uuid.UUID
    pregnancy_id: uuid.UUID
    duplicate: bool = False


def _fail(field: str, text: Text) -> ValidationFailed:
    return ValidationFailed([FieldError(field, text)])


def _raise_if(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(errors)


def pregnancy_in_scope(db: Session, actor: Actor, pregnancy_id: uuid.UUID) -> Pregnancy:
    pregnancy = db.get(Pregnancy, pregnancy_id)
    if pregnancy is None or not actor.scope.covers(pregnancy.village_code):
        raise NotFound(str(pregnancy_id))
    return pregnancy


def _existing(
    db: Session, model: type[FieldRecord], record_id: uuid.UUID, actor: Actor
) -> FieldRecord | None:
    """A record already stored under this client UUID (a replay). Outside the caller's scope it is an error,
    so a guessed UUID reveals nothing."""
    row = db.get(model, record_id)
    if row is None:
        return None
    pid = getattr(row, "pregnancy_id", None) or record_id
    pregnancy = db.get(Pregnancy, pid)
    if pregnancy is None or not actor.scope.covers(pregnancy.village_code):
        raise NotFound(str(record_id))
    return row


def _writable(pregnancy: Pregnancy) -> None:
    if pregnancy.status != "open":
        raise _fail("pregnancy_id", CASE_CLOSED)


def _village(db: Session, actor: Actor, code: str, field: str = "village_code") -> Area:
    area = db.get(Area, code)
    if area is None or code[9:] == "000":
        raise _fail(field, UNKNOWN_VILLAGE)
    if not actor.scope.covers(code):
        raise _fail(field, OUT_OF_SCOPE_VILLAGE)
    return area


def _done(db: Session, ctx: WriteContext, pregnancy: Pregnancy, record: FieldRecord, action: str) -> Written:
    ctx.stamp(record)
    db.add(record)
    db.flush()
    refresh_due_items(db, pregnancy)
    audit(db, ctx.actor.user_id, action, type(record).__tablename__, str(record.id), device=ctx.device_id)  # type: ignore[arg-type]
    return Written(record.id, pregnancy.id)


def register_pregnancy(db: Session, ctx: WriteContext, data: RegistrationInput) -> Written:
    """登记: a new woman (or a known one, by her UUID) with a new pregnancy and optionally a first grade."""
    if db.get(Pregnancy, data.pregnancy_id) is not None:
        _existing(db, Pregnancy, data.pregnancy_id, ctx.actor)
        return Written(data.pregnancy_id, data.pregnancy_id, duplicate=True)
    id_number = normalise_id(data.id_number) if data.id_number else ""
    phone = data.phone
    errors = rules.check_woman(
        name=data.name,
        id_number=id_number or None,
        birth_date=data.birth_date,
        phone=phone or None,
        village_code=data.village_code,
        today=ctx.today,
    )
    errors += rules.check_pregnancy(
        lmp=data.lmp,
        edd=data.edd,
        registered_on=data.registered_on,
        gravidity=data.gravidity,
        parity=data.parity,
        today=ctx.today,
    )
    _raise_if(errors)
    _village(db, ctx.actor, data.village_code)
    assert data.registered_on is not None and data.gravidity is not None and data.parity is not None
    woman = db.get(Woman, data.woman_id)
    if woman is not None:
        if not ctx.actor.scope.covers(woman.village_code):
            raise NotFound(str(data.woman_id))
        _close_finished_pregnancy(db, woman.id, data.registered_on)
    else:
        birth = data.birth_date
        if birth is None and id_number:
            from backend.lib.idcard import birth_date_of

            birth = birth_date_of(id_number)
        woman = Woman(
            id=data.woman_id,
            name=data.name,
            id_cipher=ctx.cipher.encrypt(id_number) if id_number else None,
            id_index=ctx.cipher.blind_index(id_number) if id_number else None,
            id_masked=mask_id(id_number) if id_number else None,
            birth_date=birth,
            phone=normalise_phone(phone) if phone else None,
            village_code=data.village_code,
            address=data.address or None,
            author_id=ctx.actor.user_id,
        )
        ctx.stamp(woman)
        db.add(woman)
        db.flush()  # no ORM relationships here, so the unit of work needs the woman written first
    edd = data.edd or (data.lmp + EDD_FROM_LMP if data.lmp else None)
    assert edd is not None
    pregnancy = Pregnancy(
        id=data.pregnancy_id,
        woman_id=woman.id,
        village_code=woman.village_code,
        lmp=data.lmp,
        edd=edd,
        edd_source=data.edd_source if data.edd else "lmp",
        gravidity=data.gravidity,
        parity=data.parity,
        registered_on=data.registered_on,
        rules_version=CURRENT_VERSION,
        author_id=ctx.actor.user_id,
    )
    ctx.stamp(pregnancy)
    db.add(pregnancy)
    db.flush()
    if data.colour:
        grade = RiskGrade(
            pregnancy_id=pregnancy.id,
            assessed_on=data.registered_on,
            colour=data.colour,
            author_id=ctx.actor.user_id,
            id=uuid.uuid5(pregnancy.id, "first-grade"),
        )
        ctx.stamp(grade)
        db.add(grade)
        db.flush()
    refresh_due_items(db, pregnancy)
    audit(db, ctx.actor.user_id, "register_pregnancy", "pregnancy", str(pregnancy.id), device=ctx.device_id)
    return Written(pregnancy.id, pregnancy.id)


def _close_finished_pregnancy(db: Session, woman_id: uuid.UUID, on: date) -> None:
    """A new pregnancy ends the follow-up of an earlier one that already has its outcome; an earlier one
    still without an outcome blocks the registration (at most one open pregnancy per woman)."""
    for p in db.exec(select(Pregnancy).where(Pregnancy.woman_id == woman_id, Pregnancy.status == "open")):
        if CaseRecords(db, p).outcome is None:
            raise _fail("name", ALREADY_OPEN)
        p.status, p.closed_on, p.close_reason = "closed", on, "completed"
        db.add(p)
        db.flush()


def record_prenatal_visit(db: Session, ctx: WriteContext, data: PrenatalVisitInput) -> Written:
    """产前随访: a home, township, phone or urged visit, or a standard check attended."""
    if (row := _existing(db, PrenatalVisit, data.id, ctx.actor)) is not None:
        return Written(row.id, row.pregnancy_id, duplicate=True)  # type: ignore[attr-defined]
    pregnancy = pregnancy_in_scope(db, ctx.actor, data.pregnancy_id)
    _writable(pregnancy)
    if data.kind == "township" and ctx.actor.role == "village":
        raise _fail("kind", TOWNSHIP_ONLY)
    records = CaseRecords(db, pregnancy)
    _raise_if(
        rules.check_prenatal_visit(
            visited_on=data.visited_on,
            registered_on=pregnancy.registered_on,
            outcome_on=records.outcome.outcome_on if records.outcome else None,
            lmp_or_none=_lmp(pregnancy),
            today=ctx.today,
            bp_systolic=data.bp_systolic,
            bp_diastolic=data.bp_diastolic,
            weight_kg=data.weight_kg,
            fundal_height_cm=data.fundal_height_cm,
            fetal_heart_bpm=data.fetal_heart_bpm,
        )
    )
    visit = PrenatalVisit(
        id=data.id,
        pregnancy_id=pregnancy.id,
        visited_on=data.visited_on,
        kind=data.kind,
        check_no=data.check_no,
        facility=data.facility or None,
        ga_days=(data.visited_on - _lmp(pregnancy)).days,
        bp_systolic=data.bp_systolic,
        bp_diastolic=data.bp_diastolic,
        weight_kg=data.weight_kg,
        fundal_height_cm=data.fundal_height_cm,
        fetal_heart_bpm=data.fetal_heart_bpm,
        danger_signs=data.danger_signs,
        advice=data.advice,
        next_on=data.next_on,
        author_id=ctx.actor.user_id,
    )
    return _done(db, ctx, pregnancy, visit, "prenatal_visit")


def _lmp(pregnancy: Pregnancy) -> date:
    return pregnancy.lmp or (pregnancy.edd - EDD_FROM_LMP)


def set_risk_grade(db: Session, ctx: WriteContext, data: RiskInput) -> Written:
    """五色分级: a new grading; the latest one counts."""
    if (row := _existing(db, RiskGrade, data.id, ctx.actor)) is not None:
        return Written(row.id, row.pregnancy_id, duplicate=True)  # type: ignore[attr-defined]
    pregnancy = pregnancy_in_scope(db, ctx.actor, data.pregnancy_id)
    _writable(pregnancy)
    _raise_if(rules.check_not_future("assessed_on", data.assessed_on, ctx.today))
    grade = RiskGrade(
        id=data.id,
        pregnancy_id=pregnancy.id,
        assessed_on=data.assessed_on,
        colour=data.colour,
        purple=data.purple,
        factors=data.factors,
        author_id=ctx.actor.user_id,
    )
    return _done(db, ctx, pregnancy, grade, "risk_grade")


def record_outcome(db: Session, ctx: WriteContext, data: OutcomeInput) -> Written:
    """妊娠结局 with its babies: one form for one or more babies; ends prenatal follow-up."""
    if (row := _existing(db, Outcome, data.id, ctx.actor)) is not None:
        return Written(row.id, row.pregnancy_id, duplicate=True)  # type: ignore[attr-defined]
    pregnancy = pregnancy_in_scope(db, ctx.actor, data.pregnancy_id)
    _writable(pregnancy)
    records = CaseRecords(db, pregnancy)
    if records.outcome is not None:
        raise _fail("outcome_type", OUTCOME_EXISTS)
    babies = [{"sex": b.sex, "weight_g": b.weight_g, "alive": b.alive} for b in data.babies]
    _raise_if(
        rules.check_outcome(
            outcome_on=data.outcome_on,
            lmp_or_none=pregnancy.lmp,
            registered_on=pregnancy.registered_on,
            outcome_type=data.outcome_type,
            discharge_on=data.discharge_on,
            babies=babies,
            today=ctx.today,
        )
    )
    lmp = _lmp(pregnancy)
    ga_days = (data.outcome_on - lmp).days
    outcome = Outcome(
        id=data.id,
        pregnancy_id=pregnancy.id,
        outcome_on=data.outcome_on,
        outcome_type=data.outcome_type,
        ga_days=ga_days,
        place=data.place,
        mode=data.mode,
        discharge_on=data.discharge_on,
        n_babies=len(data.babies),
        author_id=ctx.actor.user_id,
    )
    ctx.stamp(outcome)
    db.add(outcome)
    db.flush()
    for seq, baby in enumerate(data.babies, start=1):
        infant = Infant(
            id=baby.id,
            pregnancy_id=pregnancy.id,
            outcome_id=outcome.id,
            seq=seq,
            sex=baby.sex,
            birth_weight_g=baby.weight_g,
            alive_at_birth=baby.alive,
            asphyxia=baby.asphyxia,
            defect=baby.defect,
            high_risk=is_high_risk_newborn(ga_days, baby.weight_g, baby.asphyxia, baby.defect),
            author_id=ctx.actor.user_id,
        )
        ctx.stamp(infant)
        db.add(infant)
    db.flush()
    if data.outcome_type == "maternal_death":
        _close(pregnancy, data.outcome_on, "died")
    refresh_due_items(db, pregnancy)
    audit(db, ctx.actor.user_id, "outcome", "outcome", str(outcome.id), device=ctx.device_id)
    return Written(outcome.id, pregnancy.id)


def record_postnatal_visit(db: Session, ctx: WriteContext, data: PostnatalInput) -> Written:
    """产后访视: the mother, one baby, or both, for the milestone the cadre chose."""
    if (row := _existing(db, PostnatalVisit, data.id, ctx.actor)) is not None:
        return Written(row.id, row.pregnancy_id, duplicate=True)  # type: ignore[attr-defined]
    pregnancy = pregnancy_in_scope(db, ctx.actor, data.pregnancy_id)
    _writable(pregnancy)
    records = CaseRecords(db, pregnancy)
    if records.outcome is None:
        raise _fail("visited_on", NO_OUTCOME_YET)
    if data.infant_id is not None and data.infant_id not in {i.id for i in records.infants}:
        raise _fail("infant_id", UNKNOWN_INFANT)
    _raise_if(
        rules.check_postnatal_visit(
            visited_on=data.visited_on,
            outcome_on=records.outcome.outcome_on,
            today=ctx.today,
            mother_temperature_c=data.mother_temperature_c,
            mother_bp_systolic=data.mother_bp_systolic,
            mother_bp_diastolic=data.mother_bp_diastolic,
            infant_weight_g=data.infant_weight_g,
            infant_temperature_c=data.infant_temperature_c,
        )
    )
    visit = PostnatalVisit.model_validate({**as_fields(data), "author_id": ctx.actor.user_id})
    return _done(db, ctx, pregnancy, visit, "postnatal_visit")


def as_fields(data: PostnatalInput) -> dict[str, object]:
    return {k: getattr(data, k) for k in PostnatalVisit.model_fields if hasattr(data, k)}


def close_case(db: Session, ctx: WriteContext, data: ClosureInput) -> Written:
    """Transfer to another village, moved out (迁出), lost to follow-up (失访) or death (mother or baby)."""
    if (row := _existing(db, Closure, data.id, ctx.actor)) is not None:
        return Written(row.id, row.pregnancy_id, duplicate=True)  # type: ignore[attr-defined]
    pregnancy = pregnancy_in_scope(db, ctx.actor, data.pregnancy_id)
    _writable(pregnancy)
    records = CaseRecords(db, pregnancy)
    errors = rules.check_not_future("closed_on", data.closed_on, ctx.today)
    if data.closed_on < pregnancy.registered_on:
        errors.append(FieldError("closed_on", CLOSED_BEFORE_REGISTRATION))
    _raise_if(errors)
    if data.infant_id is not None and data.infant_id not in {i.id for i in records.infants}:
        raise _fail("infant_id", UNKNOWN_INFANT)
    closure = Closure(
        id=data.id,
        pregnancy_id=pregnancy.id,
        infant_id=data.infant_id,
        kind=data.kind,
        closed_on=data.closed_on,
        reason=data.reason,
        from_village_code=pregnancy.village_code,
        author_id=ctx.actor.user_id,
    )
    if data.kind == "transferred":
        if data.to_village_code == pregnancy.village_code:
            raise _fail("to_village_code", SAME_VILLAGE)
        area = db.get(Area, data.to_village_code)
        if area is None or data.to_village_code[9:] == "000":
            raise _fail("to_village_code", UNKNOWN_VILLAGE)
        closure.to_village_code = data.to_village_code
        db.add(
            CaseChange(pregnancy_id=pregnancy.id, village_code=pregnancy.village_code)
        )  # tell the old village
        pregnancy.village_code = data.to_village_code
        woman = db.get(Woman, pregnancy.woman_id)
        if woman is not None:
            woman.village_code = data.to_village_code
            db.add(woman)
        db.add(pregnancy)
    elif data.infant_id is None:
        _close(pregnancy, data.closed_on, data.kind)
    return _done(db, ctx, pregnancy, closure, f"closure_{data.kind}")


def _close(pregnancy: Pregnancy, on: date, reason: str) -> None:
    pregnancy.status, pregnancy.closed_on, pregnancy.close_reason = "closed", on, reason


CORRECTABLE_FIELDS: dict[str, tuple[type[FieldRecord], tuple[str, ...]]] = {
    "prenatal_visit": (
        PrenatalVisit,
        (
            "visited_on",
            "kind",
            "check_no",
            "facility",
            "bp_systolic",
            "bp_diastolic",
            "weight_kg",
            "fundal_height_cm",
            "fetal_heart_bpm",
            "danger_signs",
            "advice",
            "next_on",
        ),
    ),
    "postnatal_visit": (
        PostnatalVisit,
        (
            "visited_on",
            "milestone",
            "mother_temperature_c",
            "mother_bp_systolic",
            "mother_bp_diastolic",
            "infant_weight_g",
            "infant_temperature_c",
            "jaundice",
            "feeding",
            "notes",
        ),
    ),
    "outcome": (Outcome, ("outcome_on", "place", "mode", "discharge_on")),
    "risk_grade": (RiskGrade, ("assessed_on", "colour", "purple", "factors")),
    "closure": (Closure, ("closed_on", "reason")),
}


def correct_record(db: Session, ctx: WriteContext, data: CorrectionInput) -> Written:
    """Amend or void a visit, outcome, grade or closure with a reason. The original row is never changed:
    the correction is a new record and the history stays readable."""
    if (row := db.get(Correction, data.id)) is not None:
        if not ctx.actor.scope.covers(row.village_code):
            raise NotFound(str(data.id))
        return Written(row.id, row.target_id, duplicate=True)
    if data.target_type not in CORRECTABLE_FIELDS:
        raise _fail("target_type", NOT_CORRECTABLE)
    if data.kind not in ("amend", "void"):
        raise _fail("kind", BAD_CHOICE)
    model, allowed = CORRECTABLE_FIELDS[data.target_type]
    target = db.get(model, data.target_id)
    if target is None:
        raise NotFound(str(data.target_id))
    pregnancy = pregnancy_in_scope(db, ctx.actor, target.pregnancy_id)  # type: ignore[attr-defined]
    if db.exec(
        select(Correction.id).where(Correction.target_id == target.id, Correction.kind == "void")
    ).first():
        raise _fail("kind", ALREADY_VOID)
    if isinstance(target, Closure) and target.kind == "transferred":
        raise _fail("kind", TRANSFER_FIXED)
    changes: dict[str, object] = {}
    if data.kind == "amend":
        bad = [k for k in data.changes if k not in allowed]
        if bad:
            raise ValidationFailed([FieldError(f"new-{k}", NOT_CORRECTABLE) for k in bad])
        changes = _typed_changes(target, data.changes)
        if not changes:
            raise _fail("reason", NOTHING_TO_CHANGE)
        _check_amended(db, ctx, pregnancy, target, changes)
    previous = {k: as_json_dict(target).get(k) for k in changes}
    correction = Correction(
        id=data.id,
        target_type=data.target_type,
        target_id=target.id,
        kind=data.kind,
        changes=json.dumps(as_json_dict_plain(changes), ensure_ascii=False),
        previous=json.dumps(previous, ensure_ascii=False),
        reason=data.reason,
        village_code=pregnancy.village_code,
        author_id=ctx.actor.user_id,
    )
    # A voided outcome takes its babies with it (CaseRecords reads the infants of the live outcome only).
    written = _done(db, ctx, pregnancy, correction, f"{data.kind}_{data.target_type}")
    if data.target_type in ("closure", "outcome"):
        _sync_case_status(db, pregnancy)
    return written


def _sync_case_status(db: Session, pregnancy: Pregnancy) -> None:
    """After a closure or outcome was amended or voided, the case is closed exactly when a live record
    closes it: a voided 迁出/失访/死亡 reopens it, an amended date moves its closing date."""
    records = CaseRecords(db, pregnancy)
    closure = records.mother_closure
    if closure is not None:
        _close(pregnancy, closure.closed_on, closure.kind)
    elif records.outcome is not None and records.outcome.outcome_type == "maternal_death":
        _close(pregnancy, records.outcome.outcome_on, "died")
    elif pregnancy.status == "closed" and pregnancy.close_reason != "completed":
        other = db.exec(
            select(Pregnancy.id).where(
                Pregnancy.woman_id == pregnancy.woman_id,
                Pregnancy.status == "open",
                Pregnancy.id != pregnancy.id,
            )
        )
        if other.first() is not None:
            raise _fail("kind", ALREADY_OPEN)
        pregnancy.status, pregnancy.closed_on, pregnancy.close_reason = "open", None, None
    db.add(pregnancy)
    db.flush()


# Fields an amendment may only set to what the forms offer (free text is limited by its column's length).
CHOICES: dict[str, tuple[str, ...]] = {
    "kind": VISIT_KINDS,
    "milestone": MILESTONES,
    "colour": COLOURS,
    "edd_source": EDD_SOURCES,
    "feeding": ("breast", "mixed", "formula"),
    "check_no": ("1", "2", "3", "4", "5"),
}
TOO_LONG = Text("内容过长，最多 {n} 个字", "Too long: at most {n} characters")


def _max_length(model: type[FieldRecord], name: str) -> int | None:
    return next((m.max_length for m in model.model_fields[name].metadata if isinstance(m, MaxLen)), None)


def _typed_changes(
    target: FieldRecord, raw: dict[str, str], *, keep_unchanged: bool = False
) -> dict[str, object]:
    """Parse the new values with the same parsers as the forms, keeping only real changes (every value with
    `keep_unchanged`: a registration edit records what it sets, whatever the field held when it arrived)."""
    from backend.cases.forms import Reader

    reader = Reader(raw)
    model = type(target)
    out: dict[str, object] = {}
    for name, text in raw.items():
        current = getattr(target, name)
        annotation = str(model.model_fields[name].annotation)
        value: object
        if name in CHOICES and text.strip() not in CHOICES[name]:
            reader.errors.append(FieldError(name, BAD_CHOICE))
            continue
        if "date" in annotation:
            value = reader.date(name, required=True)
        elif "int" in annotation:
            value = reader.int(name)
        elif "float" in annotation:
            value = reader.float(name)
        elif "bool" in annotation:
            value = reader.flag(name)
        else:
            value = clean_text(text)
            if name == "phone":  # typed as on the registration form: spaces, dashes, +86 allowed
                value = normalise_phone(value)
            limit = _max_length(model, name)
            if limit is not None and len(value) > limit:
                reader.errors.append(FieldError(name, TOO_LONG.format(n=limit)))
                continue
        if keep_unchanged or value != current:
            out[name] = value
    if reader.errors:
        raise ValidationFailed([FieldError(f"new-{e.field}", e.text) for e in reader.errors])
    return out


def _check_amended(
    db: Session, ctx: WriteContext, pregnancy: Pregnancy, target: FieldRecord, changes: dict[str, object]
) -> None:
    """The amended record must pass the same rules as a new one."""
    merged = target.model_copy(update=changes)
    records = CaseRecords(db, pregnancy)
    errors: list[FieldError] = []
    if isinstance(merged, PrenatalVisit):
        if merged.kind == "township" and ctx.actor.role == "village" and "kind" in changes:
            raise _fail("new-kind", TOWNSHIP_ONLY)
        if merged.kind == "check" and merged.check_no is None:
            raise _fail("new-check_no", CHECK_REQUIRED)
        errors = rules.check_prenatal_visit(
            visited_on=merged.visited_on,
            registered_on=pregnancy.registered_on,
            outcome_on=records.outcome.outcome_on if records.outcome else None,
            lmp_or_none=_lmp(pregnancy),
            today=ctx.today,
            bp_systolic=merged.bp_systolic,
            bp_diastolic=merged.bp_diastolic,
            weight_kg=merged.weight_kg,
            fundal_height_cm=merged.fundal_height_cm,
            fetal_heart_bpm=merged.fetal_heart_bpm,
        )
    elif isinstance(merged, PostnatalVisit) and records.outcome is not None:
        errors = rules.check_postnatal_visit(
            visited_on=merged.visited_on,
            outcome_on=records.outcome.outcome_on,
            today=ctx.today,
            mother_temperature_c=merged.mother_temperature_c,
            mother_bp_systolic=merged.mother_bp_systolic,
            mother_bp_diastolic=merged.mother_bp_diastolic,
            infant_weight_g=merged.infant_weight_g,
            infant_temperature_c=merged.infant_temperature_c,
        )
    elif isinstance(merged, (RiskGrade, Closure)):
        on = merged.assessed_on if isinstance(merged, RiskGrade) else merged.closed_on
        errors = rules.check_not_future(
            "assessed_on" if isinstance(merged, RiskGrade) else "closed_on", on, ctx.today
        )
    if errors:
        raise ValidationFailed([FieldError(f"new-{e.field}", e.text) for e in errors])


def as_json_dict_plain(values: dict[str, object]) -> dict[str, object]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()}


def edit_registration(
    db: Session,
    ctx: WriteContext,
    target_type: str,
    target_id: uuid.UUID,
    changes: dict[str, str],
    edit_id: uuid.UUID,
    reason: str = "",
) -> Written:
    """Edit a registration field of a woman or pregnancy (name, phone, address, EDD, …). Two devices editing
    the same field: the edit made later on its device wins; the earlier stays in history marked superseded,
    listed for the township supervisor."""
    if (row := db.get(Correction, edit_id)) is not None:
        if not ctx.actor.scope.covers(row.village_code):
            raise NotFound(str(edit_id))
        return Written(row.id, row.target_id, duplicate=True)
    editable = {
        "woman": ("name", "phone", "address"),
        "pregnancy": ("edd", "edd_source", "gravidity", "parity"),
    }
    if target_type not in editable:
        raise _fail("target_type", NOT_CORRECTABLE)
    target: Woman | Pregnancy | None = (
        db.get(Woman, target_id) if target_type == "woman" else db.get(Pregnancy, target_id)
    )
    if target is None or not ctx.actor.scope.covers(target.village_code):
        raise NotFound(str(target_id))
    bad = [k for k in changes if k not in editable[target_type]]
    if bad:
        raise ValidationFailed([FieldError(f"new-{k}", NOT_CORRECTABLE) for k in bad])
    typed = _typed_changes(target, changes, keep_unchanged=True) if changes else {}
    if typed.get("phone"):
        try:
            typed["phone"] = normalise_phone(str(typed["phone"]))
        except ValueError:
            raise _fail("new-phone", rules.PHONE_NOT_MOBILE) from None
    if isinstance(target, Pregnancy) and typed:
        merged = target.model_copy(update=typed)
        errors = rules.check_pregnancy(
            lmp=merged.lmp,
            edd=merged.edd,
            registered_on=merged.registered_on,
            gravidity=merged.gravidity,
            parity=merged.parity,
            today=ctx.today,
        )
        _raise_if([FieldError(f"new-{e.field}", e.text) for e in errors])
    recorded_at = ctx.recorded_at or utcnow()
    # Every earlier edit counts, superseded or not: one superseded for another field may still hold the
    # latest value of this one. Ties on device time go to the larger edit id: arrival order never decides.
    edits = db.exec(
        select(Correction).where(col(Correction.target_id) == target_id, Correction.kind == "edit")
    ).all()
    ours = (recorded_at, str(edit_id))
    applied: dict[str, object] = {}
    for name, value in typed.items():
        rivals = [c for c in edits if name in json.loads(c.changes)]
        if any((c.recorded_at, str(c.id)) > ours for c in rivals):
            continue  # a later edit from another device already won; ours is history only
        for c in rivals:
            if not c.superseded:
                c.superseded = True
                db.add(c)
        applied[name] = value
    correction = Correction(
        id=edit_id,
        target_type=target_type,
        target_id=target_id,
        kind="edit",
        changes=json.dumps(as_json_dict_plain(typed), ensure_ascii=False),
        previous=json.dumps({k: as_json_dict(target).get(k) for k in typed}, ensure_ascii=False),
        reason=reason,
        superseded=len(applied) < len(typed),
        village_code=target.village_code,
        author_id=ctx.actor.user_id,
    )
    for name, value in applied.items():
        setattr(target, name, value)
    db.add(target)
    pregnancy = target if isinstance(target, Pregnancy) else None
    ctx.stamp(correction)
    db.add(correction)
    db.flush()
    if pregnancy is not None:
        refresh_due_items(db, pregnancy)
    else:  # the woman's details are part of each of her cases that phones hold
        for p in db.exec(select(Pregnancy).where(Pregnancy.woman_id == target_id)):
            db.add(CaseChange(pregnancy_id=p.id, village_code=p.village_code))
    audit(db, ctx.actor.user_id, f"edit_{target_type}", target_type, str(target_id), device=ctx.device_id)
    return Written(correction.id, pregnancy.id if pregnancy else target_id)
