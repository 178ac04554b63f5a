"""Web Push throughput: N encrypted, VAPID-signed notifications from one process to the local push service
(tests/push_receiver.py, which verifies and decrypts every one), with bounded concurrency.

    .venv/bin/python bench/bench_push.py [-n 2000] [--concurrency 64] [--subscriptions 200] [--no-token-reuse]
"""

import argparse
import asyncio
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.push.sender import Notification, PushSender, SendKind, Subscription, topic_for
from backend.push.vapid import load_or_create_keys
from tests.push_receiver import PushReceiver


def serve_receiver(conn: Connection, subscriptions: int) -> None:
    """The push service, in its own process so it does not share the sender's interpreter lock."""
    with PushReceiver() as receiver:
        conn.send((receiver.origin, [receiver.subscription() for _ in range(subscriptions)]))
        conn.recv()  # the sender is done
        statuses: dict[int, int] = {}
        for attempt in receiver.attempts:
            statuses[attempt.status] = statuses.get(attempt.status, 0) + 1
        conn.send((len(receiver.delivered()), statuses))


async def send_all(
    origin: str, raw_subs: list[dict[str, Any]], n: int, concurrency: int, token_reuse: bool
) -> tuple[float, float, dict[str, int]]:
    keys = load_or_create_keys(Path(tempfile.mkdtemp(prefix="bench-push-")))
    subs = [Subscription.from_json(raw) for raw in raw_subs]
    note = Notification(
        title="随访提醒", body="3 项随访已逾期", url="/visits/overdue", tag="overdue-digest", badge_count=3
    )
    topic = topic_for("overdue-digest")
    gate = asyncio.Semaphore(concurrency)
    kinds: dict[str, int] = {}

    async with PushSender(
        keys,
        "mailto:ops@suifang.example.cn",
        allowed_hosts=[origin],
        timeout_seconds=10,
        token_reuse_seconds=600 if token_reuse else 0,
        max_connections=concurrency,
    ) as sender:

        async def one(i: int) -> None:
            async with gate:
                result = await sender.send(subs[i % len(subs)], note, ttl_seconds=3600, topic=topic)
            kinds[str(result.kind)] = kinds.get(str(result.kind), 0) + 1

        await one(0)  # connect and sign once outside the timing
        kinds.clear()
        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(i) for i in range(1, n + 1)))
        return time.perf_counter() - started, time.process_time() - cpu_started, kinds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=2000, help="notifications to send (default 2000)")
    parser.add_argument("--concurrency", type=int, default=64, help="sends in flight at once (default 64)")
    parser.add_argument("--subscriptions", type=int, default=200, help="distinct subscriptions (default 200)")
    parser.add_argument(
        "--no-token-reuse", action="store_true", help="sign a new VAPID JWT for every message"
    )
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=serve_receiver, args=(theirs, args.subscriptions), daemon=True)
    child.start()
    origin, raw_subs = ours.recv()
    elapsed, cpu, kinds = asyncio.run(
        send_all(origin, raw_subs, args.n, args.concurrency, token_reuse=not args.no_token_reuse)
    )
    ours.send("done")
    delivered, statuses = ours.recv()
    child.join(timeout=10)

    python = sys.version.split()[0]
    print(f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs, Python {python}")
    print(
        f"sent {args.n} notifications ({args.subscriptions} subscriptions, concurrency {args.concurrency}, "
        f"VAPID token {'signed per message' if args.no_token_reuse else 'reused per push service'})"
    )
    print(
        f"results: {dict(sorted(kinds.items()))}; the receiver verified and decrypted {delivered - 1} of them"
    )
    print(f"wall {elapsed:.2f} s -> {args.n / elapsed:,.0f} notifications/s")
    print(f"sender CPU {cpu:.2f} s -> {cpu / args.n * 1e3:.2f} ms per notification")
    if kinds.get(SendKind.DELIVERED, 0) != args.n or delivered != args.n + 1 or set(statuses) != {201}:
        sys.exit(f"not every notification was delivered: {kinds}, receiver statuses {statuses}")


if __name__ == "__main__":
    main()
