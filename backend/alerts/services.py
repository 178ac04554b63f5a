"""Push subscriptions and the alert engine: each day's digest is planned once per user (the unique key),
claimed by one process at a time (`FOR UPDATE SKIP LOCKED` on PostgreSQL, one atomic UPDATE on SQLite),
delivered through PushSender, and the push service's answer recorded: sent, retry, given up, or gone."""

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, case, delete, exists, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from backend.accounts.models import User, UserArea
from backend.alerts.digests import (
    KIND_OF_ROLE,
    Counts,
    Digest,
    counts_in,
    digest_for,
    in_quiet_hours,
    may_send_digest,
    notification_of,
    village_cadre_counts,
    village_counts,
)
from backend.alerts.models import Alert, PushSubscription
from backend.cases.responsibility import answerable, shared, village_cadres
from backend.lib.clock import utcnow
from backend.push.allowlist import is_allowed_endpoint
from backend.push.sender import (
    Notification,
    PushSender,
    SendKind,
    SendResult,
    Subscription,
    host_of,
    topic_for,
    ttl_until_end_of_local_day,
)
from backend.scope import Scope
from backend.settings import Settings

logger = logging.getLogger(__name__)

MAX_ATTEMPTS: Final = 5
"""Tries of one alert before it is given up (the app still shows the overdue count)."""
CLAIM_BATCH: Final = 200
LEASE: Final = timedelta(minutes=10)
"""A claimed alert is invisible to other processes this long; if its process dies mid-send it is claimed
again afterwards (the phone's `tag` and the push service's Topic absorb a rare second copy)."""
SEND_CONCURRENCY: Final = 50
TEST_TAG: Final = "suifang-test"

PENDING, SENDING, SENT, RETRY, GAVE_UP, NO_SUBSCRIPTION, NOTHING = (
    "pending",
    "sending",
    "sent",
    "retry",
    "gave_up",
    "no_subscription",
    "nothing",
)
"""Alert statuses. `nothing`: the user had nothing to hear about that day (recorded so the counts are not
recomputed every minute); `sending`: claimed by a process until its lease ends."""


class EndpointNotAllowed(ValueError):
    """The subscription points at a host that is not a known push service: we never POST there."""


# -- subscriptions -------------------------------------------------------------------------------------------


def _insert(db: Session) -> Any:
    """The dialect's INSERT, which has ON CONFLICT on both SQLite and PostgreSQL."""
    return postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert


def save_subscription(
    db: Session, user_id: uuid.UUID, data: object, allowed_hosts: Sequence[str], now: datetime | None = None
) -> PushSubscription:
    """Upsert a browser's `PushSubscription.toJSON()` by its endpoint, now owned by `user_id` (a shared phone
    changes hands). ValueError if it is malformed; EndpointNotAllowed outside the push-service allow-list."""
    sub = Subscription.from_json(data)
    if len(sub.endpoint) > 1000 or len(sub.p256dh) > 200 or len(sub.auth) > 100:
        raise ValueError("push subscription fields are too long")
    if not is_allowed_endpoint(sub.endpoint, allowed_hosts):
        raise EndpointNotAllowed(f"{host_of(sub.endpoint)} is not a known push service")
    now = now or utcnow()
    table = PushSubscription.__table__  # type: ignore[attr-defined]
    stmt = _insert(db)(table).values(
        id=uuid.uuid4(),
        user_id=user_id,
        endpoint=sub.endpoint,
        p256dh=sub.p256dh,
        auth=sub.auth,
        created_at=now,
        last_seen_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.endpoint],
        set_={
            "user_id": stmt.excluded.user_id,
            "p256dh": stmt.excluded.p256dh,
            "auth": stmt.excluded.auth,
            "last_seen_at": stmt.excluded.last_seen_at,
            # "last arrived" belonged to the previous owner of this browser
            "last_success_at": case(
                (table.c.user_id == stmt.excluded.user_id, table.c.last_success_at), else_=None
            ),
        },
    )
    db.execute(stmt)
    saved = db.exec(select(PushSubscription).where(col(PushSubscription.endpoint) == sub.endpoint)).one()
    db.refresh(saved)
    return saved


def delete_subscription(db: Session, user_id: uuid.UUID, endpoint: str) -> bool:
    """Forget the signed-in user's subscription at `endpoint` (someone else's is left alone)."""
    result = db.execute(
        delete(PushSubscription).where(
            col(PushSubscription.endpoint) == endpoint, col(PushSubscription.user_id) == user_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def subscriptions_of(db: Session, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[PushSubscription]]:
    ids = list(set(user_ids))
    out: dict[uuid.UUID, list[PushSubscription]] = defaultdict(list)
    if ids:
        for row in db.exec(select(PushSubscription).where(col(PushSubscription.user_id).in_(ids))):
            out[row.user_id].append(row)
    return out


def _as_subscription(row: PushSubscription) -> Subscription:
    return Subscription(endpoint=row.endpoint, p256dh=row.p256dh, auth=row.auth)


def record_push_results(db: Session, results: Iterable[tuple[str, SendResult]], now: datetime) -> None:
    """What sending taught about each subscription: delivered → last_success_at; 404/410 → delete exactly that
    endpoint (never the user's other, newer subscriptions)."""
    for endpoint, result in results:
        if result.kind is SendKind.DELIVERED:
            db.execute(
                update(PushSubscription)
                .where(col(PushSubscription.endpoint) == endpoint)
                .values(last_success_at=now)
            )
        elif result.kind is SendKind.GONE:
            db.execute(delete(PushSubscription).where(col(PushSubscription.endpoint) == endpoint))


# -- planning: what each user hears today --------------------------------------------------------------------


def plan_digests(engine: Engine, settings: Settings, now: datetime) -> int:
    """Record today's digest for every cadre and supervisor who has none yet; returns how many were new.
    The unique (user, kind, day) key makes a second run, process or restart a no-op."""
    day = now.astimezone(ZoneInfo(settings.timezone)).date()
    with Session(engine) as db:
        rows = _users_without_digest(db, day)
        if not rows:
            return 0
        scopes = {user_id: Scope.for_role(role, codes) for user_id, (role, _, codes) in rows.items()}
        by_village = village_counts(db, scopes.values(), day, settings.escalation_days)
        days = settings.escalation_days
        hers = _cadres_own_counts(db, rows, by_village, day, days)
        digests = {
            user_id: digest_for(
                role,
                hers[user_id] if user_id in hers else counts_in(scopes[user_id], by_village),
                locale,
                days,
            )
            for user_id, (role, locale, _) in rows.items()
        }
    values = [_alert_values(user_id, digest, day, now) for user_id, digest in digests.items()]
    # A fresh transaction whose first statement writes: on SQLite a read-then-write transaction could fail
    # when another process wrote in between.
    added = 0
    with Session(engine) as db:
        for start in range(0, len(values), 500):
            stmt = _insert(db)(Alert.__table__).values(values[start : start + 500])  # type: ignore[attr-defined]
            stmt = stmt.on_conflict_do_nothing(index_elements=["user_id", "kind", "local_day"])
            added += len(db.execute(stmt.returning(col(Alert.id))).all())
        db.commit()
    return added


def _cadres_own_counts(
    db: Session,
    rows: dict[uuid.UUID, tuple[str, str, list[str]]],
    by_village: dict[str, Counts],
    day: date,
    escalation_days: int,
) -> dict[uuid.UUID, Counts]:
    """The counts of each cadre who shares a village with another: in such a village only the cases she
    answers for and those nobody does yet (负责专干, backend.cases.responsibility); in her other villages,
    all. A cadre alone in her villages is left out: her villages' counts are hers."""
    villages = {code for role, _, codes in rows.values() if role == "village" for code in codes}
    cadres = shared(village_cadres(db, villages))
    if not cadres:
        return {}
    split = village_cadre_counts(db, cadres, day, escalation_days)
    out: dict[uuid.UUID, Counts] = {}
    for user_id, (role, _, codes) in rows.items():
        if role != "village" or not cadres.keys() & set(codes):
            continue
        total = Counts()
        for (code, stored), counts in split.items():
            if code in codes and answerable(stored, cadres[code]) in (user_id, None):
                total.add(counts)
        for code in set(codes) - cadres.keys():
            total.add(by_village.get(code, Counts()))
        out[user_id] = total
    return out


def _users_without_digest(db: Session, day: date) -> dict[uuid.UUID, tuple[str, str, list[str]]]:
    """user id → (role, locale, area codes) of active cadres and supervisors without an alert for `day`."""
    already = exists().where(
        col(Alert.user_id) == col(User.id),
        col(Alert.local_day) == day,
        col(Alert.kind).in_(list(KIND_OF_ROLE.values())),
    )
    stmt = (
        select(col(User.id), col(User.role), col(User.locale), col(UserArea.area_code))
        .join(UserArea, col(UserArea.user_id) == col(User.id))
        .where(col(User.active).is_(True), col(User.role).in_(list(KIND_OF_ROLE)), ~already)
    )
    out: dict[uuid.UUID, tuple[str, str, list[str]]] = {}
    for user_id, role, locale, code in db.execute(stmt):
        out.setdefault(user_id, (role, locale, []))[2].append(code)
    return out


def _alert_values(user_id: uuid.UUID, digest: Digest, day: date, now: datetime) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "kind": digest.kind,
        "local_day": day,
        "status": PENDING if digest.notification is not None else NOTHING,
        "payload": digest.to_payload(),
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "last_error": "",
    }


# -- delivery ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """An alert this process holds the lease on."""

    id: int
    user_id: uuid.UUID
    kind: str
    local_day: date
    payload: str
    attempts: int
    """Including the current one."""


def claim_due_alerts(engine: Engine, now: datetime, limit: int = CLAIM_BATCH) -> list[Claimed]:
    """Take up to `limit` alerts that are due (pending, retry, or a lease that ran out) in one statement.
    On PostgreSQL `FOR UPDATE SKIP LOCKED` lets concurrent processes take disjoint batches without waiting;
    on SQLite the single UPDATE holds the write lock, so two processes never take the same row."""
    due = (
        select(col(Alert.id))
        .where(col(Alert.status).in_((PENDING, RETRY, SENDING)), col(Alert.next_attempt_at) <= now)
        .order_by(col(Alert.next_attempt_at), col(Alert.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(Alert)
        .where(col(Alert.id).in_(due.scalar_subquery()))
        .values(status=SENDING, attempts=col(Alert.attempts) + 1, next_attempt_at=now + LEASE)
        .returning(
            col(Alert.id),
            col(Alert.user_id),
            col(Alert.kind),
            col(Alert.local_day),
            col(Alert.payload),
            col(Alert.attempts),
        )
    )
    with engine.begin() as conn:
        return [Claimed(int(a or 0), u, k, d, p, n) for a, u, k, d, p, n in conn.execute(stmt)]


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed alert."""

    alert_id: int
    status: str
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str = ""
    results: tuple[tuple[str, SendResult], ...] = ()
    """(endpoint, result) per subscription it was sent to."""


async def deliver(
    claimed: Sequence[Claimed],
    subs_by_user: dict[uuid.UUID, list[PushSubscription]],
    sender: PushSender,
    now: datetime,
    tz: ZoneInfo,
) -> list[Outcome]:
    """Send every claimed alert to each of its user's subscriptions: TTL until the end of the local day,
    Urgency normal, the Topic of its kind, a bounded number in flight."""
    today = now.astimezone(tz).date()
    limit = asyncio.Semaphore(SEND_CONCURRENCY)

    async def send(alert: Claimed, note: Notification, sub: PushSubscription) -> tuple[str, SendResult]:
        async with limit:
            result = await sender.send(
                _as_subscription(sub),
                note,
                ttl_seconds=ttl_until_end_of_local_day(now, tz),
                topic=topic_for(alert.kind),
                urgency="normal",
                attempt=alert.attempts - 1,
            )
        return sub.endpoint, result

    async def one(alert: Claimed) -> Outcome:
        if alert.local_day < today:
            return Outcome(alert.id, GAVE_UP, last_error="not delivered on its day")
        subs = subs_by_user.get(alert.user_id, [])
        if not subs:
            return Outcome(alert.id, NO_SUBSCRIPTION)
        try:
            note = notification_of(alert.payload)
            results = tuple(await asyncio.gather(*(send(alert, note, sub) for sub in subs)))
        except Exception as exc:
            # One alert that cannot be built or sent must not lose the outcomes of the whole batch (they would
            # stay `sending` and be sent again every lease). Given up, not retried: the same payload fails the
            # same way. The exception's type only: its message may quote the payload.
            logger.warning("alert %s given up: %s while sending it", alert.id, type(exc).__name__)
            return Outcome(alert.id, GAVE_UP, last_error=type(exc).__name__)
        return _outcome_of(alert, results, now)

    return list(await asyncio.gather(*(one(alert) for alert in claimed)))


def _outcome_of(alert: Claimed, results: tuple[tuple[str, SendResult], ...], now: datetime) -> Outcome:
    kinds = [result.kind for _, result in results]
    if SendKind.DELIVERED in kinds:
        return Outcome(alert.id, SENT, sent_at=now, results=results)
    if all(kind is SendKind.GONE for kind in kinds):
        return Outcome(alert.id, NO_SUBSCRIPTION, last_error="subscription gone", results=results)
    error = "; ".join(
        f"{host_of(endpoint)} {result.kind.value} {result.status or ''} {result.reason}".strip()
        for endpoint, result in results
        if result.kind is not SendKind.GONE
    )[:300]
    retries = [r.after_seconds or 60 for _, r in results if r.kind is SendKind.RETRY_LATER]
    if retries and alert.attempts < MAX_ATTEMPTS:
        # Honour the longest Retry-After of the user's push services: a shorter one would hit a busy service.
        return Outcome(
            alert.id,
            RETRY,
            next_attempt_at=now + timedelta(seconds=max(retries)),
            last_error=error,
            results=results,
        )
    return Outcome(alert.id, GAVE_UP, last_error=error, results=results)


def record_outcomes(engine: Engine, outcomes: Sequence[Outcome], now: datetime) -> None:
    with Session(engine) as db:
        for outcome in outcomes:
            values: dict[str, Any] = {"status": outcome.status, "last_error": outcome.last_error}
            if outcome.next_attempt_at is not None:
                values["next_attempt_at"] = outcome.next_attempt_at
            if outcome.sent_at is not None:
                values["sent_at"] = outcome.sent_at
            db.execute(update(Alert).where(col(Alert.id) == outcome.alert_id).values(**values))
            record_push_results(db, outcome.results, now)
        db.commit()


def _subscriptions_for(engine: Engine, claimed: Sequence[Claimed]) -> dict[uuid.UUID, list[PushSubscription]]:
    with Session(engine, expire_on_commit=False) as db:
        return subscriptions_of(db, (alert.user_id for alert in claimed))


@dataclass
class RunReport:
    planned: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return self.by_status.get(status, 0)

    def __str__(self) -> str:
        statuses = ", ".join(f"{n} {status}" for status, n in sorted(self.by_status.items()))
        return f"{self.planned} planned" + (f"; {statuses}" if statuses else "")


async def run_alerts(
    engine: Engine,
    settings: Settings,
    sender: PushSender,
    *,
    now: datetime | None = None,
    batch: int = CLAIM_BATCH,
) -> RunReport:
    """One pass of the alert job: plan today's digests once the send time has come, then deliver whatever is
    due — never inside quiet hours. Database work runs in threads so the app's event loop keeps serving."""
    now = now or utcnow()
    tz = ZoneInfo(settings.timezone)
    local = now.astimezone(tz).time()
    report = RunReport()
    if may_send_digest(local, settings.alert_send_time, settings.quiet_hours):
        report.planned = await asyncio.to_thread(plan_digests, engine, settings, now)
    if in_quiet_hours(local, settings.quiet_hours):
        return report
    while True:
        claimed = await asyncio.to_thread(claim_due_alerts, engine, now, batch)
        if not claimed:
            break
        subs = await asyncio.to_thread(_subscriptions_for, engine, claimed)
        outcomes = await deliver(claimed, subs, sender, now, tz)
        await asyncio.to_thread(record_outcomes, engine, outcomes, now)
        for outcome in outcomes:
            report.by_status[outcome.status] = report.by_status.get(outcome.status, 0) + 1
        if len(claimed) < batch:
            break
    if report.planned or report.by_status:
        logger.info("alerts: %s", report)
    return report


# -- what the app shows of alerts that never arrived ---------------------------------------------------------


@dataclass(frozen=True)
class GivenUp:
    """The day and kind of a user's alert that was given up (no counts: the app shows those itself)."""

    local_day: date
    kind: str


def latest_given_up(db: Session, user_id: uuid.UUID) -> GivenUp | None:
    """The user's latest alert that was given up (DOMAIN.md §5: "then given up and shown in the app"), unless
    a later day's alert reached her (one delivered the same day hides it too: she has heard from us since)."""
    given_up = db.exec(
        select(Alert)
        .where(col(Alert.user_id) == user_id, col(Alert.status) == GAVE_UP)
        .order_by(col(Alert.local_day).desc(), col(Alert.id).desc())
        .limit(1)
    ).first()
    if given_up is None:
        return None
    delivered_since = db.exec(
        select(col(Alert.id)).where(
            col(Alert.user_id) == user_id,
            col(Alert.status) == SENT,
            col(Alert.local_day) >= given_up.local_day,
        )
    ).first()
    return None if delivered_since is not None else GivenUp(given_up.local_day, given_up.kind)


# -- the test notification a user sends herself --------------------------------------------------------------


@dataclass(frozen=True)
class TestResult:
    delivered: int
    failed: int
    last_success_at: datetime | None


async def send_test_notification(
    db: Session, sender: PushSender, user_id: uuid.UUID, locale: str, now: datetime | None = None
) -> TestResult:
    """Push a test notification to every subscription of the user right away (she asked for it: no quiet
    hours), and record what the push services answered.

    Commits `db` before sending: no transaction may stay open across the network (on SQLite a write
    transaction, such as the sign-in's sliding expiry, would hold the database lock for the whole send)."""
    now = now or utcnow()
    subs = [_as_subscription(row) for row in subscriptions_of(db, [user_id]).get(user_id, [])]
    db.commit()
    en = locale == "en"
    note = Notification(
        title="Suifang test" if en else "随访测试通知",
        body="Notifications are on: overdue visits will be announced like this."
        if en
        else "通知已开启：逾期随访会这样提醒您。",
        url="/settings",
        tag=TEST_TAG,
    )

    async def send(sub: Subscription) -> tuple[str, SendResult]:
        result = await sender.send(sub, note, ttl_seconds=3600, topic=topic_for(TEST_TAG))
        return sub.endpoint, result

    results = await asyncio.gather(*(send(sub) for sub in subs))
    record_push_results(db, results, now)
    delivered = sum(1 for _, result in results if result.kind is SendKind.DELIVERED)
    return TestResult(delivered, len(results) - delivered, now if delivered else None)
