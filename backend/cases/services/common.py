"""What every write shares: the domain errors, the write context and its result, the scope and replay checks,
the bilingual messages, and the one way a record is stamped, stored, scheduled and audited."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session

from backend.accounts.services import Actor, audit
from backend.areas.models import Area
from backend.cases import rules
from backend.cases.models import FieldRecord, Pregnancy
from backend.cases.prefetch import stored
from backend.cases.schedule_store import refresh_due_items
from backend.lib.clock import utcnow
from backend.lib.fieldcrypt import FieldCipher
from backend.lib.i18n import FieldError, Text, ValidationFailed


class NotFound(Exception):
    """The record does not exist or lies outside the caller's scope (the two are indistinguishable)."""


class Forbidden(Exception):
    """The caller's role may not do this."""


OUT_OF_SCOPE_VILLAGE = Text("该村不在您的管辖范围内", "This village is outside your area")


UNKNOWN_VILLAGE = Text("未知的村代码", "Unknown village code")


ALREADY_OPEN = Text("该孕妇已有一个在管的妊娠", "This woman already has an open pregnancy")


OUTCOME_EXISTS = Text("该妊娠已登记结局", "An outcome is already recorded for this pregnancy")


NO_OUTCOME_YET = Text("请先登记妊娠结局", "Record the pregnancy outcome first")


CASE_CLOSED = Text("该个案已结案", "This case is closed")


TOWNSHIP_ONLY = Text("乡级访视只能由乡镇人员登记", "Only township staff record township visits")


SAME_VILLAGE = Text("请选择另一个村", "Choose a different village")


UNKNOWN_INFANT = Text("未找到该婴儿", "Unknown baby")


NOTHING_TO_CHANGE = Text("请至少修改一项", "Change at least one field")


NOT_CORRECTABLE = Text("该字段不能修改", "This field cannot be changed")


CLOSED_BEFORE_REGISTRATION = Text(
    "结案日期不能早于登记日期", "The closing date cannot be before registration"
)


ALREADY_VOID = Text("该记录已作废", "This record has already been voided")


TRANSFER_FIXED = Text(
    "转村记录不能更正或作废；如转错了村，请再次转村",
    "A transfer cannot be corrected or voided; if it went to the wrong village, transfer again",
)


EDD_FROM_LMP = timedelta(days=rules.EDD_DAYS_AFTER_LMP)


@dataclass(frozen=True)
class WriteContext:
    """Who writes, from which device, at what device time, on which local day, with which ID-number cipher."""

    actor: Actor
    today: date
    cipher: FieldCipher
    device_id: str = "web"
    recorded_at: datetime | None = None

    def stamp(self, record: FieldRecord) -> None:
        record.author_id = self.actor.user_id
        record.device_id = self.device_id[:64]
        record.recorded_at = self.recorded_at or utcnow()
        record.received_at = utcnow()


@dataclass(frozen=True)
class Written:
    """What a write produced; `duplicate` when the UUID was already known and nothing changed."""

    record_id: uuid.UUID
    pregnancy_id: uuid.UUID
    duplicate: bool = False


def _fail(field: str, text: Text) -> ValidationFailed:
    return ValidationFailed([FieldError(field, text)])


def _raise_if(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(errors)


def pregnancy_in_scope(db: Session, actor: Actor, pregnancy_id: uuid.UUID) -> Pregnancy:
    pregnancy = stored(db, Pregnancy, pregnancy_id)
    if pregnancy is None or not actor.scope.covers(pregnancy.village_code):
        raise NotFound(str(pregnancy_id))
    return pregnancy


def _existing(
    db: Session, model: type[FieldRecord], record_id: uuid.UUID, actor: Actor
) -> FieldRecord | None:
    """A record already stored under this client UUID (a replay). Outside the caller's scope it is an error,
    so a guessed UUID reveals nothing."""
    row = stored(db, model, record_id)
    if row is None:
        return None
    pid = getattr(row, "pregnancy_id", None) or record_id
    pregnancy = stored(db, Pregnancy, pid)
    if pregnancy is None or not actor.scope.covers(pregnancy.village_code):
        raise NotFound(str(record_id))
    return row


BABIES_STILL_FOLLOWED = frozenset({"died", "completed"})
"""How a case may end while its babies are still followed (DOMAIN §4.3): the mother died, or her next
pregnancy was registered. Their items run on, so a write about a baby alone still goes in."""


def _writable(pregnancy: Pregnancy, *, baby_only: bool = False) -> None:
    if pregnancy.status == "open":
        return
    if baby_only and pregnancy.close_reason in BABIES_STILL_FOLLOWED:
        return
    raise _fail("pregnancy_id", CASE_CLOSED)


def _village(db: Session, actor: Actor, code: str, field: str = "village_code") -> Area:
    area = db.get(Area, code)
    if area is None or code[9:] == "000":
        raise _fail(field, UNKNOWN_VILLAGE)
    if not actor.scope.covers(code):
        raise _fail(field, OUT_OF_SCOPE_VILLAGE)
    return area


def _done(db: Session, ctx: WriteContext, pregnancy: Pregnancy, record: FieldRecord, action: str) -> Written:
    ctx.stamp(record)
    db.add(record)
    refresh_due_items(db, pregnancy)  # flushes when it refreshes now; in a sync batch the savepoint does
    audit(db, ctx.actor.user_id, action, type(record).__tablename__, str(record.id), device=ctx.device_id)  # type: ignore[arg-type]
    return Written(record.id, pregnancy.id)


def _lmp(pregnancy: Pregnancy) -> date:
    return rules.lmp_or_from_edd(pregnancy.lmp, pregnancy.edd)


def _close(pregnancy: Pregnancy, on: date, reason: str) -> None:
    pregnancy.status, pregnancy.closed_on, pregnancy.close_reason = "closed", on, reason
