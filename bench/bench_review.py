"""Benchmark of the review pages on a generated county (bench/generate_county.py: 300 villages, three years,
about 15,000 pregnancies and 200,000 visits), on SQLite and PostgreSQL, through the real app:

- the township dashboard for the last full month (GET /review?area=…&period=YYYY-MM), bar < 200 ms p95;
- the county view for that month (GET /review/county?period=YYYY-MM), bar < 200 ms p95;
- the county's yearly XLSX export (GET /review/report.xlsx?area=<county>&period=YYYY), bar < 3 s.

Each page is timed "cold" (backend.review.cache off: every figure computed from the database), "warm"
(figures reused, nothing changed) and "after a write" (a change-feed row for one random village before each
view, as cadres syncing all day cause: the dashboard recomputes, the county view recomputes that village);
the export cold.

    .venv/bin/python bench/bench_review.py [--engines sqlite,postgres] [--runs 30] [--pregnancies 15000]

PostgreSQL: DATABASE_URL names a server (a fresh database is created on it), else a throwaway server is
started from the installed binaries.
"""

import argparse
import os
import platform
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from litestar.testing import TestClient
from sqlalchemy import create_engine, text

from backend import migrate
from backend.app import create_app
from backend.cases.models import CaseChange
from backend.db import make_engine
from backend.review import cache
from backend.settings import Settings
from bench.generate_county import COUNTY, PASSWORD, generate, township_code

SECRET = "bench-secret-key-long-enough-for-hkdf-0123"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} cores, {system}, Python {platform.python_version()}"


def timed(
    fn: Callable[[], object], runs: int, warmup: int = 2, before: Callable[[], object] | None = None
) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, round(0.95 * len(xs)) - 1)]


def sign_in(client: TestClient, phone: str) -> None:  # type: ignore[type-arg]
    r = client.post("/login", data={"phone": phone, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.status_code


def run(settings: Settings, label: str, args: argparse.Namespace) -> None:
    engine = make_engine(settings)
    migrate.upgrade(engine)
    today = date.today()
    t0 = time.perf_counter()
    counts = generate(engine, pregnancies=args.pregnancies, seed=args.seed, today=today)
    generated = time.perf_counter() - t0
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    visits = counts["prenatal_visit"] + counts["postnatal_visit"]
    print(
        f"\n[{label}] generated in {generated:.1f} s: {counts['pregnancy']} pregnancies, {visits} visits, "
        f"{counts['due_item']} due items, {counts['area'] - 13} villages"
    )
    month_start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    month = f"{month_start.year}-{month_start.month:02d}"
    year = str(today.year - 1)
    app = create_app(settings, run_migrations=False)
    with TestClient(app=app) as sup, TestClient(app=app) as county:
        sign_in(sup, "13600100000")
        sign_in(county, "13600000000")
        township = township_code(0)

        def get(client: TestClient, url: str) -> bytes:  # type: ignore[type-arg]
            r = client.get(url)
            assert r.status_code == 200, (url, r.status_code, r.text[:300])
            return r.content

        page = get(sup, f"/review?area={township}&period={month}").decode()
        rows = len(re.findall(r'<tr data-code="', page))
        figures: dict[str, list[float]] = {}
        engine = make_engine(settings)
        villages = [f"{COUNTY}{100 + t:03d}{v + 1:03d}" for t in range(12) for v in range(25)]
        rnd = random.Random(1)

        def a_write_somewhere() -> None:
            """What any write adds to the change feed: a row for one village (untimed)."""
            with engine.begin() as conn:
                conn.execute(
                    CaseChange.__table__.insert(),  # type: ignore[attr-defined]
                    {
                        "pregnancy_id": uuid.uuid4(),
                        "village_code": rnd.choice(villages),
                        "at": datetime.now(UTC),
                    },
                )

        for mode in ("cold", "warm", "after a write"):
            cache.enabled = mode != "cold"
            before = a_write_somewhere if mode == "after a write" else None
            figures[f"dash {mode}"] = timed(
                lambda: get(sup, f"/review?area={township}&period={month}"), args.runs, before=before
            )
            figures[f"county {mode}"] = timed(
                lambda: get(county, f"/review/county?period={month}"), args.runs, before=before
            )
        engine.dispose()
        cache.enabled = False
        figures["xlsx"] = timed(
            lambda: get(county, f"/review/report.xlsx?area={COUNTY}000000&period={year}"),
            max(3, args.runs // 6),
            1,
        )
        cache.enabled = True
    for what, key, bar in (
        (f"township dashboard, {month} ({rows} villages)", "dash", 200),
        (f"county view, {month}", "county", 200),
    ):
        for mode in ("cold", "warm", "after a write"):
            xs = figures[f"{key} {mode}"]
            print(
                f"[{label}] {what}, {mode}: p50 {statistics.median(xs):.0f} ms, "
                f"p95 {p95(xs):.0f} ms (bar {bar})"
            )
    xs = figures["xlsx"]
    print(
        f"[{label}] county XLSX export, year {year}, cold: p50 {statistics.median(xs):.0f} ms, "
        f"max {max(xs):.0f} ms (bar 3000)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", default="sqlite,postgres")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--pregnancies", type=int, default=15000)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    print(f"machine: {machine()}; SQLite {sqlite3.sqlite_version}; {date.today().isoformat()}")
    engines = args.engines.split(",")
    if "sqlite" in engines:
        with tempfile.TemporaryDirectory(prefix="suifang-bench-") as folder:
            run(
                Settings(
                    data_dir=Path(folder),
                    secret_key=SECRET,
                    environment="test",
                    run_alert_job=False,
                    freeze_gc_at_startup=True,  # as `suifang run` deploys it (SUIFANG_FREEZE_GC defaults on)
                ),
                "SQLite",
                args,
            )
    if "postgres" in engines:
        server = None
        url = os.environ.get("DATABASE_URL", "")
        if not url:
            from tests.pgserver import ThrowawayPostgres

            server = ThrowawayPostgres()
            url = server.start()
        name = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(
            url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
        )
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
                version = conn.execute(text("SHOW server_version")).scalar()
            print(f"PostgreSQL {version}")
            with tempfile.TemporaryDirectory(prefix="suifang-bench-") as folder:
                run(
                    Settings(
                        data_dir=Path(folder),
                        database_url=url.rsplit("/", 1)[0] + "/" + name,
                        secret_key=SECRET,
                        environment="test",
                        run_alert_job=False,
                        freeze_gc_at_startup=True,
                    ),
                    "PostgreSQL",
                    args,
                )
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
