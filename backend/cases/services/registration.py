"""登记: a new pregnancy, of a new woman or a known one (whose earlier, finished pregnancy it closes)."""

import uuid
from datetime import date

from sqlmodel import Session

from backend.accounts.services import audit
from backend.cases import rules
from backend.cases.forms import RegistrationInput
from backend.cases.locks import lock_for_writing
from backend.cases.models import Pregnancy, RiskGrade, Woman
from backend.cases.prefetch import rows_by, stored
from backend.cases.responsibility import cadre_on_arrival
from backend.cases.schedule_store import CaseRecords, refresh_due_items
from backend.cases.services.common import (
    ALREADY_OPEN,
    EDD_FROM_LMP,
    NotFound,
    WriteContext,
    Written,
    _existing,
    _fail,
    _raise_if,
    _village,
)
from backend.lib.idcard import birth_date_of, normalise_id
from backend.lib.masking import mask_id
from backend.lib.parsing import normalise_phone
from backend.schedule import CURRENT_VERSION


def register_pregnancy(db: Session, ctx: WriteContext, data: RegistrationInput) -> Written:
    """登记: a new woman (or a known one, by her UUID) with a new pregnancy and optionally a first grade."""
    # Her earlier pregnancies too, all at once (a woman's pregnancies never change hands, so they are read
    # before the locks): one taken later, while holding hers, could wait on a writer waiting for hers.
    earlier = [p.id for p in rows_by(db, Pregnancy, "woman_id", data.woman_id)]
    lock_for_writing(db, [data.woman_id, data.pregnancy_id, *earlier])
    if stored(db, Pregnancy, data.pregnancy_id) is not None:
        _existing(db, Pregnancy, data.pregnancy_id, ctx.actor)
        return Written(data.pregnancy_id, data.pregnancy_id, duplicate=True)
    id_number = normalise_id(data.id_number) if data.id_number else ""
    phone = data.phone
    errors = rules.check_woman(
        name=data.name,
        id_number=id_number or None,
        birth_date=data.birth_date,
        phone=phone or None,
        village_code=data.village_code,
        today=ctx.today,
    )
    errors += rules.check_pregnancy(
        lmp=data.lmp,
        edd=data.edd,
        registered_on=data.registered_on,
        gravidity=data.gravidity,
        parity=data.parity,
        today=ctx.today,
    )
    _raise_if(errors)
    _village(db, ctx.actor, data.village_code)
    assert data.registered_on is not None and data.gravidity is not None and data.parity is not None
    woman = stored(db, Woman, data.woman_id)
    if woman is not None:
        if not ctx.actor.scope.covers(woman.village_code):
            raise NotFound(str(data.woman_id))
        _close_finished_pregnancy(db, woman.id, data.registered_on)
    else:
        birth = data.birth_date
        if birth is None and id_number:
            birth = birth_date_of(id_number)
        woman = Woman(
            id=data.woman_id,
            name=data.name,
            id_cipher=ctx.cipher.encrypt(id_number) if id_number else None,
            id_index=ctx.cipher.blind_index(id_number) if id_number else None,
            id_masked=mask_id(id_number) if id_number else None,
            birth_date=birth,
            phone=normalise_phone(phone) if phone else None,
            village_code=data.village_code,
            address=data.address or None,
            author_id=ctx.actor.user_id,
        )
        ctx.stamp(woman)
        db.add(woman)
        db.flush()  # no ORM relationships here, so the unit of work needs the woman written first
    edd = data.edd or (data.lmp + EDD_FROM_LMP if data.lmp else None)
    assert edd is not None
    pregnancy = Pregnancy(
        id=data.pregnancy_id,
        woman_id=woman.id,
        village_code=woman.village_code,
        lmp=data.lmp,
        edd=edd,
        edd_source=data.edd_source if data.edd else "lmp",
        gravidity=data.gravidity,
        parity=data.parity,
        registered_on=data.registered_on,
        rules_version=CURRENT_VERSION,
        author_id=ctx.actor.user_id,
        cadre_id=cadre_on_arrival(db, ctx.actor, woman.village_code),
    )
    ctx.stamp(pregnancy)
    db.add(pregnancy)
    db.flush()
    if data.colour:
        grade = RiskGrade(
            pregnancy_id=pregnancy.id,
            assessed_on=data.registered_on,
            colour=data.colour,
            author_id=ctx.actor.user_id,
            id=uuid.uuid5(pregnancy.id, "first-grade"),
        )
        ctx.stamp(grade)
        db.add(grade)
        db.flush()
    refresh_due_items(db, pregnancy)
    audit(db, ctx.actor.user_id, "register_pregnancy", "pregnancy", str(pregnancy.id), device=ctx.device_id)
    return Written(pregnancy.id, pregnancy.id)


def _close_finished_pregnancy(db: Session, woman_id: uuid.UUID, on: date) -> None:
    """A new pregnancy ends the follow-up of an earlier one that already has its outcome; an earlier one
    still without an outcome blocks the registration (at most one open pregnancy per woman)."""
    hers = rows_by(db, Pregnancy, "woman_id", woman_id)
    lock_for_writing(db, [p.id for p in hers])  # re-reads them once held: their status is then current
    earlier = [p for p in hers if p.status == "open"]
    if any(CaseRecords(db, p).outcome is None for p in earlier):  # checked before anything is written
        raise _fail("name", ALREADY_OPEN)
    for p in earlier:
        p.status, p.closed_on, p.close_reason = "closed", on, "completed"
        db.add(p)
    db.flush()
