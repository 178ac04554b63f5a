"""分配负责专干 for a village several cadres share: the township supervisor sees every case followed there
with the cadre who answers for it, and sets any number of them in one save — to divide a village between two
cadres, or to hand on the cases of one who left. All or nothing: a refused choice saves none, marked."""

import uuid
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from sqlmodel import Session, col, select

from backend.accounts.models import User
from backend.accounts.services import Actor
from backend.cases.pages.shared import write_context
from backend.cases.responsibility import followed_in_village, village_cadres
from backend.cases.services import NotFound
from backend.cases.services.assignment import ASSIGNING_ROLES, NOT_A_CADRE_OF_VILLAGE, assign_cadre
from backend.lib.i18n import ValidationFailed
from backend.review import coverage as cov
from backend.review.pages import _page
from backend.scope import level_of, township_of
from backend.web import redirect, require_role

FIELD_PREFIX = "cadre-"


def _village(db: Session, actor: Actor, code: str) -> tuple[str, str]:
    """(village name, township name) of a village in the supervisor's scope; NotFound otherwise."""
    require_role(actor, *ASSIGNING_ROLES)
    if len(code) != 12 or not code.isdigit() or level_of(code) != "village" or not actor.scope.covers(code):
        raise NotFound(code)
    names = cov.area_names(db, actor.scope)
    if code not in names:
        raise NotFound(code)
    return names[code], names.get(township_of(code), "")


def _render(
    request: Request[Any, Any, State],
    db: Session,
    actor: Actor,
    code: str,
    errors: dict[str, str] | None = None,
    chosen: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    name, township_name = _village(db, actor, code)
    ids = village_cadres(db, [code])[code]
    cadres = sorted(
        db.exec(select(User).where(col(User.id).in_(ids))).all(), key=lambda u: (u.name, str(u.id))
    )
    cases = followed_in_village(db, code, ids)
    return _page(
        request,
        db,
        actor,
        "review_assign.html",
        {
            "code": code,
            "name": name,
            "township": township_of(code),
            "township_name": township_name,
            "cadres": cadres,
            "cases": cases,
            "names": {FIELD_PREFIX + str(c.pregnancy_id): c.woman_name for c in cases},
            "errors": errors or {},
            "chosen": chosen or {},
            "saved": request.query_params.get("saved"),
        },
        status_code=status_code,
    )


@get("/review/village/{code:str}/cadres", sync_to_thread=False)
def assign_form(request: Request[Any, Any, State], db: Session, actor: Actor, code: str) -> Response[Any]:
    return _render(request, db, actor, code)


@post("/review/village/{code:str}/cadres")
async def assign_many(
    request: Request[Any, Any, State], db: Session, actor: Actor, code: str
) -> Response[Any]:
    """Every case whose choice differs from who answers now is set to the chosen cadre; a blank choice
    leaves its case as it is."""
    _village(db, actor, code)
    raw = {k: str(v) for k, v in (await request.form()).items() if k.startswith(FIELD_PREFIX)}
    answering = {
        str(c.pregnancy_id): c.answering
        for c in followed_in_village(db, code, village_cadres(db, [code])[code])
    }
    ctx = write_context(request, actor)
    errors: dict[str, str] = {}
    changed = 0
    for field, value in raw.items():
        pid = field.removeprefix(FIELD_PREFIX)
        if not value or pid not in answering:
            continue  # left blank, or not a case followed here (nothing to set)
        try:
            cadre_id = uuid.UUID(value)
        except ValueError:
            errors[field] = NOT_A_CADRE_OF_VILLAGE.in_(actor.locale)
            continue
        if cadre_id == answering[pid]:
            continue
        try:
            assign_cadre(db, ctx, uuid.UUID(pid), cadre_id)
            changed += 1
        except ValidationFailed as exc:
            errors[field] = exc.errors[0].text.in_(actor.locale)
    if errors:
        db.rollback()  # all or nothing
        return _render(request, db, actor, code, errors, raw, status_code=422)
    return redirect(f"/review/village/{code}/cadres?saved={changed}")


ROUTES = [assign_form, assign_many]
