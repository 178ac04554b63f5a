"""The push API of DESIGN.md §3: the VAPID public key, subscribe and unsubscribe (upsert by endpoint, owned by
the signed-in user, CSRF-checked by the actor dependency), and a test notification a user sends herself.
Subscribing also answers with the user's latest alert that was given up, which the settings page shows."""

import json
from datetime import datetime
from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.datastructures import State
from sqlmodel import Session

from backend.accounts.services import Actor
from backend.alerts.job import PushRuntime, allowed_hosts_of, runtime_of
from backend.alerts.services import (
    EndpointNotAllowed,
    delete_subscription,
    latest_given_up,
    save_subscription,
    send_test_notification,
)
from backend.web import app_state, problem


def _json(data: dict[str, Any], status_code: int = 200) -> Response[bytes]:
    body = json.dumps(data, ensure_ascii=False).encode()
    return Response(
        content=body,
        status_code=status_code,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _push_off() -> Response[bytes]:
    return problem(
        503,
        "push notifications are not configured on this server",
        "the operator must set a valid SUIFANG_PUSH_CONTACT and VAPID key; see the server log",
        code="push_disabled",
    )


async def _body(request: Request[Any, Any, State]) -> object:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@get("/api/push/key", sync_to_thread=False)
def push_key(request: Request[Any, Any, State]) -> Response[bytes]:
    """The VAPID public key the page passes to `pushManager.subscribe` as applicationServerKey."""
    runtime: PushRuntime | None = runtime_of(request.app)
    if runtime is None:
        return _push_off()
    return _json({"publicKey": runtime.keys.public_key_b64url})


@post("/api/push/subscriptions")
async def subscribe(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[bytes]:
    """Save this browser's subscription for the signed-in user (sent again on every app open, and on each
    visit of the settings page). The answer: when a notification last reached this browser, and `givenUp` —
    only when the user's latest given-up alert is newer than the last one delivered — its day and kind, so
    the page can say that a reminder never arrived (DOMAIN.md §5)."""
    if runtime_of(request.app) is None:
        return _push_off()
    data = await _body(request)
    hosts = allowed_hosts_of(app_state(request).settings)
    try:
        row = save_subscription(db, actor.user_id, data, hosts)
    except EndpointNotAllowed as exc:
        return problem(
            422,
            "push service not allowed",
            f"{exc}; this server only sends to the push services of common browsers",
            code="endpoint_not_allowed",
        )
    except ValueError as exc:
        return problem(422, "invalid push subscription", str(exc), code="invalid_subscription")
    answer: dict[str, Any] = {"subscribed": True, "lastSuccessAt": _iso(row.last_success_at)}
    given_up = latest_given_up(db, actor.user_id)
    if given_up is not None:
        answer["givenUp"] = {"day": given_up.local_day.isoformat(), "kind": given_up.kind}
    return _json(answer)


@delete("/api/push/subscriptions", status_code=200)
async def unsubscribe(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[bytes]:
    """Forget this browser's subscription (body: `{"endpoint": ...}`), if it is the signed-in user's."""
    data = await _body(request)
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    if not isinstance(endpoint, str) or not endpoint:
        return problem(422, "invalid request", "send the subscription's endpoint", code="endpoint_missing")
    return _json({"deleted": delete_subscription(db, actor.user_id, endpoint)})


@post("/api/push/test")
async def test_push(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[bytes]:
    """Send the signed-in user a test notification on every device she turned notifications on."""
    runtime = runtime_of(request.app)
    if runtime is None:
        return _push_off()
    result = await send_test_notification(db, runtime.sender, actor.user_id, actor.locale)
    if result.delivered == 0 and result.failed == 0:
        return problem(409, "notifications are not on", "turn notifications on first", code="no_subscription")
    return _json(
        {
            "delivered": result.delivered,
            "failed": result.failed,
            "lastSuccessAt": _iso(result.last_success_at),
        },
        status_code=200 if result.delivered else 502,
    )


ROUTES = [push_key, subscribe, unsubscribe, test_push]
