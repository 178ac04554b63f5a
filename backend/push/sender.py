"""Sending one Web Push message: aes128gcm encryption (RFC 8291), VAPID (RFC 8292), the RFC 8030 headers,
and what the push service's answer means (delivered, delete the subscription, retry later, fix config)."""

import asyncio
import hashlib
import json
import logging
import random
import re
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from types import TracebackType
from typing import Final, Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import http_ece
import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from backend.push.allowlist import DEFAULT_ALLOWED_HOSTS, is_allowed_endpoint
from backend.push.vapid import (
    DEFAULT_TOKEN_LIFETIME_SECONDS,
    VapidKeys,
    audience_of,
    b64url,
    b64url_decode,
    check_contact,
    make_vapid_headers,
)

logger = logging.getLogger(__name__)


class _RequestUrlRedactor(logging.Filter):
    """httpx logs every request's full URL at INFO, and a push endpoint's path identifies one phone: keep
    only the origin. Installed on the httpx logger when this module is imported (so for all httpx use)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > 1 and isinstance(args[1], httpx.URL):
            url = args[1]
            record.args = (args[0], f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}", *args[2:])
        return True


logging.getLogger("httpx").addFilter(_RequestUrlRedactor())

MAX_PLAINTEXT_BYTES: Final = 3000
"""Our ceiling for a payload. aes128gcm with one 4096-byte record fits 3993 bytes; keep well clear of it."""
MAX_TTL_SECONDS: Final = 28 * 24 * 3600  # FCM caps TTL at 4 weeks
MAX_RETRY_AFTER_SECONDS: Final = 24 * 3600

Urgency = Literal["very-low", "low", "normal", "high"]
_URGENCIES: Final = frozenset({"very-low", "low", "normal", "high"})
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")  # RFC 8030 §5.4


@dataclass(frozen=True)
class Subscription:
    """A browser's PushSubscription: where to POST, and the keys to encrypt for (base64url, as `toJSON()`)."""

    endpoint: str
    p256dh: str
    auth: str

    @classmethod
    def from_json(cls, data: object) -> "Subscription":
        """Validate a browser's `PushSubscription.toJSON()` object; raise ValueError if it cannot work."""
        if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
            raise ValueError("a push subscription needs an endpoint and keys")
        endpoint, keys = data.get("endpoint"), data["keys"]
        p256dh, auth = keys.get("p256dh"), keys.get("auth")
        if not (isinstance(endpoint, str) and isinstance(p256dh, str) and isinstance(auth, str)):
            raise ValueError("a push subscription needs endpoint, keys.p256dh and keys.auth strings")
        subscription = cls(endpoint=endpoint, p256dh=p256dh, auth=auth)
        subscription.decoded_keys()
        return subscription

    def decoded_keys(self) -> tuple[bytes, bytes]:
        """(the user agent's public point, the 16-byte auth secret); ValueError if either is malformed."""
        point, secret = b64url_decode(self.p256dh), b64url_decode(self.auth)
        if len(secret) != 16:
            raise ValueError("subscription auth secret must be 16 bytes")
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)  # raises ValueError off the curve
        if len(point) != 65:
            raise ValueError("subscription p256dh must be an uncompressed P-256 point")
        return point, secret


@dataclass(frozen=True)
class Notification:
    """What the service worker shows. Counts and a link only: no name, ID or diagnosis ever goes in a push."""

    title: str
    body: str
    url: str
    tag: str
    badge_count: int | None = None

    def to_json_bytes(self) -> bytes:
        """Compact UTF-8 JSON, without `badge_count` when None; ValueError past MAX_PLAINTEXT_BYTES."""
        fields = {key: value for key, value in asdict(self).items() if value is not None}
        data = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if len(data) > MAX_PLAINTEXT_BYTES:
            raise ValueError(
                f"push payload is {len(data)} bytes; keep it under {MAX_PLAINTEXT_BYTES} (send counts)"
            )
        return data


class SendKind(StrEnum):
    DELIVERED = "delivered"
    """The push service accepted it (201/202); the phone gets it when it is reachable within the TTL."""
    GONE = "gone"
    """404/410: the subscription expired or was withdrawn. Delete THAT subscription, by its endpoint."""
    RETRY_LATER = "retry_later"
    """429, 5xx, timeout or connection failure: try again after `after_seconds`."""
    CONFIG_ERROR = "config_error"
    """401/403/413: our VAPID key, contact or payload is wrong. Retrying won't help; an operator must look."""
    REJECTED = "rejected"
    """Any other refusal (other 4xx, an endpoint outside the allow-list, unusable keys). Do not retry."""


@dataclass(frozen=True)
class SendResult:
    kind: SendKind
    status: int | None = None
    """The push service's HTTP status; None when there was no answer or nothing was sent."""
    after_seconds: int | None = None
    """Only for RETRY_LATER: the service's Retry-After, or exponential backoff from the attempt number."""
    reason: str = ""
    """A short technical reason for logs and the admin page; never personal data."""


def topic_for(kind: str) -> str:
    """RFC 8030 Topic for a kind of message ("overdue-digest"): a newer message with the same Topic replaces
    an older one the push service still holds for an offline phone. 32 base64url characters, from a hash."""
    digest = hashlib.sha256(kind.encode("utf-8")).digest()
    return b64url(digest)[:32]


def ttl_until_end_of_local_day(now: datetime, tz: ZoneInfo) -> int:
    """Seconds from `now` until the next local midnight in `tz` (at least 1): today's digest is worthless
    tomorrow, when a new one is sent. Correct across daylight-saving changes."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(tz)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    # Subtract in UTC: Python ignores the offsets when both datetimes share one tzinfo object.
    seconds = (midnight.astimezone(UTC) - now.astimezone(UTC)).total_seconds()
    return max(1, int(seconds))


def backoff_seconds(attempt: int, base_seconds: int, cap_seconds: int) -> int:
    """Exponential backoff for the attempt-th retry (0 for the first failure), with up to 20% random jitter so
    that a push-service outage is not answered by every worker at the same instant."""
    delay = min(cap_seconds, base_seconds * 2 ** max(0, min(attempt, 30)))
    return int(delay + random.uniform(0, delay * 0.2))  # noqa: S311 - jitter, not a secret


def parse_retry_after(value: str | None, now: datetime) -> int | None:
    """Retry-After as delta-seconds or an HTTP-date (RFC 9110 §10.2.3), bounded to [1 s, 24 h]; None if
    absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = int(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = int((when - now).total_seconds() + 0.999)
    return max(1, min(seconds, MAX_RETRY_AFTER_SECONDS))


def host_of(endpoint: str) -> str:
    """The only part of an endpoint that may be logged: the path is a per-device secret."""
    try:
        return urlsplit(endpoint).hostname or "?"
    except ValueError:
        return "?"


class PushSender:
    """Sends encrypted, signed pushes over one shared httpx.AsyncClient. Use `async with PushSender(...)`, or
    call `aclose()`. Safe for many concurrent `send()` calls on one event loop; bound their number below
    `max_connections` so that waiting for a connection does not eat into the timeout.

    The VAPID header is reused per push service for `token_reuse_seconds` (default 10 min), as real senders
    do: a token carries no per-message data, and reuse spares an ECDSA signature here and a verification at
    the push service for every message. The token's `exp` is 12 h ahead when signed, so a reused one stays
    well inside RFC 8292's 24 h. `token_reuse_seconds=0` signs fresh claims for every message."""

    def __init__(
        self,
        keys: VapidKeys,
        contact: str,
        *,
        allowed_hosts: tuple[str, ...] | list[str] = DEFAULT_ALLOWED_HOSTS,
        timeout_seconds: float = 10.0,
        token_reuse_seconds: float = 600.0,
        backoff_base_seconds: int = 60,
        backoff_cap_seconds: int = 6 * 3600,
        max_connections: int = 100,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not 0 <= token_reuse_seconds <= DEFAULT_TOKEN_LIFETIME_SECONDS / 2:
            raise ValueError("token_reuse_seconds must leave the reused token far from its expiry")
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive: a push service can hang")
        self.keys = keys
        self.contact = check_contact(contact)
        self.allowed_hosts = tuple(allowed_hosts)
        self.timeout_seconds = timeout_seconds
        self.token_reuse_seconds = token_reuse_seconds
        self.backoff_base_seconds = backoff_base_seconds
        self.backoff_cap_seconds = backoff_cap_seconds
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            follow_redirects=False,
        )
        # audience -> (monotonic deadline for reuse, Authorization header value)
        self._tokens: dict[str, tuple[float, str]] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def send(
        self,
        sub: Subscription,
        notification: Notification,
        *,
        ttl_seconds: int,
        topic: str,
        urgency: Urgency = "normal",
        attempt: int = 0,
    ) -> SendResult:
        """Encrypt `notification` for `sub` and POST it to the push service. `ttl_seconds` is how long the
        service keeps it for an offline phone (required: 0 would drop it); `topic` comes from
        `topic_for(kind)`; `attempt` counts earlier failed tries of this message and sets the backoff.
        Never raises for what the network or the push service does; ValueError for programming errors."""
        if not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl_seconds must be between 1 and {MAX_TTL_SECONDS}")
        if not _TOPIC.match(topic):
            raise ValueError("topic must be 1-32 characters of the base64url alphabet; use topic_for()")
        if urgency not in _URGENCIES:
            raise ValueError(f"urgency must be one of {sorted(_URGENCIES)}")
        plaintext = notification.to_json_bytes()
        host = host_of(sub.endpoint)

        if not is_allowed_endpoint(sub.endpoint, self.allowed_hosts):
            logger.warning("push not sent: endpoint host %s is not an allowed push service", host)
            return SendResult(SendKind.REJECTED, reason="endpoint not in the push allow-list")
        try:
            body = encrypt_aes128gcm(plaintext, sub)
        except (ValueError, http_ece.ECEException):
            logger.warning("push not sent to %s: the subscription's keys are unusable", host)
            return SendResult(SendKind.REJECTED, reason="unusable subscription keys")

        headers = {
            "Authorization": self._authorization(sub.endpoint),
            "TTL": str(ttl_seconds),
            "Urgency": urgency,
            "Topic": topic,
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
        }
        try:
            async with asyncio.timeout(self.timeout_seconds):
                response = await self._client.post(sub.endpoint, content=body, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            return self._retry(host, attempt, None, reason="timeout")
        except httpx.TransportError as exc:
            return self._retry(host, attempt, None, reason=f"connection failed ({type(exc).__name__})")
        return self._interpret(response, host, attempt)

    def _authorization(self, endpoint: str) -> str:
        audience = audience_of(endpoint)
        now = time.monotonic()
        cached = self._tokens.get(audience)
        if cached and cached[0] > now:
            return cached[1]
        value = make_vapid_headers(self.keys, endpoint, self.contact)["Authorization"]
        if self.token_reuse_seconds > 0:
            if len(self._tokens) > 1024:  # WNS hands out many hosts; never let this grow without bound
                self._tokens.clear()
            self._tokens[audience] = (now + self.token_reuse_seconds, value)
        return value

    def _interpret(self, response: httpx.Response, host: str, attempt: int) -> SendResult:
        status = response.status_code
        if 200 <= status < 300:
            logger.debug("push delivered to %s (%s)", host, status)
            return SendResult(SendKind.DELIVERED, status)
        reason = _service_reason(response)
        if status in (404, 410):
            logger.info("push subscription at %s is gone (%s)", host, status)
            return SendResult(SendKind.GONE, status, reason=reason)
        if status == 429 or status >= 500:
            return self._retry(host, attempt, status, reason, response.headers.get("Retry-After"))
        if status in (401, 403, 413):
            logger.error(
                "push configuration error: %s answered %s %s; check the VAPID key (did it change since the "
                "phones subscribed?), the contact and the payload size",
                host,
                status,
                reason,
            )
            return SendResult(SendKind.CONFIG_ERROR, status, reason=reason)
        logger.warning("push rejected by %s: %s %s", host, status, reason)
        return SendResult(SendKind.REJECTED, status, reason=reason)

    def _retry(
        self, host: str, attempt: int, status: int | None, reason: str, retry_after: str | None = None
    ) -> SendResult:
        after = parse_retry_after(retry_after, datetime.now(UTC))
        if after is None:
            after = backoff_seconds(attempt, self.backoff_base_seconds, self.backoff_cap_seconds)
        logger.warning("push to %s to be retried in %s s: %s %s", host, after, status or "", reason)
        return SendResult(SendKind.RETRY_LATER, status, after_seconds=after, reason=reason)


def encrypt_aes128gcm(plaintext: bytes, sub: Subscription) -> bytes:
    """RFC 8291 message encryption: a fresh ephemeral ECDH key and salt per message, one 4096-byte record."""
    point, secret = sub.decoded_keys()
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    body = http_ece.encrypt(
        plaintext, private_key=ephemeral, dh=point, auth_secret=secret, version="aes128gcm"
    )
    return bytes(body)


def _service_reason(response: httpx.Response) -> str:
    """The push service's machine-readable reason (Apple `reason`, Mozilla `errno`/`error`), no free text."""
    try:
        data = json.loads(response.content[:2048])
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    parts = [
        f"{key}={data[key]}" for key in ("reason", "errno", "error") if isinstance(data.get(key), str | int)
    ]
    return " ".join(parts)[:120]
