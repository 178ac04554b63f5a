"""VAPID keys on disk, the operator contact, the signed header, and proof that the test push service really
checks them (so the sender tests would fail if VAPID were broken)."""

import base64
import json
import stat
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt as vapid_jwt

from backend.push.sender import Notification, PushSender, SendKind, Subscription, encrypt_aes128gcm
from backend.push.vapid import (
    KEY_FILE_NAME,
    VapidKeys,
    audience_of,
    check_contact,
    load_or_create_keys,
    make_vapid_headers,
)
from tests.push_receiver import PushReceiver, push_receiver_fixture  # noqa: F401 - the fixture

CONTACT = "mailto:ops@suifang.example.cn"


def claims_of(authorization: str) -> dict[str, object]:
    token = authorization.split("t=", 1)[1].split(",", 1)[0]
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def pem_of(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


# -- keys ----------------------------------------------------------------------------------------------------


def test_it_creates_the_key_pair_once_and_reuses_it(tmp_path: Path) -> None:
    first = load_or_create_keys(tmp_path / "data")
    second = load_or_create_keys(tmp_path / "data")

    assert first.public_key_b64url == second.public_key_b64url
    key_file = tmp_path / "data" / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not [p for p in key_file.parent.iterdir() if p.name != KEY_FILE_NAME]  # no temporary file left


def test_the_public_key_is_what_application_server_key_takes(tmp_path: Path) -> None:
    keys = load_or_create_keys(tmp_path)

    text = keys.public_key_b64url
    raw = base64.urlsafe_b64decode(text + "=")
    assert "=" not in text and "+" not in text and "/" not in text
    assert len(raw) == 65 and raw[0] == 4


def test_it_takes_the_key_from_an_inline_setting_or_a_file(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    key_file = tmp_path / "vapid.pem"
    key_file.write_text(pem_of(key))
    raw = (
        base64.urlsafe_b64encode(key.private_numbers().private_value.to_bytes(32, "big"))
        .rstrip(b"=")
        .decode()
    )

    from_inline = load_or_create_keys(tmp_path / "unused", private_key_pem=pem_of(key))
    from_file = load_or_create_keys(tmp_path / "unused", private_key_file=key_file)
    from_raw = load_or_create_keys(tmp_path / "unused", private_key_pem=raw)

    assert from_inline.public_key_b64url == from_file.public_key_b64url == from_raw.public_key_b64url
    assert not (tmp_path / "unused").exists()  # nothing generated when the key is configured


def test_it_refuses_a_key_given_twice_or_on_another_curve(tmp_path: Path) -> None:
    key_file = tmp_path / "vapid.pem"
    key_file.write_text(pem_of(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(ValueError, match="not both"):
        load_or_create_keys(tmp_path, private_key_pem=key_file.read_text(), private_key_file=key_file)
    with pytest.raises(ValueError, match="P-256"):
        load_or_create_keys(tmp_path, private_key_pem=pem_of(ec.generate_private_key(ec.SECP384R1())))
    with pytest.raises(ValueError, match="not a readable"):
        load_or_create_keys(tmp_path, private_key_pem="not a key")


# -- contact -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "contact",
    [
        "mailto:ops@suifang.example.cn",
        "mailto:wei.zhang+push@health.gov.cn",
        "https://suifang.example.org/contact",
    ],
)
def test_it_accepts_a_real_contact(contact: str) -> None:
    assert check_contact(contact) == contact


@pytest.mark.parametrize(
    "contact",
    [
        "",
        "mailto:admin@localhost",
        "mailto:ops@printer.local",
        "mailto:ops@nowhere.invalid",
        "mailto:@example.com",
        "mailto:ops@example",
        "ops@example.com",
        "http://suifang.example.org",
        "https://localhost/contact",
        "https://127.0.0.1/contact",
        "https://user@suifang.example.org/",
        " mailto:ops@example.com",
    ],
)
def test_it_refuses_a_contact_no_one_can_reach(contact: str) -> None:
    with pytest.raises(ValueError, match="SUIFANG_PUSH_CONTACT"):
        check_contact(contact)


# -- the header ----------------------------------------------------------------------------------------------


def test_the_audience_is_the_push_services_origin() -> None:
    assert audience_of("https://fcm.googleapis.com/fcm/send/abc") == "https://fcm.googleapis.com"
    assert audience_of("https://web.push.apple.com:443/QX") == "https://web.push.apple.com"
    assert audience_of("http://127.0.0.1:8123/wpush/x") == "http://127.0.0.1:8123"


def test_each_header_is_signed_from_fresh_claims(tmp_path: Path) -> None:
    keys = load_or_create_keys(tmp_path)
    before = int(time.time())

    fcm = make_vapid_headers(keys, "https://fcm.googleapis.com/fcm/send/a", CONTACT)
    apple = make_vapid_headers(keys, "https://web.push.apple.com/b", CONTACT)

    assert fcm["Authorization"] != apple["Authorization"]
    assert fcm["Authorization"].startswith("vapid t=")
    assert fcm["Authorization"].endswith(f", k={keys.public_key_b64url}")
    assert claims_of(fcm["Authorization"])["aud"] == "https://fcm.googleapis.com"
    assert claims_of(apple["Authorization"])["aud"] == "https://web.push.apple.com"
    for header in (fcm, apple):
        claims = claims_of(header["Authorization"])
        assert claims["sub"] == CONTACT
        assert isinstance(claims["exp"], int)
        assert before + 11 * 3600 <= claims["exp"] <= int(time.time()) + 12 * 3600


def test_it_refuses_a_token_lifetime_over_24_hours(tmp_path: Path) -> None:
    keys = load_or_create_keys(tmp_path)
    with pytest.raises(ValueError, match="24 h"):
        make_vapid_headers(keys, "https://fcm.googleapis.com/x", CONTACT, ttl_exp_seconds=24 * 3600 + 1)
    with pytest.raises(ValueError, match="mailto"):
        make_vapid_headers(keys, "https://fcm.googleapis.com/x", "mailto:admin@localhost")


# -- the test push service checks VAPID, so the sender tests mean something ----------------------------------


def post_raw(receiver: PushReceiver, keys: VapidKeys, authorization: str) -> httpx.Response:
    sub = Subscription.from_json(receiver.subscription())
    body = encrypt_aes128gcm(b'{"title":"t"}', sub)
    headers = {"Authorization": authorization, "TTL": "60", "Content-Encoding": "aes128gcm"}
    return httpx.post(sub.endpoint, content=body, headers=headers, timeout=5)


def signed(keys: VapidKeys, claims: dict[str, object]) -> str:
    return f"vapid t={vapid_jwt.sign(claims, keys.private_key)}, k={keys.public_key_b64url}"


def test_the_receiver_accepts_a_correct_header(push_receiver: PushReceiver, tmp_path: Path) -> None:
    keys = load_or_create_keys(tmp_path)
    header = make_vapid_headers(keys, push_receiver.origin + "/x", CONTACT)["Authorization"]

    assert post_raw(push_receiver, keys, header).status_code == 201
    assert push_receiver.delivered()[0].payload == {"title": "t"}


def test_the_receiver_refuses_a_tampered_signature(push_receiver: PushReceiver, tmp_path: Path) -> None:
    keys = load_or_create_keys(tmp_path)
    header = make_vapid_headers(keys, push_receiver.origin + "/x", CONTACT)["Authorization"]
    token = header.split("t=", 1)[1].split(",", 1)[0]
    _, claims, signature = token.split(".")
    forged_claims = base64.urlsafe_b64encode(
        json.dumps(
            {"aud": push_receiver.origin, "exp": int(time.time()) + 60, "sub": "mailto:x@evil.example.com"}
        ).encode()
    ).rstrip(b"=")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]

    assert post_raw(push_receiver, keys, header.replace(signature, flipped)).status_code == 401
    assert post_raw(push_receiver, keys, header.replace(claims, forged_claims.decode())).status_code == 401
    assert push_receiver.delivered() == []


def test_the_receiver_refuses_a_token_signed_by_another_key(
    push_receiver: PushReceiver, tmp_path: Path
) -> None:
    keys = load_or_create_keys(tmp_path / "a")
    other = load_or_create_keys(tmp_path / "b")
    header = make_vapid_headers(keys, push_receiver.origin + "/x", CONTACT)["Authorization"]
    swapped_k = header.replace(keys.public_key_b64url, other.public_key_b64url)

    assert post_raw(push_receiver, keys, swapped_k).status_code == 401


@pytest.mark.parametrize(
    ("aud", "exp_in", "sub"),
    [
        ("https://fcm.googleapis.com", 3600, CONTACT),  # stale aud from another push service
        (None, 25 * 3600, CONTACT),  # beyond 24 h
        (None, -60, CONTACT),  # expired
        (None, 3600, "mailto:admin@localhost"),  # Apple's BadJwtToken
    ],
)
def test_the_receiver_refuses_bad_claims(
    push_receiver: PushReceiver, tmp_path: Path, aud: str | None, exp_in: int, sub: str
) -> None:
    keys = load_or_create_keys(tmp_path)
    claims = {"aud": aud or push_receiver.origin, "exp": int(time.time()) + exp_in, "sub": sub}

    assert post_raw(push_receiver, keys, signed(keys, claims)).status_code == 403


async def test_a_rotated_key_is_refused_as_a_configuration_error(
    push_receiver: PushReceiver, tmp_path: Path
) -> None:
    subscribed_with = load_or_create_keys(tmp_path / "old")
    rotated = load_or_create_keys(tmp_path / "new")
    raw = push_receiver.subscription(application_server_key=subscribed_with.public_key_b64url)
    sub = Subscription.from_json(raw)
    note = Notification(title="随访", body="3 visits overdue", url="/visits/overdue", tag="overdue-digest")

    async with PushSender(rotated, CONTACT, allowed_hosts=[push_receiver.origin]) as sender:
        refused = await sender.send(sub, note, ttl_seconds=60, topic="overdue")
    async with PushSender(subscribed_with, CONTACT, allowed_hosts=[push_receiver.origin]) as sender:
        accepted = await sender.send(sub, note, ttl_seconds=60, topic="overdue")

    assert (refused.kind, refused.status) == (SendKind.CONFIG_ERROR, 403)
    assert accepted.kind is SendKind.DELIVERED
