"""Overdue query over 1,000,000 due items of one county, on SQLite and PostgreSQL, with the query plans.

    .venv/bin/python bench/bench_overdue.py [--items 1000000]

Rows are bulk-inserted straight into the migrated schema (foreign keys off for the load), spread over
300 villages and three years like a real county; then the queries alerts and the Today badge run —
"everything overdue in this scope today" — are timed for a village, a township and the whole county.
"""

import argparse
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend import migrate
from backend.db import make_engine
from backend.settings import Settings
from tests.pgserver import ThrowawayPostgres

TODAY = date(2026, 11, 23)
COUNTY = "990101"
KINDS = ["village", "township", "check1", "check2", "outcome", "infant_1w", "infant_1m", "mother_42d"]


def villages() -> list[str]:
    return [f"{COUNTY}{100 + t:03d}{v:03d}" for t in range(20) for v in range(1, 16)]


def rows(n: int, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    codes = villages()
    out: list[dict[str, object]] = []
    pregnancy = uuid.uuid4()
    for i in range(n):
        if i % 20 == 0:
            pregnancy = uuid.uuid4()
        start = TODAY - timedelta(days=rng.randint(-60, 3 * 365))
        end = start + timedelta(days=14)
        past = end < TODAY
        r = rng.random()
        done = start + timedelta(days=rng.randint(0, 16)) if past and r < 0.80 else None
        missed = end + timedelta(days=rng.randint(1, 30)) if past and done is None and r < 0.97 else None
        out.append(
            {
                "pregnancy_id": str(pregnancy),
                "kind": rng.choice(KINDS),
                "seq": i % 20,
                "window_start": start,
                "due_on": start + timedelta(days=7),
                "window_end": end,
                "done_on": done,
                "missed_on": missed,
                "is_open": done is None,
                "village_code": rng.choice(codes),
                "rules_version": "2026.1",
            }
        )
    return out


ITEM_COLUMNS = (
    "pregnancy_id",
    "kind",
    "seq",
    "window_start",
    "due_on",
    "window_end",
    "done_on",
    "missed_on",
    "is_open",
    "village_code",
    "rules_version",
)
"""The due_item columns the generated rows fill (bench_alerts loads the same)."""
INSERT_SQL = (
    f"INSERT INTO due_item ({', '.join(ITEM_COLUMNS)}) VALUES ({', '.join(':' + c for c in ITEM_COLUMNS)})"
)
OVERDUE = (
    "SELECT count(*) FROM due_item WHERE is_open = :t AND village_code >= :lo AND village_code < :hi "
    "AND window_end < :today AND (missed_on IS NULL OR missed_on > :today)"
)


def load(engine: Engine, data: list[dict[str, object]], pg: bool) -> float:
    started = time.perf_counter()
    if not pg:  # a plain connection: PRAGMA foreign_keys cannot change inside the engine's transactions
        import sqlite3

        raw = sqlite3.connect(str(engine.url.database))
        raw.execute("PRAGMA foreign_keys=OFF")
        raw.executemany(
            f"INSERT INTO due_item ({', '.join(ITEM_COLUMNS)}) VALUES ({', '.join('?' * len(ITEM_COLUMNS))})",
            [
                tuple(
                    uuid.UUID(str(r[c])).hex
                    if c == "pregnancy_id"
                    else (r[c].isoformat() if isinstance(r[c], date) else r[c])
                    for c in ITEM_COLUMNS
                )
                for r in data
            ],
        )
        raw.commit()
        raw.execute("ANALYZE")
        raw.close()
        return time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(text("SET session_replication_role = replica"))
        for i in range(0, len(data), 50_000):
            chunk = data[i : i + 50_000]
            conn.execute(
                text(INSERT_SQL),
                chunk,
            )
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def time_query(engine: Engine, prefix: str, runs: int = 25) -> tuple[float, float, int]:
    params = {"t": True, "lo": prefix, "hi": prefix + ":", "today": TODAY}
    timings = []
    count = 0
    with engine.connect() as conn:
        for _ in range(runs):
            t0 = time.perf_counter()
            count = int(conn.execute(text(OVERDUE), params).scalar_one())
            timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1], count


def plan(engine: Engine, pg: bool, prefix: str) -> str:
    params = {"t": True, "lo": prefix, "hi": prefix + ":", "today": TODAY}
    with engine.connect() as conn:
        if pg:
            result = conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + OVERDUE), params)
        else:
            result = conn.execute(text("EXPLAIN QUERY PLAN " + OVERDUE), params)
        return "\n".join("    " + " ".join(str(c) for c in row) for row in result)


def run(name: str, engine: Engine, pg: bool, n: int) -> None:
    migrate.upgrade(engine)
    seconds = load(engine, rows(n), pg)
    print(f"\n## {name}: {n:,} due items loaded in {seconds:.1f} s")
    for label, prefix in (("village", villages()[0]), ("township", villages()[0][:9]), ("county", COUNTY)):
        median, p95, count = time_query(engine, prefix)
        print(f"- overdue in one {label:8}: {count:7,} items, median {median:7.2f} ms, p95 {p95:7.2f} ms")
    print(f"- plan for the county query ({name}):")
    print(plan(engine, pg, COUNTY))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    args = parser.parse_args()
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, CPUs {__import__('os').cpu_count()}; date {date.today()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key="b" * 40)
        engine = make_engine(settings)
        run("SQLite", engine, False, args.items)
        engine.dispose()
    server = ThrowawayPostgres()
    try:
        url = server.start()
        engine = make_engine(Settings(database_url=url, secret_key="b" * 40))
        run("PostgreSQL", engine, True, args.items)
        engine.dispose()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
