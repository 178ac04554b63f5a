"""The sync endpoints of PROTOCOL.md: `GET /sync/session`, `POST /sync/push`, `GET /sync/pull`. Handlers parse
and answer; applying lives in sync.apply, reading in sync.pull."""

import json
import zlib
from functools import partial
from typing import Any

import anyio
from litestar import Request, Response, get, post
from litestar.datastructures import State
from sqlmodel import Session

from backend.accounts.models import User
from backend.accounts.services import Actor
from backend.lib.clock import utc_offset_minutes, utcnow
from backend.web import AppState, app_state, problem, require_role
from sync import pull as pulling
from sync.apply import MAX_OPS, PROTOCOL_VERSION, BatchContext, apply_batch, batch_today, parse_sent_at

MAX_BODY = 5_000_000
JSON = "application/json"


def json_response(
    request: Request[Any, Any, State], body: dict[str, Any], status: int = 200
) -> Response[bytes]:
    """Compact JSON; the app's compression gzips it when the client accepts it and it is worth it."""
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content=raw, status_code=status, media_type=JSON, headers={"Cache-Control": "no-store"})


def _iso_now() -> str:
    return utcnow().isoformat(timespec="seconds").replace("+00:00", "Z")


@get("/sync/session", sync_to_thread=False)
def session_info(request: Request[Any, Any, State], actor: Actor) -> Response[bytes]:
    """Whose session this is, its CSRF token (read at send time), and the server's date, clock and zone."""
    return json_response(
        request,
        {
            "v": PROTOCOL_VERSION,
            "user_id": str(actor.user_id),
            "role": actor.role,
            "locale": actor.locale,
            "csrf_token": actor.csrf_token,
            "today": app_state(request).today().isoformat(),
            "server_time": _iso_now(),
            "utc_offset_min": utc_offset_minutes(app_state(request).settings.timezone),
            "max_ops": MAX_OPS,
        },
    )


class BadBody(Exception):
    def __init__(self, status: int, title: str, **extra: Any) -> None:
        super().__init__(title)
        self.status, self.title, self.extra = status, title, extra


def _read_json(raw: bytes, encoding: str) -> Any:
    if "gzip" in encoding.lower():
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, MAX_BODY + 1)
        except zlib.error:
            raise BadBody(400, "body is not valid gzip") from None
        if len(raw) > MAX_BODY or inflater.unconsumed_tail:
            raise BadBody(413, "body too large", max_bytes=MAX_BODY, max_ops=MAX_OPS)
    if len(raw) > MAX_BODY:
        raise BadBody(413, "body too large", max_bytes=MAX_BODY, max_ops=MAX_OPS)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise BadBody(400, "body is not JSON") from None


def _batch(body: Any) -> list[Any]:
    if not isinstance(body, dict):
        raise BadBody(400, "body must be a JSON object with `ops`")
    version = body.get("v", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION:
        raise BadBody(400, "unsupported protocol version", supported=[PROTOCOL_VERSION])
    ops = body.get("ops")
    if not isinstance(ops, list):
        raise BadBody(400, "`ops` must be a list of operations")
    if len(ops) > MAX_OPS:
        raise BadBody(413, f"at most {MAX_OPS} operations per batch", max_ops=MAX_OPS, max_bytes=MAX_BODY)
    return ops


@post("/sync/push")
async def push(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[bytes]:
    """Apply a batch of operations, each exactly once by its op_id; one result per operation."""
    require_role(actor, "village", "township")
    try:
        body = _read_json(await request.body(), request.headers.get("content-encoding", ""))
        ops = _batch(body)
    except BadBody as exc:
        return problem(exc.status, exc.title, **exc.extra)
    answer = await anyio.to_thread.run_sync(partial(_push, db, actor, app_state(request), body, ops))
    return json_response(request, answer)


def _push(db: Session, actor: Actor, state: AppState, body: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    """The database work of a push, off the event loop."""
    now = utcnow()
    tz = state.settings.timezone
    batch = BatchContext(
        actor=actor,
        cipher=state.cipher,
        today=batch_today(tz, now),
        received_at=now,
        timezone=tz,
        device_id=str(body.get("device_id") or "")[:64],
        clock_error=parse_sent_at(body.get("sent_at"), tz, now),
    )
    results = apply_batch(db, batch, ops)
    user = db.get(User, actor.user_id)
    if user is not None:
        user.last_sync_at = now
        db.add(user)
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    answer: dict[str, Any] = {
        "v": PROTOCOL_VERSION,
        "server_time": _iso_now(),
        "today": batch.today.isoformat(),
        "results": results,
        "counts": counts,
    }
    if "cursor" in body:
        try:
            cursor = pulling.parse_cursor(str(body["cursor"]))
        except ValueError:
            cursor = 0
        answer["pull"] = pulling.pull_page(db, actor, cursor, pulling.DEFAULT_LIMIT, batch.today)
    return answer


@get("/sync/pull", sync_to_thread=True)
def pull(
    request: Request[Any, Any, State],
    db: Session,
    actor: Actor,
    cursor: str = "0",
    limit: int = pulling.DEFAULT_LIMIT,
) -> Response[bytes]:
    """Cases in the user's scope changed since the cursor, paged; cursor 0 is the first full pull."""
    try:
        position = pulling.parse_cursor(cursor)
    except ValueError:
        return problem(400, "invalid cursor", "send back the cursor of the previous page, or 0")
    today = app_state(request).today()
    page = pulling.pull_page(db, actor, position, limit, today)
    page["server_time"] = _iso_now()
    if not page["more"]:
        user = db.get(User, actor.user_id)
        if user is not None:
            user.last_sync_at = utcnow()
            db.add(user)
    return json_response(request, page)


ROUTES = [session_info, push, pull]
