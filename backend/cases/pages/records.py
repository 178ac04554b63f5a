"""The record forms: registration (登记, with the duplicate check), and the visit, risk grade, outcome,
postnatal visit and closure of a pregnancy. Plain HTML forms: each write carries the client's UUID from a
hidden field, so a double submit never creates two records; a refused form comes back as typed."""

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from sqlmodel import Session

from backend.accounts.services import Actor
from backend.cases import forms, offline_checks, queries, services
from backend.cases.models import Pregnancy
from backend.cases.pages.shared import (
    FIELD_ROLES,
    _all_villages,
    as_typed,
    page,
    refused_form,
    villages_in_scope,
    write_context,
)
from backend.cases.schedule_store import CaseRecords
from backend.cases.services import NotFound, WriteContext, Written
from backend.lib.i18n import Text, ValidationFailed
from backend.lib.idcard import normalise_id
from backend.web import app_state, redirect, require_role

DUPLICATE_WARNING = Text(
    "发现可能重复的孕产妇，请核对后勾选“仍然登记”，或为她登记本次妊娠",
    "A woman with the same ID number or name and birth date exists: check, then tick “register anyway”, "
    "or register this pregnancy for her",
)


@get("/register", sync_to_thread=False)
def register_form(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """登记: a new pregnancy, of a new woman or (with ?woman=<id>) of a woman already registered."""
    require_role(actor, *FIELD_ROLES)
    villages = villages_in_scope(db, actor)
    today = app_state(request).today()
    form: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "woman_id": str(uuid.uuid4()),
        "registered_on": today.isoformat(),
        "village_code": villages[0].code if len(villages) == 1 else "",
    }
    known = _known_woman(db, actor, request.query_params.get("woman", ""))
    if known is not None:
        form |= {
            "woman_id": str(known.id),
            "existing_woman": "1",
            "name": known.name,
            "birth_date": known.birth_date.isoformat() if known.birth_date else "",
            "phone": known.phone or "",
            "village_code": known.village_code,
            "address": known.address or "",
        }
    return page(
        request, db, actor, "form_register.html", {"form": form, "villages": villages, "known": known}
    )


def _known_woman(db: Session, actor: Actor, woman_id: str) -> Any:
    try:
        wanted = uuid.UUID(woman_id)
    except ValueError:
        return None
    return queries.woman_in_scope(db, actor.scope, wanted)


@post("/register")
async def register(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """Save a registration; a possible duplicate in scope is shown first unless confirmed."""
    require_role(actor, *FIELD_ROLES)
    raw = dict((await request.form()).items())
    villages = villages_in_scope(db, actor)
    known = _known_woman(db, actor, str(raw.get("woman_id", ""))) if raw.get("existing_woman") else None
    context = {"villages": villages, "known": known, "form": as_typed(raw)}
    try:
        data = forms.read_registration(raw)
        if known is None and not raw.get("confirm_duplicate"):
            cipher = app_state(request).cipher
            index = cipher.blind_index(normalise_id(data.id_number)) if data.id_number else None
            dupes = queries.possible_duplicates(
                db, actor.scope, id_index=index, name=data.name, birth_date=data.birth_date
            )
            if dupes:
                return page(
                    request,
                    db,
                    actor,
                    "form_register.html",
                    {
                        **context,
                        "duplicates": dupes,
                        "duplicate_warning": DUPLICATE_WARNING.in_(actor.locale),
                    },
                    status_code=409,
                )
        written = services.register_pregnancy(db, write_context(request, actor), data)
    except ValidationFailed as exc:
        return refused_form(request, db, actor, "form_register.html", context, exc)
    pregnancy = db.get(Pregnancy, written.pregnancy_id)
    assert pregnancy is not None
    return redirect(f"/women/{pregnancy.woman_id}?saved=register")


@dataclass(frozen=True)
class FormSpec:
    template: str
    read: Callable[[Mapping[str, Any]], Any]
    write: Callable[[Session, WriteContext, Any], Written]


FORMS: dict[str, FormSpec] = {
    "visit": FormSpec("form_visit.html", forms.read_prenatal_visit, services.record_prenatal_visit),
    "risk": FormSpec("form_risk.html", forms.read_risk, services.set_risk_grade),
    "outcome": FormSpec("form_outcome.html", forms.read_outcome, services.record_outcome),
    "postnatal": FormSpec("form_postnatal.html", forms.read_postnatal, services.record_postnatal_visit),
    "close": FormSpec("form_close.html", forms.read_closure, services.close_case),
}
POSTNATAL_MILESTONE = {"mother_1w": "1w", "mother_42d": "42d", "loss_care": "loss"}


def _form_context(
    request: Request[Any, Any, State], db: Session, actor: Actor, pregnancy_id: uuid.UUID, name: str
) -> dict[str, Any]:
    if name not in FORMS:
        raise NotFound(name)
    pregnancy = services.pregnancy_in_scope(db, actor, pregnancy_id)
    view = queries.case_view(db, actor.scope, pregnancy.woman_id)
    assert view is not None
    records = CaseRecords(db, pregnancy)
    today = app_state(request).today()
    open_items = [i for i in view.items if i.is_open and (i.missed_on is None or i.missed_on > today)]
    return {
        "pregnancy": pregnancy,
        "woman": view.woman,
        "records": records,
        "open_items": open_items,
        "villages": [a for a in _all_villages(db) if a.code != pregnancy.village_code],
        "milestones_due": _milestones_due(open_items),
        "form_name": name,
        "case_dates": offline_checks.case_dates(name, records, actor.locale),
    }


def _milestones_due(open_items: list[Any]) -> dict[str, str]:
    """The first postnatal milestone still open for the mother ("mother") and for each baby (its id)."""
    due: dict[str, str] = {}
    for item in sorted(open_items, key=lambda i: i.window_start):
        if item.infant_id is not None and item.kind.startswith("infant_"):
            due.setdefault(str(item.infant_id), item.kind.removeprefix("infant_"))
        elif item.kind in POSTNATAL_MILESTONE:
            due.setdefault("mother", POSTNATAL_MILESTONE[item.kind])
    return due


def _defaults(
    name: str, ctx: Mapping[str, Any], actor: Actor, today: date, query: Mapping[str, str]
) -> dict[str, Any]:
    """Fresh UUIDs for the new records and what the form proposes (today's date, the due milestone)."""
    form: dict[str, Any] = {"id": str(uuid.uuid4()), "pregnancy_id": str(ctx["pregnancy"].id)}
    iso = today.isoformat()
    if name == "visit":
        kind = query.get("kind") or ("township" if actor.role == "township" else "home")
        form |= {"visited_on": iso, "kind": kind, "check_no": query.get("check_no", "")}
    elif name == "risk":
        form |= {"assessed_on": iso}
    elif name == "outcome":
        form |= {"outcome_on": iso, "n_babies": query.get("n", "1"), "outcome_type": "live_birth"}
        for i in range(forms.MAX_BABIES):
            form |= {f"babies-{i}-id": str(uuid.uuid4()), f"babies-{i}-alive": "1"}
    elif name == "postnatal":
        form |= {"visited_on": iso, **_proposed_milestone(ctx["milestones_due"], query.get("infant", ""))}
    elif name == "close":
        form |= {"closed_on": iso, "kind": query.get("kind", ""), "infant_id": query.get("infant", "")}
    return form


def _proposed_milestone(due: Mapping[str, str], infant: str) -> dict[str, str]:
    """The form proposes the milestone due first for the chosen baby, else for the mother (with her baby
    when they share it, as at one week)."""
    if infant:
        return {"milestone": due.get(infant, "extra"), "infant_id": infant, "covers_mother": ""}
    mother = due.get("mother")
    if mother is None:
        first = next(iter(due.items()), None)
        if first is None:
            return {"milestone": "extra", "infant_id": "", "covers_mother": "1"}
        return {"milestone": first[1], "infant_id": first[0], "covers_mother": ""}
    shared = next((baby for baby, milestone in due.items() if baby != "mother" and milestone == mother), "")
    return {"milestone": mother, "infant_id": shared, "covers_mother": "1"}


@get("/p/{pregnancy_id:uuid}/{name:str}", sync_to_thread=False)
def record_form(
    request: Request[Any, Any, State], db: Session, actor: Actor, pregnancy_id: uuid.UUID, name: str
) -> Response[Any]:
    """An empty form for one kind of record about this pregnancy."""
    require_role(actor, *FIELD_ROLES)
    ctx = _form_context(request, db, actor, pregnancy_id, name)
    ctx["form"] = _defaults(name, ctx, actor, app_state(request).today(), request.query_params)
    return page(request, db, actor, FORMS[name].template, ctx)


@post("/p/{pregnancy_id:uuid}/{name:str}")
async def record_submit(
    request: Request[Any, Any, State], db: Session, actor: Actor, pregnancy_id: uuid.UUID, name: str
) -> Response[Any]:
    """Save the record; refused, the same form again with everything typed and a message per field."""
    require_role(actor, *FIELD_ROLES)
    raw = dict((await request.form()).items())
    raw["pregnancy_id"] = str(pregnancy_id)
    ctx = _form_context(request, db, actor, pregnancy_id, name)
    spec = FORMS[name]
    try:
        spec.write(db, write_context(request, actor), spec.read(raw))
    except ValidationFailed as exc:
        return refused_form(request, db, actor, spec.template, {**ctx, "form": as_typed(raw)}, exc)
    return redirect(f"/women/{ctx['woman'].id}?saved={name}")
