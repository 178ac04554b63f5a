"""更正/作废 of a stored record and edits of a registration: new Correction rows, never a changed original;
new values parsed like the forms and checked by the same rules as a new record."""

import json
import uuid
from datetime import date

from annotated_types import MaxLen
from sqlmodel import Session, select

from backend.accounts.services import audit
from backend.cases import rules
from backend.cases.forms import (
    BAD_CHOICE,
    CHECK_REQUIRED,
    COLOURS,
    EDD_SOURCES,
    FEEDINGS,
    MILESTONES,
    VISIT_KINDS,
    CorrectionInput,
    Reader,
    clean_text,
)
from backend.cases.locks import lock_for_writing
from backend.cases.models import (
    CaseChange,
    Closure,
    Correction,
    FieldRecord,
    Outcome,
    PostnatalVisit,
    Pregnancy,
    PrenatalVisit,
    RiskGrade,
    Woman,
)
from backend.cases.prefetch import rows_by, stored
from backend.cases.schedule_store import CaseRecords, as_json_dict, refresh_due_items
from backend.cases.services.common import (
    ALREADY_OPEN,
    ALREADY_VOID,
    NOT_CORRECTABLE,
    NOTHING_TO_CHANGE,
    TOWNSHIP_ONLY,
    TRANSFER_FIXED,
    NotFound,
    WriteContext,
    Written,
    _close,
    _done,
    _fail,
    _lmp,
    _raise_if,
    pregnancy_in_scope,
)
from backend.cases.services.outcomes import check_outcome_of
from backend.lib.clock import utcnow
from backend.lib.i18n import FieldError, Text, ValidationFailed
from backend.lib.parsing import is_valid_mobile, normalise_phone

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
    _lock_case_of(db, data.target_type, data.target_id)
    if (row := stored(db, Correction, data.id)) is not None:
        if not ctx.actor.scope.covers(row.village_code):
            raise NotFound(str(data.id))
        return Written(row.id, row.target_id, duplicate=True)
    if data.target_type not in CORRECTABLE_FIELDS:
        raise _fail("target_type", NOT_CORRECTABLE)
    if data.kind not in ("amend", "void"):
        raise _fail("kind", BAD_CHOICE)
    model, allowed = CORRECTABLE_FIELDS[data.target_type]
    target = stored(db, model, data.target_id)
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
            raise _fail("changes", NOTHING_TO_CHANGE)
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


def _lock_case_of(db: Session, target_type: str, target_id: uuid.UUID) -> None:
    """Take the lock of the pregnancy a corrected record belongs to (it never changes: records are
    append-only) before anything of the case is read."""
    model = CORRECTABLE_FIELDS[target_type][0] if target_type in CORRECTABLE_FIELDS else None
    target = stored(db, model, target_id) if model is not None else None
    if target is not None:
        lock_for_writing(db, [target.pregnancy_id])  # type: ignore[attr-defined]


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
    "feeding": FEEDINGS,
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
    elif isinstance(merged, Outcome):
        errors = check_outcome_of(
            records,
            outcome_on=merged.outcome_on,
            outcome_type=merged.outcome_type,
            discharge_on=merged.discharge_on,
            babies=[
                {"sex": i.sex, "weight_g": i.birth_weight_g, "alive": i.alive_at_birth}
                for i in records.infants
            ],
            today=ctx.today,
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


def _dated_by_the_lmp(db: Session, edited: Pregnancy, today: date) -> list[Text]:
    """What the rules say of the outcome and the prenatal visits already recorded, once a pregnancy whose LMP
    is unknown has a new EDD (its LMP is then EDD − 280 days): an outcome 0–315 days after it, visits at
    0–45 weeks. Each message once, in the rules' words."""
    records = CaseRecords(db, edited)
    said: list[Text] = []
    outcome = records.outcome
    if outcome is not None:
        found = check_outcome_of(
            records,
            outcome_on=outcome.outcome_on,
            outcome_type=outcome.outcome_type,
            discharge_on=outcome.discharge_on,
            babies=[],
            today=today,
        )
        said += [e.text for e in found if e.field == "outcome_on"]
    for visit in records.visits:
        found = rules.check_prenatal_visit_date(
            visited_on=visit.visited_on,
            registered_on=edited.registered_on,
            outcome_on=outcome.outcome_on if outcome is not None else None,
            lmp_or_none=_lmp(edited),
            today=today,
        )
        said += [e.text for e in found]
    return list(dict.fromkeys(said))


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
    lock_for_writing(db, [target_id])
    if (row := stored(db, Correction, edit_id)) is not None:
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
        stored(db, Woman, target_id) if target_type == "woman" else stored(db, Pregnancy, target_id)
    )
    if target is None or not ctx.actor.scope.covers(target.village_code):
        raise NotFound(str(target_id))
    bad = [k for k in changes if k not in editable[target_type]]
    if bad:
        raise ValidationFailed([FieldError(f"new-{k}", NOT_CORRECTABLE) for k in bad])
    typed = _typed_changes(target, changes, keep_unchanged=True) if changes else {}
    if typed.get("phone") and not is_valid_mobile(str(typed["phone"])):
        raise _fail("new-phone", rules.PHONE_NOT_MOBILE)
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
        # the LMP is reckoned from the EDD: so are the dates the rules check by it
        if merged.lmp is None and "edd" in typed:
            _raise_if([FieldError("new-edd", text) for text in _dated_by_the_lmp(db, merged, ctx.today)])
    recorded_at = ctx.recorded_at or utcnow()
    # Every earlier edit counts, superseded or not: one superseded for another field may still hold the
    # latest value of this one. Ties on device time go to the larger edit id: arrival order never decides.
    edits = [c for c in rows_by(db, Correction, "target_id", target_id) if c.kind == "edit"]
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
        for p in rows_by(db, Pregnancy, "woman_id", target_id):
            db.add(CaseChange(pregnancy_id=p.id, village_code=p.village_code))
    audit(db, ctx.actor.user_id, f"edit_{target_type}", target_type, str(target_id), device=ctx.device_id)
    return Written(correction.id, pregnancy.id if pregnancy else target_id)
