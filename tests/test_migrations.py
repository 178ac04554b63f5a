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


def test_the_responsible_cadre_is_backfilled_from_who_registered_else_the_village_s_only_cadre(
    engine: Engine,
) -> None:
    from datetime import timedelta

    from sqlmodel import Session

    from backend.accounts.services import create_user
    from backend.cases.models import Pregnancy
    from backend.lib.clock import local_today
    from tests.case_factories import make_registration
    from tests.conftest import PASSWORD, VILLAGE_A, VILLAGE_B, make_cast

    today = local_today("Asia/Shanghai")
    with Session(engine) as db:
        cast = make_cast(db)
        by_cadre = make_registration(db, cast.ctx(cast.cadre_a, db, today), VILLAGE_A)
        by_supervisor = make_registration(db, cast.ctx(cast.sup_t, db, today), VILLAGE_A)
        create_user(
            db, phone="13800000009", name="赵芳", password=PASSWORD, role="village", area_codes=[VILLAGE_B]
        )
        in_shared = make_registration(db, cast.ctx(cast.sup_t, db, today), VILLAGE_B)
        by_cadre_b = make_registration(
            db, cast.ctx(cast.cadre_b, db, today), VILLAGE_B, registered_on=today - timedelta(days=3)
        )
        db.commit()
        expected = {
            by_cadre.id: cast.cadre_a.id,
            by_supervisor.id: cast.cadre_a.id,
            in_shared.id: None,
            by_cadre_b.id: cast.cadre_b.id,
        }
    migrate.downgrade(engine, "8d4f0b6e2a17")  # the release before: no such column
    assert "cadre_id" not in {c["name"] for c in inspect(engine).get_columns("pregnancy")}
    migrate.upgrade(engine)  # rebuilding a table other tables' rows point at (SQLite)
    with Session(engine) as db:
        assert {p.id: p.cadre_id for p in db.query(Pregnancy).all()} == expected
    if engine.dialect.name == "sqlite":  # off only while migrating: the connection went back to the pool
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
