"""The alert engine against a real (local) push service, on SQLite and PostgreSQL: what each user hears and
when, exactly once, and what each answer of the push service does to the alert and the subscription."""

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from backend.accounts.models import User
from backend.accounts.services import create_user
from backend.alerts.digests import CADRE_DIGEST, ESCALATION_DIGEST, ESCALATION_URL, OVERDUE_URL
from backend.alerts.models import Alert, PushSubscription
from backend.alerts.services import LEASE, MAX_ATTEMPTS, plan_digests, run_alerts
from backend.areas.models import Area
from backend.cases.models import Pregnancy
from backend.db import make_engine
from backend.push.sender import PushSender, topic_for
from backend.push.vapid import VapidKeys, load_or_create_keys
from backend.settings import Settings
from tests.alert_factories import WOMAN_NAME, make_item, make_pregnancy, subscribe
from tests.conftest import PASSWORD, TOWNSHIP_T, VILLAGE_A, VILLAGE_B, VILLAGE_C, Cast
from tests.push_receiver import PushReceiver, Reply, push_receiver_fixture  # noqa: F401 - the fixture

TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 23)
CONTACT = "mailto:ops@suifang.example.cn"


def at(hhmm: str, day: date = TODAY) -> datetime:
    """An instant given in local (Beijing) time, as the job's injected clock returns it (UTC)."""
    hours, minutes = (int(x) for x in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=TZ).astimezone(UTC)


@pytest.fixture
def keys(tmp_path: Path) -> VapidKeys:
    return load_or_create_keys(tmp_path)


@pytest.fixture
async def sender(keys: VapidKeys, push_receiver: PushReceiver) -> AsyncIterator[PushSender]:
    async with PushSender(keys, CONTACT, allowed_hosts=[push_receiver.origin]) as s:
        yield s  # the default timeout: deliveries must not depend on the machine's load


@pytest.fixture
def alert_settings(settings: Settings, push_receiver: PushReceiver) -> Settings:
    return settings.with_(push_allowed_hosts=(push_receiver.origin,))


def alerts(db: Session) -> list[Alert]:
    db.rollback()  # end the test's read transaction: see what the job committed since
    db.expire_all()  # rollback() expires nothing when no transaction was open
    return list(db.exec(select(Alert).order_by(col(Alert.id))).all())


def alert_of(db: Session, user: User) -> Alert:
    [row] = [a for a in alerts(db) if a.user_id == user.id]
    return row


@pytest.fixture
def township_t(db: Session, cast: Cast) -> Cast:
    """Village A: 2 overdue (one by 10 days), 1 due now, 1 outcome missing 20 days after the EDD, and items
    that must not count (missed, done, not yet started). Village B: 1 overdue by 3 days. Village C (township
    U): 1 overdue by 30 days."""
    a = make_pregnancy(db, cast.cadre_a, VILLAGE_A, edd=TODAY + timedelta(days=60))
    make_item(db, a, TODAY, start=-20, due=-15, end=-10)  # overdue 10 days
    make_item(db, a, TODAY, start=-9, due=-5, end=-2)  # overdue 2 days
    make_item(db, a, TODAY, start=-3, due=0, end=4)  # due now
    make_item(db, a, TODAY, start=-1, due=2, end=5)  # window open, not yet due
    make_item(db, a, TODAY, start=5, due=10, end=15)  # future
    make_item(db, a, TODAY, start=-60, due=-50, end=-40, missed=-5)  # missed: the chain moved on
    make_item(db, a, TODAY, start=-30, due=-25, end=-20, done=-22)  # done
    late = make_pregnancy(db, cast.cadre_a, VILLAGE_A, edd=TODAY - timedelta(days=20))
    make_item(db, late, TODAY, kind="outcome", start=-20, due=-20, end=-6)  # no outcome 20 days after EDD
    b = make_pregnancy(db, cast.cadre_b, VILLAGE_B, edd=TODAY + timedelta(days=90))
    make_item(db, b, TODAY, start=-10, due=-6, end=-3)
    c = make_pregnancy(db, cast.cadre_c, VILLAGE_C, edd=TODAY + timedelta(days=90))
    make_item(db, c, TODAY, start=-40, due=-35, end=-30)
    db.commit()
    return cast


# -- what arrives --------------------------------------------------------------------------------------------


async def test_a_cadre_gets_her_counts_and_a_link_with_the_day_as_ttl_and_the_digest_topic(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
) -> None:
    sub = push_receiver.subscription()
    subscribe(db, township_t.cadre_a, sub)
    db.commit()

    report = await run_alerts(engine, alert_settings, sender, now=at("08:00"))

    [message] = push_receiver.delivered(sub["endpoint"])
    assert message.payload == {
        "title": "随访提醒",
        "body": "逾期 3 项，今天应访 1 项。点击查看。",
        "url": OVERDUE_URL,
        "tag": CADRE_DIGEST,
        "badge_count": 3,
    }
    assert WOMAN_NAME.encode() not in message.plaintext and b"110" not in message.plaintext
    assert message.ttl == 16 * 3600  # 08:00 until local midnight
    assert message.urgency == "normal"
    assert message.topic == topic_for(CADRE_DIGEST)
    assert report.count("sent") == 1
    row = alert_of(db, township_t.cadre_a)
    assert (row.status, row.attempts, row.local_day, row.sent_at) == ("sent", 1, TODAY, at("08:00"))
    db.rollback()
    assert db.exec(select(PushSubscription)).one().last_success_at == at("08:00")


def test_in_a_village_two_cadres_share_each_hears_of_her_own_cases_and_of_those_nobody_answers_for(
    engine: Engine, db: Session, township_t: Cast, alert_settings: Settings
) -> None:
    """负责专干: the digest counts her cases, not her colleague's; cases nobody answers for count for both."""
    doctor = create_user(
        db, phone="13800000009", name="赵芳", password=PASSWORD, role="village", area_codes=[VILLAGE_A]
    )
    pregnancies = {p.edd: p for p in db.exec(select(Pregnancy).where(Pregnancy.village_code == VILLAGE_A))}
    visits, outcome = pregnancies[TODAY + timedelta(days=60)], pregnancies[TODAY - timedelta(days=20)]
    visits.cadre_id, outcome.cadre_id = township_t.cadre_a.id, doctor.id  # 2 overdue + 1 due now; 1 overdue
    nobodys = make_pregnancy(db, township_t.cadre_a, VILLAGE_A, edd=TODAY + timedelta(days=90))
    make_item(db, nobodys, TODAY, start=-12, due=-8, end=-4)  # 1 overdue
    db.add_all([visits, outcome])
    db.commit()

    plan_digests(engine, alert_settings, at("08:00"))

    def counts(user: User) -> dict[str, int]:
        return dict(json.loads(alert_of(db, user).payload)["counts"])

    assert counts(township_t.cadre_a) == {"overdue": 3, "due_now": 1, "overdue_long": 1, "outcome_missing": 0}
    assert counts(doctor) == {"overdue": 2, "due_now": 0, "overdue_long": 0, "outcome_missing": 1}
    assert counts(township_t.cadre_b)["overdue"] == 1  # alone in her village: all of it, as before
    assert counts(township_t.sup_t)["outcome_missing"] == 1  # supervisors count the whole township


async def test_a_cadre_reads_her_digest_in_english_when_she_chose_english(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
) -> None:
    township_t.cadre_b.locale = "en"
    db.add(township_t.cadre_b)
    sub = push_receiver.subscription()
    subscribe(db, township_t.cadre_b, sub)
    db.commit()

    await run_alerts(engine, alert_settings, sender, now=at("08:00"))

    [message] = push_receiver.delivered(sub["endpoint"])
    assert (message.payload["title"], message.payload["body"]) == (
        "Follow-up visits",
        "1 overdue. Tap to open the list.",
    )


async def test_a_supervisor_hears_of_long_overdue_items_and_missing_outcomes_in_her_township_only(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
) -> None:
    sub_t, sub_u = push_receiver.subscription(), push_receiver.subscription()
    subscribe(db, township_t.sup_t, sub_t)
    subscribe(db, township_t.sup_u, sub_u)
    db.commit()

    await run_alerts(engine, alert_settings, sender, now=at("08:00"))

    [message] = push_receiver.delivered(sub_t["endpoint"])
    assert message.payload == {
        "title": "随访督导提醒",
        "body": "逾期超过 7 天 1 项；预产期后 14 天未登记结局 1 人。",
        "url": ESCALATION_URL,
        "tag": ESCALATION_DIGEST,
        "badge_count": 4,  # every overdue item of villages A and B
    }
    assert message.topic == topic_for(ESCALATION_DIGEST)
    [other] = push_receiver.delivered(sub_u["endpoint"])
    assert other.payload["body"] == "逾期超过 7 天 1 项。"


async def test_the_escalation_threshold_follows_the_setting(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
) -> None:
    sub = push_receiver.subscription()
    subscribe(db, township_t.sup_t, sub)
    db.commit()

    await run_alerts(engine, alert_settings.with_(escalation_days=2), sender, now=at("08:00"))

    [message] = push_receiver.delivered(sub["endpoint"])
    assert message.payload["body"] == "逾期超过 2 天 2 项；预产期后 14 天未登记结局 1 人。"


async def test_nobody_is_alerted_about_nothing_and_the_county_admin_gets_no_digest(
    engine: Engine,
    db: Session,
    cast: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
) -> None:
    p = make_pregnancy(db, cast.cadre_a, VILLAGE_A, edd=TODAY + timedelta(days=60))
    make_item(db, p, TODAY, start=3, due=8, end=12)
    for user in (cast.cadre_a, cast.sup_t, cast.county):
        subscribe(db, user, push_receiver.subscription())
    db.commit()

    first = await run_alerts(engine, alert_settings, sender, now=at("08:00"))
    second = await run_alerts(engine, alert_settings, sender, now=at("08:01"))

    assert push_receiver.attempts == []
    assert {(a.kind, a.status) for a in alerts(db)} == {
        (CADRE_DIGEST, "nothing"),
        (ESCALATION_DIGEST, "nothing"),
    }
    assert cast.county.id not in {a.user_id for a in alerts(db)}
    assert (first.planned, second.planned) == (5, 0)  # cadres A, B, C and both supervisors, once


async def test_without_a_subscription_the_alert_is_recorded_as_such(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
) -> None:
    report = await run_alerts(engine, alert_settings, sender, now=at("08:00"))

    assert alert_of(db, township_t.cadre_a).status == "no_subscription"
    assert report.count("no_subscription") == 5
    assert push_receiver.attempts == []


async def test_each_of_her_devices_gets_the_digest(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
) -> None:
    phone, tablet = push_receiver.subscription(), push_receiver.subscription()
    subscribe(db, township_t.cadre_a, phone)
    subscribe(db, township_t.cadre_a, tablet)
    db.commit()

    await run_alerts(engine, alert_settings, sender, now=at("08:00"))

    assert (
        len(push_receiver.delivered(phone["endpoint"]))
        == len(push_receiver.delivered(tablet["endpoint"]))
        == 1
    )


# -- exactly once --------------------------------------------------------------------------------------------


async def test_a_second_run_and_a_restart_send_nothing_again(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    keys: VapidKeys,
    sender: PushSender,
    push_receiver: PushReceiver,
) -> None:
    sub = push_receiver.subscription()
    subscribe(db, township_t.cadre_a, sub)
    db.commit()

    await run_alerts(engine, alert_settings, sender, now=at("08:00"))
    await run_alerts(engine, alert_settings, sender, now=at("08:01"))
    restarted = make_engine(alert_settings)
    async with PushSender(keys, CONTACT, allowed_hosts=[push_receiver.origin]) as fresh:
        again = await run_alerts(restarted, alert_settings, fresh, now=at("15:00"))
    restarted.dispose()

    assert len(push_receiver.delivered(sub["endpoint"])) == 1
    assert (again.planned, again.by_status) == (0, {})


async def test_the_next_day_brings_the_next_digest(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
) -> None:
    sub = push_receiver.subscription()
    subscribe(db, township_t.cadre_a, sub)
    db.commit()

    await run_alerts(engine, alert_settings, sender, now=at("08:00"))
    await run_alerts(engine, alert_settings, sender, now=at("08:00", TODAY + timedelta(days=5)))

    first, second = push_receiver.delivered(sub["endpoint"])
    assert (first.payload["badge_count"], second.payload["badge_count"]) == (3, 4)  # "due now" became overdue
    assert first.topic == second.topic


def test_two_concurrent_runs_send_each_digest_once(
    alert_settings: Settings, db: Session, cast: Cast, keys: VapidKeys, push_receiver: PushReceiver
) -> None:
    """Two app processes (here: two threads, each with its own engine, event loop and sender) run the job at
    the same moment; every cadre still gets exactly one digest."""
    endpoints = []
    for n in range(3, 43):
        code = f"{TOWNSHIP_T[:9]}{n:03d}"
        db.add(Area(code=code, name=f"村{n}"))
        db.flush()
        cadre = create_user(
            db, phone=f"1390000{n:04d}", name=f"专干{n}", password=PASSWORD, role="village", area_codes=[code]
        )
        make_item(db, make_pregnancy(db, cadre, code, TODAY), TODAY, start=-9, due=-5, end=-2)
        sub = push_receiver.subscription()
        push_receiver.program(sub["endpoint"], Reply(status=201, hang_seconds=0.02))  # keep both runs busy
        subscribe(db, cadre, sub)
        endpoints.append(sub["endpoint"])
    db.commit()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def one_process() -> None:
        async def main() -> None:
            engine = make_engine(alert_settings)
            async with PushSender(keys, CONTACT, allowed_hosts=[push_receiver.origin]) as sender:
                barrier.wait()
                await run_alerts(engine, alert_settings, sender, now=at("08:00"), batch=4)
            engine.dispose()

        try:
            asyncio.run(main())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one_process) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    assert sorted(m.endpoint for m in push_receiver.delivered()) == sorted(endpoints)
    digests = [a for a in alerts(db) if a.kind == CADRE_DIGEST and a.status == "sent"]
    assert len(digests) == 40 and {a.attempts for a in digests} == {1}


# -- when ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("moment", ["07:59", "21:00", "23:30", "00:10", "06:59"])
async def test_nothing_is_planned_or_sent_before_the_send_time_or_in_quiet_hours(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
    moment: str,
) -> None:
    subscribe(db, township_t.cadre_a, push_receiver.subscription())
    db.commit()

    report = await run_alerts(engine, alert_settings, sender, now=at(moment))

    assert (report.planned, alerts(db), push_receiver.attempts) == (0, [], [])


async def test_a_job_that_was_down_at_the_send_time_catches_up_the_same_evening(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
) -> None:
    sub = push_receiver.subscription()
    subscribe(db, township_t.cadre_a, sub)
    db.commit()

    await run_alerts(engine, alert_settings, sender, now=at("20:59"))

    [message] = push_receiver.delivered(sub["endpoint"])
    assert message.ttl == 3 * 3600 + 60


async def test_the_deployment_chooses_the_send_time_and_quiet_hours(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
) -> None:
    sub = push_receiver.subscription()
    subscribe(db, township_t.cadre_a, sub)
    db.commit()
    custom = alert_settings.with_(alert_send_time="09:30", quiet_hours=("12:00", "14:00"))

    await run_alerts(engine, custom, sender, now=at("09:29"))
    assert push_receiver.attempts == []
    await run_alerts(engine, custom, sender, now=at("12:30"))
    assert push_receiver.attempts == []
    await run_alerts(engine, custom, sender, now=at("14:00"))
    assert len(push_receiver.delivered(sub["endpoint"])) == 1


async def test_a_retry_waits_until_quiet_hours_are_over_and_is_dropped_once_the_day_is(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
) -> None:
    sub = push_receiver.subscription()
    subscribe(db, township_t.cadre_a, sub)
    db.commit()
    push_receiver.respond(sub["endpoint"], 503, {"Retry-After": "60"})
    await run_alerts(engine, alert_settings, sender, now=at("20:58"))
    push_receiver.program(sub["endpoint"], None)

    await run_alerts(engine, alert_settings, sender, now=at("21:30"))
    assert len(push_receiver.attempts) == 1
    await run_alerts(engine, alert_settings, sender, now=at("07:00", TODAY + timedelta(days=1)))

    assert len(push_receiver.attempts) == 1
    assert (alert_of(db, township_t.cadre_a).status, alert_of(db, township_t.cadre_a).last_error) == (
        "gave_up",
        "not delivered on its day",
    )


# -- what the push service's answer does ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410])
async def test_a_gone_subscription_is_deleted_and_only_that_one(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
    status: int,
) -> None:
    old, new = push_receiver.subscription(), push_receiver.subscription()
    other_user = push_receiver.subscription()
    subscribe(db, township_t.cadre_a, old)
    subscribe(db, township_t.cadre_a, new)
    subscribe(db, township_t.cadre_b, other_user)
    db.commit()
    push_receiver.respond(old["endpoint"], status)

    await run_alerts(engine, alert_settings, sender, now=at("08:00"))

    db.rollback()
    left = {s.endpoint for s in db.exec(select(PushSubscription)).all()}
    assert left == {new["endpoint"], other_user["endpoint"]}
    assert alert_of(db, township_t.cadre_a).status == "sent"


async def test_when_her_only_subscription_is_gone_the_alert_says_so(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
) -> None:
    sub = push_receiver.subscription()
    subscribe(db, township_t.cadre_a, sub)
    db.commit()
    push_receiver.respond(sub["endpoint"], 410)

    await run_alerts(engine, alert_settings, sender, now=at("08:00"))

    row = alert_of(db, township_t.cadre_a)
    assert (row.status, row.last_error) == ("no_subscription", "subscription gone")
    assert db.exec(select(PushSubscription)).all() == []


async def test_429_is_retried_after_the_retry_after_and_not_before(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
) -> None:
    sub = push_receiver.subscription()
    subscribe(db, township_t.cadre_a, sub)
    db.commit()
    push_receiver.respond(sub["endpoint"], 429, {"Retry-After": "120"})

    await run_alerts(engine, alert_settings, sender, now=at("08:00"))
    row = alert_of(db, township_t.cadre_a)
    assert (row.status, row.attempts, row.next_attempt_at) == ("retry", 1, at("08:02"))
    assert "429" in row.last_error and "127.0.0.1" in row.last_error

    for minute in ("08:00", "08:00", "08:01"):  # the job's next passes come before Retry-After has passed
        await run_alerts(engine, alert_settings, sender, now=at(minute))
    assert len(push_receiver.attempts) == 1

    push_receiver.program(sub["endpoint"], None)
    await run_alerts(engine, alert_settings, sender, now=at("08:02"))
    assert len(push_receiver.attempts) == 2
    assert len(push_receiver.delivered(sub["endpoint"])) == 1
    assert (alert_of(db, township_t.cadre_a).status, alert_of(db, township_t.cadre_a).attempts) == ("sent", 2)


async def test_a_failing_service_is_retried_with_growing_backoff_then_given_up(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
) -> None:
    sub = push_receiver.subscription()
    subscribe(db, township_t.cadre_a, sub)
    db.commit()
    push_receiver.respond(sub["endpoint"], 500)

    now, delays = at("08:00"), []
    for _ in range(MAX_ATTEMPTS):
        await run_alerts(engine, alert_settings, sender, now=now)
        row = alert_of(db, township_t.cadre_a)
        if row.status != "retry":
            break
        delays.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at

    assert len(push_receiver.attempts) == MAX_ATTEMPTS
    assert delays == sorted(delays) and delays[0] >= 60
    assert (row.status, row.attempts) == ("gave_up", MAX_ATTEMPTS)


async def test_a_hanging_push_service_times_out_and_the_alert_is_retried(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    keys: VapidKeys,
    push_receiver: PushReceiver,
) -> None:
    sub = push_receiver.subscription()
    subscribe(db, township_t.cadre_a, sub)
    db.commit()
    push_receiver.hang(sub["endpoint"], seconds=10)  # then it would answer 201

    async with PushSender(keys, CONTACT, allowed_hosts=[push_receiver.origin], timeout_seconds=0.5) as sender:
        await run_alerts(engine, alert_settings, sender, now=at("08:00"))

    row = alert_of(db, township_t.cadre_a)
    assert (row.status, row.attempts) == ("retry", 1)
    assert "timeout" in row.last_error and row.next_attempt_at > at("08:00")


@pytest.mark.parametrize("status", [401, 403])
async def test_an_authorization_refusal_is_a_configuration_error_logged_and_not_retried(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sub = push_receiver.subscription()
    subscribe(db, township_t.cadre_a, sub)
    db.commit()
    push_receiver.respond(sub["endpoint"], status)

    with caplog.at_level(logging.ERROR):
        await run_alerts(engine, alert_settings, sender, now=at("08:00"))
        await run_alerts(engine, alert_settings, sender, now=at("12:00"))

    row = alert_of(db, township_t.cadre_a)
    assert (row.status, row.attempts) == ("gave_up", 1)
    assert f"config_error {status}" in row.last_error
    assert len(push_receiver.attempts) == 1
    assert any(
        "configuration error" in r.getMessage() and "127.0.0.1" in r.getMessage() for r in caplog.records
    )
    assert not any("/wpush/" in r.getMessage() for r in caplog.records)  # the host only, never the path
    assert db.exec(select(PushSubscription)).one().endpoint == sub["endpoint"]


async def test_a_stored_subscription_outside_the_allow_list_is_never_posted_to(
    engine: Engine,
    db: Session,
    township_t: Cast,
    settings: Settings,
    push_receiver: PushReceiver,
    keys: VapidKeys,
) -> None:
    subscribe(db, township_t.cadre_a, push_receiver.subscription())
    db.commit()

    async with PushSender(keys, CONTACT) as strict:  # the default allow-list: real push services only
        await run_alerts(engine, settings, strict, now=at("08:00"))

    assert push_receiver.attempts == []
    assert alert_of(db, township_t.cadre_a).status == "gave_up"


async def test_the_alert_row_keeps_the_counts_and_no_personal_data(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
) -> None:
    await run_alerts(engine, alert_settings, sender, now=at("08:00"))

    for row in alerts(db):
        assert WOMAN_NAME not in row.payload
        assert set(json.loads(row.payload)) <= {"counts", "notification"}
    assert json.loads(alert_of(db, township_t.cadre_a).payload)["counts"] == {
        "overdue": 3,
        "due_now": 1,
        "overdue_long": 1,
        "outcome_missing": 1,
    }


async def test_a_user_who_was_deactivated_gets_no_digest(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
) -> None:
    township_t.cadre_a.active = False
    db.add(township_t.cadre_a)
    db.commit()

    await run_alerts(engine, alert_settings, sender, now=at("08:00"))

    assert township_t.cadre_a.id not in {a.user_id for a in alerts(db)}
    assert township_t.cadre_b.id in {a.user_id for a in alerts(db)}


# -- one alert that fails ------------------------------------------------------------------------------------


async def test_an_alert_that_cannot_be_sent_is_given_up_and_the_rest_of_the_batch_is_recorded(
    engine: Engine,
    db: Session,
    township_t: Cast,
    alert_settings: Settings,
    sender: PushSender,
    push_receiver: PushReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Building cadre A's payload raises (too long for a push message): her alert is given up with the
    exception's type only (its message could quote personal data), and cadre B's, in the same batch, is sent
    and recorded — not left `sending`, to be sent again after every lease."""
    sub_a, sub_b = push_receiver.subscription(), push_receiver.subscription()
    subscribe(db, township_t.cadre_a, sub_a)
    subscribe(db, township_t.cadre_b, sub_b)
    db.commit()
    plan_digests(engine, alert_settings, at("08:00"))
    bad = alert_of(db, township_t.cadre_a)
    payload = json.loads(bad.payload)
    payload["notification"]["body"] = WOMAN_NAME * 1000  # past MAX_PLAINTEXT_BYTES: to_json_bytes raises
    bad.payload = json.dumps(payload, ensure_ascii=False)
    db.add(bad)
    db.commit()

    with caplog.at_level(logging.WARNING):
        report = await run_alerts(engine, alert_settings, sender, now=at("08:00"))

    assert len(push_receiver.delivered(sub_b["endpoint"])) == 1
    assert push_receiver.delivered(sub_a["endpoint"]) == []
    assert (report.count("sent"), report.count("gave_up")) == (1, 1)
    good, given_up = alert_of(db, township_t.cadre_b), alert_of(db, township_t.cadre_a)
    assert (good.status, good.sent_at) == ("sent", at("08:00"))
    assert (given_up.status, given_up.last_error) == ("gave_up", "ValueError")
    assert not any(WOMAN_NAME in r.getMessage() or "bytes" in r.getMessage() for r in caplog.records)

    # Past the lease, nothing is claimed or sent again.
    again = await run_alerts(engine, alert_settings, sender, now=at("08:00") + LEASE * 2)
    assert again.by_status == {}
    assert len(push_receiver.delivered(sub_b["endpoint"])) == 1
    assert len(push_receiver.attempts) == 1
