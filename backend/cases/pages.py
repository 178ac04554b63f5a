"""The village cadre's pages (今日工作, 孕产妇, 个案, every form). Plain HTML forms: each write carries the
client's UUID from a hidden field, so a double submit never creates two records; a refused form comes back
with everything typed and a message beside each wrong field."""

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from sqlmodel import Session, col, select

from backend.accounts.services import Actor
from backend.areas.models import Area
from backend.cases import forms, labels, queries, services
from backend.cases.models import Closure, Outcome, PostnatalVisit, Pregnancy, PrenatalVisit, RiskGrade
from backend.cases.schedule_store import CaseRecords
from backend.cases.services import NotFound, WriteContext, Written
from backend.lib.i18n import FieldError, Text, ValidationFailed
from backend.lib.idcard import normalise_id
from backend.lib.parsing import parse_date
from backend.schedule import Item, state_of
from backend.scope import Scope
from backend.web import app_state, form_errors, redirect, render, require_role

FIELD_ROLES = ("village", "township")
DUPLICATE_WARNING = Text(
    "发现可能重复的孕产妇，请核对后勾选“仍然登记”，或为她登记本次妊娠",
    "A woman with the same ID number or name and birth date exists: check, then tick “register anyway”, "
    "or register this pregnancy for her",
)
SEARCH_MAX_LENGTH = 40
DATE_FIELDS = frozenset(
    {
        "birth_date",
        "registered_on",
        "lmp",
        "edd",
        "visited_on",
        "next_on",
        "assessed_on",
        "outcome_on",
        "discharge_on",
        "closed_on",
    }
)
NUMBER_FIELDS = frozenset(
    {
        "bp_systolic",
        "bp_diastolic",
        "weight_kg",
        "fundal_height_cm",
        "fetal_heart_bpm",
        "mother_temperature_c",
        "mother_bp_systolic",
        "mother_bp_diastolic",
        "infant_weight_g",
        "infant_temperature_c",
    }
)
CHOICE_FIELDS = {
    "kind": "visit",
    "milestone": "milestone",
    "colour": "colour",
    "feeding": "feeding",
    "place": "place",
    "mode": "mode",
}


def write_context(request: Request[Any, Any, State], actor: Actor) -> WriteContext:
    state = app_state(request)
    return WriteContext(actor=actor, today=state.today(), cipher=state.cipher, device_id="web")


def page(
    request: Request[Any, Any, State],
    db: Session,
    actor: Actor,
    template: str,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
    overdue_count: int | None = None,
) -> Response[Any]:
    """Render a signed-in page with the overdue badge in its header."""
    if overdue_count is None:
        overdue_count = queries.overdue_count(db, actor.scope, app_state(request).today())
    ctx = {"overdue_count": overdue_count, **(context or {})}
    return render(request, template, ctx, actor=actor, status_code=status_code)


def villages_in_scope(db: Session, actor: Actor) -> list[Area]:
    return list(db.exec(_villages_statement(actor.scope.prefixes)).all())


@lru_cache(maxsize=4096)
def _villages_statement(prefixes: tuple[str, ...]) -> Any:
    """Villages (not townships or counties: their codes end in 000) of a scope; built once per scope."""
    return (
        select(Area)
        .where(Scope(prefixes).clause(Area.code), col(Area.code).not_like("%000"))
        .order_by(col(Area.code))
    )


def village_names(db: Session, actor: Actor) -> dict[str, str]:
    return {a.code: a.name for a in villages_in_scope(db, actor)}


def as_typed(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The form as typed, for showing it again: dates typed as 2026年11月23日 become 2026-11-23 so the native
    date picker can show them (anything unreadable stays as typed)."""
    out = dict(raw)
    for name, value in raw.items():
        if name.removeprefix("new-") in DATE_FIELDS:
            try:
                parsed = parse_date(str(value))
            except ValueError:
                continue
            if parsed is not None:
                out[name] = parsed.isoformat()
    return out


@get("/", sync_to_thread=False)
def today_page(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """今日工作: overdue first with days overdue, then due today and this week, then upcoming."""
    today = app_state(request).today()
    work = queries.work_list(db, actor.scope, today)
    return page(
        request,
        db,
        actor,
        "today.html",
        {"work": work, "villages": village_names(db, actor), "names": labels.names(actor.locale)},
        overdue_count=len(work.overdue),
    )


@get("/women", sync_to_thread=False)
def women_page(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """孕产妇: everyone in scope, open pregnancies first."""
    return _women(request, db, actor, "")


@post("/women")
async def women_search(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """Search by name, phone tail or ID tail. Posted, not in the URL: a name or phone never goes in a URL
    (DOMAIN.md §7), where proxies, logs and browser history would keep it."""
    form = await request.form()
    return _women(request, db, actor, str(form.get("q", "")))


def _women(request: Request[Any, Any, State], db: Session, actor: Actor, q: str) -> Response[Any]:
    q = forms.clean_text(q)[:SEARCH_MAX_LENGTH]
    rows = queries.search_women(db, actor.scope, q)
    return page(
        request, db, actor, "women.html", {"rows": rows, "q": q, "villages": village_names(db, actor)}
    )


@get("/women/{woman_id:uuid}", sync_to_thread=False)
def case_page(
    request: Request[Any, Any, State], db: Session, actor: Actor, woman_id: uuid.UUID
) -> Response[Any]:
    """个案: the current pregnancy, its schedule, the standard checks, babies and the history."""
    view = queries.case_view(db, actor.scope, woman_id, with_timeline=True)
    if view is None:
        raise NotFound(str(woman_id))
    today = app_state(request).today()
    states = {item.id: state_of(_as_item(item), today).value for item in view.items}
    return page(
        request,
        db,
        actor,
        "case.html",
        {
            "view": view,
            "states": states,
            "villages": village_names(db, actor),
            "saved": request.query_params.get("saved"),
            "can_write": actor.role in FIELD_ROLES,
        },
    )


def _as_item(row: Any) -> Item:
    return Item(
        row.kind,
        row.seq,
        row.window_start,
        row.due_on,
        row.window_end,
        row.infant_id,
        row.done_on,
        row.done_by,
        row.cancelled_on,
        row.missed_on,
        row.rules_version,
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
        db.rollback()  # a refused form writes nothing, not even what a service did before it refused
        return page(
            request,
            db,
            actor,
            "form_register.html",
            {**context, "errors": form_errors(exc, actor.locale)},
            status_code=422,
        )
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
    }


def _all_villages(db: Session) -> list[Area]:
    return [a for a in db.exec(select(Area).order_by(col(Area.code))).all() if a.code[9:] != "000"]


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
    return {"milestone": mother, "infant_id": "", "covers_mother": "1"}


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
        db.rollback()  # a refused form writes nothing, not even what a service did before it refused
        return page(
            request,
            db,
            actor,
            spec.template,
            {**ctx, "form": as_typed(raw), "errors": form_errors(exc, actor.locale)},
            status_code=422,
        )
    return redirect(f"/women/{ctx['woman'].id}?saved={name}")


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
        db.rollback()  # a refused form writes nothing, not even what a service did before it refused
        return page(
            request,
            db,
            actor,
            "form_correct.html",
            {**ctx, "form": as_typed(raw), "errors": form_errors(exc, actor.locale)},
            status_code=422,
        )
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
        db.rollback()  # a refused form writes nothing, not even what a service did before it refused
        return page(
            request,
            db,
            actor,
            "form_edit.html",
            {**ctx, "form": as_typed(raw), "errors": form_errors(exc, actor.locale)},
            status_code=422,
        )
    return redirect(f"/women/{ctx['woman'].id}?saved=edit")


ROUTES = [
    today_page,
    women_page,
    women_search,
    case_page,
    register_form,
    register,
    record_form,
    record_submit,
    correction_form,
    correction_submit,
    edit_form,
    edit_submit,
]
