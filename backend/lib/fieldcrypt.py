"""Encryption at rest of single fields (ID numbers): AES-256-GCM tokens, a keyed blind index for duplicates.

Both keys come from one secret through HKDF-SHA256, each with its own label: neither reveals the other.
"""

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from backend.lib.idcard import normalise_id

VERSION = "v1"
_PREFIX = VERSION + ":"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_BYTES = 32
MIN_SECRET_LENGTH = 16
_SALT = b"suifang/fieldcrypt"
_AEAD_INFO = b"suifang fieldcrypt v1 aes-256-gcm"
_INDEX_INFO = b"suifang fieldcrypt v1 hmac-sha256 blind index"


class FieldDecryptError(ValueError):
    """A token that cannot be decrypted: not ours, altered, truncated, or made with another key."""


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=_SALT, info=info).derive(secret)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise FieldDecryptError("encrypted field is not valid base64") from None
    # A changed last character can differ only in unused bits and still decode; refuse any non-canonical text.
    if _b64encode(raw) != text:
        raise FieldDecryptError("encrypted field is not canonical base64")
    return raw


class FieldCipher:
    """Encrypts, decrypts and blind-indexes field values with keys derived from one secret string."""

    __slots__ = ("_aead", "_index_key")

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"the field encryption secret must be at least {MIN_SECRET_LENGTH} characters")
        secret_bytes = secret.encode("utf-8")
        self._aead = AESGCM(_derive(secret_bytes, _AEAD_INFO))
        self._index_key = _derive(secret_bytes, _INDEX_INFO)

    def __repr__(self) -> str:
        return "FieldCipher(<secret>)"

    def encrypt(self, plain: str) -> str:
        """A fresh token "v1:<urlsafe base64 of nonce, ciphertext, tag>"; equal values never encrypt alike."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plain.encode("utf-8"), VERSION.encode("ascii"))
        return _PREFIX + _b64encode(nonce + sealed)

    def decrypt(self, token: str) -> str:
        """The plain text of an `encrypt` token; FieldDecryptError if altered or made with another key."""
        if not token.startswith(_PREFIX):
            raise FieldDecryptError(f"encrypted field does not start with {_PREFIX!r}")
        raw = _b64decode(token[len(_PREFIX) :])
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise FieldDecryptError("encrypted field is too short")
        try:
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], VERSION.encode("ascii"))
        except InvalidTag:
            raise FieldDecryptError(
                "encrypted field failed authentication: it was altered or made with another key"
            ) from None
        return plain.decode("utf-8")

    def blind_index(self, plain: str) -> str:
        """Hex HMAC-SHA256 of the normalised ID number: equal numbers match however they were typed."""
        return hmac.new(self._index_key, normalise_id(plain).encode("utf-8"), hashlib.sha256).hexdigest()
