"""What every cadre page shares: the signed-in page with its overdue badge, the write context of a form, the
villages of a scope, and showing a refused form again as it was typed."""

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from litestar import Request, Response
from litestar.datastructures import State
from sqlmodel import Session, col, select

from backend.accounts.services import Actor
from backend.areas.models import Area
from backend.cases.responsibility import overdue_badge
from backend.cases.services import WriteContext
from backend.lib.i18n import ValidationFailed
from backend.lib.parsing import parse_date
from backend.scope import Scope
from backend.web import app_state, form_errors, render

FIELD_ROLES = ("village", "township")
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
        overdue_count = overdue_badge(db, actor, app_state(request).today())
    ctx = {"overdue_count": overdue_count, **(context or {})}
    return render(request, template, ctx, actor=actor, status_code=status_code)


def refused_form(
    request: Request[Any, Any, State],
    db: Session,
    actor: Actor,
    template: str,
    context: Mapping[str, Any],
    exc: ValidationFailed,
) -> Response[Any]:
    """The form again (422) with its context, the values as typed and a message per field."""
    db.rollback()  # a refused form writes nothing, not even what a service did before it refused
    return page(
        request,
        db,
        actor,
        template,
        {**context, "errors": form_errors(exc, actor.locale)},
        status_code=422,
    )


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


def _all_villages(db: Session) -> list[Area]:
    return [a for a in db.exec(select(Area).order_by(col(Area.code))).all() if a.code[9:] != "000"]
