"""`suifang schedule replan`: after an upgrade that plans items differently, the stored due items of cases
written before it are planned again — only the stale ones rewritten and sent to phones, the rest untouched."""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from backend.accounts.models import AuditEntry
from backend.accounts.services import Actor, area_codes_of, create_user
from backend.areas.models import Area
from backend.cases.models import CaseChange, DueItem, Pregnancy
from backend.cases.schedule_store import replan
from backend.cases.services import WriteContext
from backend.cli import main
from backend.db import make_engine
from backend.lib.clock import local_today
from backend.lib.fieldcrypt import FieldCipher
from backend.settings import Settings
from tests.case_factories import make_registration, make_visit, stored_and_planned
from tests.conftest import TEST_SECRET, VILLAGE_A, Cast


def is_current(db: Session, pregnancy: Pregnancy) -> bool:
    stored, planned = stored_and_planned(db, pregnancy)
    return stored == planned


def feed_rows(db: Session, pregnancy: Pregnancy) -> int:
    stmt = select(func.count()).select_from(CaseChange).where(CaseChange.pregnancy_id == pregnancy.id)
    return int(db.exec(stmt).one())


def make_stale(db: Session, pregnancy: Pregnancy) -> None:
    """What an older release might have stored: one item missing, another due on another day."""
    items = db.exec(
        select(DueItem).where(DueItem.pregnancy_id == pregnancy.id).order_by(col(DueItem.id))
    ).all()
    db.execute(
        update(DueItem).where(col(DueItem.id) == items[0].id).values(due_on=items[0].due_on - timedelta(3))
    )
    db.delete(items[-1])
    db.commit()


def test_replan_rewrites_the_stale_cases_only_and_tells_their_phones(db: Session, cast: Cast) -> None:
    ctx = cast.ctx(cast.cadre_a, db)
    stale = make_registration(db, ctx, VILLAGE_A)
    make_visit(db, ctx, stale)
    fine = make_registration(db, ctx, VILLAGE_A)
    db.commit()
    make_stale(db, stale)
    assert not is_current(db, stale)
    untouched = {r.id for r in db.exec(select(DueItem).where(DueItem.pregnancy_id == fine.id)).all()}
    feeds = feed_rows(db, stale), feed_rows(db, fine)

    assert replan(db, [stale.id, fine.id]) == {stale.id}
    db.commit()

    assert is_current(db, stale)
    assert {r.id for r in db.exec(select(DueItem).where(DueItem.pregnancy_id == fine.id)).all()} == untouched
    assert (feed_rows(db, stale), feed_rows(db, fine)) == (feeds[0] + 1, feeds[1])
    assert replan(db, [stale.id, fine.id]) == set()  # run again: nothing left to do, nothing sent
    db.commit()
    assert (feed_rows(db, stale), feed_rows(db, fine)) == (feeds[0] + 1, feeds[1])


def test_replan_keeps_the_high_risk_flag_current(db: Session, cast: Cast) -> None:
    ctx = cast.ctx(cast.cadre_a, db)
    pregnancy = make_registration(db, ctx, VILLAGE_A)
    db.commit()
    db.execute(update(Pregnancy).where(col(Pregnancy.id) == pregnancy.id).values(high_risk=True))
    db.commit()
    assert replan(db, [pregnancy.id]) == {pregnancy.id}
    db.commit()
    db.refresh(pregnancy)
    assert pregnancy.high_risk is False


def test_the_command_replans_every_pregnancy_and_logs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUIFANG_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["migrate"]) == 0
    engine = make_engine(Settings.from_env())
    with Session(engine, expire_on_commit=False) as db:
        db.add_all([Area(code="990101000000", name="县"), Area(code="990101100000", name="镇")])
        db.add(Area(code=VILLAGE_A, name="村"))
        db.flush()
        user = create_user(
            db,
            phone="13800000009",
            name="王秀英",
            password="a-long-password-1",
            role="village",
            area_codes=[VILLAGE_A],
        )
        db.commit()
        actor = Actor(user_id=user.id, name=user.name, role=user.role, area_codes=area_codes_of(db, user.id))
        ctx = WriteContext(actor=actor, today=local_today("Asia/Shanghai"), cipher=FieldCipher(TEST_SECRET))
        cases = [make_registration(db, ctx, VILLAGE_A) for _ in range(3)]
        db.commit()
        make_stale(db, cases[1])
    capsys.readouterr()

    assert main(["schedule", "replan"]) == 0

    assert "3 pregnancies planned again; 1 had stale due items" in capsys.readouterr().out
    with Session(engine) as db:
        for case in cases:
            fresh = db.get(Pregnancy, case.id)
            assert fresh is not None and is_current(db, fresh)
        logged = db.exec(select(AuditEntry).where(AuditEntry.action == "replan_due_items")).one()
        assert logged.user_id is None and logged.detail == "pregnancies=3 stale=1"
    engine.dispose()
