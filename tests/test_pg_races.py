"""Two requests writing the same thing outside a case at the same moment — two guesses at one password, a form
sent twice, a browser subscribing from its page and its service worker — end as if one had gone first: every
failure counted, nothing doubled, never a server error.

On SQLite a writing request holds the database from its start (BEGIN IMMEDIATE), so the second simply waits.
On PostgreSQL two transactions run side by side: a second one that checks before the first has committed, then
writes, counts from a stale value or clashes with the first's row. Each test holds the first writer's
transaction open until the second has finished or is waiting for a lock, then lets the first commit. (The
alert job's claims are checked by test_alerts_engine.py's two concurrent runs; writes to a case by
test_same_case_concurrency.py.)"""

import base64
import os
import uuid
from collections.abc import Callable
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from backend.accounts import admin, services
from backend.accounts.models import User, UserArea
from backend.accounts.services import MAX_FAILED_LOGINS, Actor
from backend.alerts.models import PushSubscription
from backend.alerts.services import save_subscription
from backend.areas.models import Area
from backend.db import begin_writing, session_scope
from backend.lib.i18n import ValidationFailed
from tests.conftest import PASSWORD, VILLAGE_A, VILLAGE_B, Cast
from tests.side_by_side import second_while_first_is_open

T = TypeVar("T")


def side_by_side(engine: Engine, first: Callable[[Session], object], second: Callable[[], T]) -> T:
    """`first` written and flushed in a transaction that began writing, then `second` (which commits its own)
    started while `first` is still uncommitted; `first` commits only once `second` has finished or is waiting
    for a lock (PostgreSQL) or for the write lock (SQLite). Returns what `second` returned."""
    with Session(engine, expire_on_commit=False) as session:
        begin_writing(session)
        first(session)
        session.flush()
        return second_while_first_is_open(engine, session.commit, second)


def writing(engine: Engine, write: Callable[[Session], T]) -> Callable[[], T]:
    """`write` in a transaction of its own that begins writing and commits, as a request's does."""

    def run() -> T:
        with session_scope(engine) as db:
            begin_writing(db)
            return write(db)

    return run


def actor_of(engine: Engine, cast: Cast, user: User) -> Actor:
    with Session(engine) as db:
        return cast.actor(user, db)


def stored_user(engine: Engine, user_id: uuid.UUID) -> User:
    with Session(engine) as db:
        user = db.get(User, user_id)
        assert user is not None
        return user


# -- sign-in ------------------------------------------------------------------------------------------------


def sign_in(engine: Engine, db: Session, phone: str, password: str) -> str:
    """A sign-in as the login page makes it: the password hashed in a transaction that only reads, the outcome
    recorded in `db`. "signed in", or the refusal's messages."""
    with Session(engine) as reading:
        checked = services.check_password(reading, phone, password)
    try:
        user = services.authenticate(db, phone, password, checked=checked)
    except ValidationFailed as exc:
        return "; ".join(e.text.in_("en") for e in exc.errors)
    services.start_session(db, user, days=30)
    return "signed in"


def test_two_wrong_passwords_at_once_both_count_towards_the_lockout(engine: Engine, cast: Cast) -> None:
    """Guesses sent in parallel must each count: counted as one, an attacker would get far more than five
    tries before the lockout."""
    phone = cast.cadre_a.phone
    answer = side_by_side(
        engine,
        lambda db: sign_in(engine, db, phone, "wrong-guess-1"),
        writing(engine, lambda db: sign_in(engine, db, phone, "wrong-guess-2")),
    )
    assert answer == "Wrong phone number or password"
    assert stored_user(engine, cast.cadre_a.id).failed_logins == 2


def test_the_right_password_guessed_while_another_guess_locks_the_account_is_refused(
    engine: Engine, cast: Cast
) -> None:
    """One wrong guess short of the lockout, an attacker sends two more at once: the wrong one locks the
    account, so the other — the right password — must be refused too, and the account stay locked."""
    with Session(engine) as db:
        db.execute(
            update(User).where(col(User.id) == cast.cadre_a.id).values(failed_logins=MAX_FAILED_LOGINS - 1)
        )
        db.commit()
    phone = cast.cadre_a.phone
    answer = side_by_side(
        engine,
        lambda db: sign_in(engine, db, phone, "wrong-guess"),
        writing(engine, lambda db: sign_in(engine, db, phone, PASSWORD)),
    )
    assert answer.startswith("Too many wrong passwords")
    assert stored_user(engine, cast.cadre_a.id).locked_until is not None


# -- people and places ---------------------------------------------------------------------------------------


def test_a_cadres_villages_saved_twice_at_once_are_saved(engine: Engine, cast: Cast) -> None:
    """The supervisor taps "save" twice on a slow connection: both requests replace the cadre's villages with
    the same ones. The second must not clash with the rows the first wrote (a server error)."""
    sup = actor_of(engine, cast, cast.sup_t)
    chosen = [VILLAGE_A, VILLAGE_B]
    side_by_side(
        engine,
        lambda db: admin.reassign(db, sup, cast.cadre_a.id, chosen),
        writing(engine, lambda db: admin.reassign(db, sup, cast.cadre_a.id, chosen)),
    )
    with Session(engine) as db:
        stored = db.exec(select(UserArea.area_code).where(UserArea.user_id == cast.cadre_a.id)).all()
    assert sorted(stored) == chosen


def test_an_area_list_imported_twice_at_once_adds_each_place_once(engine: Engine, cast: Cast) -> None:
    """The county administrator sends the same CSV twice (a double tap): the second finds the places the first
    added, and says it changed nothing, rather than clashing with them (a server error)."""
    county = actor_of(engine, cast, cast.county)
    rows = [["990101100003", "北山村"], ["990101100004", "石桥村"]]
    first = side_by_side(
        engine,
        lambda db: admin.import_area_file(db, county, rows),
        writing(engine, lambda db: admin.import_area_file(db, county, rows)),
    )
    assert first == (0, 0)
    with Session(engine) as db:
        stored = db.exec(select(Area.name).where(col(Area.code).in_([r[0] for r in rows]))).all()
    assert sorted(stored) == sorted(r[1] for r in rows)


def test_a_person_created_twice_at_once_is_created_once(engine: Engine, cast: Cast) -> None:
    """The new cadre's form sent twice: the second finds the phone number taken (a message on the form), not
    a clash with the first's row (a server error)."""
    sup = actor_of(engine, cast, cast.sup_t)

    def create(db: Session) -> User:
        return admin.create_person(
            db, sup, name="赵小红", phone="13800000099", password="first-password-1", areas=[VILLAGE_B]
        )

    def create_again(db: Session) -> list[str]:
        try:
            create(db)
        except ValidationFailed as exc:
            return [e.field for e in exc.errors]
        return []

    refused = side_by_side(engine, create, writing(engine, create_again))
    assert refused == ["phone"]
    with Session(engine) as db:
        assert len(db.exec(select(User).where(User.phone == "13800000099")).all()) == 1


# -- push subscriptions -------------------------------------------------------------------------------------


def a_browser_subscription() -> dict[str, object]:
    """What `PushSubscription.toJSON()` gives on a phone with Chrome."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )

    def b64url(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return {
        "endpoint": f"https://fcm.googleapis.com/fcm/send/{b64url(os.urandom(12))}",
        "keys": {"p256dh": b64url(point), "auth": b64url(os.urandom(16))},
    }


def test_one_browser_subscribing_twice_at_once_keeps_one_subscription(engine: Engine, cast: Cast) -> None:
    """The page and the service worker both subscribe the browser again at once — here as the phone changes
    hands, from one cadre to another: one subscription remains, the later one's, and neither request fails."""
    sub = a_browser_subscription()
    hosts = ("fcm.googleapis.com",)
    side_by_side(
        engine,
        lambda db: save_subscription(db, cast.cadre_a.id, sub, hosts),
        writing(engine, lambda db: save_subscription(db, cast.cadre_b.id, sub, hosts).user_id),
    )
    with Session(engine) as db:
        stored = db.exec(select(PushSubscription)).all()
    assert [(s.endpoint, s.user_id) for s in stored] == [(sub["endpoint"], cast.cadre_b.id)]
