"""People and places pages (人员与地区): a supervisor's cadres, a county administrator's supervisors and
area list. Plain forms; every change goes through backend.accounts.admin."""

import uuid
from functools import partial
from typing import Any

import anyio
from litestar import Request, Response, get, post
from litestar.datastructures import State, UploadFile
from sqlmodel import Session, col, select

from backend.accounts import admin
from backend.accounts.services import Actor
from backend.areas.models import Area
from backend.areas.services import AreaImportError
from backend.cases.pages.shared import page
from backend.cases.responsibility import handover_if_she_leaves
from backend.lib.i18n import Text, ValidationFailed
from backend.web import form_errors, redirect, require_role

MANAGER_ROLES = ("township", "county")


def _page(
    request: Request[Any, Any, State],
    db: Session,
    actor: Actor,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> Response[Any]:
    base = {
        "home_area": actor.area_codes[0] if actor.area_codes else "",
        "managed": admin.managed_role(actor),
        "areas": admin.assignable_areas(db, actor),
    }
    return page(request, db, actor, template, {**base, **context}, status_code)


def _list(
    request: Request[Any, Any, State],
    db: Session,
    actor: Actor,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    names = {a.code: a.name for a in admin.assignable_areas(db, actor)}
    people = admin.people(db, actor)
    covered = {code for p in people if p.user.active for code in p.areas}
    return _page(
        request,
        db,
        actor,
        "admin_people.html",
        {
            "people": people,
            "names": names,
            "uncovered": [c for c in names if c not in covered],
            "form": form or {},
            "errors": errors or {},
            "saved": request.query_params.get("saved"),
        },
        status_code,
    )


@get("/admin/people", sync_to_thread=False)
def people_page(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """The cadres of a township (or the supervisors of a county) and the form to add one."""
    require_role(actor, *MANAGER_ROLES)
    return _list(request, db, actor)


@post("/admin/people", status_code=200)
async def create_person(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    require_role(actor, *MANAGER_ROLES)
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("name", "phone")}
    try:
        user = await anyio.to_thread.run_sync(  # hashes the password (~0.1 s): off the event loop
            partial(
                admin.create_person,
                db,
                actor,
                name=values["name"],
                phone=values["phone"],
                password=str(form.get("password", "")),
                areas=[str(a) for a in form.getall("areas", [])],
            )
        )
    except ValidationFailed as exc:
        return _list(
            request,
            db,
            actor,
            {**values, "areas": form.getall("areas", [])},
            form_errors(exc, actor.locale),
            422,
        )
    return redirect(f"/admin/people/{user.id}?saved=created")


def _person(
    request: Request[Any, Any, State],
    db: Session,
    actor: Actor,
    user_id: uuid.UUID,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    person = admin.person_in_reach(db, actor, user_id)
    cadre_leaving = person.user.role == "village" and person.user.active
    return _page(
        request,
        db,
        actor,
        "admin_person.html",
        {
            "person": person,
            "handover": handover_if_she_leaves(db, user_id, person.areas) if cadre_leaving else [],
            "area_names": {a.code: a.name for a in admin.assignable_areas(db, actor)},
            "errors": errors or {},
            "form": {},
            "saved": request.query_params.get("saved"),
        },
        status_code,
    )


@get("/admin/people/{user_id:uuid}", sync_to_thread=False)
def person_page(
    request: Request[Any, Any, State], db: Session, actor: Actor, user_id: uuid.UUID
) -> Response[Any]:
    """One person: her villages, a new password, deactivation."""
    require_role(actor, *MANAGER_ROLES)
    return _person(request, db, actor, user_id)


@post("/admin/people/{user_id:uuid}/areas", status_code=200)
async def reassign(
    request: Request[Any, Any, State], db: Session, actor: Actor, user_id: uuid.UUID
) -> Response[Any]:
    require_role(actor, *MANAGER_ROLES)
    form = await request.form()
    try:
        admin.reassign(db, actor, user_id, [str(a) for a in form.getall("areas", [])])
    except ValidationFailed as exc:
        return _person(request, db, actor, user_id, form_errors(exc, actor.locale), 422)
    return redirect(f"/admin/people/{user_id}?saved=areas")


@post("/admin/people/{user_id:uuid}/password", status_code=200)
async def reset_password(
    request: Request[Any, Any, State], db: Session, actor: Actor, user_id: uuid.UUID
) -> Response[Any]:
    require_role(actor, *MANAGER_ROLES)
    form = await request.form()
    try:
        password = str(form.get("password", ""))
        await anyio.to_thread.run_sync(admin.reset_password, db, actor, user_id, password)  # hashes it
    except ValidationFailed as exc:
        return _person(request, db, actor, user_id, form_errors(exc, actor.locale), 422)
    return redirect(f"/admin/people/{user_id}?saved=password")


CONFIRM_FIRST = Text("请先勾选确认", "Tick the box to confirm first")


@post("/admin/people/{user_id:uuid}/active", status_code=200)
async def set_active(
    request: Request[Any, Any, State], db: Session, actor: Actor, user_id: uuid.UUID
) -> Response[Any]:
    require_role(actor, *MANAGER_ROLES)
    form = await request.form()
    active = str(form.get("active", "")) == "1"
    admin.person_in_reach(db, actor, user_id)  # out of reach: not found, before anything is asked
    if not active and str(form.get("confirm", "")) != "1":  # one tap must not sign someone out
        return _person(request, db, actor, user_id, {"confirm": CONFIRM_FIRST.in_(actor.locale)}, 422)
    admin.set_active(db, actor, user_id, active)
    return redirect(f"/admin/people/{user_id}?saved={'activated' if active else 'deactivated'}")


@get("/admin/areas", sync_to_thread=False)
def areas_page(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """The county's area list and its CSV import (12-digit code, name)."""
    require_role(actor, "county")
    return _areas(request, db, actor)


def _areas(
    request: Request[Any, Any, State],
    db: Session,
    actor: Actor,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    rows = db.exec(select(Area).where(actor.scope.clause(Area.code)).order_by(col(Area.code))).all()
    return _page(
        request,
        db,
        actor,
        "admin_areas.html",
        {"all_areas": rows, "problems": [], "result": None, "text": "", **(context or {})},
        status_code,
    )


@post("/admin/areas", status_code=200)
async def import_areas(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """Import or update areas from an uploaded CSV or pasted lines: all or nothing, every bad line named."""
    require_role(actor, "county")
    form = await request.form()
    upload = form.get("file")
    text = str(form.get("text", ""))
    try:
        if isinstance(upload, UploadFile) and upload.filename:
            rows = admin.read_csv_rows(await upload.read())
        else:
            rows = admin.read_csv_rows(text.encode("utf-8"))
        added, updated = admin.import_area_file(db, actor, rows)
    except AreaImportError as exc:
        problems = [(p.line, p.text.in_(actor.locale)) for p in exc.problems]
        return _areas(request, db, actor, {"problems": problems, "text": text}, 422)
    except ValidationFailed as exc:
        problems = [(0, e.text.in_(actor.locale)) for e in exc.errors]
        return _areas(request, db, actor, {"problems": problems, "text": text}, 422)
    return _areas(request, db, actor, {"result": (added, updated)})


ROUTES = [
    people_page,
    create_person,
    person_page,
    reassign,
    reset_password,
    set_active,
    areas_page,
    import_areas,
]
