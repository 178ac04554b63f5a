"""make_* factories for follow-up records, written through the real forms and services (as a phone would),
each taking keyword overrides of the raw form fields. Dates are relative to the `today` given."""

import uuid
from collections import Counter
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, select

from backend.cases import forms, services
from backend.cases.models import DueItem, Infant, Pregnancy
from backend.cases.schedule_store import ITEM_VALUES, CaseRecords, _item_rows
from backend.cases.services import WriteContext, Written
from backend.lib.idcard import synthetic_id

DAY = timedelta(days=1)


def woman_id_number(born: date = date(1995, 3, 14), seq: int = 2) -> str:
    """A valid (made-up) ID number of a woman born on `born`."""
    return synthetic_id("110105", born, seq)


def registration_form(village: str, today: date, **overrides: Any) -> dict[str, str]:
    """A woman registered today at 8+0 weeks, gravida 2 para 1."""
    form = {
        "id": str(uuid.uuid4()),
        "woman_id": str(uuid.uuid4()),
        "name": "刘小红",
        "id_number": "",
        "birth_date": "1995-03-14",
        "phone": "13912345678",
        "village_code": village,
        "address": "3组12号",
        "lmp": (today - 56 * DAY).isoformat(),
        "edd": "",
        "edd_source": "lmp",
        "gravidity": "2",
        "parity": "1",
        "registered_on": today.isoformat(),
        "colour": "green",
    }
    if overrides.get("id_number") and "birth_date" not in overrides:
        form["birth_date"] = ""  # read from the ID number
    form.update({k: str(v) for k, v in overrides.items()})
    return form


def make_registration(db: Session, ctx: WriteContext, village: str, **overrides: Any) -> Pregnancy:
    written = services.register_pregnancy(
        db, ctx, forms.read_registration(registration_form(village, ctx.today, **overrides))
    )
    pregnancy = db.get(Pregnancy, written.pregnancy_id)
    assert pregnancy is not None
    return pregnancy


def make_visit(db: Session, ctx: WriteContext, pregnancy: Pregnancy, **overrides: Any) -> Written:
    raw = {
        "id": str(uuid.uuid4()),
        "pregnancy_id": str(pregnancy.id),
        "visited_on": ctx.today.isoformat(),
        "kind": "home",
        "bp_systolic": "118",
        "bp_diastolic": "76",
        "weight_kg": "58.5",
    }
    raw.update({k: str(v) for k, v in overrides.items()})
    return services.record_prenatal_visit(db, ctx, forms.read_prenatal_visit(raw))


def make_risk(db: Session, ctx: WriteContext, pregnancy: Pregnancy, colour: str, **overrides: Any) -> Written:
    raw = {
        "id": str(uuid.uuid4()),
        "pregnancy_id": str(pregnancy.id),
        "assessed_on": ctx.today.isoformat(),
        "colour": colour,
        "factors": "妊娠期高血压",
    }
    raw.update({k: str(v) for k, v in overrides.items()})
    return services.set_risk_grade(db, ctx, forms.read_risk(raw))


def outcome_form(
    pregnancy: Pregnancy, born: date, babies: list[tuple[str, str]], **overrides: Any
) -> dict[str, str]:
    """`babies`: (sex, weight in g) per baby."""
    raw = {
        "id": str(uuid.uuid4()),
        "pregnancy_id": str(pregnancy.id),
        "outcome_on": born.isoformat(),
        "outcome_type": "live_birth",
        "place": "hospital",
        "mode": "vaginal",
        "discharge_on": "",
        "n_babies": str(len(babies)),
    }
    for i, (sex, weight) in enumerate(babies):
        raw |= {f"babies-{i}-id": str(uuid.uuid4()), f"babies-{i}-sex": sex, f"babies-{i}-weight_g": weight}
    raw.update({k: str(v) for k, v in overrides.items()})
    return raw


def make_outcome(
    db: Session,
    ctx: WriteContext,
    pregnancy: Pregnancy,
    born: date,
    babies: list[tuple[str, str]] | None = None,
    **overrides: Any,
) -> Written:
    raw = outcome_form(pregnancy, born, babies if babies is not None else [("2", "3200")], **overrides)
    return services.record_outcome(db, ctx, forms.read_outcome(raw))


def make_postnatal(
    db: Session,
    ctx: WriteContext,
    pregnancy: Pregnancy,
    milestone: str,
    infant: Infant | None = None,
    **overrides: Any,
) -> Written:
    raw = {
        "id": str(uuid.uuid4()),
        "pregnancy_id": str(pregnancy.id),
        "visited_on": ctx.today.isoformat(),
        "milestone": milestone,
        "infant_id": str(infant.id) if infant else "",
        "covers_mother": "" if infant else "1",
    }
    raw.update({k: str(v) for k, v in overrides.items()})
    return services.record_postnatal_visit(db, ctx, forms.read_postnatal(raw))


def make_closure(
    db: Session, ctx: WriteContext, pregnancy: Pregnancy, kind: str, **overrides: Any
) -> Written:
    raw = {
        "id": str(uuid.uuid4()),
        "pregnancy_id": str(pregnancy.id),
        "kind": kind,
        "closed_on": ctx.today.isoformat(),
        "reason": "外出务工",
        "to_village_code": "",
    }
    raw.update({k: str(v) for k, v in overrides.items()})
    return services.close_case(db, ctx, forms.read_closure(raw))


def make_delivered_case(db: Session, ctx: WriteContext, village: str) -> tuple[Pregnancy, Written]:
    """A case with everything on its page: registered 240 days ago with a red grade, a visit with danger signs
    200 days ago, twins born nine days ago. Returns the pregnancy and the visit."""
    pregnancy = make_registration(
        db,
        ctx,
        village,
        registered_on=ctx.today - 240 * DAY,
        lmp=ctx.today - 296 * DAY,
        name="欧阳秀英",
        id_number=woman_id_number(),
        colour="red",
    )
    visit = make_visit(
        db, ctx, pregnancy, visited_on=(ctx.today - 200 * DAY).isoformat(), danger_signs="头痛、视物模糊"
    )
    make_outcome(db, ctx, pregnancy, ctx.today - 9 * DAY, [("1", "2600"), ("2", "2400")])
    return pregnancy, visit


def infants_of(db: Session, pregnancy: Pregnancy) -> list[Infant]:
    return list(db.exec(select(Infant).where(Infant.pregnancy_id == pregnancy.id).order_by(Infant.seq)).all())


def items_of(db: Session, pregnancy: Pregnancy, *, infant: Infant | None = None) -> list[DueItem]:
    stmt = select(DueItem).where(DueItem.pregnancy_id == pregnancy.id)
    stmt = stmt.where(DueItem.infant_id == infant.id) if infant else stmt
    return list(db.exec(stmt.order_by(DueItem.window_start, DueItem.kind)).all())


def stored_and_planned(
    db: Session, pregnancy: Pregnancy
) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    """The pregnancy's due items as stored, and as its records plan them now (each row as its ITEM_VALUES):
    equal when the stored items are current."""
    rows = db.exec(select(DueItem).where(DueItem.pregnancy_id == pregnancy.id)).all()
    stored = Counter(tuple(getattr(r, k) for k in ITEM_VALUES) for r in rows)
    planned = Counter(
        tuple(i[k] for k in ITEM_VALUES) for i in _item_rows(pregnancy, CaseRecords(db, pregnancy))
    )
    return stored, planned
