"""`suifang alerts run` (one pass of the alert job, for cron) and `suifang vapid` (print the public key),
registered into the `suifang` command by backend/cli.py."""

import argparse
import asyncio
import sys
from datetime import datetime
from typing import Any

from backend.alerts.job import SEND_TIMEOUT_SECONDS, allowed_hosts_of, load_push_keys
from backend.alerts.services import RunReport, run_alerts
from backend.push.sender import PushSender
from backend.settings import Settings


def add_commands(sub: Any) -> None:
    """Add the commands to the `suifang` parser's subparsers."""
    alerts = sub.add_parser("alerts", help="overdue-visit push alerts")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    run = alerts_sub.add_parser(
        "run",
        help="one pass of the alert job: plan today's digests once the send time has come, deliver what is "
        "due (for cron, e.g. every minute; safe next to the in-app job and other processes)",
    )
    run.add_argument(
        "--now",
        type=datetime.fromisoformat,
        default=None,
        help="run as at this ISO 8601 instant with a UTC offset (testing, replaying a missed morning)",
    )
    run.set_defaults(func=cmd_alerts_run)
    vapid = sub.add_parser(
        "vapid", help="print the VAPID public key (applicationServerKey), creating the key pair on first use"
    )
    vapid.set_defaults(func=cmd_vapid)


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def cmd_vapid(_args: argparse.Namespace, settings: Settings) -> int:
    try:
        keys, contact = load_push_keys(settings)
    except (ValueError, OSError) as exc:
        _err(f"error: {exc}")
        return 2
    _out(keys.public_key_b64url)
    _err(f"contact: {contact}")
    return 0


def cmd_alerts_run(args: argparse.Namespace, settings: Settings) -> int:
    from backend import migrate
    from backend.db import make_engine

    now: datetime | None = args.now
    if now is not None and now.tzinfo is None:
        _err("error: --now needs a UTC offset, e.g. 2026-11-23T08:00+08:00")
        return 2
    try:
        keys, contact = load_push_keys(settings)
    except (ValueError, OSError) as exc:
        _err(f"error: Web Push is not configured: {exc}")
        return 2
    engine = make_engine(settings)
    try:
        if not migrate.is_current(engine):
            _err("error: the database is not at the latest migration; run `suifang migrate`")
            return 2

        async def one_pass() -> RunReport:
            async with PushSender(
                keys, contact, allowed_hosts=allowed_hosts_of(settings), timeout_seconds=SEND_TIMEOUT_SECONDS
            ) as sender:
                return await run_alerts(engine, settings, sender, now=now)

        report = asyncio.run(one_pass())
    finally:
        engine.dispose()
    _out(f"alerts: {report}")
    return 0
