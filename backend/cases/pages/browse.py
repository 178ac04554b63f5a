"""Reading pages: Today (今日工作), the women list and search (孕产妇), and one woman's case (个案)."""

import uuid
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from sqlmodel import Session

from backend.accounts.services import Actor
from backend.cases import forms, labels, queries
from backend.cases.pages.shared import (
    FIELD_ROLES,
    SEARCH_MAX_LENGTH,
    page,
    village_names,
)
from backend.cases.responsibility import colleagues_cases, responsible_cadre
from backend.cases.schedule_store import item_of
from backend.cases.services import NotFound
from backend.cases.services.assignment import ASSIGNING_ROLES
from backend.schedule import state_of
from backend.web import app_state

TODAY_LINES = 300
"""Lines per section of Today for a supervisor or the county (a county has tens of thousands of overdue items;
the review pages list them per village). A cadre's own village is always listed whole."""


@get("/", sync_to_thread=False)
def today_page(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """今日工作: overdue first with days overdue, then due today and this week, then upcoming."""
    today = app_state(request).today()
    everything = queries.work_list(db, actor.scope, today)
    items = everything.items
    others = colleagues_cases(db, actor, ((i.pregnancy_id, i.village_code, i.cadre_id) for i in items))
    work = everything.without(others)  # a village she shares: her colleagues' cases apart, at the end
    return page(
        request,
        db,
        actor,
        "today.html",
        {
            "work": work,
            "lines": None if actor.role == "village" else TODAY_LINES,
            "villages": village_names(db, actor),
            "names": labels.names(actor.locale),
            "others": others,
            "theirs": sorted((i for i in items if i.pregnancy_id in others), key=lambda i: i.window_end),
        },
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
    return case_response(request, db, actor, woman_id)


def case_response(
    request: Request[Any, Any, State],
    db: Session,
    actor: Actor,
    woman_id: uuid.UUID,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    """The case page, with `extra` context (a refused choice of cadre comes back with its message)."""
    view = queries.case_view(db, actor.scope, woman_id, with_timeline=True)
    if view is None:
        raise NotFound(str(woman_id))
    today = app_state(request).today()
    earlier = [item for baby in view.earlier_babies for item in baby.items]
    states = {item.id: state_of(item_of(item), today).value for item in [*view.items, *earlier]}
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
            "can_assign": actor.role in ASSIGNING_ROLES,
            "cadre": responsible_cadre(db, view.current) if view.current else None,
            "errors": {},
            "form": {},
            **(extra or {}),
        },
        status_code=status_code,
    )
