"""Sign-in, sessions, lockout, passwords and the audit log."""

import hashlib
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from backend.accounts.models import ROLES, AuditEntry, LoginSession, User, UserArea
from backend.db import write_after_reading
from backend.lib.clock import utcnow
from backend.lib.i18n import FieldError, Text, ValidationFailed
from backend.lib.parsing import normalise_phone
from backend.scope import Scope

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("timing-equaliser")


def use_fast_password_hashing() -> None:
    """Cheap argon2 parameters for test suites and benchmarks that create many users; never in production."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    _DUMMY_HASH = _hasher.hash("timing-equaliser")


WRONG_LOGIN = Text("手机号或密码不正确", "Wrong phone number or password")
LOCKED = Text(
    "密码错误次数过多，账号已锁定，请在 {minutes} 分钟后再试",
    "Too many wrong passwords: the account is locked, try again in {minutes} minutes",
)
SHORT_PASSWORD = Text("密码至少需要 8 个字符", "The password needs at least 8 characters")
WRONG_CURRENT = Text("当前密码不正确", "The current password is wrong")


@dataclass(frozen=True)
class Actor:
    """The signed-in user as services see it: who, in what role, over which places, from which device."""

    user_id: uuid.UUID
    name: str
    role: str
    area_codes: tuple[str, ...]
    locale: str = "zh"
    device: str = "web"
    csrf_token: str = ""

    @property
    def scope(self) -> Scope:
        return Scope.for_role(self.role, self.area_codes)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_new_password(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed([FieldError(field, SHORT_PASSWORD)])


def create_user(
    db: Session, *, phone: str, name: str, password: str, role: str, area_codes: list[str], locale: str = "zh"
) -> User:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    check_new_password(password)
    user = User(
        phone=normalise_phone(phone),
        name=name,
        password_hash=hash_password(password),
        role=role,
        locale=locale,
    )
    db.add(user)
    db.flush()
    for code in area_codes:
        db.add(UserArea(user_id=user.id, area_code=code))
    db.flush()
    return user


def area_codes_of(db: Session, user_id: uuid.UUID) -> tuple[str, ...]:
    rows = db.exec(select(UserArea.area_code).where(UserArea.user_id == user_id)).all()
    return tuple(sorted(rows))


@dataclass(frozen=True)
class PasswordCheck:
    """The slow half of a sign-in, done before it writes anything: whether the password matches the hash
    stored for that phone number at the time."""

    user_id: uuid.UUID | None
    password_hash: str | None
    matches: bool


def check_password(db: Session, phone: str, password: str) -> PasswordCheck:
    """Hash the password against the account's (or a dummy, so an unknown number costs the same). Run it
    in a transaction that only reads: argon2 takes ~0.1 s, and on SQLite a writing one would hold every other
    writer (a phone's sync, a saved form) waiting meanwhile. `authenticate` records the outcome."""
    normalised = normalise_phone(phone)
    row = (
        db.exec(select(User.id, User.password_hash, User.active).where(User.phone == normalised)).first()
        if normalised
        else None
    )
    if row is None or not row[2]:
        _verify(_DUMMY_HASH, password)
        return PasswordCheck(None, None, False)
    user_id, password_hash, _active = row
    return PasswordCheck(user_id, password_hash, _verify(password_hash, password))


def authenticate(
    db: Session, phone: str, password: str, now: datetime | None = None, checked: PasswordCheck | None = None
) -> User:
    """Check a phone number and password; count failures and lock the account after five in a row. With
    `checked` (from `check_password`, for the same phone and password) the hash is not computed again,
    unless the password changed in between.

    The account's row is read locked (PostgreSQL; on SQLite the sign-in's transaction holds the database):
    guesses sent in parallel would otherwise each count from the same stale number of failures — five at
    once counted as one — and one arriving while another locks the account would not see the lock, and
    would even unlock it on success. Each now waits for the one before it and reads what it recorded."""
    now = now or utcnow()
    normalised = normalise_phone(phone)
    user = (
        db.exec(
            select(User)
            .where(User.phone == normalised)
            .with_for_update(key_share=True)  # FOR NO KEY UPDATE: rows that only refer to her need not wait
            .execution_options(populate_existing=True)
        ).first()
        if normalised
        else None
    )
    if user is None or not user.active:
        if checked is None:
            _verify(_DUMMY_HASH, password)  # same work whether or not the account exists
        raise ValidationFailed([FieldError("phone", WRONG_LOGIN)])
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise ValidationFailed([FieldError("password", LOCKED.format(minutes=minutes))])
    if checked is not None and (checked.user_id, checked.password_hash) == (user.id, user.password_hash):
        matches = checked.matches
    else:
        matches = _verify(user.password_hash, password)
    if not matches:
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            db.add(user)
            audit(db, user.id, "login_locked", "user", str(user.id))
            raise ValidationFailed(
                [FieldError("password", LOCKED.format(minutes=int(LOCKOUT.total_seconds() // 60)))]
            )
        db.add(user)
        audit(db, user.id, "login_failed", "user", str(user.id))
        raise ValidationFailed([FieldError("phone", WRONG_LOGIN)])
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.add(user)
    return user


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(db: Session, user: User, *, days: int, device: str = "") -> tuple[str, LoginSession]:
    """A new server-side session; returns the cookie token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = LoginSession(
        token_hash=_token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(24),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(days=days),
        device=device[:120],
    )
    db.add(row)
    audit(db, user.id, "login", "session", row.token_hash[:12], device=device)
    return token, row


# Built once: every request runs it, and building the statement costs about as much as running it.
_SESSION_ACTOR = (
    sa_select(
        col(LoginSession.expires_at),
        col(LoginSession.revoked_at),
        col(LoginSession.last_seen_at),
        col(LoginSession.device),
        col(LoginSession.csrf_token),
        col(User.id),
        col(User.name),
        col(User.role),
        col(User.locale),
        col(User.active),
        col(UserArea.area_code),
    )
    .join(User, col(User.id) == LoginSession.user_id)
    .outerjoin(UserArea, col(UserArea.user_id) == User.id)
    .where(col(LoginSession.token_hash) == bindparam("token_hash"))
)


def actor_for_token(db: Session, token: str | None, *, days: int) -> Actor | None:
    """The actor of a live session, sliding its expiry forward (at most once an hour, to spare writes).

    Every request asks this: one plain query (session, user and areas joined), not three ORM loads."""
    if not token:
        return None
    token_hash = _token_hash(token)
    rows = db.connection().execute(_SESSION_ACTOR, {"token_hash": token_hash}).all()
    now = utcnow()
    if not rows:
        return None
    expires_at, revoked_at, last_seen_at, device, csrf_token, user_id, name, role, locale, active, _ = rows[0]
    if revoked_at is not None or expires_at <= now or not active:
        return None
    if now - last_seen_at > timedelta(hours=1):
        write_after_reading(db)  # before the page's reads, and not from the stale snapshot of the one above
        row = db.get(LoginSession, token_hash)
        if row is not None:
            row.last_seen_at = now
            row.expires_at = now + timedelta(days=days)
            db.add(row)
            db.flush()
    return Actor(
        user_id=user_id,
        name=name,
        role=role,
        area_codes=tuple(sorted(str(r[-1]) for r in rows if r[-1] is not None)),
        locale=locale,
        device=device,
        csrf_token=csrf_token,
    )


def end_session(db: Session, token: str | None) -> None:
    if not token:
        return
    row = db.get(LoginSession, _token_hash(token))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        db.add(row)
        audit(db, row.user_id, "logout", "session", row.token_hash[:12])


def revoke_sessions(db: Session, user_id: uuid.UUID) -> None:
    """Sign a user out everywhere (password reset, deactivation)."""
    now = utcnow()
    for row in db.exec(
        select(LoginSession).where(LoginSession.user_id == user_id, col(LoginSession.revoked_at).is_(None))
    ):
        row.revoked_at = now
        db.add(row)


def change_password(db: Session, actor: Actor, current: str, new: str) -> None:
    user = db.get(User, actor.user_id)
    assert user is not None
    if not _verify(user.password_hash, current):
        raise ValidationFailed([FieldError("current_password", WRONG_CURRENT)])
    check_new_password(new, "new_password")
    user.password_hash = hash_password(new)
    db.add(user)
    audit(db, user.id, "password_changed", "user", str(user.id))


def set_locale(db: Session, actor: Actor, locale: str) -> None:
    user = db.get(User, actor.user_id)
    if user is not None and locale in ("zh", "en"):
        user.locale = locale
        db.add(user)


EXPORT_REASON_MIN = 4
EXPORT_REASON_REQUIRED = Text(
    "请写明导出的用途（至少4个字）", "Say why you export it (at least 4 characters)"
)


def export_reason(value: object) -> str | None:
    """Why a personal list is exported, as the audit log keeps it (DOMAIN §7: logged with who and why): spaces
    folded, at most 300 characters; None when shorter than EXPORT_REASON_MIN."""
    reason = " ".join(str(value or "").split())[:300]
    return reason if len(reason) >= EXPORT_REASON_MIN else None


AUDIT_BUFFER = "suifang_audit_buffer"


def audit(
    db: Session,
    user_id: uuid.UUID | None,
    action: str,
    target_type: str = "",
    target_id: str = "",
    *,
    device: str = "",
    detail: str = "",
) -> None:
    """Append to the audit log. `detail` must never carry a name, ID number or phone."""
    entry: dict[str, Any] = {
        "at": utcnow(),
        "user_id": user_id,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "device": device[:120],
        "detail": detail,
    }
    buffer: list[dict[str, Any]] | None = db.info.get(AUDIT_BUFFER)
    if buffer is not None:
        buffer.append(entry)
    else:
        db.add(AuditEntry(**entry))


@contextmanager
def audit_buffered(db: Session) -> Iterator[None]:
    """Within the block audit entries wait in memory and are written with one statement when it ends without
    error (a sync batch writes hundreds); an error drops them with the writes they stood for."""
    rows: list[dict[str, Any]] = []
    db.info[AUDIT_BUFFER] = rows
    try:
        yield
    finally:
        db.info.pop(AUDIT_BUFFER, None)
    if rows:
        db.execute(insert(AuditEntry), rows)


@contextmanager
def audit_unbuffered(db: Session) -> Iterator[None]:
    """Within the block audit entries are written with the session again (a write that may be undone on its
    own, in a savepoint, takes its entry with it)."""
    rows = db.info.pop(AUDIT_BUFFER, None)
    try:
        yield
    finally:
        if rows is not None:
            db.info[AUDIT_BUFFER] = rows
