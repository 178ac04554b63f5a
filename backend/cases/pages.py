"""The village cadre's pages (今日工作, 孕产妇, 个案, every form). Plain HTML forms: each write carries the
client's UUID from a hidden field, so a double submit never creates two records."""

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from sqlmodel import Session, col, select

from backend.accounts.services import Actor
from backend.areas.models import Area
from backend.cases import forms, queries, services
from backend.cases.models import Closure, Outcome, PostnatalVisit, Pregnancy, PrenatalVisit, RiskGrade
from backend.cases.services import NotFound, WriteContext, Written
from backend.lib.i18n import FieldError, Text, ValidationFailed
from backend.schedule import state_of
from backend.cases.schedule_store import CaseRecords
from backend.web import app_state, form_errors, redirect, render, require_role

FIELD_ROLES = ("village", "township")
DUPLICATE_WARNING = Text(
    "发现可能重复的孕产妇，请核对后勾选“仍然登记”",
    "A woman with the same ID number or name and birth date exists: check, then tick “register anyway”",
)


def write_context(request: Request[Any, Any, State], actor: Actor) -> WriteContext:
    state = app_state(request)
    return WriteContext(actor=actor, today=state.today(), cipher=state.cipher, device_id="web")


def page(request: Request[Any, Any, State], db: Session, actor: Actor, template: str,
         context: Mapping[str, Any] | None = None, status_code: int = 200) -> Response[Any]:
    """Render a signed-in page with the overdue badge in its header."""
    today = app_state(request).today()
    ctx = {"overdue_count": queries.overdue_count(db, actor.scope, today), **(context or {})}
    return render(request, template, ctx, actor=actor, status_code=status_code)


def villages_in_scope(db: Session, actor: Actor) -> list[Area]:
    rows = db.exec(select(Area).where(actor.scope.clause(Area.code)).order_by(col(Area.code))).all()
    return [a for a in rows if a.code[9:] != "000"]


@get("/", sync_to_thread=False)
def today_page(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """今日工作: overdue first with days overdue, then due today and this week, then upcoming."""
    today = app_state(request).today()
    work = queries.work_list(db, actor.scope, today)
    names = {a.code: a.name for a in villages_in_scope(db, actor)}
    return page(request, db, actor, "today.html", {"work": work, "villages": names,
                                                   "overdue_count": len(work.overdue)})


@get("/women", sync_to_thread=False)
def women_page(request: Request[Any, Any, State], db: Session, actor: Actor, q: str = "") -> Response[Any]:
    """孕产妇: everyone in scope, searchable by name, phone tail or ID tail."""
    rows = queries.search_women(db, actor.scope, q)
    names = {a.code: a.name for a in villages_in_scope(db, actor)}
    return page(request, db, actor, "women.html", {"rows": rows, "q": q, "villages": names})


@get("/women/{woman_id:uuid}", sync_to_thread=False)
def case_page(request: Request[Any, Any, State], db: Session, actor: Actor, woman_id: uuid.UUID) -> Response[Any]:
    """个案: the current pregnancy, its schedule, the standard checks, babies and the history."""
    view = queries.case_view(db, actor.scope, woman_id)
    if view is None:
        raise NotFound(str(woman_id))
    today = app_state(request).today()
    states = {item.id: state_of(_as_item(item), today).value for item in view.items}
    names = {a.code: a.name for a in villages_in_scope(db, actor)}
    return page(request, db, actor, "case.html", {"view": view, "states": states, "villages": names,
                                                  "saved": request.query_params.get("saved")})


def _as_item(row: Any) -> Any:
    from backend.schedule import Item

    return Item(row.kind, row.seq, row.window_start, row.due_on, row.window_end, row.infant_id, row.done_on,
                row.done_by, row.cancelled_on, row.missed_on, row.rules_version)


@get("/register", sync_to_thread=False)
def register_form(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """登记: a new pregnancy (and the woman, when she is new)."""
    require_role(actor, *FIELD_ROLES)
    villages = villages_in_scope(db, actor)
    today = app_state(request).today()
    form = {"id": str(uuid.uuid4()), "woman_id": str(uuid.uuid4()), "registered_on": today.isoformat(),
            "village_code": villages[0].code if len(villages) == 1 else ""}
    return page(request, db, actor, "form_register.html", {"form": form, "villages": villages})


@post("/register")
async def register(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    require_role(actor, *FIELD_ROLES)
    raw = dict((await request.form()).items())
    villages = villages_in_scope(db, actor)
    try:
        data = forms.read_registration(raw)
        if not raw.get("confirm_duplicate") and not raw.get("existing_woman"):
            cipher = app_state(request).cipher
            from backend.lib.idcard import normalise_id

            index = cipher.blind_index(normalise_id(data.id_number)) if data.id_number else None
            dupes = queries.possible_duplicates(db, actor.scope, id_index=index, name=data.name,
                                                birth_date=data.birth_date)
            if dupes:
                return page(request, db, actor, "form_register.html",
                            {"form": raw, "villages": villages, "duplicates": dupes,
                             "errors": {"name": DUPLICATE_WARNING.in_(actor.locale)}}, status_code=409)
        written = services.register_pregnancy(db, write_context(request, actor), data)
    except ValidationFailed as exc:
        return page(request, db, actor, "form_register.html",
                    {"form": raw, "villages": villages, "errors": form_errors(exc, actor.locale)}, status_code=422)
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


def _form_context(request: Request[Any, Any, State], db: Session, actor: Actor, pregnancy_id: uuid.UUID,
                  name: str) -> dict[str, Any]:
    if name not in FORMS:
        raise NotFound(name)
    pregnancy = services.pregnancy_in_scope(db, actor, pregnancy_id)
    view = queries.case_view(db, actor.scope, pregnancy.woman_id)
    assert view is not None
    records = CaseRecords(db, pregnancy)
    today = app_state(request).today()
    open_items = [i for i in view.items if i.is_open and (i.missed_on is None or i.missed_on > today)]
    return {"pregnancy": pregnancy, "woman": view.woman, "records": records, "open_items": open_items,
            "villages": [a for a in _all_villages(db) if a.code != pregnancy.village_code],
            "form_name": name}


def _all_villages(db: Session) -> list[Area]:
    return [a for a in db.exec(select(Area).order_by(col(Area.code))).all() if a.code[9:] != "000"]


def _defaults(name: str, ctx: Mapping[str, Any], today: date, query: Mapping[str, str]) -> dict[str, Any]:
    """Fresh UUIDs for the new records and what the form proposes (today's date, the due milestone)."""
    form: dict[str, Any] = {"id": str(uuid.uuid4()), "pregnancy_id": str(ctx["pregnancy"].id)}
    iso = today.isoformat()
    if name == "visit":
        form |= {"visited_on": iso, "kind": query.get("kind", "home"), "check_no": query.get("check_no", "")}
    elif name == "risk":
        form |= {"assessed_on": iso}
    elif name == "outcome":
        form |= {"outcome_on": iso, "n_babies": query.get("n", "1")}
        for i in range(forms.MAX_BABIES):
            form[f"babies-{i}-id"] = str(uuid.uuid4())
    elif name == "postnatal":
        form |= {"visited_on": iso, **_proposed_milestone(ctx["open_items"], query)}
    elif name == "close":
        form |= {"closed_on": iso, "kind": query.get("kind", "")}
    return form


def _proposed_milestone(open_items: list[Any], query: Mapping[str, str]) -> dict[str, str]:
    """The form proposes the milestone that is due (or overdue) first for the chosen subject."""
    infant = query.get("infant", "")
    wanted = [i for i in open_items if i.kind.startswith(("infant_", "mother_", "loss"))
              and (str(i.infant_id) == infant if infant else i.infant_id is None or not infant)]
    wanted.sort(key=lambda i: i.window_start)
    if not wanted:
        return {"milestone": "extra", "infant_id": infant, "covers_mother": "" if infant else "1"}
    first = wanted[0]
    milestone = {"mother_1w": "1w", "mother_42d": "42d", "loss_care": "loss"}.get(first.kind,
                                                                                  first.kind.removeprefix("infant_"))
    return {"milestone": milestone, "infant_id": str(first.infant_id or ""),
            "covers_mother": "1" if first.infant_id is None else ""}


@get("/p/{pregnancy_id:uuid}/{name:str}", sync_to_thread=False)
def record_form(request: Request[Any, Any, State], db: Session, actor: Actor, pregnancy_id: uuid.UUID,
                name: str) -> Response[Any]:
    """An empty form for one kind of record about this pregnancy."""
    require_role(actor, *FIELD_ROLES)
    ctx = _form_context(request, db, actor, pregnancy_id, name)
    ctx["form"] = _defaults(name, ctx, app_state(request).today(), request.query_params)
    return page(request, db, actor, FORMS[name].template, ctx)


@post("/p/{pregnancy_id:uuid}/{name:str}")
async def record_submit(request: Request[Any, Any, State], db: Session, actor: Actor, pregnancy_id: uuid.UUID,
                        name: str) -> Response[Any]:
    """Save the record; on a rule broken, the same form again with everything typed and a message per field."""
    require_role(actor, *FIELD_ROLES)
    raw = dict((await request.form()).items())
    raw["pregnancy_id"] = str(pregnancy_id)
    ctx = _form_context(request, db, actor, pregnancy_id, name)
    spec = FORMS[name]
    try:
        spec.write(db, write_context(request, actor), spec.read(raw))
    except ValidationFailed as exc:
        return page(request, db, actor, spec.template,
                    {**ctx, "form": raw, "errors": form_errors(exc, actor.locale)}, status_code=422)
    return redirect(f"/women/{ctx['woman'].id}?saved={name}")


CORRECTION_TARGETS: dict[str, type] = {
    "prenatal_visit": PrenatalVisit, "postnatal_visit": PostnatalVisit, "outcome": Outcome,
    "risk_grade": RiskGrade, "closure": Closure,
}


def _correction_context(db: Session, actor: Actor, target_type: str, target_id: uuid.UUID) -> dict[str, Any]:
    model = CORRECTION_TARGETS.get(target_type)
    target = db.get(model, target_id) if model else None
    if target is None:
        raise NotFound(str(target_id))
    pregnancy = services.pregnancy_in_scope(db, actor, target.pregnancy_id)
    woman_view = queries.case_view(db, actor.scope, pregnancy.woman_id)
    assert woman_view is not None
    records = CaseRecords(db, pregnancy)
    current = next((r for r in [*records.visits, *records.postnatal, *records.risks, *records.closures,
                                *([records.outcome] if records.outcome else [])] if r.id == target_id), target)
    _, fields = services.CORRECTABLE_FIELDS[target_type]
    return {"target": current, "target_type": target_type, "fields": fields, "woman": woman_view.woman,
            "history": [c for c in records.corrections if c.target_id == target_id]}


@get("/correct/{target_type:str}/{target_id:uuid}", sync_to_thread=False)
def correction_form(request: Request[Any, Any, State], db: Session, actor: Actor, target_type: str,
                    target_id: uuid.UUID) -> Response[Any]:
    """更正或作废: amend fields of a record, or void it, with a reason; the original stays in history."""
    require_role(actor, *FIELD_ROLES)
    ctx = _correction_context(db, actor, target_type, target_id)
    ctx["form"] = {"id": str(uuid.uuid4()), "kind": request.query_params.get("kind", "amend")}
    return page(request, db, actor, "form_correct.html", ctx)


@post("/correct/{target_type:str}/{target_id:uuid}")
async def correction_submit(request: Request[Any, Any, State], db: Session, actor: Actor, target_type: str,
                            target_id: uuid.UUID) -> Response[Any]:
    require_role(actor, *FIELD_ROLES)
    raw = dict((await request.form()).items())
    raw |= {"target_type": target_type, "target_id": str(target_id)}
    ctx = _correction_context(db, actor, target_type, target_id)
    try:
        services.correct_record(db, write_context(request, actor), forms.read_correction(raw))
    except ValidationFailed as exc:
        return page(request, db, actor, "form_correct.html",
                    {**ctx, "form": raw, "errors": form_errors(exc, actor.locale)}, status_code=422)
    return redirect(f"/women/{ctx['woman'].id}?saved=correction")


ROUTES = [today_page, women_page, case_page, register_form, register, record_form, record_submit,
          correction_form, correction_submit]

__all__ = ["ROUTES", "FieldError"]
