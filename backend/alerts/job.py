"""The push runtime of an app process (VAPID keys, contact, allow-list, one PushSender on its event loop) and
the periodic alert job inside it: started with the app when settings.run_alert_job, a pass every minute,
stopped cleanly at shutdown. `suifang alerts run` does one pass from cron instead."""

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Engine

from backend.alerts.digests import parse_hhmm
from backend.alerts.services import run_alerts
from backend.lib.clock import utcnow
from backend.push.allowlist import DEFAULT_ALLOWED_HOSTS
from backend.push.sender import PushSender
from backend.push.vapid import VapidKeys, check_contact, load_or_create_keys
from backend.settings import Settings

logger = logging.getLogger(__name__)

INTERVAL_SECONDS: Final = 60.0
SEND_TIMEOUT_SECONDS: Final = 10.0
STATE_KEY: Final = "suifang_push"
TASK_KEY: Final = "suifang_alert_job"


@dataclass
class PushRuntime:
    """What sending needs; None in app.state when push is disabled by a bad contact or key."""

    keys: VapidKeys
    contact: str
    allowed_hosts: tuple[str, ...]
    sender: PushSender


def allowed_hosts_of(settings: Settings) -> tuple[str, ...]:
    return (*DEFAULT_ALLOWED_HOSTS, *settings.push_allowed_hosts)


def load_push_keys(settings: Settings) -> tuple[VapidKeys, str]:
    """The VAPID key pair (settings, `SUIFANG_VAPID_PRIVATE_KEY(_FILE)`, else created in the data directory)
    and the checked contact; ValueError or OSError with a message an operator can act on."""
    contact = check_contact(settings.push_contact)
    if settings.environment == "production" and contact == Settings.push_contact:
        raise ValueError(
            f"VAPID contact {contact!r} is the placeholder; set SUIFANG_PUSH_CONTACT to the operator's real "
            "mailto: or https: address (push services use it to reach you)"
        )
    keys = load_or_create_keys(settings.data_dir, private_key_pem=settings.vapid_private_key)
    times = {
        "SUIFANG_ALERT_SEND_TIME": settings.alert_send_time,
        "SUIFANG_QUIET_HOURS (start)": settings.quiet_hours[0],
        "SUIFANG_QUIET_HOURS (end)": settings.quiet_hours[1],
    }
    for name, value in times.items():
        try:
            parse_hhmm(value)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from exc
    return keys, contact


def build_runtime(settings: Settings, timeout_seconds: float = SEND_TIMEOUT_SECONDS) -> PushRuntime | None:
    """The push runtime, or None (push off, the rest of the app unaffected) with one clear error logged."""
    try:
        keys, contact = load_push_keys(settings)
    except (ValueError, OSError) as exc:
        logger.error("Web Push is OFF: %s", exc)
        return None
    if settings.environment == "production" and not settings.vapid_private_key:
        logger.warning(
            "VAPID key read from the data directory: when several app servers share the database, give them "
            "all the same key (SUIFANG_VAPID_PRIVATE_KEY_FILE), or phones subscribed through one server get "
            "403 from pushes signed by another"
        )
    hosts = allowed_hosts_of(settings)
    sender = PushSender(keys, contact, allowed_hosts=hosts, timeout_seconds=timeout_seconds)
    return PushRuntime(keys=keys, contact=contact, allowed_hosts=hosts, sender=sender)


def runtime_of(app: Any) -> PushRuntime | None:
    runtime: PushRuntime | None = app.state.get(STATE_KEY)
    return runtime


class AlertJob:
    """`run_alerts` every `interval` seconds until `stop()`; a failed pass is logged and the next one runs."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        sender: PushSender,
        *,
        interval: float = INTERVAL_SECONDS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine, self.settings, self.sender = engine, settings, sender
        self.interval, self.clock = interval, clock
        self.passes = 0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="suifang-alert-job")

    @property
    def finished(self) -> bool:
        """True once the loop has ended by itself after `stop()` (not cancelled)."""
        return self._task is not None and self._task.done() and not self._task.cancelled()

    async def _loop(self) -> None:
        # A little jitter so that several app processes started together do not all query at once.
        await self._sleep(random.uniform(0, min(5.0, self.interval)))  # noqa: S311 - not a secret
        while not self._stopping.is_set():
            try:
                await run_alerts(self.engine, self.settings, self.sender, now=self.clock())
            except Exception:
                logger.exception("alert job pass failed; the next pass will retry")
            self.passes += 1
            await self._sleep(self.interval)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def stop(self, grace_seconds: float = SEND_TIMEOUT_SECONDS + 5) -> None:
        """Let a pass in progress finish (its sends are bounded by the sender's timeout), then end."""
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=grace_seconds)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def start(app: Any) -> None:
    """On app start-up: load the VAPID keys and check the contact, then start the job if settings ask."""
    state = app.state.suifang
    runtime = build_runtime(state.settings)
    app.state[STATE_KEY] = runtime
    if runtime is not None and state.settings.run_alert_job:
        job = AlertJob(state.engine, state.settings, runtime.sender)
        job.start()
        app.state[TASK_KEY] = job


async def stop(app: Any) -> None:
    """On shutdown: stop the job, then close the sender's connections."""
    job: AlertJob | None = app.state.get(TASK_KEY)
    if job is not None:
        await job.stop()
        app.state[TASK_KEY] = None
    runtime = runtime_of(app)
    if runtime is not None:
        await runtime.sender.aclose()
