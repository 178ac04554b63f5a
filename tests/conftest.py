"""Shared fixtures: every database test runs on SQLite and on PostgreSQL (a throwaway server unless
DATABASE_URL names one), each test on a fresh copy of a migrated database; the cast of users (cadre A and B of
township T, supervisors of T and U, a county admin) comes from `cast`."""

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session

from backend import migrate
from backend.accounts.models import User
from backend.accounts.services import Actor, area_codes_of, create_user, use_fast_password_hashing
from backend.areas.models import Area
from backend.cases.services import WriteContext
from backend.db import make_engine
from backend.lib.fieldcrypt import FieldCipher
from backend.settings import Settings
from tests.pgserver import ThrowawayPostgres

use_fast_password_hashing()

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hkdf"
COUNTY = "990101000000"
TOWNSHIP_T = "990101100000"
TOWNSHIP_U = "990101101000"
VILLAGE_A = "990101100001"
VILLAGE_B = "990101100002"
VILLAGE_C = "990101101001"  # in township U
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    given = os.environ.get("DATABASE_URL")
    if given:
        yield given
        return
    server = ThrowawayPostgres()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template")
    settings = Settings(data_dir=folder, secret_key=TEST_SECRET, environment="test")
    engine = make_engine(settings)
    migrate.upgrade(engine)
    engine.dispose()
    return folder / "suifang.db"


@pytest.fixture(scope="session")
def pg_template(pg_url: str) -> str:
    admin = create_engine(
        pg_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    name = f"suifang_template_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(
        Settings(database_url=_db_url(pg_url, name), secret_key=TEST_SECRET, environment="test")
    )
    migrate.upgrade(engine)
    engine.dispose()
    admin.dispose()
    return name


def _db_url(server_url: str, name: str) -> str:
    return server_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgres"])
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(db_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings for one test, pointing at a fresh, migrated database of the parametrised engine."""
    base = Settings(data_dir=tmp_path, secret_key=TEST_SECRET, environment="test", run_alert_job=False)
    if db_kind == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), tmp_path / "suifang.db")
        yield base
        return
    pg_url: str = request.getfixturevalue("pg_url")
    template: str = request.getfixturevalue("pg_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        pg_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield base.with_(database_url=_db_url(pg_url, name))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@dataclass
class Cast:
    """alice/bob/charlie for this domain: cadres of villages A and B (township T), supervisors of T and U,
    a county admin, and a cadre of village C in township U."""

    cadre_a: User
    cadre_b: User
    cadre_c: User
    sup_t: User
    sup_u: User
    county: User

    def actor(self, user: User, db: Session) -> Actor:
        return Actor(user_id=user.id, name=user.name, role=user.role, area_codes=area_codes_of(db, user.id))

    def ctx(self, user: User, db: Session, today: date | None = None) -> WriteContext:
        return WriteContext(
            actor=self.actor(user, db), today=today or date.today(), cipher=FieldCipher(TEST_SECRET)
        )


def make_areas(db: Session) -> None:
    db.add_all(
        [
            Area(code=COUNTY, name="示范县"),
            Area(code=TOWNSHIP_T, name="甲镇"),
            Area(code=TOWNSHIP_U, name="乙镇"),
            Area(code=VILLAGE_A, name="东岭村"),
            Area(code=VILLAGE_B, name="西河村"),
            Area(code=VILLAGE_C, name="南坪村"),
        ]
    )
    db.flush()


@pytest.fixture
def cast(db: Session) -> Cast:
    return make_cast(db)


def sqlite_with_cast(folder: Path, template: Path, **overrides: Any) -> Settings:
    """Settings (with `overrides`) for a fresh SQLite database in `folder`, migrated (a copy of the template),
    holding the cast: for what runs outside the per-engine `settings` fixture (a live server, SQLite's own
    locking)."""
    shutil.copy(template, folder / "suifang.db")
    settings = Settings(
        data_dir=folder, secret_key=TEST_SECRET, environment="test", run_alert_job=False, **overrides
    )
    engine = make_engine(settings)
    with Session(engine) as db:
        make_cast(db)
    engine.dispose()
    return settings


def make_cast(db: Session) -> Cast:
    make_areas(db)
    users = Cast(
        cadre_a=create_user(
            db, phone="13800000001", name="王秀英", password=PASSWORD, role="village", area_codes=[VILLAGE_A]
        ),
        cadre_b=create_user(
            db, phone="13800000002", name="李桂兰", password=PASSWORD, role="village", area_codes=[VILLAGE_B]
        ),
        cadre_c=create_user(
            db, phone="13800000003", name="张丽", password=PASSWORD, role="village", area_codes=[VILLAGE_C]
        ),
        sup_t=create_user(
            db, phone="13800000010", name="周敏", password=PASSWORD, role="township", area_codes=[TOWNSHIP_T]
        ),
        sup_u=create_user(
            db, phone="13800000011", name="吴静", password=PASSWORD, role="township", area_codes=[TOWNSHIP_U]
        ),
        county=create_user(
            db, phone="13800000020", name="县妇幼", password=PASSWORD, role="county", area_codes=[COUNTY]
        ),
    )
    db.commit()
    return users
