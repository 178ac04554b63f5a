"""Applying a pushed batch (PROTOCOL.md §2–5): each operation exactly once by its op_id, in its own savepoint,
through the same readers and services as the online forms, answered one by one (applied, duplicate, conflict,
rejected with field errors, retry)."""

import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, update
from sqlmodel import Session, SQLModel, col, select

from backend.accounts.services import (
    EXPORT_REASON_REQUIRED,
    Actor,
    audit,
    audit_buffered,
    audit_unbuffered,
    export_reason,
)
from backend.cases import forms, queries, services
from backend.cases.forms import REQUIRED
from backend.cases.labels import field_label
from backend.cases.locks import lock_for_writing
from backend.cases.models import (
    Closure,
    Correction,
    FieldRecord,
    PostnatalVisit,
    Pregnancy,
    PrenatalVisit,
    RiskGrade,
    Woman,
)
from backend.cases.models import (
    Outcome as OutcomeRow,
)
from backend.cases.prefetch import prefetched, rows_by, stored
from backend.cases.schedule_store import deferred_refresh, prefetch_case_rows
from backend.cases.services import Forbidden, NotFound, WriteContext, Written
from backend.db import begin_writing
from backend.lib.faults import fault
from backend.lib.fieldcrypt import FieldCipher
from backend.lib.i18n import FieldError, Text, ValidationFailed
from backend.lib.idcard import normalise_id
from sync.models import SyncOperation

log = logging.getLogger("suifang.sync")

PROTOCOL_VERSION = 1
MAX_OPS = 500
MAX_FIELDS = 200
DATE_SLACK = timedelta(days=1)
"""Typed dates may lie one day past the server's local date: a phone clock a little fast around midnight."""

NOT_FOUND = Text(
    "未找到该记录，或已不在您的管辖范围（如已转出）",
    "Not found, or no longer in your area (e.g. transferred away)",
)
NOT_ALLOWED = Text("您的角色不能进行此操作", "Your role may not do this")
UNKNOWN_KIND = Text("未知的操作类型", "Unknown kind of operation")
NOT_AN_OBJECT = Text("内容格式错误", "Malformed content")
BAD_OP_ID = Text("操作编号无效", "Invalid operation id")
OP_ID_TAKEN = Text("操作编号已被使用", "This operation id is already used")
POSSIBLE_DUPLICATE = Text(
    "发现可能重复的孕产妇，请核对后勾选“仍然登记”",
    "A woman with the same ID number or name and birth date exists: check, then tick “register anyway”",
)
NOTHING_TO_CHANGE = Text("请至少修改一项", "Change at least one field")

# Stored statuses: applied, duplicate, conflict, rejected — and a rejected one later becomes
# `replaced` (by its fix) or `discarded` (by the user).
PENDING_REJECTED = "rejected"


@dataclass(frozen=True)
class BatchContext:
    """What every operation of one push shares: who, the server's clock, the device's clock error."""

    actor: Actor
    cipher: FieldCipher
    today: date
    received_at: datetime
    timezone: str = "Asia/Shanghai"
    device_id: str = ""
    clock_error: timedelta | None = None  # received_at − the device's sent_at, when it said

    def device_time(self, recorded_at: datetime | None) -> datetime:
        """The device's recorded_at corrected by the batch's clock error, never after the server got it."""
        if recorded_at is None:
            return self.received_at
        try:
            corrected = recorded_at + self.clock_error if self.clock_error is not None else recorded_at
        except OverflowError:  # a clock in year 1 or 9999: nothing to correct with
            corrected = recorded_at
        return min(corrected, self.received_at)


class Rejected(Exception):
    """An operation refused for good: stored, answered `rejected` on every replay."""

    def __init__(self, reason: str, errors: Sequence[FieldError], **extra: Any) -> None:
        super().__init__(reason)
        self.reason, self.errors, self.extra = reason, list(errors), extra


@dataclass
class Outcome:
    """What an applied operation produced, beyond the record it wrote."""

    written: Written
    status: str = "applied"
    extra: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Session, WriteContext, dict[str, Any], BatchContext], Outcome]


def _simple(reader_name: str, service_name: str) -> Handler:
    """A kind that is one form reader and one service, looked up when called (tests may replace either)."""

    def handle(db: Session, ctx: WriteContext, data: dict[str, Any], batch: BatchContext) -> Outcome:
        parsed = getattr(forms, reader_name)(data)
        written: Written = getattr(services, service_name)(db, ctx, parsed)
        return Outcome(written, "duplicate" if written.duplicate else "applied")

    return handle


def _register(db: Session, ctx: WriteContext, data: dict[str, Any], batch: BatchContext) -> Outcome:
    """登记, refused like the online form when the woman may already be known, unless confirmed."""
    reg = forms.read_registration(data)
    if (
        not forms.Reader(data).flag("confirm_duplicate")
        and stored(db, Pregnancy, reg.pregnancy_id) is None
        and stored(db, Woman, reg.woman_id) is None
    ):
        index = ctx.cipher.blind_index(normalise_id(reg.id_number)) if reg.id_number else None
        dupes = queries.possible_duplicates(
            db, ctx.actor.scope, id_index=index, name=reg.name, birth_date=reg.birth_date
        )
        if dupes:
            raise Rejected(
                "invalid",
                [FieldError("name", POSSIBLE_DUPLICATE)],
                possible_duplicates=[{"woman_id": str(w.id), "id_masked": w.id_masked or ""} for w in dupes],
            )
    written = services.register_pregnancy(db, ctx, reg)
    return Outcome(written, "duplicate" if written.duplicate else "applied")


def _edit_registration(db: Session, ctx: WriteContext, data: dict[str, Any], batch: BatchContext) -> Outcome:
    """A registration-field edit; the later one by device time wins, the loser is answered `conflict`."""
    r = forms.Reader(data)
    edit_id = r.uuid("id")
    target_type = r.choice("target_type", ("woman", "pregnancy"))
    target_id = r.uuid("target_id")
    reason = r.text("reason", max_length=300)
    changes = data.get("changes")
    if not isinstance(changes, dict):
        changes = {k.removeprefix("new-"): v for k, v in data.items() if k.startswith("new-") and v != ""}
    if not changes:
        r.errors.append(FieldError("changes", NOTHING_TO_CHANGE))
    r.finish()
    assert edit_id is not None and target_id is not None
    written = services.edit_registration(db, ctx, target_type, target_id, changes, edit_id, reason)
    if written.duplicate:
        return Outcome(written, "duplicate")
    mine = stored(db, Correction, edit_id)
    if mine is None or not mine.superseded:
        return Outcome(written)
    return Outcome(written, "conflict", {"winner": _winners(db, mine)})


def _winners(db: Session, mine: Correction) -> dict[str, dict[str, Any]]:
    """For each field our edit lost: the value and device time of the later edit that holds it."""
    edits = [c for c in rows_by(db, Correction, "target_id", mine.target_id) if c.kind == "edit"]
    ours = (mine.recorded_at, str(mine.id))
    out: dict[str, dict[str, Any]] = {}
    for name in json.loads(mine.changes):
        rivals = [c for c in edits if name in json.loads(c.changes) and (c.recorded_at, str(c.id)) > ours]
        if rivals:
            best = max(rivals, key=lambda c: (c.recorded_at, str(c.id)))
            out[name] = {
                "value": json.loads(best.changes)[name],
                "recorded_at": _iso(best.recorded_at),
                "label": {locale: field_label(name, locale) for locale in ("zh", "en")},
            }
    return out


KINDS: dict[str, Handler] = {
    "register": _register,
    "visit": _simple("read_prenatal_visit", "record_prenatal_visit"),
    "risk": _simple("read_risk", "set_risk_grade"),
    "outcome": _simple("read_outcome", "record_outcome"),
    "postnatal": _simple("read_postnatal", "record_postnatal_visit"),
    "close": _simple("read_closure", "close_case"),
    "correct": _simple("read_correction", "correct_record"),
    "edit_registration": _edit_registration,
}
ALL_KINDS = (*KINDS, "discard", "export_note")
CHECKS_FIRST = frozenset({"register", "visit", "risk", "outcome", "postnatal", "close", "edit_registration"})
"""Kinds whose service makes every check before its first write: refused, they leave nothing to undo, so the
quick way runs them without a savepoint of their own. A correction may still refuse after writing (a voided
closure would reopen a case while the woman has another open pregnancy): it keeps its savepoint."""
CREATES = {
    "register": ("id", "woman_id"),
    "outcome": ("id", *(f"babies-{i}-id" for i in range(forms.MAX_BABIES))),
}
REFERS = ("pregnancy_id", "target_id", "infant_id", "woman_id")


def _created_ids(kind: str, data: Mapping[str, Any]) -> tuple[str, ...]:
    return CREATES.get(kind, ("id",))


def _default_ids(kind: str, data: dict[str, Any], op_id: uuid.UUID) -> None:
    """Fill missing client UUIDs from the op_id, so a replay under the same op_id names the same records."""
    for name in _created_ids(kind, data):
        if not str(data.get(name) or "").strip():
            data[name] = str(uuid.uuid5(op_id, name))


class Malformed(Exception):
    def __init__(self, field: str, text: Text) -> None:
        super().__init__(field)
        self.field, self.text = field, text


def _scalar(name: str, value: Any) -> str:
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, int | float | str):
        return str(value)
    raise Malformed(name, NOT_AN_OBJECT)


def form_values(data: Any) -> dict[str, Any]:
    """An op's `data` as the string mapping an HTML form would have sent (`changes` stays an object)."""
    if not isinstance(data, dict) or len(data) > MAX_FIELDS:
        raise Malformed("data", NOT_AN_OBJECT)
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "changes" and isinstance(value, dict):
            out[key] = {str(k): _scalar(f"new-{k}", v) for k, v in value.items()}
        else:
            out[str(key)] = _scalar(str(key), value)
    return out


def parse_instant(value: Any, timezone: str) -> datetime | None:
    """An ISO 8601 device time; without an offset it is read in the deployment's zone; garbage gives None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _errors(errors: Sequence[FieldError], locale: str) -> list[dict[str, str]]:
    return [e.as_dict(locale) for e in errors]


@dataclass
class _Batch:
    """Bookkeeping of one push: results so far, rows to store, records a failed op would have created."""

    ctx: BatchContext
    careful: bool = True  # every op in a savepoint, a fault answered `retry`; else a fault fails the batch
    seen: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    resolutions: dict[uuid.UUID, str] = field(
        default_factory=dict
    )  # old rejected op_id → replaced | discarded
    blocked: dict[str, str] = field(default_factory=dict)  # record id → op_id that did not create it


def apply_batch(db: Session, batch: BatchContext, ops: Sequence[Any]) -> list[dict[str, Any]]:
    """Apply each operation in order, each on its own (a refused one changes nothing); one result each.

    First the quick way: due items are refreshed once per pregnancy at the end of the batch rather than after
    every write, and the kinds that make all their checks before writing (`CHECKS_FIRST`) skip their
    savepoint, so their rows are written together. Should anything but a refusal fail that way, the whole
    batch is rolled back and applied again the careful way — every operation in its own savepoint, due items
    refreshed after each — so the fault lands on one operation (`retry`). The caller commits once, after this
    returns.
    Operations refused for good are stored with their result, so a replay answers `duplicate`; operations that
    failed on the server (`retry`) are not: they can be sent again."""
    begin_writing(db)
    try:
        with deferred_refresh(db):
            state, results = _apply_all(db, batch, ops, careful=False)
    except Exception as exc:
        log.error("sync: the batch failed as a whole (%s); applying it op by op", fault(exc))
        db.rollback()
        begin_writing(db)
        state, results = _apply_all(db, batch, ops, careful=True)
    if state.rows:
        db.execute(insert(SyncOperation), state.rows)
    for status in ("replaced", "discarded"):
        old = [op_id for op_id, s in state.resolutions.items() if s == status]
        if old:
            db.execute(
                update(SyncOperation)
                .where(
                    col(SyncOperation.op_id).in_(old),
                    col(SyncOperation.user_id) == batch.actor.user_id,
                    col(SyncOperation.status) == PENDING_REJECTED,
                )
                .values(status=status)
            )
    return results


def _apply_all(
    db: Session, batch: BatchContext, ops: Sequence[Any], *, careful: bool
) -> tuple["_Batch", list[dict[str, Any]]]:
    state = _Batch(batch, careful)
    named_by_all = _records_named(op for op in ops if isinstance(op, dict))
    cases = [*named_by_all[Woman], *named_by_all[Pregnancy], *_cases_behind(db, ops, named_by_all[Woman])]
    lock_for_writing(db, cases)  # before the first read: locks.py
    known = _known_operations(db, ops)
    new_ops = [op for op in ops if isinstance(op, dict) and _uuid_or_none(op.get("op_id")) not in known]
    buffered = nullcontext() if careful else audit_buffered(db)
    named = _records_named(new_ops)
    with buffered, prefetched(db, named, _related_named(new_ops)):
        prefetch_case_rows(db, named[Pregnancy])  # their visits, grades, outcome… read together too
        return state, [_apply_one(db, state, known, op) for op in ops]


def _cases_behind(db: Session, ops: Sequence[Any], women: list[uuid.UUID]) -> list[uuid.UUID]:
    """The pregnancies a batch's writes reach without naming them: that of each record it corrects, and the
    earlier ones of each woman it registers a pregnancy for (one finished is closed). Read before the locks —
    a record never changes pregnancy, a woman's pregnancies never change hands — so the batch takes every
    case's lock at once, in key order, and no service takes one late while holding others: two batches
    each waiting for a lock the other holds would make PostgreSQL fail one (PostgreSQL only)."""
    if db.get_bind().dialect.name != "postgresql":
        return []
    targets: dict[type[FieldRecord], list[uuid.UUID]] = defaultdict(list)
    for op in ops:
        data = op.get("data") if isinstance(op, dict) else None
        if isinstance(data, dict) and op.get("kind") == "correct":
            model = queries.RECORD_MODELS.get(str(data.get("target_type")))
            if model is not None and (target := _uuid_or_none(data.get("target_id"))) is not None:
                targets[model].append(target)
    out: list[uuid.UUID] = []
    for model, ids in targets.items():
        out += db.exec(select(model.pregnancy_id).where(col(model.id).in_(ids))).all()  # type: ignore[attr-defined]
    if women:
        out += db.exec(select(Pregnancy.id).where(col(Pregnancy.woman_id).in_(women))).all()
    return out


RECORD_OF_KIND: dict[str, type[SQLModel]] = {
    "register": Pregnancy,
    "visit": PrenatalVisit,
    "risk": RiskGrade,
    "outcome": OutcomeRow,
    "postnatal": PostnatalVisit,
    "close": Closure,
    "correct": Correction,
    "edit_registration": Correction,
}
TARGETS: dict[str, type[SQLModel]] = {**queries.RECORD_MODELS, "woman": Woman, "pregnancy": Pregnancy}


def _records_named(ops: Iterable[dict[str, Any]]) -> dict[type[SQLModel], list[uuid.UUID]]:
    """The records a batch's operations write or refer to, by table, so they are read together: each new
    record's id (as `_default_ids` will fill it), the woman of a registration, the pregnancy referred to, and
    the target of a correction or edit."""
    models: list[type[SQLModel]] = [*RECORD_OF_KIND.values(), Woman]
    out: dict[type[SQLModel], list[uuid.UUID]] = {model: [] for model in models}
    for op in ops:
        kind, data, op_id = op.get("kind"), op.get("data"), _uuid_or_none(op.get("op_id"))
        if not isinstance(kind, str) or kind not in RECORD_OF_KIND or not isinstance(data, dict) or not op_id:
            continue
        named = {name: data.get(name) or uuid.uuid5(op_id, name) for name in ("id", "woman_id")}
        ids: list[tuple[type[SQLModel], Any]] = [
            (RECORD_OF_KIND[kind], named["id"]),
            (Pregnancy, data.get("pregnancy_id")),
        ]
        if kind == "register":
            ids.append((Woman, named["woman_id"]))
        if (target := TARGETS.get(str(data.get("target_type")))) is not None:
            ids.append((target, data.get("target_id")))
        for model, value in ids:
            if (record_id := _uuid_or_none(value)) is not None:
                out[model].append(record_id)
    return out


def _related_named(ops: Iterable[dict[str, Any]]) -> dict[tuple[type[SQLModel], str], list[uuid.UUID]]:
    """The rows a batch's operations look up by a foreign key: the pregnancies of each woman registered or
    edited (a new pregnancy closes a finished one; an edit of her details tells each of her cases), and the
    earlier edits of each registration edited (the later edit of a field wins)."""
    out: dict[tuple[type[SQLModel], str], list[uuid.UUID]] = {
        (Pregnancy, "woman_id"): [],
        (Correction, "target_id"): [],
    }
    for op in ops:
        data = op.get("data")
        if not isinstance(data, dict):
            continue
        if op.get("kind") == "register" and (woman := _uuid_or_none(data.get("woman_id"))) is not None:
            out[(Pregnancy, "woman_id")].append(woman)
        elif op.get("kind") == "edit_registration" and (target := _uuid_or_none(data.get("target_id"))):
            out[(Correction, "target_id")].append(target)
            if data.get("target_type") == "woman":
                out[(Pregnancy, "woman_id")].append(target)
    return out


def _known_operations(db: Session, ops: Sequence[Any]) -> dict[uuid.UUID, SyncOperation]:
    """The stored operations among this batch's op_ids and the ops they replace, in one query."""
    ids: set[uuid.UUID] = set()
    for op in ops:
        if isinstance(op, dict):
            ids.update(u for key in ("op_id", "replaces") if (u := _uuid_or_none(op.get(key))) is not None)
    if not ids:
        return {}
    rows = db.exec(select(SyncOperation).where(col(SyncOperation.op_id).in_(ids))).all()
    return {row.op_id: row for row in rows}


def _apply_one(db: Session, state: _Batch, known: dict[uuid.UUID, SyncOperation], op: Any) -> dict[str, Any]:
    batch = state.ctx
    locale = batch.actor.locale
    raw_id = op.get("op_id") if isinstance(op, dict) else None
    echo = raw_id if isinstance(raw_id, str) else None
    try:
        op_id = uuid.UUID(str(raw_id))
    except ValueError:
        return {
            "op_id": echo,
            "status": "rejected",
            "reason": "malformed",
            "errors": _errors([FieldError("op_id", BAD_OP_ID)], locale),
        }
    assert isinstance(op, dict)
    if (first := state.seen.get(op_id)) is not None:
        return _replay(echo, first)
    stored = known.get(op_id)
    if stored is not None:
        if stored.user_id != batch.actor.user_id:  # another user's op: never reveal its result
            return {
                "op_id": echo,
                "status": "rejected",
                "reason": "malformed",
                "errors": _errors([FieldError("op_id", OP_ID_TAKEN)], locale),
            }
        return _replay(echo, json.loads(stored.result))
    kind = op.get("kind")
    replaces = _uuid_or_none(op.get("replaces"))
    recorded_at = parse_instant(op.get("recorded_at"), batch.timezone)
    device_id = str(op.get("device_id") or batch.device_id or "sync")[:64]
    if kind == "discard":
        result = _discard(state, known, replaces, locale)
    elif kind == "export_note":
        result = _export_note(db, state, op.get("data"), device_id)
    elif kind not in KINDS:
        result = {
            "status": "rejected",
            "reason": "malformed",
            "errors": _errors([FieldError("kind", UNKNOWN_KIND)], locale),
        }
    else:
        result = _apply_kind(db, state, str(kind), op_id, op.get("data"), device_id, recorded_at)
    result = {"op_id": echo, **result}
    if result["status"] == "retry":
        return result
    state.seen[op_id] = result
    state.rows.append(
        {
            "op_id": op_id,
            "user_id": batch.actor.user_id,
            "device_id": device_id,
            "kind": str(kind)[:32],
            "status": result["status"],
            "result": json.dumps(result, ensure_ascii=False),
            "recorded_at": recorded_at,
            "received_at": batch.received_at,
        }
    )
    if replaces is not None and replaces != op_id and kind != "discard":
        state.resolutions.setdefault(replaces, "replaced")
    return result


def _replay(echo: str | None, first: Mapping[str, Any]) -> dict[str, Any]:
    original = first.get("original") if first["status"] == "duplicate" else first["status"]
    body = {k: v for k, v in first.items() if k not in ("op_id", "status", "original")}
    return {"op_id": echo, "status": "duplicate", "original": original or "applied", **body}


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _discard(
    state: _Batch, known: dict[uuid.UUID, SyncOperation], replaces: uuid.UUID | None, locale: str
) -> dict[str, Any]:
    """The user gave up a rejected entry on purpose: it stops counting as pending-rejected. Idempotent: an
    entry already resolved, or one the server never received, needs nothing more."""
    if replaces is None:
        return {
            "status": "rejected",
            "reason": "invalid",
            "errors": _errors([FieldError("replaces", REQUIRED)], locale),
        }
    stored = known.get(replaces)
    in_batch = state.seen.get(replaces)
    if (
        stored is not None and stored.user_id == state.ctx.actor.user_id and stored.status == PENDING_REJECTED
    ) or (in_batch is not None and in_batch["status"] == "rejected"):
        state.resolutions[replaces] = "discarded"
    return {"status": "applied", "record_id": str(replaces)}


def _export_note(db: Session, state: _Batch, raw: Any, device_id: str) -> dict[str, Any]:
    """The phone exported its pending entries to a file (the escape hatch): a personal list, so who did it,
    when and why go to the audit log (DOMAIN §7), even when the export was made with no signal."""
    locale = state.ctx.actor.locale
    data = raw if isinstance(raw, dict) else {}
    reason = export_reason(data.get("reason"))
    entries = data.get("entries")
    errors = [] if reason is not None else [FieldError("reason", EXPORT_REASON_REQUIRED)]
    if not isinstance(entries, int) or isinstance(entries, bool) or not 0 <= entries <= 100_000:
        errors.append(FieldError("entries", NOT_AN_OBJECT))
    if errors:
        return {"status": "rejected", "reason": "invalid", "errors": _errors(errors, locale)}
    detail = f"entries={entries} reason={reason}"
    audit(db, state.ctx.actor.user_id, "export_pending_entries", "outbox", device=device_id, detail=detail)
    return {"status": "applied"}


def _apply_kind(
    db: Session,
    state: _Batch,
    kind: str,
    op_id: uuid.UUID,
    raw_data: Any,
    device_id: str,
    recorded_at: datetime | None,
) -> dict[str, Any]:
    batch = state.ctx
    locale = batch.actor.locale
    try:
        data = form_values(raw_data)
    except Malformed as exc:
        return {
            "status": "rejected",
            "reason": "malformed",
            "errors": _errors([FieldError(exc.field, exc.text)], locale),
        }
    _default_ids(kind, data, op_id)
    waiting_for = next(
        (state.blocked[v] for name in REFERS if (v := str(data.get(name) or "")) in state.blocked), None
    )
    if waiting_for is not None:
        result: dict[str, Any] = {"status": "retry", "reason": "waiting", "after": waiting_for}
        _block(state, kind, data, op_id)
        return result
    ctx = WriteContext(
        actor=batch.actor,
        today=batch.today + DATE_SLACK,
        cipher=batch.cipher,
        device_id=device_id,
        recorded_at=batch.device_time(recorded_at),
    )
    try:
        if state.careful or kind not in CHECKS_FIRST:
            with audit_unbuffered(db), _savepoint(db):
                outcome = KINDS[kind](db, ctx, data, batch)
        else:  # refused before it adds anything; its rows are flushed with the next op's or the batch's
            outcome = KINDS[kind](db, ctx, data, batch)
    except ValidationFailed as exc:
        result = {"status": "rejected", "reason": "invalid", "errors": _errors(exc.errors, locale)}
    except Rejected as exc:
        result = {
            "status": "rejected",
            "reason": exc.reason,
            "errors": _errors(exc.errors, locale),
            **exc.extra,
        }
    except NotFound:
        where = next((n for n in ("pregnancy_id", "target_id", "infant_id") if data.get(n)), "id")
        result = {
            "status": "rejected",
            "reason": "not_found",
            "errors": _errors([FieldError(where, NOT_FOUND)], locale),
        }
    except Forbidden:
        result = {
            "status": "rejected",
            "reason": "forbidden",
            "errors": _errors([FieldError("kind", NOT_ALLOWED)], locale),
        }
    except Exception as exc:  # a fault of ours: this op is answered `retry`, the others go on
        if not state.careful:
            raise  # the quick way cannot tell what a fault left behind: the batch is applied again carefully
        log.error("sync: a %s op failed on the server (%s)", kind, fault(exc))
        result = {"status": "retry", "reason": "server_error"}
    else:
        original = {"original": "applied"} if outcome.status == "duplicate" else {}
        return {
            "status": outcome.status,
            **original,
            "record_id": str(outcome.written.record_id),
            "pregnancy_id": str(outcome.written.pregnancy_id),
            **outcome.extra,
        }
    _block(state, kind, data, op_id)
    return result


def _block(state: _Batch, kind: str, data: Mapping[str, Any], op_id: uuid.UUID) -> None:
    """Remember what this unapplied op would have created, so later ops of the batch that need it wait."""
    for name in _created_ids(kind, data):
        value = str(data.get(name) or "")
        if value:
            state.blocked.setdefault(value, str(op_id))


@contextmanager
def _savepoint(db: Session) -> Iterator[None]:
    """One operation's writes: kept when it succeeds, undone alone when it fails."""
    with db.begin_nested():
        yield
        db.flush()


def batch_today(timezone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def parse_sent_at(value: Any, timezone: str, received_at: datetime) -> timedelta | None:
    sent = parse_instant(value, timezone)
    return received_at - sent if sent is not None else None
