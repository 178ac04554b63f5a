"""Sending through a real (local) push service: what arrives, and what each answer of the service means."""

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from backend.push.sender import (
    MAX_PLAINTEXT_BYTES,
    Notification,
    PushSender,
    SendKind,
    Subscription,
    parse_retry_after,
    topic_for,
    ttl_until_end_of_local_day,
)
from backend.push.vapid import VapidKeys, load_or_create_keys
from tests.push_receiver import PushReceiver, push_receiver_fixture  # noqa: F401 - the fixture

CONTACT = "mailto:ops@suifang.example.cn"
DIGEST = Notification(
    title="随访提醒", body="3 项随访已逾期", url="/visits/overdue", tag="overdue-digest", badge_count=3
)
TOPIC = topic_for("overdue-digest")


@pytest.fixture
def keys(tmp_path: Path) -> VapidKeys:
    return load_or_create_keys(tmp_path)


@pytest.fixture
async def sender(keys: VapidKeys, push_receiver: PushReceiver) -> AsyncIterator[PushSender]:
    async with PushSender(keys, CONTACT, allowed_hosts=[push_receiver.origin]) as sender:
        yield sender  # the default timeout: what these tests are about must not depend on the machine's load


def impatient(keys: VapidKeys, receiver: PushReceiver) -> PushSender:
    """A sender that gives a push service half a second: for the tests of a service that hangs."""
    return PushSender(keys, CONTACT, allowed_hosts=[receiver.origin], timeout_seconds=0.5)


def subscribe(receiver: PushReceiver) -> Subscription:
    return Subscription.from_json(receiver.subscription())


# -- what arrives --------------------------------------------------------------------------------------------


async def test_it_delivers_the_payload_ttl_urgency_and_topic_as_sent(
    sender: PushSender, push_receiver: PushReceiver
) -> None:
    sub = subscribe(push_receiver)

    result = await sender.send(sub, DIGEST, ttl_seconds=16 * 3600, topic=TOPIC, urgency="high")

    assert (result.kind, result.status) == (SendKind.DELIVERED, 201)
    [message] = push_receiver.delivered(sub.endpoint)
    assert message.payload == {
        "title": "随访提醒",
        "body": "3 项随访已逾期",
        "url": "/visits/overdue",
        "tag": "overdue-digest",
        "badge_count": 3,
    }
    assert (message.ttl, message.urgency, message.topic) == (16 * 3600, "high", TOPIC)
    assert message.claims["aud"] == push_receiver.origin
    assert message.claims["sub"] == CONTACT


async def test_the_payload_is_compact_json_and_leaves_out_an_empty_badge(
    sender: PushSender, push_receiver: PushReceiver
) -> None:
    sub = subscribe(push_receiver)
    note = Notification(title="随访", body="0", url="/visits/overdue", tag="t")

    await sender.send(sub, note, ttl_seconds=60, topic=TOPIC)

    [message] = push_receiver.delivered()
    assert message.plaintext == '{"title":"随访","body":"0","url":"/visits/overdue","tag":"t"}'.encode()
    assert message.urgency == "normal"


async def test_each_subscription_gets_its_own_message(
    sender: PushSender, push_receiver: PushReceiver
) -> None:
    subs = [subscribe(push_receiver) for _ in range(20)]

    results = await asyncio.gather(*(sender.send(s, DIGEST, ttl_seconds=60, topic=TOPIC) for s in subs))

    assert {r.kind for r in results} == {SendKind.DELIVERED}
    assert sorted(m.endpoint for m in push_receiver.delivered()) == sorted(s.endpoint for s in subs)


def test_a_payload_near_the_limit_is_refused_before_sending() -> None:
    note = Notification(title="t", body="x" * MAX_PLAINTEXT_BYTES, url="/", tag="t")
    with pytest.raises(ValueError, match="keep it under"):
        note.to_json_bytes()


async def test_it_refuses_arguments_that_would_lose_or_break_the_message(
    sender: PushSender, push_receiver: PushReceiver
) -> None:
    sub = subscribe(push_receiver)
    with pytest.raises(ValueError, match="ttl_seconds"):
        await sender.send(sub, DIGEST, ttl_seconds=0, topic=TOPIC)
    with pytest.raises(ValueError, match="topic"):
        await sender.send(sub, DIGEST, ttl_seconds=60, topic="overdue digest for village 3")
    with pytest.raises(ValueError, match="topic"):
        await sender.send(sub, DIGEST, ttl_seconds=60, topic="x" * 33)
    assert push_receiver.attempts == []


# -- what the answer means -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410])
async def test_an_expired_subscription_is_gone(
    sender: PushSender, push_receiver: PushReceiver, status: int
) -> None:
    sub = subscribe(push_receiver)
    push_receiver.respond(sub.endpoint, status)

    result = await sender.send(sub, DIGEST, ttl_seconds=60, topic=TOPIC)

    assert (result.kind, result.status) == (SendKind.GONE, status)


async def test_an_endpoint_the_service_does_not_know_is_gone(
    sender: PushSender, push_receiver: PushReceiver
) -> None:
    sub = subscribe(push_receiver)
    unknown = Subscription(sub.endpoint + "x", sub.p256dh, sub.auth)

    result = await sender.send(unknown, DIGEST, ttl_seconds=60, topic=TOPIC)

    assert (result.kind, result.status) == (SendKind.GONE, 404)


async def test_429_honours_retry_after_in_seconds(sender: PushSender, push_receiver: PushReceiver) -> None:
    sub = subscribe(push_receiver)
    push_receiver.respond(sub.endpoint, 429, {"Retry-After": "120"})

    result = await sender.send(sub, DIGEST, ttl_seconds=60, topic=TOPIC, attempt=5)

    assert (result.kind, result.status, result.after_seconds) == (SendKind.RETRY_LATER, 429, 120)


async def test_503_honours_retry_after_as_an_http_date(
    sender: PushSender, push_receiver: PushReceiver
) -> None:
    sub = subscribe(push_receiver)
    when = datetime.now(UTC) + timedelta(seconds=300)
    push_receiver.respond(sub.endpoint, 503, {"Retry-After": format_datetime(when, usegmt=True)})

    result = await sender.send(sub, DIGEST, ttl_seconds=60, topic=TOPIC)

    assert result.kind is SendKind.RETRY_LATER
    assert result.after_seconds is not None and 240 <= result.after_seconds <= 301


async def test_500_backs_off_exponentially_with_the_attempt_number(
    sender: PushSender, push_receiver: PushReceiver
) -> None:
    sub = subscribe(push_receiver)
    push_receiver.respond(sub.endpoint, 500)

    first = await sender.send(sub, DIGEST, ttl_seconds=60, topic=TOPIC, attempt=0)
    fourth = await sender.send(sub, DIGEST, ttl_seconds=60, topic=TOPIC, attempt=3)
    many = await sender.send(sub, DIGEST, ttl_seconds=60, topic=TOPIC, attempt=40)

    assert {first.kind, fourth.kind, many.kind} == {SendKind.RETRY_LATER}
    assert first.after_seconds is not None and 60 <= first.after_seconds <= 72
    assert fourth.after_seconds is not None and 480 <= fourth.after_seconds <= 576
    assert many.after_seconds is not None and 6 * 3600 <= many.after_seconds <= 6 * 3600 * 1.2


async def test_a_hanging_service_times_out_and_is_retried_later(
    keys: VapidKeys, push_receiver: PushReceiver
) -> None:
    sub = subscribe(push_receiver)
    push_receiver.hang(sub.endpoint, seconds=10)  # then it would answer 201: "timeout" means it gave up first

    async with impatient(keys, push_receiver) as sender:
        result = await sender.send(sub, DIGEST, ttl_seconds=60, topic=TOPIC)

    assert (result.kind, result.status, result.reason) == (SendKind.RETRY_LATER, None, "timeout")


async def test_a_service_that_refuses_connections_is_retried_later(keys: VapidKeys) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    origin = f"http://127.0.0.1:{port}"
    with PushReceiver() as elsewhere:
        sub = Subscription.from_json(elsewhere.subscription())
    sub = Subscription(f"{origin}/wpush/x", sub.p256dh, sub.auth)

    async with PushSender(keys, CONTACT, allowed_hosts=[origin], timeout_seconds=0.5) as sender:
        result = await sender.send(sub, DIGEST, ttl_seconds=60, topic=TOPIC)

    assert (result.kind, result.status) == (SendKind.RETRY_LATER, None)
    assert result.after_seconds is not None and result.after_seconds >= 60


@pytest.mark.parametrize("status", [401, 403, 413])
async def test_an_authorization_or_size_refusal_is_a_configuration_error(
    sender: PushSender, push_receiver: PushReceiver, status: int
) -> None:
    sub = subscribe(push_receiver)
    push_receiver.respond(sub.endpoint, status)

    result = await sender.send(sub, DIGEST, ttl_seconds=60, topic=TOPIC)

    assert (result.kind, result.status) == (SendKind.CONFIG_ERROR, status)


async def test_another_client_error_is_rejected(sender: PushSender, push_receiver: PushReceiver) -> None:
    sub = subscribe(push_receiver)
    push_receiver.respond(sub.endpoint, 400, {"Content-Type": "application/json"})

    result = await sender.send(sub, DIGEST, ttl_seconds=60, topic=TOPIC)

    assert (result.kind, result.status) == (SendKind.REJECTED, 400)


async def test_it_never_posts_to_an_endpoint_outside_the_allow_list(
    keys: VapidKeys, push_receiver: PushReceiver
) -> None:
    sub = subscribe(push_receiver)

    async with PushSender(keys, CONTACT) as sender:  # the default list: real push services only
        result = await sender.send(sub, DIGEST, ttl_seconds=60, topic=TOPIC)

    assert result.kind is SendKind.REJECTED
    assert push_receiver.attempts == []


async def test_unusable_subscription_keys_are_rejected(
    sender: PushSender, push_receiver: PushReceiver
) -> None:
    sub = subscribe(push_receiver)
    broken = Subscription(sub.endpoint, sub.p256dh[:-4] + "AAAA", sub.auth)

    result = await sender.send(broken, DIGEST, ttl_seconds=60, topic=TOPIC)

    assert result.kind is SendKind.REJECTED
    assert push_receiver.attempts == []
    with pytest.raises(ValueError):
        Subscription.from_json(
            {"endpoint": sub.endpoint, "keys": {"p256dh": broken.p256dh, "auth": sub.auth}}
        )
    with pytest.raises(ValueError):
        Subscription.from_json({"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": "AAAA"}})


async def test_it_logs_the_push_services_host_and_never_the_endpoint(
    keys: VapidKeys, push_receiver: PushReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx's included
    subs = [subscribe(push_receiver) for _ in range(4)]
    push_receiver.respond(subs[0].endpoint, 410)
    push_receiver.respond(subs[1].endpoint, 403, {"Content-Type": "application/json"})
    push_receiver.hang(subs[2].endpoint)

    async with impatient(keys, push_receiver) as sender:  # the hanging one is logged as a timeout
        for sub in subs:
            await sender.send(sub, DIGEST, ttl_seconds=60, topic=TOPIC)

    assert any("configuration error" in r.getMessage() for r in caplog.records)
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        text = record.getMessage()
        assert "/wpush/" not in text and "随访" not in text, text
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("backend.push")]
    assert len(ours) == 4 and all("127.0.0.1" in text for text in ours)


# -- VAPID across sends --------------------------------------------------------------------------------------


async def test_two_push_services_each_get_a_token_for_their_own_origin(
    keys: VapidKeys, push_receiver: PushReceiver
) -> None:
    with PushReceiver() as other:
        subs = [subscribe(push_receiver), subscribe(other), subscribe(push_receiver)]
        allowed = [push_receiver.origin, other.origin]
        async with PushSender(keys, CONTACT, allowed_hosts=allowed) as sender:
            results = [await sender.send(s, DIGEST, ttl_seconds=60, topic=TOPIC) for s in subs]
        assert [m.claims["aud"] for m in other.delivered()] == [other.origin]

    assert {r.kind for r in results} == {SendKind.DELIVERED}
    assert [m.claims["aud"] for m in push_receiver.delivered()] == [push_receiver.origin] * 2


async def test_without_token_reuse_each_send_signs_fresh_claims(
    keys: VapidKeys, push_receiver: PushReceiver
) -> None:
    sub = subscribe(push_receiver)

    async with PushSender(
        keys, CONTACT, allowed_hosts=[push_receiver.origin], token_reuse_seconds=0
    ) as sender:
        await sender.send(sub, DIGEST, ttl_seconds=60, topic=TOPIC)
        await sender.send(sub, DIGEST, ttl_seconds=60, topic=TOPIC)

    first, second = push_receiver.delivered()
    assert first.token != second.token
    assert first.claims is not second.claims
    assert first.claims["aud"] == second.claims["aud"] == push_receiver.origin


async def test_a_token_is_reused_for_one_push_service_within_the_window(
    sender: PushSender, push_receiver: PushReceiver
) -> None:
    await sender.send(subscribe(push_receiver), DIGEST, ttl_seconds=60, topic=TOPIC)
    await sender.send(subscribe(push_receiver), DIGEST, ttl_seconds=60, topic=TOPIC)

    first, second = push_receiver.delivered()
    assert first.token == second.token
    assert first.claims["exp"] > time.time() + 11 * 3600


async def test_a_reused_token_is_replaced_after_the_window(
    keys: VapidKeys, push_receiver: PushReceiver
) -> None:
    origin = push_receiver.origin
    async with PushSender(keys, CONTACT, allowed_hosts=[origin], token_reuse_seconds=0.05) as sender:
        await sender.send(subscribe(push_receiver), DIGEST, ttl_seconds=60, topic=TOPIC)
        await asyncio.sleep(0.1)
        await sender.send(subscribe(push_receiver), DIGEST, ttl_seconds=60, topic=TOPIC)

    first, second = push_receiver.delivered()
    assert first.token != second.token


# -- the pure parts ------------------------------------------------------------------------------------------


def test_the_topic_is_stable_short_and_url_safe() -> None:
    topic = topic_for("overdue-digest")

    assert topic == topic_for("overdue-digest") != topic_for("supervisor-digest")
    assert len(topic) == 32
    assert set(topic) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_the_ttl_runs_to_the_end_of_the_local_day() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    eight_am = datetime(2026, 3, 2, 8, 0, tzinfo=shanghai)

    assert ttl_until_end_of_local_day(eight_am, shanghai) == 16 * 3600
    assert ttl_until_end_of_local_day(eight_am.astimezone(UTC), shanghai) == 16 * 3600
    assert (
        ttl_until_end_of_local_day(datetime(2026, 3, 2, 23, 59, 59, 900000, tzinfo=shanghai), shanghai) == 1
    )


def test_the_ttl_counts_real_seconds_on_a_daylight_saving_day() -> None:
    new_york = ZoneInfo("America/New_York")
    # 2026-03-08: clocks jump from 02:00 to 03:00, so 01:00 to midnight is 22 real hours.
    assert ttl_until_end_of_local_day(datetime(2026, 3, 8, 1, 0, tzinfo=new_york), new_york) == 22 * 3600


def test_the_ttl_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        ttl_until_end_of_local_day(datetime(2026, 3, 2, 8, 0), ZoneInfo("Asia/Shanghai"))


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Mon, 02 Mar 2026 08:02:00 GMT", now) == 120
    assert parse_retry_after("Mon, 02 Mar 2026 07:00:00 GMT", now) == 1  # in the past: soon, not never
    assert parse_retry_after("99999999", now) == 24 * 3600
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
