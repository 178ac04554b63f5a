"""A generated county for the review benchmarks: 12 townships × 25 villages, three years of pregnancies
(about 15,000) with their visits (about 200,000), outcomes, babies, transfers and losses, and the due items
the schedule engine plans for them — written straight into the migrated schema with bulk inserts.

    .venv/bin/python bench/generate_county.py [--data-dir DIR]    # SQLite, default $TMPDIR/suifang-county
    DATABASE_URL=postgresql://… .venv/bin/python bench/generate_county.py

Names are synthetic; no ID numbers. Every supervisor and cadre has the password `bench-password`.
"""

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend import migrate
from backend.accounts.models import User, UserArea
from backend.accounts.services import hash_password
from backend.areas.models import Area
from backend.cases.models import (
    CaseChange,
    Closure,
    DueItem,
    Infant,
    Outcome,
    PostnatalVisit,
    Pregnancy,
    PrenatalVisit,
    RiskGrade,
    Woman,
)
from backend.db import make_engine
from backend.demo import GIVEN, SURNAMES
from backend.schedule import (
    CURRENT_VERSION,
    InfantFact,
    OutcomeFact,
    PostnatalVisitFact,
    PregnancyFacts,
    PrenatalVisitFact,
    RiskFact,
    load_rules,
    plan_items,
)
from backend.settings import Settings

COUNTY = "990101"
PASSWORD = "bench-password"
LOSSES = (
    ("spontaneous_abortion", 50),
    ("induced_abortion", 30),
    ("ectopic", 8),
    ("termination", 8),
    ("molar", 4),
)
days = timedelta


def township_code(t: int) -> str:
    return f"{COUNTY}{100 + t:03d}000"


def village_code(t: int, v: int) -> str:
    return f"{COUNTY}{100 + t:03d}{v + 1:03d}"


@dataclass
class Rows:
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    changes: list[tuple[date, uuid.UUID, str]] = field(default_factory=list)
    """(day, pregnancy, village) of every write: the change feed, written in date order at the end."""

    def add(self, model: Any, **values: Any) -> dict[str, Any]:
        self.tables.setdefault(model.__tablename__, []).append(values)
        return values

    def count(self, model: Any) -> int:
        return len(self.tables.get(model.__tablename__, []))


def _stamp(author: uuid.UUID, on: date) -> dict[str, Any]:
    at = datetime(on.year, on.month, on.day, 3, tzinfo=UTC)
    return {"author_id": author, "device_id": "bench", "recorded_at": at, "received_at": at}


def generate(
    engine: Engine,
    *,
    townships: int = 12,
    villages_per: int = 25,
    pregnancies: int = 15000,
    years: int = 3,
    today: date | None = None,
    seed: int = 2026,
) -> dict[str, int]:
    """Fill a migrated, empty database; returns row counts per table."""
    today = today or date.today()
    rnd = random.Random(seed)
    rules = load_rules(CURRENT_VERSION)
    rows = Rows()
    rows.add(Area, code=f"{COUNTY}000000", name="基准县")
    secret = hash_password(PASSWORD)
    created = datetime(today.year - years, 1, 1, tzinfo=UTC)

    def user(phone: str, name: str, role: str, areas: list[str]) -> uuid.UUID:
        uid = uuid.UUID(int=rnd.getrandbits(128), version=4)
        rows.add(
            User,
            id=uid,
            phone=phone,
            name=name,
            password_hash=secret,
            role=role,
            locale="zh",
            active=True,
            failed_logins=0,
            created_at=created,
            last_sync_at=datetime.now(UTC) - days(hours=rnd.randint(1, 200)),
        )
        for code in areas:
            rows.add(UserArea, user_id=uid, area_code=code)
        return uid

    user("13600000000", "县妇幼", "county", [f"{COUNTY}000000"])
    cadre_of: dict[str, uuid.UUID] = {}
    codes: list[tuple[int, str]] = []
    for t in range(townships):
        rows.add(Area, code=township_code(t), name=f"第{t + 1}镇")
        user(f"13600100{t:03d}", f"督导{t + 1}", "township", [township_code(t)])
        for v in range(villages_per):
            code = village_code(t, v)
            rows.add(Area, code=code, name=f"{t + 1}镇{v + 1}村")
            codes.append((t, code))
            if rnd.random() < 0.97:  # a few villages have no cadre: their items are the township's
                cadre_of[code] = user(
                    f"1370{t:02d}{v:05d}", rnd.choice(SURNAMES) + rnd.choice(GIVEN), "village", [code]
                )
    first_day = today - days(365 * years)
    for _ in range(pregnancies):
        t, code = rnd.choice(codes)
        _pregnancy(rows, rnd, rules, today, first_day, code, [c for tt, c in codes if tt == t], cadre_of)
    for on, pid, village in sorted(rows.changes, key=lambda c: c[0]):
        rows.add(
            CaseChange,
            pregnancy_id=pid,
            village_code=village,
            at=datetime(on.year, on.month, on.day, 4, tzinfo=UTC),
        )
    return _insert(engine, rows)


def _pregnancy(
    rows: Rows,
    rnd: random.Random,
    rules: Any,
    today: date,
    first_day: date,
    code: str,
    township_villages: list[str],
    cadre_of: dict[str, uuid.UUID],
) -> None:
    author = cadre_of.get(code) or next(iter(cadre_of.values()))
    registered = first_day + days(rnd.randint(0, max((today - first_day).days - 7, 1)))
    ga = rnd.randint(42, 90) if rnd.random() < 0.7 else rnd.randint(91, 200)
    lmp = registered - days(ga)
    edd = lmp + days(280)
    woman_id, pid = uuid.uuid4(), uuid.uuid4()
    rows.add(
        Woman,
        id=woman_id,
        name=rnd.choice(SURNAMES) + rnd.choice(GIVEN),
        village_code=code,
        birth_date=date(registered.year - rnd.randint(19, 40), rnd.randint(1, 12), rnd.randint(1, 28)),
        phone=f"139{rnd.randint(0, 99999999):08d}",
        id_cipher=None,
        id_index=None,
        id_masked=None,
        address=None,
        **_stamp(author, registered),
    )
    risks = [RiskFact(registered, False)]
    rows.add(
        RiskGrade,
        id=uuid.uuid4(),
        pregnancy_id=pid,
        assessed_on=registered,
        colour="green",
        purple=False,
        factors="",
        **_stamp(author, registered),
    )
    if rnd.random() < 0.2:
        on = registered + days(rnd.randint(0, 120))
        if on <= today:
            colour = rnd.choice(("orange", "red"))
            risks.append(RiskFact(on, True))
            rows.add(
                RiskGrade,
                id=uuid.uuid4(),
                pregnancy_id=pid,
                assessed_on=on,
                colour=colour,
                purple=False,
                factors="",
                **_stamp(author, on),
            )
    # outcome
    outcome: OutcomeFact | None = None
    r = rnd.random()
    if r < 0.09:
        kind = rnd.choices([k for k, _ in LOSSES], [w for _, w in LOSSES])[0]
        on = max(registered + days(rnd.randint(5, 40)), lmp + days(rnd.randint(60, 150)))
        outcome = OutcomeFact(on, kind) if on <= today else None
    else:
        on = edd + days(rnd.randint(-20, 9))
        if on <= today and rnd.random() > 0.02:  # 2% never recorded: "outcome not recorded"
            kind = "stillbirth" if r > 0.99 else "maternal_death" if r > 0.9898 else "live_birth"
            stay = rnd.choice((0, 1, 2, 3, 3, 4, 5, 7)) if rnd.random() < 0.95 else None
            outcome = OutcomeFact(on, kind, on + days(stay) if stay is not None else None)
    closed_on, closed_kind = None, None
    transfer: tuple[date, str] | None = None
    c = rnd.random()
    stop_guess = outcome.on + days(180) if outcome else min(today, edd + days(14))
    if c < 0.03:
        on = registered + days(rnd.randint(5, max((stop_guess - registered).days, 6)))
        if on <= today:
            if c < 0.01:
                closed_on, closed_kind = on, rnd.choice(("lost", "moved_out"))
                if outcome and outcome.on > on:
                    outcome = None
            elif c < 0.03:
                to = rnd.choice([v for v in township_villages if v != code])
                transfer = (on, to)
    if outcome and outcome.type == "maternal_death":
        closed_on, closed_kind = outcome.on, "died"
    stop = min(d for d in (today, outcome.on if outcome else None, closed_on) if d is not None)
    # prenatal visits
    visits: list[PrenatalVisitFact] = []
    high = any(f.high for f in risks)
    step = 14 if high else 30
    d = registered + days(step)
    while d <= stop:
        if rnd.random() < 0.85:
            v = d + days(rnd.randint(-5, 6))
            if registered <= v <= stop:
                visits.append(PrenatalVisitFact(v, "home", None, uuid.uuid4()))
        d += days(step)
    d = registered + days(60)
    while d <= stop:
        if rnd.random() < 0.7:
            v = d + days(rnd.randint(-10, 10))
            if registered <= v <= stop:
                visits.append(PrenatalVisitFact(v, "township", None, uuid.uuid4()))
        d += days(60)
    for n, (lo, hi) in enumerate(rules.checks, start=1):
        v = lmp + days(rnd.randint(lo, hi))
        if registered <= v <= stop and rnd.random() < 0.8:
            visits.append(PrenatalVisitFact(v, "check", n, uuid.uuid4()))
    for v in visits:
        rows.add(
            PrenatalVisit,
            id=v.id,
            pregnancy_id=pid,
            visited_on=v.on,
            kind=v.kind,
            check_no=v.check_no,
            facility=None,
            ga_days=(v.on - lmp).days,
            danger_signs="",
            advice="",
            **_stamp(author, v.on),
        )
    # outcome, babies, postnatal
    infants: list[InfantFact] = []
    postnatal: list[PostnatalVisitFact] = []
    if outcome is not None:
        oid = uuid.uuid4()
        n_babies = (2 if rnd.random() < 0.015 else 1) if outcome.type in ("live_birth", "stillbirth") else 0
        rows.add(
            Outcome,
            id=oid,
            pregnancy_id=pid,
            outcome_on=outcome.on,
            outcome_type=outcome.type,
            ga_days=(outcome.on - lmp).days,
            place="hospital",
            mode="vaginal",
            discharge_on=outcome.discharge_on,
            n_babies=n_babies,
            **_stamp(author, outcome.on),
        )
        anchor = outcome.discharge_on or outcome.on
        for seq in range(1, n_babies + 1):
            alive = outcome.type == "live_birth"
            weight = int(rnd.gauss(3200, 450))
            high_risk = weight < 2500 or (outcome.on - lmp).days < 259
            baby = InfantFact(uuid.uuid4(), alive, high_risk, None)
            sex = "1" if rnd.random() < 0.512 else "2"
            if rnd.random() < 0.004:
                sex = "0"
            rows.add(
                Infant,
                id=baby.id,
                pregnancy_id=pid,
                outcome_id=oid,
                seq=seq,
                sex=sex,
                birth_weight_g=weight,
                alive_at_birth=alive,
                asphyxia=False,
                defect=False,
                high_risk=high_risk,
                death_on=None,
                **_stamp(author, outcome.on),
            )
            if alive and rnd.random() < 0.003:
                death = outcome.on + days(rnd.randint(1, 60))
                if death <= today:
                    baby = InfantFact(baby.id, alive, high_risk, death)
                    rows.add(
                        Closure,
                        id=uuid.uuid4(),
                        pregnancy_id=pid,
                        infant_id=baby.id,
                        kind="died",
                        closed_on=death,
                        reason="",
                        from_village_code=code,
                        to_village_code=None,
                        **_stamp(author, death),
                    )
            infants.append(baby)
            if alive:
                for milestone, due, p in (
                    ("1w", (anchor - outcome.on).days + rnd.randint(1, 6), 0.85),
                    ("2w", 14, 0.7),
                    ("1m", 30, 0.8),
                    ("3m", 91, 0.75),
                    ("6m", 182, 0.7),
                ):
                    on = outcome.on + days(due + rnd.randint(-3, 4))
                    if on <= today and on >= outcome.on and rnd.random() < p:
                        postnatal.append(PostnatalVisitFact(on, milestone, baby.id, False, uuid.uuid4()))
        if outcome.type in ("live_birth", "stillbirth"):
            for milestone, on, p in (
                ("1w", anchor + days(rnd.randint(1, 7)), 0.85),
                ("42d", outcome.on + days(rnd.randint(42, 52)), 0.75),
            ):
                if on <= today and rnd.random() < p:
                    postnatal.append(PostnatalVisitFact(on, milestone, None, True, uuid.uuid4()))
        elif outcome.type != "maternal_death":
            on = outcome.on + days(rnd.randint(3, 14))
            if on <= today and rnd.random() < 0.8:
                postnatal.append(PostnatalVisitFact(on, "loss", None, True, uuid.uuid4()))
        if closed_on is not None and closed_kind in ("lost", "moved_out"):
            postnatal = [p for p in postnatal if p.on <= closed_on]
    for pv in postnatal:
        rows.add(
            PostnatalVisit,
            id=pv.id,
            pregnancy_id=pid,
            infant_id=pv.infant_id,
            covers_mother=pv.covers_mother,
            visited_on=pv.on,
            milestone=pv.milestone,
            breasts="",
            lochia="",
            wound="",
            mood="",
            jaundice="",
            feeding="",
            umbilicus="",
            notes="",
            **_stamp(author, pv.on),
        )
    current = code
    if transfer is not None:
        rows.add(
            Closure,
            id=uuid.uuid4(),
            pregnancy_id=pid,
            infant_id=None,
            kind="transferred",
            closed_on=transfer[0],
            reason="",
            from_village_code=code,
            to_village_code=transfer[1],
            **_stamp(author, transfer[0]),
        )
        current = transfer[1]
        rows.tables["woman"][-1]["village_code"] = current
    if closed_on is not None and closed_kind in ("lost", "moved_out"):
        rows.add(
            Closure,
            id=uuid.uuid4(),
            pregnancy_id=pid,
            infant_id=None,
            kind=closed_kind,
            closed_on=closed_on,
            reason="联系不上" if closed_kind == "lost" else "",
            from_village_code=current,
            to_village_code=None,
            **_stamp(author, closed_on),
        )
    status = "closed" if closed_kind else "open"
    rows.add(
        Pregnancy,
        id=pid,
        woman_id=woman_id,
        village_code=current,
        lmp=lmp,
        edd=edd,
        edd_source="lmp",
        gravidity=rnd.randint(1, 4),
        parity=0,
        registered_on=registered,
        rules_version=rules.version,
        high_risk=risks[-1].high,
        status=status,
        closed_on=closed_on,
        close_reason=closed_kind,
        **_stamp(author, registered),
    )
    writes = [registered, *(v.on for v in visits), *(p.on for p in postnatal)]
    writes += [outcome.on] if outcome else []
    writes += [closed_on] if closed_on else []
    rows.changes += [(on, pid, current) for on in writes]
    if transfer is not None:
        rows.changes += [(transfer[0], pid, code), (transfer[0], pid, current)]
    facts = PregnancyFacts(
        registered_on=registered,
        edd=edd,
        lmp=lmp,
        risks=risks,
        prenatal_visits=visits,
        outcome=outcome,
        infants=infants,
        postnatal_visits=postnatal,
        closed_on=closed_on,
        closed_kind=closed_kind,
    )
    for i in plan_items(facts, rules):
        rows.add(
            DueItem,
            pregnancy_id=pid,
            infant_id=i.infant_id,
            kind=i.kind,
            seq=i.seq,
            window_start=i.window_start,
            due_on=i.due_on,
            window_end=i.window_end,
            done_on=i.done_on,
            done_by=i.done_by,
            cancelled_on=i.cancelled_on,
            missed_on=i.missed_on,
            is_open=i.done_on is None and i.cancelled_on is None,
            village_code=current,
            rules_version=i.rules_version,
        )


ORDER = (
    Area,
    User,
    UserArea,
    Woman,
    Pregnancy,
    RiskGrade,
    PrenatalVisit,
    Outcome,
    Infant,
    PostnatalVisit,
    Closure,
    DueItem,
    CaseChange,
)


def _insert(engine: Engine, rows: Rows) -> dict[str, int]:
    counts: Counter[str] = Counter()
    with engine.begin() as conn:
        for model in ORDER:
            table: Table = model.__table__  # type: ignore[attr-defined]
            batch = rows.tables.get(model.__tablename__, [])
            keys = [c.name for c in table.columns]
            for start in range(0, len(batch), 5000):
                chunk = [
                    {k: r.get(k) for k in keys if k in r or not table.c[k].primary_key}
                    for r in batch[start : start + 5000]
                ]
                conn.execute(table.insert(), chunk)
            counts[model.__tablename__] = len(batch)
    return dict(counts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data-dir",
        default=str(Path(tempfile.gettempdir()) / "suifang-county"),
        help="SQLite data directory (ignored with DATABASE_URL)",
    )
    ap.add_argument("--pregnancies", type=int, default=15000)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    settings = Settings(
        data_dir=Path(args.data_dir),
        database_url=os.environ.get("DATABASE_URL", ""),
        secret_key="bench-secret-key-long-enough-for-hkdf-0123",
        environment="test",
    )
    engine = make_engine(settings)
    migrate.upgrade(engine)
    t0 = time.perf_counter()
    counts = generate(engine, pregnancies=args.pregnancies, seed=args.seed)
    print(f"generated in {time.perf_counter() - t0:.1f} s: {counts}")


if __name__ == "__main__":
    main()
