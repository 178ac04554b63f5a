"""Start-up: a deployed app freezes its long-lived objects out of the GC's reach; test apps do not."""

import gc
from pathlib import Path

import pytest
from litestar.testing import TestClient

from backend.app import create_app
from backend.settings import Settings


def test_a_deployed_app_freezes_the_gc_after_start_up(tmp_path: Path, sqlite_template: Path) -> None:
    import shutil

    shutil.copy(sqlite_template, tmp_path / "suifang.db")
    settings = Settings(data_dir=tmp_path, secret_key="t" * 40, environment="test", freeze_gc_at_startup=True)
    gc.unfreeze()
    try:
        with TestClient(create_app(settings, run_migrations=False)):
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_a_test_app_leaves_the_gc_alone(tmp_path: Path, sqlite_template: Path) -> None:
    import shutil

    shutil.copy(sqlite_template, tmp_path / "suifang.db")
    gc.unfreeze()
    with TestClient(
        create_app(Settings(data_dir=tmp_path, secret_key="t" * 40, environment="test"), run_migrations=False)
    ):
        assert gc.get_freeze_count() == 0


def test_freezing_is_on_by_default_in_deployments(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUIFANG_DATA_DIR", str(tmp_path))
    assert Settings.from_env().freeze_gc_at_startup
    monkeypatch.setenv("SUIFANG_FREEZE_GC", "0")
    assert not Settings.from_env().freeze_gc_at_startup
