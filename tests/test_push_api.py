"""The push API through the real app (SQLite and PostgreSQL): the key, subscribing and unsubscribing as the
signed-in user, the allow-list, CSRF, and a test notification that reaches a real (local) push service."""

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import TestClient
from sqlmodel import Session, col, select

from backend.accounts.models import User
from backend.accounts.services import start_session
from backend.alerts.models import PushSubscription
from backend.app import create_app
from backend.lib.clock import utcnow
from backend.push.vapid import KEY_FILE_NAME, load_or_create_keys
from backend.settings import Settings
from tests.conftest import Cast
from tests.push_receiver import PushReceiver, push_receiver_fixture  # noqa: F401 - the fixture


class Client:
    """A TestClient signed in as one user, sending the session's CSRF token on writes."""

    def __init__(self, client: TestClient[Any], csrf: str = "") -> None:
        self.http, self.csrf = client, csrf

    def get(self, path: str) -> Any:
        return self.http.get(path)

    def post(self, path: str, body: Any = None, *, csrf: bool = True) -> Any:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return self.http.post(path, json=body, headers=headers)

    def delete(self, path: str, body: Any = None) -> Any:
        return self.http.request("DELETE", path, json=body, headers={"X-CSRF-Token": self.csrf})


@pytest.fixture
def push_settings(settings: Settings, push_receiver: PushReceiver) -> Settings:
    return settings.with_(push_allowed_hosts=(push_receiver.origin,))


@pytest.fixture
def app_client(push_settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(push_settings, run_migrations=False)) as client:
        yield client


def signed_in(client: TestClient[Any], db: Session, user: User) -> Client:
    token, row = start_session(db, user, days=30)
    db.commit()
    client.cookies.set("sf_session", token)
    return Client(client, row.csrf_token)


def rows(db: Session) -> list[PushSubscription]:
    db.rollback()
    db.expire_all()  # rollback() expires nothing when no transaction was open
    return list(db.exec(select(PushSubscription).order_by(col(PushSubscription.created_at))).all())


# -- the key -------------------------------------------------------------------------------------------------


def test_the_key_pair_is_created_on_first_start_and_kept_across_restarts(push_settings: Settings) -> None:
    with TestClient(create_app(push_settings, run_migrations=False)) as client:
        first = client.get("/api/push/key").json()["publicKey"]
    with TestClient(create_app(push_settings, run_migrations=False)) as client:
        second = client.get("/api/push/key").json()["publicKey"]

    assert first == second == load_or_create_keys(push_settings.data_dir).public_key_b64url
    assert (push_settings.data_dir / KEY_FILE_NAME).stat().st_mode & 0o077 == 0
    assert len(first) == 87  # base64url of the 65-byte uncompressed P-256 point


def test_a_key_given_in_settings_is_used_instead_of_the_data_directory(push_settings: Settings) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()

    with TestClient(create_app(push_settings.with_(vapid_private_key=pem), run_migrations=False)) as client:
        answer = client.get("/api/push/key").json()["publicKey"]

    from backend.push.vapid import VapidKeys

    assert answer == VapidKeys(key).public_key_b64url
    assert not (push_settings.data_dir / KEY_FILE_NAME).exists()


def test_a_contact_that_no_push_service_accepts_turns_push_off_with_a_clear_message(
    push_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    bad = push_settings.with_(push_contact="mailto:admin@localhost")

    with caplog.at_level(logging.ERROR), TestClient(create_app(bad, run_migrations=False)) as client:
        answer = client.get("/api/push/key")
        health = client.get("/healthz")

    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "push_disabled"
    assert health.status_code == 200  # the rest of the app runs
    [record] = [r for r in caplog.records if "Web Push is OFF" in r.getMessage()]
    assert "SUIFANG_PUSH_CONTACT" in record.getMessage()


def test_in_production_the_placeholder_contact_turns_push_off(
    push_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    production = push_settings.with_(environment="production")

    with caplog.at_level(logging.ERROR), TestClient(create_app(production, run_migrations=False)) as client:
        answer = client.get("/api/push/key")

    assert answer.status_code == 503
    assert any("placeholder" in r.getMessage() for r in caplog.records)


# -- subscribing ---------------------------------------------------------------------------------------------


def test_a_cadre_turns_notifications_on_and_the_subscription_is_hers(
    app_client: TestClient[Any], db: Session, cast: Cast, push_receiver: PushReceiver
) -> None:
    client = signed_in(app_client, db, cast.cadre_a)
    sub = push_receiver.subscription()

    answer = client.post("/api/push/subscriptions", {**sub, "expirationTime": None})

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"subscribed": True, "lastSuccessAt": None}
    [row] = rows(db)
    assert (row.user_id, row.endpoint, row.p256dh, row.auth) == (
        cast.cadre_a.id,
        sub["endpoint"],
        sub["keys"]["p256dh"],
        sub["keys"]["auth"],
    )


def test_sending_the_same_subscription_again_updates_it_instead_of_adding_one(
    app_client: TestClient[Any], db: Session, cast: Cast, push_receiver: PushReceiver
) -> None:
    client = signed_in(app_client, db, cast.cadre_a)
    sub = push_receiver.subscription()
    client.post("/api/push/subscriptions", sub)
    [first] = rows(db)

    again = client.post("/api/push/subscriptions", sub)

    assert again.status_code == 200
    [row] = rows(db)
    assert row.id == first.id and row.last_seen_at >= first.last_seen_at


def test_a_phone_that_changes_hands_moves_its_subscription_to_the_new_user(
    app_client: TestClient[Any], db: Session, cast: Cast, push_receiver: PushReceiver
) -> None:
    sub = push_receiver.subscription()
    signed_in(app_client, db, cast.cadre_a).post("/api/push/subscriptions", sub)
    [row] = rows(db)
    row.last_success_at = utcnow()  # a digest reached the phone while it was hers
    db.add(row)
    db.commit()

    answer = signed_in(app_client, db, cast.cadre_b).post("/api/push/subscriptions", sub)

    assert answer.json() == {"subscribed": True, "lastSuccessAt": None}
    [row] = rows(db)
    assert row.user_id == cast.cadre_b.id


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://evil.example.com/wpush/abc",
        "https://fcm.googleapis.com.evil.example.com/fcm/send/abc",
        "http://fcm.googleapis.com/fcm/send/abc",
        "http://127.0.0.1:9/wpush/abc",  # a loopback port the deployment did not list
        "https://169.254.169.254/latest/meta-data",
        "file:///etc/passwd",
    ],
)
def test_a_subscription_to_a_host_that_is_not_a_push_service_is_refused(
    app_client: TestClient[Any], db: Session, cast: Cast, push_receiver: PushReceiver, endpoint: str
) -> None:
    client = signed_in(app_client, db, cast.cadre_a)
    sub = {**push_receiver.subscription(), "endpoint": endpoint}

    answer = client.post("/api/push/subscriptions", sub)

    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert (problem["title"], problem["code"]) == ("push service not allowed", "endpoint_not_allowed")
    assert "not a known push service" in problem["detail"]
    assert rows(db) == []


def test_the_push_services_of_real_browsers_are_accepted(
    app_client: TestClient[Any], db: Session, cast: Cast, push_receiver: PushReceiver
) -> None:
    client = signed_in(app_client, db, cast.cadre_a)
    keys = push_receiver.subscription()["keys"]
    endpoints = [
        "https://fcm.googleapis.com/fcm/send/dG9rZW4",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "https://web.push.apple.com/QGx0b2tlbg",
    ]

    answers = [client.post("/api/push/subscriptions", {"endpoint": e, "keys": keys}) for e in endpoints]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert {r.endpoint for r in rows(db)} == set(endpoints)


@pytest.mark.parametrize(
    "body",
    [None, [], {"endpoint": "https://fcm.googleapis.com/fcm/send/x"}, {"endpoint": 3, "keys": {}}],
    ids=["empty", "list", "no-keys", "wrong-types"],
)
def test_a_malformed_subscription_is_refused_with_a_problem_document(
    app_client: TestClient[Any], db: Session, cast: Cast, body: Any
) -> None:
    answer = signed_in(app_client, db, cast.cadre_a).post("/api/push/subscriptions", body)

    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_subscription"
    assert rows(db) == []


def test_subscription_keys_that_cannot_be_encrypted_for_are_refused(
    app_client: TestClient[Any], db: Session, cast: Cast, push_receiver: PushReceiver
) -> None:
    sub = push_receiver.subscription()
    sub["keys"]["p256dh"] = "BAAA" + sub["keys"]["p256dh"][4:]  # not a point on the curve

    answer = signed_in(app_client, db, cast.cadre_a).post("/api/push/subscriptions", sub)

    assert answer.status_code == 422
    assert rows(db) == []


def test_subscribing_needs_a_session_and_its_csrf_token(
    app_client: TestClient[Any], db: Session, cast: Cast, push_receiver: PushReceiver
) -> None:
    sub = push_receiver.subscription()
    anonymous = app_client.post("/api/push/subscriptions", json=sub, headers={"X-CSRF-Token": "x"})
    client = signed_in(app_client, db, cast.cadre_a)
    without_token = client.post("/api/push/subscriptions", sub, csrf=False)
    cross_site = app_client.post(
        "/api/push/subscriptions",
        json=sub,
        headers={"X-CSRF-Token": client.csrf, "Origin": "https://evil.example.com"},
    )

    assert (anonymous.status_code, without_token.status_code, cross_site.status_code) == (401, 403, 403)
    assert rows(db) == []


def test_unsubscribing_deletes_her_subscription_and_never_someone_elses(
    app_client: TestClient[Any], db: Session, cast: Cast, push_receiver: PushReceiver
) -> None:
    hers, his = push_receiver.subscription(), push_receiver.subscription()
    signed_in(app_client, db, cast.cadre_b).post("/api/push/subscriptions", his)
    client = signed_in(app_client, db, cast.cadre_a)
    client.post("/api/push/subscriptions", hers)

    others = client.delete("/api/push/subscriptions", {"endpoint": his["endpoint"]})
    own = client.delete("/api/push/subscriptions", {"endpoint": hers["endpoint"]})

    assert (others.json(), own.json()) == ({"deleted": False}, {"deleted": True})
    assert [r.endpoint for r in rows(db)] == [his["endpoint"]]


# -- the test notification -----------------------------------------------------------------------------------


def test_a_user_sends_herself_a_test_notification_and_sees_when_it_arrived(
    app_client: TestClient[Any], db: Session, cast: Cast, push_receiver: PushReceiver
) -> None:
    client = signed_in(app_client, db, cast.cadre_a)
    sub = push_receiver.subscription(application_server_key=client.get("/api/push/key").json()["publicKey"])
    client.post("/api/push/subscriptions", sub)

    answer = client.post("/api/push/test")

    assert answer.status_code == 200, answer.text
    [message] = push_receiver.delivered(sub["endpoint"])
    assert message.payload["title"] == "随访测试通知"
    assert message.payload["tag"] == "suifang-test"
    assert message.urgency == "normal" and message.ttl == 3600
    [row] = rows(db)
    assert row.last_success_at is not None
    assert answer.json() == {"delivered": 1, "failed": 0, "lastSuccessAt": row.last_success_at.isoformat()}
    again = client.post("/api/push/subscriptions", sub)  # what the settings page shows on its next visit
    assert again.json()["lastSuccessAt"] == row.last_success_at.isoformat()


def test_a_test_notification_to_an_expired_subscription_removes_it(
    app_client: TestClient[Any], db: Session, cast: Cast, push_receiver: PushReceiver
) -> None:
    client = signed_in(app_client, db, cast.cadre_a)
    sub = push_receiver.subscription()
    client.post("/api/push/subscriptions", sub)
    push_receiver.respond(sub["endpoint"], 410)

    answer = client.post("/api/push/test")

    assert answer.status_code == 502
    assert answer.json() == {"delivered": 0, "failed": 1, "lastSuccessAt": None}
    assert rows(db) == []


def test_a_test_without_notifications_on_says_to_turn_them_on(
    app_client: TestClient[Any], db: Session, cast: Cast
) -> None:
    answer = signed_in(app_client, db, cast.cadre_a).post("/api/push/test")

    assert answer.status_code == 409
    assert answer.json()["code"] == "no_subscription"
