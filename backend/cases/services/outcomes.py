"""妊娠结局 with its babies, 产后访视, and 结案 (transfer, moved out, lost to follow-up, death)."""

from collections.abc import Mapping, Sequence
from datetime import date

from sqlmodel import Session

from backend.accounts.services import audit
from backend.areas.models import Area
from backend.cases import rules
from backend.cases.forms import ClosureInput, OutcomeInput, PostnatalInput
from backend.cases.locks import lock_for_writing
from backend.cases.models import CaseChange, Closure, Infant, Outcome, PostnatalVisit, Woman
from backend.cases.responsibility import cadre_on_arrival
from backend.cases.rules import is_high_risk_newborn as is_high_risk_newborn  # moved to rules; re-exported
from backend.cases.schedule_store import CaseRecords, refresh_due_items
from backend.cases.services.common import (
    CLOSED_BEFORE_REGISTRATION,
    NO_OUTCOME_YET,
    OUTCOME_EXISTS,
    SAME_VILLAGE,
    UNKNOWN_INFANT,
    UNKNOWN_VILLAGE,
    WriteContext,
    Written,
    _close,
    _done,
    _existing,
    _fail,
    _lmp,
    _raise_if,
    _writable,
    pregnancy_in_scope,
)
from backend.lib.i18n import FieldError


def check_outcome_of(
    records: CaseRecords,
    *,
    outcome_on: date,
    outcome_type: str,
    discharge_on: date | None,
    babies: Sequence[Mapping[str, object]],
    today: date,
) -> list[FieldError]:
    """The rules of an outcome of this pregnancy, new or amended: 0–315 days after the LMP (EDD − 280 days
    when the LMP is unknown), discharge, babies, and not before a prenatal visit already recorded."""
    pregnancy = records.pregnancy
    return rules.check_outcome(
        outcome_on=outcome_on,
        lmp_or_none=_lmp(pregnancy),
        lmp_from_edd=pregnancy.lmp is None,
        registered_on=pregnancy.registered_on,
        outcome_type=outcome_type,
        discharge_on=discharge_on,
        babies=babies,
        today=today,
        last_prenatal_visit_on=records.visits[-1].visited_on if records.visits else None,
    )


def record_outcome(db: Session, ctx: WriteContext, data: OutcomeInput) -> Written:
    """妊娠结局 with its babies: one form for one or more babies; ends prenatal follow-up."""
    lock_for_writing(db, [data.pregnancy_id])
    if (row := _existing(db, Outcome, data.id, ctx.actor)) is not None:
        return Written(row.id, row.pregnancy_id, duplicate=True)  # type: ignore[attr-defined]
    pregnancy = pregnancy_in_scope(db, ctx.actor, data.pregnancy_id)
    _writable(pregnancy)
    records = CaseRecords(db, pregnancy)
    if records.outcome is not None:
        raise _fail("outcome_type", OUTCOME_EXISTS)
    babies = [{"sex": b.sex, "weight_g": b.weight_g, "alive": b.alive} for b in data.babies]
    _raise_if(
        check_outcome_of(
            records,
            outcome_on=data.outcome_on,
            outcome_type=data.outcome_type,
            discharge_on=data.discharge_on,
            babies=babies,
            today=ctx.today,
        )
    )
    # GA and the high-risk flag as they are at recording: an amended outcome date or an edited EDD changes
    # both, so every decision derives them again from the records (rules.newborn_high_risk, CaseRecords).
    ga_days = rules.ga_at_birth(data.outcome_on, pregnancy.lmp, pregnancy.edd)
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
            high_risk=rules.is_high_risk_newborn(ga_days, baby.weight_g, baby.asphyxia, baby.defect),
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
    lock_for_writing(db, [data.pregnancy_id])
    if (row := _existing(db, PostnatalVisit, data.id, ctx.actor)) is not None:
        return Written(row.id, row.pregnancy_id, duplicate=True)  # type: ignore[attr-defined]
    pregnancy = pregnancy_in_scope(db, ctx.actor, data.pregnancy_id)
    _writable(pregnancy, baby_only=data.infant_id is not None and not data.covers_mother)
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
    lock_for_writing(db, [data.pregnancy_id])
    if (row := _existing(db, Closure, data.id, ctx.actor)) is not None:
        return Written(row.id, row.pregnancy_id, duplicate=True)  # type: ignore[attr-defined]
    pregnancy = pregnancy_in_scope(db, ctx.actor, data.pregnancy_id)
    _writable(pregnancy, baby_only=data.infant_id is not None and data.kind == "died")
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
        pregnancy.cadre_id = cadre_on_arrival(db, ctx.actor, data.to_village_code)
        woman = db.get(Woman, pregnancy.woman_id)
        if woman is not None:
            woman.village_code = data.to_village_code
            db.add(woman)
        db.add(pregnancy)
    elif data.infant_id is None:
        _close(pregnancy, data.closed_on, data.kind)
    return _done(db, ctx, pregnancy, closure, f"closure_{data.kind}")
