"""Migrations: an empty database upgrades to head and autogenerate finds no difference, on both engines."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlmodel import SQLModel

import backend.models  # noqa: F401
from backend import migrate


def test_an_empty_database_upgrades_to_head_with_no_difference_from_the_models(engine: Engine) -> None:
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    assert inspect(engine).get_table_names() == []
    migrate.upgrade(engine)
    assert migrate.is_current(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, SQLModel.metadata)
    assert diff == []
    assert {"woman", "pregnancy", "due_item", "audit_log"} <= set(inspect(engine).get_table_names())


def test_the_migration_chain_has_a_single_head() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
