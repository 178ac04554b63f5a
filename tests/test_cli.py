"""The `suifang` command: areas import (all or nothing, a message per bad line), users, the demo county,
and /healthz."""

from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, text
from sqlmodel import Session, col, select

from backend.app import create_app
from backend.areas.models import Area
from backend.cases.models import Closure, DueItem, Infant, Outcome, Pregnancy, PrenatalVisit
from backend.cli import build_parser, main
from backend.db import make_engine
from backend.lib.clock import local_today
from backend.schedule import Item, State, state_of
from backend.settings import Settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SUIFANG_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path


def _engine(data_dir: Path):  # type: ignore[no-untyped-def]
    return make_engine(Settings.from_env())


def test_help_lists_every_command() -> None:
    text_ = build_parser().format_help()
    for command in ("run", "migrate", "demo", "create-user", "import-areas", "alerts", "vapid", "schedule"):
        assert command in text_


def test_a_bad_area_csv_reports_each_bad_line_and_imports_nothing(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = data_dir / "areas.csv"
    csv_path.write_text(
        "code,name\n990101000000,示范县\n99010110000,短码\n990101100001,\n990101100002,西河村\n",
        encoding="utf-8",
    )
    assert main(["import-areas", str(csv_path)]) == 2
    err = capsys.readouterr().err
    assert "line 3:" in err and "12" in err
    assert "line 4:" in err
    assert "nothing was imported" in err
    with Session(_engine(data_dir)) as db:
        assert db.exec(select(func.count()).select_from(Area)).one() == 0


def test_a_good_area_csv_imports_then_updates_names(data_dir: Path) -> None:
    csv_path = data_dir / "areas.csv"
    csv_path.write_text("990101000000,示范县\n990101100001,东岭村\n", encoding="utf-8")
    assert main(["import-areas", str(csv_path)]) == 0
    csv_path.write_text("990101100001,东岭新村\n990101100002,西河村\n", encoding="utf-8")
    assert main(["import-areas", str(csv_path)]) == 0
    with Session(_engine(data_dir)) as db:
        names = dict(db.exec(select(Area.code, Area.name)).all())
    assert names == {"990101000000": "示范县", "990101100001": "东岭新村", "990101100002": "西河村"}


def test_create_user_refuses_a_short_password_and_creates_a_good_one(data_dir: Path) -> None:
    csv_path = data_dir / "areas.csv"
    csv_path.write_text("990101100001,东岭村\n", encoding="utf-8")
    main(["import-areas", str(csv_path)])
    base = [
        "create-user",
        "--phone",
        "13912345678",
        "--name",
        "测试",
        "--role",
        "village",
        "--area",
        "990101100001",
    ]
    assert main([*base, "--password", "short"]) == 2
    assert main([*base, "--password", "long-enough-pw"]) == 0


def test_demo_seeds_a_county_with_every_stage_and_prints_the_logins(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "13900000001" in out and "13900000100" in out and "13900000200" in out and "suifang-demo" in out
    today = local_today("Asia/Shanghai")  # the day the demo was seeded on, in the service's zone
    with Session(_engine(data_dir)) as db:
        villages = db.exec(
            select(func.count()).select_from(Area).where(col(Area.code).not_like("%000"))
        ).one()
        assert villages == 12
        assert 140 <= db.exec(select(func.count()).select_from(Pregnancy)).one() <= 160
        assert db.exec(select(func.count()).select_from(Infant)).one() >= 100
        assert db.exec(select(func.count()).select_from(Outcome).where(Outcome.n_babies == 2)).one() >= 1
        assert db.exec(
            select(func.count()).select_from(Outcome).where(Outcome.outcome_type == "stillbirth")
        ).one()
        assert db.exec(select(func.count()).select_from(Closure).where(Closure.kind == "transferred")).one()
        assert db.exec(select(func.count()).select_from(Pregnancy).where(col(Pregnancy.high_risk))).one() >= 5
        assert db.exec(select(func.count()).select_from(PrenatalVisit)).one() > 500
        states = {
            state_of(
                Item(
                    i.kind,
                    i.seq,
                    i.window_start,
                    i.due_on,
                    i.window_end,
                    i.infant_id,
                    i.done_on,
                    i.done_by,
                    i.cancelled_on,
                    i.missed_on,
                ),
                today,
            )
            for i in db.exec(select(DueItem)).all()
        }
    assert {
        State.DONE_ON_TIME,
        State.DONE_LATE,
        State.MISSED,
        State.OVERDUE,
        State.DUE,
        State.UPCOMING,
    } <= states
    assert main(["demo"]) == 0  # a second run leaves the data alone
    assert "already present" in capsys.readouterr().out


def test_healthz_answers_200_when_the_database_is_current_and_503_when_not(settings: Settings) -> None:
    app = create_app(settings, run_migrations=False)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        engine = make_engine(settings)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'stale'"))
        engine.dispose()
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
