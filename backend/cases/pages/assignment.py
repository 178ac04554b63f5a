"""指定负责专干 on the case page: the supervisor picks one of the village's cadres; refused, the case page
comes back with the message beside the choice."""

import uuid
from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import State
from sqlmodel import Session

from backend.accounts.services import Actor
from backend.cases.pages.browse import case_response
from backend.cases.pages.shared import write_context
from backend.cases.services import pregnancy_in_scope
from backend.cases.services.assignment import ASSIGNING_ROLES, NOT_A_CADRE_OF_VILLAGE, assign_cadre
from backend.lib.i18n import FieldError, ValidationFailed
from backend.web import form_errors, redirect, require_role


@post("/assign/{pregnancy_id:uuid}")
async def assign_submit(
    request: Request[Any, Any, State], db: Session, actor: Actor, pregnancy_id: uuid.UUID
) -> Response[Any]:
    require_role(actor, *ASSIGNING_ROLES)
    raw = dict((await request.form()).items())
    woman_id = pregnancy_in_scope(db, actor, pregnancy_id).woman_id
    try:
        try:
            cadre_id = uuid.UUID(str(raw.get("cadre_id", "")))
        except ValueError:
            raise ValidationFailed([FieldError("cadre_id", NOT_A_CADRE_OF_VILLAGE)]) from None
        assign_cadre(db, write_context(request, actor), pregnancy_id, cadre_id)
    except ValidationFailed as exc:
        db.rollback()
        extra = {"errors": form_errors(exc, actor.locale), "form": raw}
        return case_response(request, db, actor, woman_id, extra, status_code=422)
    return redirect(f"/women/{woman_id}?saved=cadre")
