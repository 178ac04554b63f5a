"""The alert job's work for a county of 1,000,000 due items, on SQLite and PostgreSQL, with the query plan.

    .venv/bin/python bench/bench_alerts.py [--items 1000000] [--runs 7]

Rows are bulk-loaded straight into the migrated schema (foreign keys off for the load): 300 villages in 20
townships, three years of items, most done, most of the rest missed, some overdue now, outcome items due on
the EDD. The users are a cadre per village, a supervisor per township and a county admin. Timed:

  (a) the selection query (backend.alerts.digests.village_counts: one grouped pass over the open items whose
      window has started, for the merged scopes of every cadre and supervisor) — the bar is < 1 s;
  (b) the whole planning step (backend.alerts.services.plan_digests: users without today's digest, (a), the
      counts per user, and the 321 alert rows written with ON CONFLICT DO NOTHING).
"""

import argparse
import contextlib
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, text
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend import migrate
from backend.accounts.models import User
from backend.alerts.digests import village_counts, village_counts_query
from backend.alerts.models import Alert
from backend.alerts.services import plan_digests
from backend.db import make_engine
from backend.scope import Scope
from backend.settings import Settings
from bench.bench_overdue import ITEM_COLUMNS
from tests.pgserver import ThrowawayPostgres

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 08:30 in Beijing
COUNTY = "990101"
KINDS = ["village", "township", "check1", "check2", "check3", "infant_1w", "infant_1m", "mother_42d"]


def villages() -> list[str]:
    return [f"{COUNTY}{100 + t:03d}{v:03d}" for t in range(20) for v in range(1, 16)]


def townships() -> list[str]:
    return sorted({code[:9] + "000" for code in villages()})


def items(n: int, seed: int = 11) -> list[tuple[Any, ...]]:
    """`n` due items: windows over three years up to 60 days ahead; of the past ones 80% done, 17% missed
    (the chain moved on), 3% still open — the overdue; every 20th item is an outcome item due on the EDD."""
    rng = random.Random(seed)
    codes = villages()
    out: list[tuple[Any, ...]] = []
    pregnancy = uuid.uuid4()
    village = codes[0]
    for i in range(n):
        if i % 20 == 0:
            pregnancy, village = uuid.UUID(int=rng.getrandbits(128)), rng.choice(codes)
        outcome = i % 20 == 19
        start = TODAY - timedelta(days=rng.randint(-60, 3 * 365))
        due, end = (
            (start, start + timedelta(days=14))
            if outcome
            else (start + timedelta(days=7), start + timedelta(days=14))
        )
        past = end < TODAY
        r = rng.random()
        done = start + timedelta(days=rng.randint(0, 16)) if past and r < 0.80 else None
        missed = end + timedelta(days=rng.randint(1, 30)) if past and done is None and r < 0.97 else None
        kind = "outcome" if outcome else rng.choice(KINDS)
        out.append((pregnancy, kind, i % 20, start, due, end, done, missed, done is None, village, "2026.1"))
    return out


def users() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A cadre per village, a supervisor per township, a county admin: (app_user rows, user_area rows)."""
    people, areas = [], []
    places = [("village", c) for c in villages()] + [("township", t) for t in townships()]
    places.append(("county", COUNTY + "000000"))
    for n, (role, code) in enumerate(places):
        user_id = uuid.uuid4()
        people.append(
            {
                "id": user_id,
                "phone": f"139{n:08d}",
                "name": f"用户{n}",
                "password_hash": "-",
                "role": role,
                "locale": "zh",
                "active": True,
                "failed_logins": 0,
                "created_at": NOW,
            }
        )
        areas.append({"user_id": user_id, "area_code": code})
    return people, areas


def load(engine: Engine, rows: list[tuple[Any, ...]], pg: bool) -> float:
    started = time.perf_counter()
    people, areas = users()
    codes = [*villages(), *townships(), COUNTY + "000000"]
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO area (code, name) VALUES (:code, :name)"),
            [{"code": c, "name": c} for c in codes],
        )
        conn.execute(User.__table__.insert(), people)  # type: ignore[attr-defined]
        conn.execute(
            text("INSERT INTO user_area (user_id, area_code) VALUES (:user_id, :area_code)"),
            [{**a, "user_id": a["user_id"] if pg else a["user_id"].hex} for a in areas],
        )
    if pg:
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("SET session_replication_role = replica")  # no FK checks during the load
            with cur.copy(f"COPY due_item ({', '.join(ITEM_COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
            cur.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
    else:  # a plain connection: PRAGMA foreign_keys cannot change inside the engine's transactions
        db = sqlite3.connect(str(engine.url.database))
        db.execute("PRAGMA foreign_keys=OFF")
        db.executemany(
            f"INSERT INTO due_item ({', '.join(ITEM_COLUMNS)}) VALUES ({', '.join('?' * len(ITEM_COLUMNS))})",
            (
                (
                    r[0].hex,
                    r[1],
                    r[2],
                    r[3].isoformat(),
                    r[4].isoformat(),
                    r[5].isoformat(),
                    r[6].isoformat() if r[6] else None,
                    r[7].isoformat() if r[7] else None,
                    r[8],
                    r[9],
                    r[10],
                )
                for r in rows
            ),
        )
        db.commit()
        db.execute("ANALYZE")
        db.close()
    return time.perf_counter() - started


def all_scopes() -> list[Scope]:
    return [Scope.for_role("village", [c]) for c in villages()] + [
        Scope.for_role("township", [t]) for t in townships()
    ]


def timed(fn: Any, runs: int) -> tuple[float, float, Any]:
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), max(timings), result


def explain(engine: Engine, pg: bool) -> str:
    query = village_counts_query(all_scopes(), TODAY, 7)
    compiled = query.compile(engine)
    params = compiled.construct_params()
    with engine.connect() as conn:
        if pg:
            result = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + str(compiled), params)
        else:
            positional = tuple(params[name] for name in compiled.positiontup or [])
            result = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), positional)
        return "\n".join("    " + " | ".join(str(c) for c in row) for row in result)


def run(name: str, engine: Engine, pg: bool, n: int, runs: int) -> None:
    migrate.upgrade(engine)
    seconds = load(engine, items(n), pg)
    print(f"\n## {name}: {n:,} due items, {len(users()[0])} users loaded in {seconds:.1f} s")
    scopes = all_scopes()

    def select_counts() -> Any:
        with Session(engine) as db:
            return village_counts(db, scopes, TODAY, 7)

    median, worst, by_village = timed(select_counts, runs)
    overdue = sum(c.overdue for c in by_village.values())
    print(
        f"- (a) selection query: {len(by_village)} villages, {overdue:,} overdue, "
        f"median {median:.1f} ms, max {worst:.1f} ms (bar < 1000 ms)"
    )

    settings = Settings(secret_key="b" * 40)

    def plan() -> int:
        with engine.begin() as conn:
            conn.execute(delete(Alert))  # a fresh day each run (not timed separately: a few hundred rows)
        return plan_digests(engine, settings, NOW)

    median, worst, planned = timed(plan, runs)
    print(
        f"- (b) planning step (incl. deleting the previous run's {planned} alerts): "
        f"{planned} alerts planned, median {median:.1f} ms, max {worst:.1f} ms"
    )
    print(f"- plan of the selection query ({name}):")
    print(explain(engine, pg))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    args, _ = parser.parse_known_args()  # ./dev bench passes its arguments to every script
    mem = ""
    with contextlib.suppress(ValueError, OSError):
        mem = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GB"
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs{mem}, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; "
        f"date {date.today()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(Settings(data_dir=Path(tmp), secret_key="b" * 40))
        run("SQLite", engine, False, args.items, args.runs)
        engine.dispose()
    server = ThrowawayPostgres()
    try:
        url = server.start()
        engine = make_engine(Settings(database_url=url, secret_key="b" * 40))
        with engine.connect() as conn:
            print(f"\nPostgreSQL {conn.exec_driver_sql('SHOW server_version').scalar()}")
        run("PostgreSQL", engine, True, args.items, args.runs)
        engine.dispose()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
