"""DOMAIN.md §5: an alert that could not be delivered is retried, then given up "and shown in the app". The
subscriptions answer the settings page gets on each visit names the signed-in user's latest given-up alert
(its day and kind only), until a later alert reaches her; never another user's (SQLite and PostgreSQL)."""

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlmodel import Session

from backend.accounts.models import User
from backend.accounts.services import start_session
from backend.alerts.models import Alert
from backend.alerts.services import GAVE_UP, NO_SUBSCRIPTION, NOTHING, SENT
from backend.app import create_app
from backend.settings import Settings
from tests.conftest import Cast
from tests.push_receiver import PushReceiver, push_receiver_fixture  # noqa: F401 - the fixture

DIGEST = "overdue-digest"


@pytest.fixture
def app_client(settings: Settings, push_receiver: PushReceiver) -> Iterator[TestClient[Any]]:
    app = create_app(settings.with_(push_allowed_hosts=(push_receiver.origin,)), run_migrations=False)
    with TestClient(app) as client:
        yield client


def add_alert(db: Session, user: User, day: date, status: str, kind: str = DIGEST) -> None:
    db.add(Alert(user_id=user.id, kind=kind, local_day=day, status=status, payload='{"counts": 3}'))
    db.commit()


def subscribe_as(client: TestClient[Any], db: Session, user: User, sub: dict[str, Any]) -> dict[str, Any]:
    """What the settings page gets when it sends this browser's subscription as `user`."""
    token, row = start_session(db, user, days=30)
    db.commit()
    client.cookies.set("sf_session", token)
    answer = client.post("/api/push/subscriptions", json=sub, headers={"X-CSRF-Token": row.csrf_token})
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def test_a_given_up_alert_is_named_to_its_user_and_to_no_one_else(
    app_client: TestClient[Any], db: Session, cast: Cast, push_receiver: PushReceiver
) -> None:
    add_alert(db, cast.cadre_a, date(2026, 11, 20), SENT)
    add_alert(db, cast.cadre_a, date(2026, 11, 21), GAVE_UP)
    add_alert(db, cast.cadre_a, date(2026, 11, 22), GAVE_UP)
    add_alert(db, cast.cadre_a, date(2026, 11, 23), NOTHING)  # nothing to say that day: not a delivery
    add_alert(db, cast.cadre_b, date(2026, 11, 22), SENT)
    add_alert(db, cast.cadre_b, date(2026, 11, 23), NO_SUBSCRIPTION)

    hers = subscribe_as(app_client, db, cast.cadre_a, push_receiver.subscription())
    his = subscribe_as(app_client, db, cast.cadre_b, push_receiver.subscription())

    assert hers == {
        "subscribed": True,
        "lastSuccessAt": None,
        "givenUp": {"day": "2026-11-22", "kind": DIGEST},  # the latest; no counts, no payload
    }
    assert his == {"subscribed": True, "lastSuccessAt": None}


def test_a_later_delivered_alert_hides_the_given_up_one(
    app_client: TestClient[Any], db: Session, cast: Cast, push_receiver: PushReceiver
) -> None:
    sub = push_receiver.subscription()
    add_alert(db, cast.cadre_a, date(2026, 11, 22), GAVE_UP)
    assert subscribe_as(app_client, db, cast.cadre_a, sub)["givenUp"] == {"day": "2026-11-22", "kind": DIGEST}

    add_alert(db, cast.cadre_a, date(2026, 11, 23), SENT)

    assert "givenUp" not in subscribe_as(app_client, db, cast.cadre_a, sub)


def test_a_supervisors_given_up_escalation_is_named_with_its_kind(
    app_client: TestClient[Any], db: Session, cast: Cast, push_receiver: PushReceiver
) -> None:
    add_alert(db, cast.sup_t, date(2026, 11, 22), GAVE_UP, kind="escalation")

    answer = subscribe_as(app_client, db, cast.sup_t, push_receiver.subscription())

    assert answer["givenUp"] == {"day": "2026-11-22", "kind": "escalation"}
