"""The alert job in its two homes: inside the app process (started and stopped with the app) and `suifang
alerts run` from cron; and `suifang vapid`."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from backend.alerts.job import TASK_KEY, AlertJob
from backend.alerts.models import Alert
from backend.app import create_app
from backend.cli import main
from backend.push.sender import PushSender
from backend.push.vapid import load_or_create_keys
from backend.settings import Settings
from tests.alert_factories import make_item, make_pregnancy, subscribe
from tests.conftest import TEST_SECRET, VILLAGE_A, Cast
from tests.push_receiver import PushReceiver, push_receiver_fixture  # noqa: F401 - the fixture

MORNING = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 08:30 in Beijing
CONTACT = "mailto:ops@suifang.example.cn"


@pytest.fixture
def overdue_cadre(db: Session, cast: Cast, push_receiver: PushReceiver) -> dict[str, Any]:
    """Cadre A with one overdue item and notifications on; returns her subscription."""
    today = MORNING.date()
    make_item(db, make_pregnancy(db, cast.cadre_a, VILLAGE_A, today), today, start=-9, due=-5, end=-2)
    sub = push_receiver.subscription()
    subscribe(db, cast.cadre_a, sub)
    db.commit()
    return sub


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, settings: Settings, push_receiver: PushReceiver) -> Settings:
    """The environment cron would give `suifang`: same data directory and database as the app."""
    monkeypatch.setenv("SUIFANG_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SUIFANG_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SUIFANG_PUSH_ALLOWED_HOSTS", push_receiver.origin)
    if settings.database_url:
        monkeypatch.setenv("DATABASE_URL", settings.database_url)
    else:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    return settings


# -- inside the app ------------------------------------------------------------------------------------------


@pytest.fixture
async def sender(tmp_path: Path, push_receiver: PushReceiver) -> AsyncIterator[PushSender]:
    keys = load_or_create_keys(tmp_path)
    async with PushSender(keys, CONTACT, allowed_hosts=[push_receiver.origin], timeout_seconds=2) as s:
        yield s


async def test_the_job_runs_every_interval_and_stops_cleanly(
    engine: Engine,
    settings: Settings,
    overdue_cadre: dict[str, Any],
    sender: PushSender,
    push_receiver: PushReceiver,
) -> None:
    clock_calls: list[datetime] = []

    def clock() -> datetime:
        clock_calls.append(MORNING)
        return MORNING

    hosts = settings.with_(push_allowed_hosts=(push_receiver.origin,))
    job = AlertJob(engine, hosts, sender, interval=0.01, clock=clock)
    job.start()
    for _ in range(500):
        if job.passes >= 3:
            break
        await asyncio.sleep(0.01)
    await job.stop()

    assert job.passes >= 3
    assert len(push_receiver.delivered(overdue_cadre["endpoint"])) == 1  # three passes, one digest
    passes = job.passes
    await asyncio.sleep(0.05)
    assert job.passes == passes  # stopped means stopped


async def test_a_failing_pass_is_logged_and_the_next_one_runs(
    engine: Engine, settings: Settings, sender: PushSender, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    def clock() -> datetime:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the database went away")
        return MORNING

    job = AlertJob(engine, settings, sender, interval=0.01, clock=clock)
    job.start()
    for _ in range(500):
        if job.passes >= 2:
            break
        await asyncio.sleep(0.01)
    await job.stop()

    assert job.passes >= 2
    assert any("alert job pass failed" in r.getMessage() for r in caplog.records)


def test_the_app_starts_the_job_when_settings_ask_and_stops_it_on_shutdown(settings: Settings) -> None:
    app = create_app(settings.with_(run_alert_job=True), run_migrations=False)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        job = app.state[TASK_KEY]
        assert isinstance(job, AlertJob)
    assert app.state[TASK_KEY] is None
    assert job.finished


def test_the_app_runs_no_job_when_cron_does_it(settings: Settings) -> None:
    app = create_app(settings.with_(run_alert_job=False), run_migrations=False)
    with TestClient(app):
        assert app.state.get(TASK_KEY) is None


# -- from cron -----------------------------------------------------------------------------------------------


def test_suifang_alerts_run_sends_the_morning_digest_once(
    env: Settings,
    db: Session,
    overdue_cadre: dict[str, Any],
    push_receiver: PushReceiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = main(["alerts", "run", "--now", MORNING.isoformat()])
    second = main(["alerts", "run", "--now", (MORNING + timedelta(minutes=1)).isoformat()])

    assert (first, second) == (0, 0)
    [message] = push_receiver.delivered(overdue_cadre["endpoint"])
    assert message.payload["body"] == "逾期 1 项。点击查看。"
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("alerts: 5 planned;") and "1 sent" in out[0]
    assert out[1] == "alerts: 0 planned"
    db.rollback()
    assert len(db.exec(select(Alert)).all()) == 5


def test_suifang_alerts_run_refuses_a_bad_contact_and_says_what_to_set(
    env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUIFANG_PUSH_CONTACT", "mailto:root@server.local")

    assert main(["alerts", "run"]) == 2
    assert "SUIFANG_PUSH_CONTACT" in capsys.readouterr().err


def test_suifang_vapid_prints_the_public_key_the_app_serves(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["vapid"]) == 0
    printed = capsys.readouterr().out.strip()

    with TestClient(create_app(env.with_(run_alert_job=False), run_migrations=False)) as client:
        assert client.get("/api/push/key").json()["publicKey"] == printed
