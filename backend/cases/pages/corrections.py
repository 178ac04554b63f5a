"""Corrections (更正, 作废) of visits, outcomes, grades and closures, and edits of a registration: the
original always stays readable in the history."""

import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from sqlmodel import Session

from backend.accounts.services import Actor
from backend.cases import forms, labels, queries, services
from backend.cases.models import Closure, Outcome, PostnatalVisit, PrenatalVisit, RiskGrade
from backend.cases.pages.shared import (
    CHOICE_FIELDS,
    DATE_FIELDS,
    FIELD_ROLES,
    NUMBER_FIELDS,
    as_typed,
    page,
    refused_form,
    write_context,
)
from backend.cases.schedule_store import CaseRecords
from backend.cases.services import NotFound
from backend.lib.i18n import FieldError, Text, ValidationFailed
from backend.web import redirect, require_role

CORRECTION_TARGETS: dict[str, type] = {
    "prenatal_visit": PrenatalVisit,
    "postnatal_visit": PostnatalVisit,
    "outcome": Outcome,
    "risk_grade": RiskGrade,
    "closure": Closure,
}


@dataclass(frozen=True)
class FieldSpec:
    """How the correction form shows one field: its widget, the choices of a select, the category that
    names its current value."""

    name: str
    widget: str
    options: list[tuple[str, str]]
    category: str = ""


def _field_specs(fields: tuple[str, ...], actor: Actor) -> list[FieldSpec]:
    locale = actor.locale
    specs = []
    for name in fields:
        if name in DATE_FIELDS:
            specs.append(FieldSpec(name, "date", []))
        elif name in NUMBER_FIELDS:
            specs.append(FieldSpec(name, "number", []))
        elif name == "check_no":
            specs.append(
                FieldSpec(
                    name, "select", [(str(n), labels.label("kind", f"check{n}", locale)) for n in range(1, 6)]
                )
            )
        elif name == "purple":
            specs.append(
                FieldSpec(
                    name,
                    "select",
                    [("1", Text("是", "Yes").in_(locale)), ("0", Text("否", "No").in_(locale))],
                )
            )
        elif name in CHOICE_FIELDS:
            category = CHOICE_FIELDS[name]
            keys = [k for k in labels.CATALOGUE[category] if k != "purple"]
            if name == "kind" and actor.role != "township":
                keys.remove("township")
            specs.append(
                FieldSpec(name, "select", [(k, labels.label(category, k, locale)) for k in keys], category)
            )
        else:
            specs.append(FieldSpec(name, "text", []))
    return specs


def _correction_context(db: Session, actor: Actor, target_type: str, target_id: uuid.UUID) -> dict[str, Any]:
    model = CORRECTION_TARGETS.get(target_type)
    target = db.get(model, target_id) if model else None
    if target is None:
        raise NotFound(str(target_id))
    pregnancy = services.pregnancy_in_scope(db, actor, target.pregnancy_id)
    woman_view = queries.case_view(db, actor.scope, pregnancy.woman_id)
    assert woman_view is not None
    records = CaseRecords(db, pregnancy)
    current = next(
        (
            r
            for r in [
                *records.visits,
                *records.postnatal,
                *records.risks,
                *records.closures,
                *([records.outcome] if records.outcome else []),
            ]
            if r.id == target_id
        ),
        target,
    )
    _, fields = services.CORRECTABLE_FIELDS[target_type]
    return {
        "target": current,
        "target_type": target_type,
        "fields": _field_specs(fields, actor),
        "woman": woman_view.woman,
        "history": [c for c in records.corrections if c.target_id == target_id],
    }


@get("/correct/{target_type:str}/{target_id:uuid}", sync_to_thread=False)
def correction_form(
    request: Request[Any, Any, State], db: Session, actor: Actor, target_type: str, target_id: uuid.UUID
) -> Response[Any]:
    """更正或作废: amend fields of a record, or void it, with a reason; the original stays in history."""
    require_role(actor, *FIELD_ROLES)
    ctx = _correction_context(db, actor, target_type, target_id)
    kind = request.query_params.get("kind", "amend")
    ctx["form"] = {"id": str(uuid.uuid4()), "kind": kind if kind in ("amend", "void") else "amend"}
    return page(request, db, actor, "form_correct.html", ctx)


@post("/correct/{target_type:str}/{target_id:uuid}")
async def correction_submit(
    request: Request[Any, Any, State], db: Session, actor: Actor, target_type: str, target_id: uuid.UUID
) -> Response[Any]:
    """Save an amendment or a void; refused, the form comes back as typed."""
    require_role(actor, *FIELD_ROLES)
    raw = dict((await request.form()).items())
    raw |= {"target_type": target_type, "target_id": str(target_id)}
    ctx = _correction_context(db, actor, target_type, target_id)
    try:
        services.correct_record(db, write_context(request, actor), forms.read_correction(raw))
    except ValidationFailed as exc:
        return refused_form(request, db, actor, "form_correct.html", {**ctx, "form": as_typed(raw)}, exc)
    return redirect(f"/women/{ctx['woman'].id}?saved=correction")


EDITABLE = {"woman": ("name", "phone", "address"), "pregnancy": ("edd", "edd_source", "gravidity", "parity")}
NOTHING_CHANGED = Text("请至少修改一项", "Change at least one field")
BAD_EDIT_ID = Text("编号无效，请重新打开此页", "Invalid identifier: open this page again")


def _edit_context(db: Session, actor: Actor, target_type: str, target_id: uuid.UUID) -> dict[str, Any]:
    if target_type == "woman":
        target: Any = queries.woman_in_scope(db, actor.scope, target_id)
        woman = target
    elif target_type == "pregnancy":
        target = services.pregnancy_in_scope(db, actor, target_id)
        woman = queries.woman_in_scope(db, actor.scope, target.woman_id)
    else:
        target = woman = None
    if target is None or woman is None:
        raise NotFound(str(target_id))
    specs = [
        FieldSpec(
            name, "date" if name == "edd" else "number" if name in ("gravidity", "parity") else "text", []
        )
        for name in EDITABLE[target_type]
    ]
    if target_type == "pregnancy":
        sources = [(k, labels.label("edd_source", k, actor.locale)) for k in labels.EDD_SOURCES]
        specs[1] = FieldSpec("edd_source", "select", sources, "edd_source")
    return {"target": target, "target_type": target_type, "fields": specs, "woman": woman}


@get("/edit/{target_type:str}/{target_id:uuid}", sync_to_thread=False)
def edit_form(
    request: Request[Any, Any, State], db: Session, actor: Actor, target_type: str, target_id: uuid.UUID
) -> Response[Any]:
    """修改登记信息: her name, phone or address, or the EDD and gravidity/parity of the pregnancy."""
    require_role(actor, *FIELD_ROLES)
    ctx = _edit_context(db, actor, target_type, target_id)
    ctx["form"] = {"id": str(uuid.uuid4())}
    return page(request, db, actor, "form_edit.html", ctx)


@post("/edit/{target_type:str}/{target_id:uuid}")
async def edit_submit(
    request: Request[Any, Any, State], db: Session, actor: Actor, target_type: str, target_id: uuid.UUID
) -> Response[Any]:
    """Save a registration edit: of two edits of one field the one made later wins, the other stays in
    history (DESIGN.md §3)."""
    require_role(actor, *FIELD_ROLES)
    raw = dict((await request.form()).items())
    ctx = _edit_context(db, actor, target_type, target_id)
    changes = {
        k.removeprefix("new-"): forms.clean_text(str(v))
        for k, v in raw.items()
        if k.startswith("new-") and forms.clean_text(str(v))
    }
    try:
        try:
            edit_id = uuid.UUID(str(raw.get("id", "")))
        except ValueError:
            raise ValidationFailed([FieldError("id", BAD_EDIT_ID)]) from None
        if not changes:
            raise ValidationFailed([FieldError("reason", NOTHING_CHANGED)])
        reason = forms.clean_text(str(raw.get("reason", "")))[:300]
        services.edit_registration(
            db, write_context(request, actor), target_type, target_id, changes, edit_id, reason
        )
    except ValidationFailed as exc:
        return refused_form(request, db, actor, "form_edit.html", {**ctx, "form": as_typed(raw)}, exc)
    return redirect(f"/women/{ctx['woman'].id}?saved=edit")
