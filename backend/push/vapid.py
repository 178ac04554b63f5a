"""VAPID (RFC 8292): the server's P-256 key pair, kept stable on disk, the operator contact (`sub`), and the
`Authorization: vapid t=<JWT>, k=<key>` header that proves to a push service who is sending."""

import base64
import logging
import os
import re
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt as vapid_jwt

logger = logging.getLogger(__name__)

KEY_FILE_NAME: Final = "vapid_private.pem"
DEFAULT_TOKEN_LIFETIME_SECONDS: Final = 12 * 3600
"""JWT `exp` is this far ahead: RFC 8292 allows at most 24 h, and half of that tolerates clock skew."""
MAX_TOKEN_LIFETIME_SECONDS: Final = 24 * 3600

# Names that never reach a person; Apple answers 403 BadJwtToken to a `sub` on them.
_RESERVED_TLDS = frozenset(
    {"localhost", "local", "invalid", "test", "example", "internal", "lan", "home", "arpa"}
)
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})$")
_MAILBOX = re.compile(r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+$")


@dataclass(frozen=True)
class VapidKeys:
    """The application server key pair. Rotating it silently invalidates every existing push subscription."""

    private_key: ec.EllipticCurvePrivateKey

    @property
    def public_key_raw(self) -> bytes:
        """The uncompressed P-256 point (65 bytes, starting 0x04)."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    @cached_property
    def public_key_b64url(self) -> str:
        """What the page passes to `pushManager.subscribe({applicationServerKey})` and what `k=` carries."""
        return b64url(self.public_key_raw)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; raises ValueError on anything else."""
    cleaned = text.strip()
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", cleaned):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(cleaned.rstrip("=") + "=" * (-len(cleaned.rstrip("=")) % 4))


def load_or_create_keys(
    data_dir: Path, private_key_pem: str | None = None, private_key_file: Path | None = None
) -> VapidKeys:
    """The VAPID keys from settings (inline PEM or a `*_FILE` path), else `data_dir/vapid_private.pem`,
    created (mode 0600) on the first call and reused afterwards."""
    if private_key_pem and private_key_file:
        raise ValueError("VAPID private key: give it inline or as a file, not both")
    if private_key_pem:
        return VapidKeys(_parse_private_key(private_key_pem, source="the inline setting"))
    if private_key_file is not None:
        return VapidKeys(
            _parse_private_key(private_key_file.read_text(encoding="utf-8"), str(private_key_file))
        )

    path = data_dir / KEY_FILE_NAME
    if not path.exists():
        _create_key_file(path)
    elif path.stat().st_mode & 0o077:
        logger.warning("VAPID private key file %s is readable by other users; chmod 600 it", path)
    return VapidKeys(_parse_private_key(path.read_text(encoding="utf-8"), str(path)))


def _create_key_file(path: Path) -> None:
    """Write a new key without ever exposing a partial or world-readable file; if another process wins the
    race, its key is kept (two workers must never hold different keys)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask could only have narrowed it, but be explicit
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        path.hardlink_to(tmp)  # fails if the file appeared meanwhile, unlike os.replace
        logger.info("created a new VAPID key pair in %s", path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def _parse_private_key(text: str, source: str) -> ec.EllipticCurvePrivateKey:
    """PEM (PKCS#8 or SEC1), or the raw 32-byte scalar in base64url (`web-push generate-vapid-keys`)."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        else:
            raw = b64url_decode(text)
            if len(raw) != 32:
                raise ValueError("a raw key has 32 bytes")
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"VAPID private key from {source} is not a readable PEM or base64url P-256 key"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"VAPID private key from {source} must be an EC P-256 (prime256v1) key")
    return key


def check_contact(sub: str) -> str:
    """Return `sub` if it is a real `mailto:name@domain.tld` or `https://host.tld/...` contact, else raise.

    Push services use it to reach the operator; Apple refuses tokens whose contact is on localhost, `.local`
    or `.invalid`, so a bad value here silently breaks every iPhone."""
    hint = "set SUIFANG_PUSH_CONTACT to a real mailto:you@your-domain.tld or https://your-domain.tld address"
    value = (sub or "").strip()
    if value != sub or not value:
        raise ValueError(f"VAPID contact is empty or padded with spaces; {hint}")
    lowered = value.lower()
    if lowered.startswith("mailto:"):
        local, at, domain = value[len("mailto:") :].rpartition("@")
        if not at or not _MAILBOX.match(local.lower()) or not _is_public_domain(domain):
            raise ValueError(f"VAPID contact {value!r} is not a deliverable e-mail address; {hint}")
        return value
    if lowered.startswith("https://"):
        try:
            url = urlsplit(value)
            url.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError as exc:
            raise ValueError(f"VAPID contact {value!r} is not a valid URL; {hint}") from exc
        if "@" in url.netloc or not _is_public_domain(url.hostname or ""):
            raise ValueError(f"VAPID contact {value!r} must name a public host, without user info; {hint}")
        return value
    raise ValueError(f"VAPID contact {value!r} must start with mailto: or https:; {hint}")


def _is_public_domain(domain: str) -> bool:
    domain = domain.lower()
    return bool(_DOMAIN.match(domain)) and domain.rsplit(".", 1)[-1] not in _RESERVED_TLDS


def audience_of(endpoint: str) -> str:
    """The JWT `aud`: the push service's origin (scheme://host[:port]), never our own site."""
    url = urlsplit(endpoint)
    if url.scheme not in ("https", "http") or not url.hostname:
        raise ValueError("push endpoint must be an http(s) URL")
    host = url.hostname if ":" not in url.hostname else f"[{url.hostname}]"
    default_port = 443 if url.scheme == "https" else 80
    port = "" if url.port in (None, default_port) else f":{url.port}"
    return f"{url.scheme}://{host}{port}"


def make_vapid_headers(
    keys: VapidKeys, endpoint: str, sub: str, ttl_exp_seconds: int = DEFAULT_TOKEN_LIFETIME_SECONDS
) -> dict[str, str]:
    """A freshly signed `Authorization` header for `endpoint`'s push service.

    The claims dict is built anew on every call: a dict shared between push services keeps a stale `aud` and
    earns a 403 (the pywebpush pitfall, web-push-libs/pywebpush#79)."""
    if not 0 < ttl_exp_seconds <= MAX_TOKEN_LIFETIME_SECONDS:
        raise ValueError("VAPID token lifetime must be between 1 s and 24 h (RFC 8292 §2)")
    claims: dict[str, str | int] = {
        "aud": audience_of(endpoint),
        "exp": int(time.time()) + ttl_exp_seconds,
        "sub": check_contact(sub),
    }
    token = str(vapid_jwt.sign(claims, keys.private_key))
    return {"Authorization": f"vapid t={token}, k={keys.public_key_b64url}"}
