"""产前随访 and 五色分级: prenatal visits and risk grades of an open pregnancy."""

from sqlmodel import Session

from backend.cases import rules
from backend.cases.forms import PrenatalVisitInput, RiskInput
from backend.cases.locks import lock_for_writing
from backend.cases.models import PrenatalVisit, RiskGrade
from backend.cases.schedule_store import CaseRecords
from backend.cases.services.common import (
    TOWNSHIP_ONLY,
    WriteContext,
    Written,
    _done,
    _existing,
    _fail,
    _lmp,
    _raise_if,
    _writable,
    pregnancy_in_scope,
)


def record_prenatal_visit(db: Session, ctx: WriteContext, data: PrenatalVisitInput) -> Written:
    """产前随访: a home, township, phone or urged visit, or a standard check attended."""
    lock_for_writing(db, [data.pregnancy_id])
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


def set_risk_grade(db: Session, ctx: WriteContext, data: RiskInput) -> Written:
    """五色分级: a new grading; the latest one counts."""
    lock_for_writing(db, [data.pregnancy_id])
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
