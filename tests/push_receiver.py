"""A real Web Push service for tests, on 127.0.0.1: it checks VAPID as FCM and Apple do, decrypts as a browser
(RFC 8291 via `cryptography`, independent of the sender's http_ece), records what arrived, and can be told
to answer 404/410/429/5xx/403 or to hang. It runs in its own thread, so sync and async tests can both use it.

    with PushReceiver() as receiver:            # or the `push_receiver` fixture
        sub = receiver.subscription()           # {"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}
        receiver.respond(sub["endpoint"], 429, {"Retry-After": "120"})
"""

import base64
import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import pytest
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAX_BODY_BYTES = (
    4096  # RFC 8030 §7.2: services must take at least this; we take exactly this, like a strict one
)
MAX_TOKEN_LIFETIME = 24 * 3600  # RFC 8292 §2
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_URGENCIES = {"very-low", "low", "normal", "high"}
# Like Apple (403 BadJwtToken): a contact on these never reaches anyone.
_BAD_CONTACT_HOST = re.compile(r"(^|[@.])(localhost|[^@/]*\.local|[^@/]*\.invalid)(/|$)", re.IGNORECASE)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


@dataclass(frozen=True)
class Reply:
    """What the receiver answers for one endpoint, after the message passed every check."""

    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)
    hang_seconds: float = 0.0


@dataclass(frozen=True)
class Received:
    """A message that passed VAPID and decryption."""

    endpoint: str
    status: int
    plaintext: bytes
    payload: Any
    ttl: int
    urgency: str | None
    topic: str | None
    claims: dict[str, Any]
    token: str
    k: str


@dataclass(frozen=True)
class Attempt:
    """Every POST, accepted or not, with the status answered and why."""

    endpoint: str
    status: int
    reason: str


@dataclass
class _Browser:
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes
    application_server_key: str | None


class _RefusedError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class PushReceiver:
    """The push service. `messages` holds what arrived (any programmed status), `attempts` every request."""

    def __init__(self, hang_seconds: float = 5.0) -> None:
        self.default_hang_seconds = hang_seconds
        self.messages: list[Received] = []
        self.attempts: list[Attempt] = []
        self._browsers: dict[str, _Browser] = {}
        self._replies: dict[str, Reply] = {}
        self._verified_tokens: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------------------------

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="push-receiver", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()  # releases hanging handlers
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- what a test does ------------------------------------------------------------------------------------

    def subscription(self, application_server_key: str | None = None) -> dict[str, Any]:
        """A new browser subscription, as `PushSubscription.toJSON()` gives it. With `application_server_key`,
        pushes signed with any other VAPID key get 403, as real services do after a key rotation."""
        private_key = ec.generate_private_key(ec.SECP256R1())
        auth_secret = os.urandom(16)
        endpoint = f"{self.origin}/wpush/{_b64url(os.urandom(12))}"
        with self._lock:
            self._browsers[endpoint] = _Browser(private_key, auth_secret, application_server_key)
        return {
            "endpoint": endpoint,
            "keys": {"p256dh": _b64url(_point(private_key.public_key())), "auth": _b64url(auth_secret)},
        }

    def program(self, endpoint: str, reply: Reply | None) -> None:
        """Answer `reply` to every later valid push to `endpoint` (None: back to 201)."""
        with self._lock:
            if reply is None:
                self._replies.pop(endpoint, None)
            else:
                self._replies[endpoint] = reply

    def respond(self, endpoint: str, status: int, headers: dict[str, str] | None = None) -> None:
        self.program(endpoint, Reply(status=status, headers=headers or {}))

    def hang(self, endpoint: str, seconds: float | None = None) -> None:
        """Accept the request and say nothing for `seconds` (longer than any client timeout in the tests)."""
        self.program(endpoint, Reply(hang_seconds=seconds or self.default_hang_seconds))

    def delivered(self, endpoint: str | None = None) -> list[Received]:
        """Messages answered with 201, optionally for one endpoint."""
        with self._lock:
            return [m for m in self.messages if m.status == 201 and endpoint in (None, m.endpoint)]

    # -- the push service ------------------------------------------------------------------------------------

    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[Reply, str]:
        endpoint = self.origin + path
        with self._lock:
            browser = self._browsers.get(endpoint)
            reply = self._replies.get(endpoint, Reply())
        try:
            if browser is None:
                raise _RefusedError(404, "no such subscription")
            claims, token, k = self._check_vapid(headers.get("authorization", ""), browser)
            ttl_text = headers.get("ttl", "")
            if not ttl_text.isdigit():
                raise _RefusedError(400, "TTL header missing or not a number")
            urgency, topic = headers.get("urgency"), headers.get("topic")
            if urgency is not None and urgency not in _URGENCIES:
                raise _RefusedError(400, "bad Urgency")
            if topic is not None and not _TOPIC.match(topic):
                raise _RefusedError(400, "bad Topic")
            if headers.get("content-encoding", "").lower() != "aes128gcm":
                raise _RefusedError(415, "Content-Encoding must be aes128gcm")
            if len(body) > MAX_BODY_BYTES:
                raise _RefusedError(413, "payload too large")
            plaintext = _decrypt(body, browser)
        except _RefusedError as refused:
            self._record(Attempt(endpoint, refused.status, refused.reason))
            return Reply(status=refused.status, headers={"Content-Type": "application/json"}), json.dumps(
                {"reason": refused.reason}
            )
        try:
            payload: Any = json.loads(plaintext)
        except ValueError:
            payload = None
        message = Received(
            endpoint, reply.status, plaintext, payload, int(ttl_text), urgency, topic, claims, token, k
        )
        with self._lock:
            self.messages.append(message)
        self._record(Attempt(endpoint, reply.status, "programmed" if reply != Reply() else "accepted"))
        return reply, ""

    def _record(self, attempt: Attempt) -> None:
        with self._lock:
            self.attempts.append(attempt)

    def _check_vapid(self, authorization: str, browser: _Browser) -> tuple[dict[str, Any], str, str]:
        scheme, _, params_text = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise _RefusedError(401, "Authorization must use the vapid scheme (RFC 8292)")
        params = dict(part.strip().partition("=")[::2] for part in params_text.split(","))
        token, k = params.get("t", ""), params.get("k", "")
        if not token or not k:
            raise _RefusedError(401, "vapid t= and k= are both required")
        if browser.application_server_key is not None and k != browser.application_server_key:
            raise _RefusedError(403, "k is not the applicationServerKey this subscription was made with")
        with self._lock:
            claims = self._verified_tokens.get((token, k))
        if claims is None:
            claims = _verify_es256(token, k)
            with self._lock:
                self._verified_tokens[(token, k)] = claims
        now = time.time()
        if claims.get("aud") != self.origin:
            raise _RefusedError(403, f"aud must be {self.origin}")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= now or exp > now + MAX_TOKEN_LIFETIME:
            raise _RefusedError(403, "exp must be in the future and at most 24 h ahead")
        sub = claims.get("sub")
        if (
            not isinstance(sub, str)
            or not sub.startswith(("mailto:", "https://"))
            or _BAD_CONTACT_HOST.search(sub)
        ):
            raise _RefusedError(403, "BadJwtToken: sub must be a real mailto: or https: contact")
        return claims, token, k


def _verify_es256(token: str, k: str) -> dict[str, Any]:
    """Check the JWT's ES256 signature with the public key `k`; 401 for anything that does not verify."""
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(_b64url_decode(header_b64))
        if header.get("alg") != "ES256":
            raise _RefusedError(401, "JWT alg must be ES256")
        signature = _b64url_decode(signature_b64)
        if len(signature) != 64:
            raise _RefusedError(401, "ES256 signature must be 64 bytes")
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64url_decode(k))
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        public_key.verify(der, f"{header_b64}.{claims_b64}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
        claims = json.loads(_b64url_decode(claims_b64))
    except _RefusedError:
        raise
    except (InvalidSignature, ValueError, UnicodeError) as exc:
        raise _RefusedError(401, f"JWT does not verify with k ({type(exc).__name__})") from exc
    if not isinstance(claims, dict):
        raise _RefusedError(401, "JWT claims must be an object")
    return claims


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def _decrypt(body: bytes, browser: _Browser) -> bytes:
    """RFC 8291 §3.4 + RFC 8188: header (salt 16, rs 4, idlen 1, keyid = sender's public key), one record."""
    if len(body) < 21:
        raise _RefusedError(400, "body shorter than an aes128gcm header")
    salt, rs, idlen = body[:16], int.from_bytes(body[16:20], "big"), body[20]
    sender_point, ciphertext = body[21 : 21 + idlen], body[21 + idlen :]
    if idlen != 65 or rs < 18 or len(ciphertext) > rs or len(ciphertext) < 17:
        raise _RefusedError(400, "aes128gcm header must carry the 65-byte sender key and one record")
    try:
        sender_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_point)
        ecdh_secret = browser.private_key.exchange(ec.ECDH(), sender_key)
        ua_point = _point(browser.private_key.public_key())
        ikm = _hkdf(browser.auth_secret, ecdh_secret, b"WebPush: info\x00" + ua_point + sender_point, 32)
        cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
        nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
    except (ValueError, InvalidTag) as exc:
        raise _RefusedError(400, "decryption failed") from exc
    unpadded = padded.rstrip(b"\x00")
    if not unpadded.endswith(b"\x02"):
        raise _RefusedError(400, "the only record must end with delimiter 0x02")
    return unpadded[:-1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024  # the default backlog of 5 drops connections under concurrent sends

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client closed a kept-alive connection: what clients do, not a fault to print
        super().handle_error(request, client_address)


def _handler_for(receiver: PushReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real clients expect
        disable_nagle_algorithm = True
        timeout = 10  # idle keep-alive connections end instead of holding a thread forever

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 65536))
            headers = {name.lower(): value for name, value in self.headers.items()}
            reply, text = receiver._handle(self.path, headers, body)
            if reply.hang_seconds:
                receiver._stopping.wait(reply.hang_seconds)
            content = text.encode("utf-8")
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.status == 201:
                    self.send_header("Location", f"{receiver.origin}/message/{_b64url(os.urandom(9))}")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
            except OSError:
                self.close_connection = True  # the client gave up (the timeout tests)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(name="push_receiver")
def push_receiver_fixture() -> Iterator[PushReceiver]:
    """A running push service, closed after the test. Import `push_receiver_fixture` into a test module (or
    list this module in a conftest's `pytest_plugins`) and ask for `push_receiver`."""
    with PushReceiver() as receiver:
        yield receiver
