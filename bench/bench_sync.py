"""Benchmark of sync (issue 4): operations applied per second in batches of 500 (SQLite, then PostgreSQL),
a cadre's month offline in one round trip, and the size of the first full pull for the largest demo village
and for a large synthetic village.

Bars: ≥ 10,000 ops/s on SQLite in batches of 500; a month offline (~60 ops) in one round trip; first full pull
of the largest demo village < 100 KB gzip.
Run: .venv/bin/python bench/bench_sync.py [--batches 6] [--pregnancies 200] [--no-pg]
"""

import argparse
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from litestar.testing import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session, select

from backend import migrate
from backend.accounts.models import User
from backend.accounts.services import Actor, area_codes_of, create_user, use_fast_password_hashing
from backend.app import create_app
from backend.areas.models import Area
from backend.cases.models import DueItem, Pregnancy
from backend.db import make_engine
from backend.demo import seed_demo
from backend.lib.clock import local_today
from backend.lib.fieldcrypt import FieldCipher
from backend.settings import Settings
from sync.apply import BatchContext, apply_batch

SECRET = "bench-secret-key-that-is-long-enough-for-hkdf"
COUNTY, TOWNSHIP, VILLAGE = "990101000000", "990101100000", "990101100001"
PASSWORD = "bench-password-1"
DUE_ITEM_COLUMNS = [c.name for c in DueItem.__table__.columns]  # type: ignore[attr-defined]
SURNAMES, GIVEN = "王李张刘陈杨黄赵吴周", ("秀英", "桂兰", "丽", "敏", "静", "芳", "娜", "红", "霞", "燕")


def machine() -> str:
    return (
        f"{platform.system()} {platform.release()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    )


def new_id(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


class Load:
    """A village's cadre and the operations her phone would send: registrations, visits, grades, edits."""

    def __init__(self, rnd: random.Random, today: date) -> None:
        self.rnd, self.today = rnd, today
        self.pregnancies: list[tuple[str, str, date]] = []  # (pregnancy id, woman id, registered on)
        self.clock = datetime.now(UTC) - timedelta(days=2)

    def _op(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        self.clock += timedelta(seconds=1)
        return {"op_id": new_id(self.rnd), "kind": kind, "recorded_at": self.clock.isoformat(), "data": data}

    def register(self) -> dict[str, Any]:
        rnd = self.rnd
        registered = self.today - timedelta(days=rnd.randint(40, 120))
        pid, wid = new_id(rnd), new_id(rnd)
        self.pregnancies.append((pid, wid, registered))
        gravidity = rnd.randint(1, 4)
        return self._op(
            "register",
            {
                "id": pid,
                "woman_id": wid,
                "name": rnd.choice(SURNAMES) + rnd.choice(GIVEN) + str(rnd.randint(1, 99)),
                "birth_date": f"{rnd.randint(1985, 2003)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}",
                "phone": f"139{rnd.randint(0, 99999999):08d}",
                "village_code": VILLAGE,
                "address": f"{rnd.randint(1, 99)}号",
                "lmp": (registered - timedelta(days=rnd.randint(45, 90))).isoformat(),
                "gravidity": str(gravidity),
                "parity": str(rnd.randint(0, gravidity - 1)),
                "registered_on": registered.isoformat(),
                "colour": rnd.choice(("green", "green", "yellow", "orange")),
                "confirm_duplicate": "1",
            },
        )

    def some_op(self) -> dict[str, Any]:
        rnd = self.rnd
        pid, wid, registered = rnd.choice(self.pregnancies)
        on = (registered + timedelta(days=rnd.randint(0, (self.today - registered).days))).isoformat()
        roll = rnd.random()
        if roll < 0.70:
            return self._op(
                "visit",
                {
                    "id": new_id(rnd),
                    "pregnancy_id": pid,
                    "visited_on": on,
                    "kind": rnd.choice(("home", "home", "phone")),
                    "bp_systolic": str(rnd.randint(100, 140)),
                    "bp_diastolic": str(rnd.randint(60, 90)),
                    "weight_kg": f"{rnd.uniform(48, 80):.1f}",
                    "advice": "注意休息",
                },
            )
        if roll < 0.85:
            return self._op(
                "risk",
                {
                    "id": new_id(rnd),
                    "pregnancy_id": pid,
                    "assessed_on": on,
                    "colour": rnd.choice(("green", "yellow", "orange")),
                },
            )
        return self._op(
            "edit_registration",
            {
                "id": new_id(rnd),
                "target_type": "woman",
                "target_id": wid,
                "changes": {"address": f"{rnd.randint(1, 99)}号"},
            },
        )

    def batch(self, size: int, share_new: float = 0.1) -> list[dict[str, Any]]:
        return [
            self.register() if self.rnd.random() < share_new or not self.pregnancies else self.some_op()
            for _ in range(size)
        ]


def prepare(engine: Engine) -> Actor:
    with Session(engine) as db:
        db.add_all(
            [Area(code=COUNTY, name="县"), Area(code=TOWNSHIP, name="镇"), Area(code=VILLAGE, name="村")]
        )
        db.flush()
        user = create_user(
            db, phone="13800000001", name="王秀英", password=PASSWORD, role="village", area_codes=[VILLAGE]
        )
        db.commit()
        return Actor(
            user_id=user.id, name=user.name, role=user.role, area_codes=tuple(area_codes_of(db, user.id))
        )


def apply_rate(
    engine: Engine, actor: Actor, *, batches: int, size: int, pregnancies: int
) -> dict[str, float]:
    """Seed `pregnancies` open cases, then time `batches` batches of `size` mixed ops (apply + commit)."""
    rnd = random.Random(2026)
    today = date.today()
    load = Load(rnd, today)
    cipher = FieldCipher(SECRET)

    cpu: list[float] = []
    moved: list[tuple[int, int]] = []  # due-item rows (inserted, deleted) by each batch

    def push(ops: list[dict[str, Any]]) -> float:
        before = _due_items(engine)
        started, cpu_started = time.perf_counter(), time.process_time()
        with Session(engine, expire_on_commit=False) as db:
            now = datetime.now(UTC)
            ctx = BatchContext(actor=actor, cipher=cipher, today=today, received_at=now, device_id="bench")
            results = apply_batch(db, ctx, ops)
            db.commit()
        elapsed = time.perf_counter() - started
        cpu.append(time.process_time() - cpu_started)
        after = _due_items(engine)
        inserted = after[1] - before[1]
        moved.append((inserted, inserted - (after[0] - before[0])))
        bad = [r for r in results if r["status"] not in ("applied", "conflict")]
        assert not bad, bad[:3]
        return elapsed

    for _ in range(0, pregnancies, size):
        push([load.register() for _ in range(min(size, pregnancies - len(load.pregnancies)))])
    cpu.clear()
    moved.clear()
    times = [push(load.batch(size)) for _ in range(batches)]
    cpu_median = statistics.median(cpu)
    inserted, deleted = (statistics.median(m[i] for m in moved) for i in (0, 1))
    replay = load.batch(size)
    push(replay)
    replays = []
    for _ in range(5):
        started = time.perf_counter()
        with Session(engine) as db:
            ctx = BatchContext(
                actor=actor, cipher=cipher, today=today, received_at=datetime.now(UTC), device_id="bench"
            )
            assert {r["status"] for r in apply_batch(db, ctx, replay)} == {"duplicate"}
            db.commit()
        replays.append(time.perf_counter() - started)
    replay_time = statistics.median(replays)
    median = statistics.median(times)
    return {
        "median_s": median,
        "best_s": min(times),
        "ops_s": size / median,
        "best_ops_s": size / min(times),
        "cpu_ops_s": size / cpu_median,
        "replay_ops_s": size / replay_time,
        "items_inserted": inserted,
        "items_deleted": deleted,
    }


def _due_items(engine: Engine) -> tuple[int, int]:
    """(rows, highest id) of due_item: new rows take ids above the highest, so a batch's inserts and
    deletes can be told from the two before and after it."""
    with engine.connect() as conn:
        count, top = conn.execute(text("SELECT count(*), coalesce(max(id), 0) FROM due_item")).one()
    return int(count), int(top)


def item_store_floor(engine: Engine, inserted: int, deleted: int, runs: int = 5) -> dict[str, float]:
    """The database's own time for the due-item rows one batch moves, with no Python layer at all: as many
    stored rows as a batch inserts are inserted again through the driver's `executemany` (values already in
    the driver's form), and as many deleted by id, in a transaction then rolled back. Every write path that
    keeps due items current in the writing transaction pays at least this (the rows carry three indexes and
    a foreign key)."""
    columns = [c for c in DUE_ITEM_COLUMNS if c != "id"]
    insert_sql = f"INSERT INTO due_item ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    times = []
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        for _ in range(runs):
            cursor = raw.cursor()
            rows = cursor.execute(
                f"SELECT {', '.join(columns)} FROM due_item ORDER BY id LIMIT ?", (inserted,)
            ).fetchall()
            ids = [(r[0],) for r in cursor.execute("SELECT id FROM due_item ORDER BY id LIMIT ?", (deleted,))]
            cursor.execute("BEGIN")  # the app's connections leave transactions to SQLAlchemy: begin by hand
            started = time.perf_counter()
            cursor.executemany(insert_sql, rows)
            cursor.executemany("DELETE FROM due_item WHERE id = ?", ids)
            times.append(time.perf_counter() - started)
            cursor.execute("ROLLBACK")
    return {"median_s": statistics.median(times)}


def domain_floor(engine: Engine, size: int, runs: int = 7) -> dict[str, float]:
    """The domain work of one batch alone, with no database at all: every op read by its form reader and
    checked by the rules as its service checks it, and the due items of every pregnancy it touches planned by
    the schedule engine (a visit moves the items after it). Any write path that keeps the online forms'
    validation and refreshes due items with the write does at least this much per batch."""
    from backend.cases import forms, rules
    from backend.cases.schedule_store import CaseRecords
    from backend.schedule import load_rules, plan_items

    today = date.today()
    with Session(engine) as db:
        pregnancies = list(db.exec(select(Pregnancy).where(Pregnancy.status == "open")).all())
        facts = {p.id: CaseRecords(db, p).facts() for p in pregnancies}
    by_id = {p.id: p for p in pregnancies}
    load = Load(random.Random(99), today)
    load.pregnancies = [(str(p.id), str(p.woman_id), p.registered_on) for p in pregnancies]
    ops = load.batch(size)
    schedule_rules = load_rules()
    new_case = next(iter(facts.values()))  # a registration plans a case of its own: about the same work

    def one_batch() -> None:
        touched: set[uuid.UUID] = set()
        planned_new = 0
        for op in ops:
            kind, data = op["kind"], op["data"]
            if kind == "visit":
                visit = forms.read_prenatal_visit(data)
                p = by_id.get(visit.pregnancy_id, pregnancies[0])  # one registered in this batch: alike
                rules.check_prenatal_visit(
                    visited_on=visit.visited_on,
                    registered_on=p.registered_on,
                    outcome_on=None,
                    lmp_or_none=rules.lmp_or_from_edd(p.lmp, p.edd),
                    today=today,
                    bp_systolic=visit.bp_systolic,
                    bp_diastolic=visit.bp_diastolic,
                    weight_kg=visit.weight_kg,
                    fundal_height_cm=visit.fundal_height_cm,
                    fetal_heart_bpm=visit.fetal_heart_bpm,
                )
                touched.add(visit.pregnancy_id)
            elif kind == "risk":
                grade = forms.read_risk(data)
                rules.check_not_future("assessed_on", grade.assessed_on, today)
                touched.add(grade.pregnancy_id)
            elif kind == "register":
                reg = forms.read_registration(data)
                rules.check_woman(
                    name=reg.name,
                    id_number=None,
                    birth_date=reg.birth_date,
                    phone=reg.phone,
                    village_code=reg.village_code,
                    today=today,
                )
                rules.check_pregnancy(
                    lmp=reg.lmp,
                    edd=reg.edd,
                    registered_on=reg.registered_on,
                    gravidity=reg.gravidity,
                    parity=reg.parity,
                    today=today,
                )
                planned_new += 1
            else:
                forms.Reader(data).uuid("target_id")
        for pid in touched:
            plan_items(facts.get(pid, new_case), schedule_rules)
        for _ in range(planned_new):
            plan_items(new_case, schedule_rules)

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        one_batch()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    return {"median_s": median, "ops_s": size / median}


def floor_rate(engine: Engine, n: int = 2000) -> dict[str, float]:
    """What this machine allows at best for an operation that, like every sync op, runs in its own savepoint,
    looks its record up by id (a miss) and inserts one row through the ORM — before any validation, due
    items, audit entry or operation log."""
    from backend.accounts.models import AuditEntry

    with Session(engine) as db:
        started = time.perf_counter()
        for i in range(n):
            with db.begin_nested():
                db.get(AuditEntry, 10**9 + i)
                db.add(AuditEntry(action="floor", target_type="bench", target_id=str(i)))
                db.flush()
        db.rollback()
        elapsed = time.perf_counter() - started
    return {"ops_s": n / elapsed}


@contextmanager
def due_items_left_out() -> Iterator[None]:
    """Writes that leave their pregnancies' due items (and change-feed rows) as they were: what a design
    that refreshed them after commit, outside the writing transaction, would spend inside it."""
    from backend.cases import schedule_store

    kept = schedule_store.refresh_many
    schedule_store.refresh_many = lambda *_args, **_kwargs: set()  # type: ignore[assignment]
    try:
        yield
    finally:
        schedule_store.refresh_many = kept  # type: ignore[assignment]


def report_rate(name: str, figures: dict[str, float], size: int) -> None:
    print(
        f"  {name}: {figures['ops_s']:,.0f} ops/s median "
        f"({figures['median_s'] * 1000:.0f} ms per batch of {size}),"
        f" best {figures['best_ops_s']:,.0f} ops/s, {figures['cpu_ops_s']:,.0f} ops per CPU-second of this "
        f"process; a replayed batch (all duplicates): "
        f"{figures['replay_ops_s']:,.0f} ops/s"
    )


@contextmanager
def sqlite_settings() -> Iterator[Settings]:
    folder = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    try:
        yield Settings(data_dir=folder, secret_key=SECRET, environment="test", run_alert_job=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_settings() -> Iterator[Settings]:
    from tests.pgserver import ThrowawayPostgres

    server = ThrowawayPostgres()
    url = server.start()
    try:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(
            url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        folder = Path(tempfile.mkdtemp(prefix="bench-sync-pg-"))
        yield Settings(
            data_dir=folder,
            secret_key=SECRET,
            environment="test",
            run_alert_job=False,
            database_url=url.rsplit("/", 1)[0] + "/" + name,
        )
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        server.stop()


def month_offline(settings: Settings) -> None:
    """~60 operations a cadre recorded over a month offline, pushed with a cursor: one POST brings the results
    and her first pull page."""
    engine = make_engine(settings)
    migrate.upgrade(engine)
    actor = prepare(engine)
    rnd = random.Random(7)
    load = Load(rnd, local_today(settings.timezone))
    seed = [load.register() for _ in range(30)]
    month = [load.register() for _ in range(4)] + [load.some_op() for _ in range(56)]
    with TestClient(create_app(settings, run_migrations=False)) as client:
        client.post("/login", data={"phone": "13800000001", "password": PASSWORD}, follow_redirects=False)
        csrf = client.get("/sync/session").json()["csrf_token"]
        client.post("/sync/push", json={"ops": seed}, headers={"X-CSRF-Token": csrf})
        cursor = client.get("/sync/pull", params={"cursor": "0", "limit": 500}).json()["cursor"]
        timings, sizes = [], []
        for attempt in range(2):
            body = {
                "v": 1,
                "device_id": "phone",
                "sent_at": datetime.now(UTC).isoformat(),
                "cursor": cursor,
                "ops": month,
            }
            started = time.perf_counter()
            with client.stream(
                "POST", "/sync/push", json=body, headers={"X-CSRF-Token": csrf, "Accept-Encoding": "gzip"}
            ) as answer:
                raw = b"".join(answer.iter_raw())
                assert answer.status_code == 200
            timings.append(time.perf_counter() - started)
            sizes.append(len(raw))
            if attempt == 0:
                first = client.post("/sync/push", json=body, headers={"X-CSRF-Token": csrf}).json()
                assert {r["status"] for r in first["results"]} == {"duplicate"}
    engine.dispose()
    print(
        f"  {len(month)} ops in 1 POST with a cursor (results + her pull page): {timings[0] * 1000:.0f} ms, "
        f"answer {sizes[0]:,} B gzip; the same batch re-sent (all duplicates): {timings[1] * 1000:.0f} ms, "
        f"{sizes[1]:,} B (in-process, no network)"
    )
    del actor


def first_pull_size(settings: Settings, *, synthetic: int) -> None:
    """gzip bytes of the first full pull (cursor 0, every page): the largest demo village, then a synthetic
    village of `synthetic` open cases with a few months of visits each."""
    engine = make_engine(settings)
    migrate.upgrade(engine)
    seed_demo(engine, settings)
    with Session(engine) as db:
        counts: dict[str, int] = {}
        for p in db.exec(select(Pregnancy)).all():
            counts[p.village_code] = counts.get(p.village_code, 0) + 1
        village = max(counts, key=lambda c: counts[c])
        cadre = next(
            u
            for u in db.exec(select(User).where(User.role == "village")).all()
            if village in area_codes_of(db, u.id)
        )
    with TestClient(create_app(settings, run_migrations=False)) as client:
        client.post("/login", data={"phone": cadre.phone, "password": "suifang-demo"}, follow_redirects=False)
        total, plain, cases, pages = pull_bytes(client)
    print(
        f"  largest demo village ({village}, {counts[village]} pregnancies): "
        f"{cases} cases in {pages} page(s), "
        f"{total:,} B gzip ({plain:,} B JSON) — bar < 100 KB: {'PASS' if total < 100_000 else 'FAIL'}"
    )
    engine.dispose()

    with sqlite_settings() as big:
        engine = make_engine(big)
        migrate.upgrade(engine)
        actor = prepare(engine)
        load = Load(random.Random(11), local_today(big.timezone))
        cipher = FieldCipher(SECRET)
        ops = [load.register() for _ in range(synthetic)] + [load.some_op() for _ in range(synthetic * 5)]
        for i in range(0, len(ops), 500):
            with Session(engine) as db:
                apply_batch(
                    db,
                    BatchContext(actor=actor, cipher=cipher, today=load.today, received_at=datetime.now(UTC)),
                    ops[i : i + 500],
                )
                db.commit()
        with TestClient(create_app(big, run_migrations=False)) as client:
            client.post("/login", data={"phone": "13800000001", "password": PASSWORD}, follow_redirects=False)
            started = time.perf_counter()
            total, plain, cases, pages = pull_bytes(client)
            elapsed = time.perf_counter() - started
        engine.dispose()
    print(
        f"  synthetic village, {synthetic} open cases with {synthetic * 5} later records: "
        f"{cases} cases in {pages} "
        f"page(s), {total:,} B gzip ({plain:,} B JSON), {total / max(cases, 1):,.0f} B per case, "
        f"{elapsed * 1000:.0f} ms"
    )


def pull_bytes(client: TestClient[Any]) -> tuple[int, int, int, int]:
    import json

    cursor, total, plain, cases, pages = "0", 0, 0, 0, 0
    while True:
        with client.stream(
            "GET", "/sync/pull", params={"cursor": cursor, "limit": 100}, headers={"Accept-Encoding": "gzip"}
        ) as answer:
            raw = b"".join(answer.iter_raw())
            assert answer.status_code == 200
        import gzip

        body = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
        total, plain, cases, pages = (
            total + len(raw),
            plain + len(json.dumps(body, ensure_ascii=False).encode()),
            cases + len(body["cases"]),
            pages + 1,
        )
        cursor = body["cursor"]
        if not body["more"]:
            return total, plain, cases, pages


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--pregnancies", type=int, default=200)
    parser.add_argument("--no-pg", action="store_true")
    args, _ = parser.parse_known_args()
    use_fast_password_hashing()
    print(f"bench_sync — {machine()}")
    print(
        f"Apply rate: {args.batches} batches of {args.size} (about 63% visits, 13.5% grades, 13.5% woman "
        f"edits, 10% new registrations) over {args.pregnancies} open pregnancies of one village (and those "
        f"the batches register); apply + commit, in-process"
    )
    with sqlite_settings() as settings:
        engine = make_engine(settings)
        migrate.upgrade(engine)
        sqlite = apply_rate(
            engine, prepare(engine), batches=args.batches, size=args.size, pregnancies=args.pregnancies
        )
        floor = floor_rate(engine)
        domain = domain_floor(engine, args.size)
        store = item_store_floor(engine, int(sqlite["items_inserted"]), int(sqlite["items_deleted"]))
        engine.dispose()
    with sqlite_settings() as settings, due_items_left_out():
        engine = make_engine(settings)
        migrate.upgrade(engine)
        unplanned = apply_rate(
            engine, prepare(engine), batches=args.batches, size=args.size, pregnancies=args.pregnancies
        )
        engine.dispose()
    report_rate("SQLite", sqlite, args.size)
    print(
        f"  the same with due items (and change-feed rows) left out of the writing transaction — the most "
        f"that refreshing them after commit could buy: {unplanned['ops_s']:,.0f} ops/s median, "
        f"{unplanned['ops_s'] / sqlite['ops_s']:.2f}× the rate above"
    )
    print(
        f"  ceiling of this machine for any op in its own savepoint with one lookup and one ORM insert: "
        f"{floor['ops_s']:,.0f} ops/s"
    )
    print(
        f"  the domain work alone, no database (form readers, rules, planning the touched pregnancies' "
        f"items): {domain['median_s'] * 1000:.0f} ms per batch of {args.size}, "
        f"i.e. at most {domain['ops_s']:,.0f} ops/s"
    )
    budget = args.size / 10_000
    print(
        f"  the database alone, no Python layer: the due-item rows a batch moves (median "
        f"{sqlite['items_inserted']:,.0f} inserted, {sqlite['items_deleted']:,.0f} deleted) written through "
        f"the driver's executemany: {store['median_s'] * 1000:.0f} ms, {store['median_s'] / budget:.1f}× the "
        f"{budget * 1000:.0f} ms a batch of {args.size} may take at 10,000 ops/s"
    )
    print(f"  bar ≥ 10,000 ops/s on SQLite: {'PASS' if sqlite['ops_s'] >= 10_000 else 'FAIL'}")
    if not args.no_pg:
        with postgres_settings() as settings:
            engine = make_engine(settings)
            migrate.upgrade(engine)
            pg = apply_rate(
                engine, prepare(engine), batches=args.batches, size=args.size, pregnancies=args.pregnancies
            )
            engine.dispose()
        report_rate("PostgreSQL", pg, args.size)
    print("A month offline:")
    with sqlite_settings() as settings:
        month_offline(settings)
    print("First full pull:")
    with sqlite_settings() as settings:
        first_pull_size(settings, synthetic=120)


if __name__ == "__main__":
    main()
