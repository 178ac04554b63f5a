"""Settings and storage: SQLite in WAL mode by default, PostgreSQL from DATABASE_URL, secrets from files,
production refusing weak secrets, due items refreshed in the writing transaction and queried on an index."""

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from backend.cases import forms, services
from backend.cases.models import DueItem
from backend.db import make_engine
from backend.lib.i18n import ValidationFailed
from backend.settings import Settings
from tests.conftest import VILLAGE_A, Cast


def test_sqlite_is_the_default_and_runs_in_wal_mode(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", secret_key="x" * 40)
    assert settings.is_sqlite and settings.sqlalchemy_url.endswith("d/suifang.db")
    engine = make_engine(settings)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_database_url_selects_postgresql(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example:5432/suifang")
    monkeypatch.setenv("SUIFANG_DATA_DIR", str(tmp_path))
    settings = Settings.from_env()
    assert settings.sqlalchemy_url == "postgresql+psycopg://u:p@db.example:5432/suifang"
    assert not settings.is_sqlite


def test_secrets_can_come_from_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s" * 48 + "\n", encoding="utf-8")
    monkeypatch.setenv("SUIFANG_SECRET_KEY_FILE", str(secret))
    monkeypatch.setenv("SUIFANG_DATA_DIR", str(tmp_path))
    assert Settings.from_env().secret_key == "s" * 48


def test_production_refuses_a_missing_or_weak_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUIFANG_ENV", "production")
    monkeypatch.setenv("SUIFANG_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SUIFANG_SECRET_KEY", raising=False)
    with pytest.raises(SystemExit, match="must be set"):
        Settings.from_env()
    monkeypatch.setenv("SUIFANG_SECRET_KEY", "short")
    with pytest.raises(SystemExit, match="too weak"):
        Settings.from_env()


def test_development_keeps_a_generated_secret_across_restarts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SUIFANG_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SUIFANG_SECRET_KEY", raising=False)
    first = Settings.from_env().secret_key
    assert len(first) >= 32 and Settings.from_env().secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def _registration(today: date) -> dict[str, str]:
    return {
        "name": "赵雪",
        "birth_date": "1996-03-08",
        "village_code": VILLAGE_A,
        "registered_on": (today - timedelta(days=40)).isoformat(),
        "lmp": (today - timedelta(days=110)).isoformat(),
        "gravidity": "2",
        "parity": "1",
    }


def test_due_items_are_written_in_the_same_transaction_as_the_record(db: Session, cast: Cast) -> None:
    today = date.today()
    ctx = cast.ctx(cast.cadre_a, db, today)
    written = services.register_pregnancy(db, ctx, forms.read_registration(_registration(today)))
    items = db.exec(select(DueItem).where(DueItem.pregnancy_id == written.pregnancy_id)).all()
    assert {i.kind for i in items} >= {"village", "township", "outcome", "check2"}
    db.rollback()  # nothing committed: the record and its items vanish together
    assert db.exec(select(DueItem).where(DueItem.pregnancy_id == written.pregnancy_id)).all() == []


def test_a_visit_closes_its_item_and_a_rejected_write_leaves_items_untouched(db: Session, cast: Cast) -> None:
    today = date.today()
    ctx = cast.ctx(cast.cadre_a, db, today)
    pid = services.register_pregnancy(db, ctx, forms.read_registration(_registration(today))).pregnancy_id
    db.commit()
    first = db.exec(
        select(DueItem).where(DueItem.pregnancy_id == pid, DueItem.kind == "village", DueItem.seq == 1)
    ).one()
    visit_day = first.window_start + timedelta(days=2)
    raw = {"pregnancy_id": str(pid), "visited_on": visit_day.isoformat(), "kind": "home"}
    services.record_prenatal_visit(db, ctx, forms.read_prenatal_visit(raw))
    db.commit()
    done = db.exec(
        select(DueItem).where(DueItem.pregnancy_id == pid, DueItem.kind == "village", DueItem.seq == 1)
    ).one()
    assert done.done_on == visit_day and not done.is_open
    before = db.exec(select(DueItem.kind, DueItem.due_on).where(DueItem.pregnancy_id == pid)).all()
    with pytest.raises(ValidationFailed):
        bad = {"pregnancy_id": str(pid), "visited_on": "2000-01-01", "kind": "home"}
        services.record_prenatal_visit(db, ctx, forms.read_prenatal_visit(bad))
    db.rollback()
    assert db.exec(select(DueItem.kind, DueItem.due_on).where(DueItem.pregnancy_id == pid)).all() == before


def test_a_refresh_rewrites_only_the_items_that_changed(db: Session, cast: Cast) -> None:
    """Stored items equal to the plan are left alone (same row ids); a visit replaces only what it changed;
    and the stored items always equal a fresh plan."""
    from backend.cases.models import Pregnancy
    from backend.cases.schedule_store import CaseRecords, refresh_due_items, refresh_many
    from backend.schedule import load_rules, plan_items

    def stored(pid: object) -> dict[int, tuple[object, ...]]:
        rows = db.exec(select(DueItem).where(DueItem.pregnancy_id == pid)).all()
        return {r.id: (r.kind, r.seq, r.infant_id, r.due_on, r.done_on, r.missed_on, r.is_open) for r in rows}

    today = date.today()
    ctx = cast.ctx(cast.cadre_a, db, today)
    pid = services.register_pregnancy(db, ctx, forms.read_registration(_registration(today))).pregnancy_id
    db.commit()
    before = stored(pid)
    pregnancy = db.get(Pregnancy, pid)
    assert pregnancy is not None
    refresh_due_items(db, pregnancy)
    refresh_many(db, [pid])
    db.commit()
    assert stored(pid) == before  # nothing changed, nothing rewritten: the same rows under the same ids
    first = min((i for i in before.items() if i[1][0] == "village"), key=lambda i: i[1][3])
    raw = {"pregnancy_id": str(pid), "visited_on": today.isoformat(), "kind": "home"}
    services.record_prenatal_visit(db, ctx, forms.read_prenatal_visit(raw))
    db.commit()
    after = stored(pid)
    kept = set(before) & set(after)
    assert first[0] not in after  # the item the visit did was replaced
    assert all(after[i] == before[i] for i in kept)  # a row kept is a row unchanged
    unchanged = Counter(before.values()) & Counter(after.values())
    assert len(kept) == sum(unchanged.values()) > 0  # and every unchanged row was kept
    db.expire_all()
    pregnancy = db.get(Pregnancy, pid)
    assert pregnancy is not None
    plan = plan_items(CaseRecords(db, pregnancy).facts(), load_rules(pregnancy.rules_version))
    assert sorted((i.kind, i.seq, i.due_on, i.done_on) for i in plan) == sorted(
        (v[0], v[1], v[3], v[4]) for v in after.values()
    )


def test_the_overdue_query_uses_the_scope_index(engine: Engine, db_kind: str) -> None:
    today = date.today().isoformat()
    sql = (
        "SELECT count(*) FROM due_item WHERE is_open = true AND village_code >= '990101100' "
        f"AND village_code < '990101100:' AND window_end < '{today}' "
        f"AND (missed_on IS NULL OR missed_on > '{today}')"
    )
    with engine.connect() as conn:
        if db_kind == "sqlite":
            plan = " ".join(str(r) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
            assert "ix_due_item_open_scope" in plan
        else:
            conn.execute(text("SET enable_seqscan = off"))
            plan = " ".join(str(r) for r in conn.execute(text("EXPLAIN " + sql)))
            assert "ix_due_item_open_scope" in plan
    assert col(DueItem.is_open) is not None


def test_a_known_id_number_never_appears_in_clear_in_the_database_file(
    tmp_path: Path, sqlite_template: Path
) -> None:
    import shutil

    from backend.lib.idcard import synthetic_id
    from tests.conftest import TEST_SECRET, make_cast

    shutil.copy(sqlite_template, tmp_path / "suifang.db")
    settings = Settings(data_dir=tmp_path, secret_key=TEST_SECRET, environment="test")
    engine = make_engine(settings)
    id_number = synthetic_id("110105", date(1994, 12, 31), 2)
    today = date.today()
    with Session(engine) as db:
        cast = make_cast(db)
        ctx = cast.ctx(cast.cadre_a, db, today)
        raw = {**_registration(today), "id_number": id_number, "birth_date": "1994-12-31"}
        services.register_pregnancy(db, ctx, forms.read_registration(raw))
        db.commit()
    engine.dispose()
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("suifang.db*"))
    assert id_number.encode() not in blob and id_number.encode("utf-16-le") not in blob
    assert (id_number[:6] + "********" + id_number[-4:]).encode() in blob  # only the mask is stored in clear
