"""`suifang schedule replan`: plan every pregnancy's due items again and store what changed, registered into
the `suifang` command by backend/cli.py."""

import argparse
import sys
from typing import Any

from backend.settings import Settings

CHUNK = 200
"""Pregnancies replanned per transaction: on SQLite a phone's sync waits for one chunk at most (about a
second), not for the whole county."""


def add_commands(sub: Any) -> None:
    """Add the commands to the `suifang` parser's subparsers."""
    schedule = sub.add_parser("schedule", help="the follow-up schedule's stored due items")
    schedule_sub = schedule.add_subparsers(dest="schedule_command", required=True)
    replan = schedule_sub.add_parser(
        "replan",
        help="plan every pregnancy's due items again from its records and store what differs (after an "
        "upgrade that changed how items are planned; safe to run while the app serves, and to run again)",
    )
    replan.set_defaults(func=cmd_replan)


def cmd_replan(_args: argparse.Namespace, settings: Settings) -> int:
    from sqlmodel import Session, col, select

    from backend import migrate
    from backend.accounts.services import audit
    from backend.cases.models import Pregnancy
    from backend.cases.prefetch import chunks
    from backend.cases.schedule_store import replan
    from backend.db import begin_writing, make_engine

    engine = make_engine(settings)
    migrate.upgrade(engine)
    with Session(engine) as db:
        ids = list(db.exec(select(Pregnancy.id).order_by(col(Pregnancy.id))).all())
    stale = 0
    for chunk in chunks(ids, CHUNK):
        with Session(engine) as db:
            begin_writing(db)
            stale += len(replan(db, chunk))
            db.commit()
    with Session(engine) as db:
        begin_writing(db)
        audit(db, None, "replan_due_items", "pregnancy", detail=f"pregnancies={len(ids)} stale={stale}")
        db.commit()
    engine.dispose()
    sys.stdout.write(
        f"{len(ids)} pregnancies planned again; {stale} had stale due items, now rewritten "
        f"(their phones fetch them at their next sync)\n"
    )
    return 0
