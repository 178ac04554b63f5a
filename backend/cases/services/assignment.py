"""指定负责专干: the township supervisor, who manages her township's cadres (DOMAIN.md §1), chooses which
of a village's cadres answers for a case — for a village several cadres share, or to hand a case on."""

import uuid

from sqlmodel import Session

from backend.accounts.services import audit
from backend.cases.locks import lock_for_writing
from backend.cases.models import CaseChange
from backend.cases.responsibility import village_cadres
from backend.cases.services.common import (
    Forbidden,
    WriteContext,
    Written,
    _fail,
    _writable,
    pregnancy_in_scope,
)
from backend.lib.i18n import Text

ASSIGNING_ROLES = ("township",)
NOT_A_CADRE_OF_VILLAGE = Text("请选择该村的在岗专干", "Choose one of this village's active cadres")


def assign_cadre(
    db: Session, ctx: WriteContext, pregnancy_id: uuid.UUID, cadre_id: uuid.UUID | None
) -> Written:
    """Set the responsible cadre of a case followed in a village of the caller's scope to one of the
    village's active cadres. The case is noted in the change feed, so supervisors' figures and the phones
    follow at once."""
    if ctx.actor.role not in ASSIGNING_ROLES:
        raise Forbidden("assign_cadre")
    lock_for_writing(db, [pregnancy_id])
    pregnancy = pregnancy_in_scope(db, ctx.actor, pregnancy_id)
    _writable(pregnancy, baby_only=True)
    if (
        cadre_id is None
        or cadre_id not in village_cadres(db, [pregnancy.village_code])[pregnancy.village_code]
    ):
        raise _fail("cadre_id", NOT_A_CADRE_OF_VILLAGE)
    if pregnancy.cadre_id == cadre_id:
        return Written(pregnancy.id, pregnancy.id, duplicate=True)
    pregnancy.cadre_id = cadre_id
    db.add(pregnancy)
    db.add(CaseChange(pregnancy_id=pregnancy.id, village_code=pregnancy.village_code))  # its items stay
    audit(
        db,
        ctx.actor.user_id,
        "assign_cadre",
        "pregnancy",
        str(pregnancy.id),
        device=ctx.device_id,
        detail=str(cadre_id),
    )
    return Written(pregnancy.id, pregnancy.id)
