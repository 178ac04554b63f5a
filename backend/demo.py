"""`suifang demo`: a fictional county (province code 99 does not exist) with one township of 12 villages,
about 150 pregnancies at every stage over the past year and their babies, recorded through the same services
as the app — with late and missed visits, high-risk cases, twins, a stillbirth and a transfer.
Names and ID numbers are synthetic (valid check digits, no real person)."""

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, col, select

from backend.accounts.models import User
from backend.accounts.services import Actor, create_user
from backend.areas.models import Area
from backend.cases import forms, services
from backend.cases.models import Pregnancy
from backend.cases.services import WriteContext
from backend.cases.services.assignment import assign_cadre
from backend.lib.clock import local_today
from backend.lib.fieldcrypt import FieldCipher
from backend.lib.i18n import ValidationFailed
from backend.lib.idcard import synthetic_id
from backend.settings import Settings

COUNTY = "990101000000"
TOWNSHIP = "990101100000"
VILLAGE_NAMES = [
    "东岭村",
    "西河村",
    "南坪村",
    "北山村",
    "桃园村",
    "柳树村",
    "石桥村",
    "高家庄",
    "李家湾",
    "王家坝",
    "青龙村",
    "白沙村",
]
VILLAGES = [(f"990101100{n:03d}", name) for n, name in enumerate(VILLAGE_NAMES, start=1)]
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = [
    "秀英",
    "桂英",
    "秀兰",
    "玉兰",
    "桂兰",
    "丽",
    "静",
    "敏",
    "燕",
    "艳",
    "娟",
    "霞",
    "芳",
    "娜",
    "丹",
    "玲",
    "婷",
    "雪",
    "慧",
    "晶",
    "欢",
    "倩",
    "颖",
    "琳",
    "佳",
    "月",
    "红梅",
    "春燕",
    "海燕",
    "小芳",
    "晓丽",
    "雨欣",
]
PASSWORD = "suifang-demo"
DEMO_LOGINS_NOTE = (
    "demo logins: cadre of 东岭村 13900000001, township supervisor 13900000100, county admin 13900000200; "
    f"password {PASSWORD}"
)


def seed_demo(
    engine: Engine,
    settings: Settings,
    *,
    seed: int = 20261123,
    reset: bool = False,
    today: date | None = None,
) -> list[tuple[str, str, str, str]] | None:
    """Seed once; returns the logins, or None when demo data is already there."""
    if reset:
        with engine.begin() as conn:
            for table in reversed(SQLModel.metadata.sorted_tables):
                if table.name != "alembic_version":
                    conn.execute(table.delete())
    with Session(engine) as db:
        if db.get(Area, COUNTY) is not None:
            return None
    rng = random.Random(seed)
    today = today or local_today(settings.timezone)
    cipher = FieldCipher(settings.secret_key)
    logins: list[tuple[str, str, str, str]] = []
    with Session(engine) as db:
        db.add(Area(code=COUNTY, name="示范县"))
        db.add(Area(code=TOWNSHIP, name="示范镇"))
        db.add_all(Area(code=code, name=name) for code, name in VILLAGES)
        db.flush()
        cadres: dict[str, User] = {}
        for n, (code, vname) in enumerate(VILLAGES, start=1):
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
            phone = f"139000000{n:02d}"
            cadres[code] = create_user(
                db, phone=phone, name=name, password=PASSWORD, role="village", area_codes=[code]
            )
            logins.append(("village", f"{name}（{vname}）", phone, PASSWORD))
        supervisor = create_user(
            db, phone="13900000100", name="周敏", password=PASSWORD, role="township", area_codes=[TOWNSHIP]
        )
        logins.append(("township", "周敏（示范镇）", "13900000100", PASSWORD))
        create_user(
            db,
            phone="13900000200",
            name="县妇幼保健院",
            password=PASSWORD,
            role="county",
            area_codes=[COUNTY],
        )
        logins.append(("county", "县妇幼保健院", "13900000200", PASSWORD))
        db.commit()
        _seed_cases(db, rng, today, cipher, cadres, supervisor)
        logins.append(_share_a_village(db, rng, today, cipher, supervisor))
        db.commit()
    return logins


def _share_a_village(
    db: Session, rng: random.Random, today: date, cipher: FieldCipher, supervisor: User
) -> tuple[str, str, str, str]:
    """A village doctor (村医) beside the second village's cadre, answering for every other case there as the
    supervisor chose: the dashboard splits that village between them."""
    code, vname = VILLAGES[1]
    name = rng.choice(SURNAMES) + rng.choice(GIVEN)
    doctor = create_user(
        db, phone="13900000099", name=name, password=PASSWORD, role="village", area_codes=[code]
    )
    ctx = _ctx(_actor(supervisor, [TOWNSHIP]), today, cipher, today)
    cases = db.exec(
        select(Pregnancy.id).where(Pregnancy.village_code == code).order_by(col(Pregnancy.registered_on))
    ).all()
    for pid in cases[::2]:
        try:
            with db.begin_nested():
                assign_cadre(db, ctx, pid, doctor.id)
        except ValidationFailed:
            pass  # a case no longer followed keeps its cadre
    return ("village", f"{name}（{vname}，村医）", "13900000099", PASSWORD)


def _actor(user: User, codes: list[str]) -> Actor:
    return Actor(user_id=user.id, name=user.name, role=user.role, area_codes=tuple(codes))


def _seed_cases(
    db: Session,
    rng: random.Random,
    today: date,
    cipher: FieldCipher,
    cadres: dict[str, User],
    supervisor: User,
) -> None:
    sup_actor = _actor(supervisor, [TOWNSHIP])
    diligence = {code: rng.uniform(0.55, 0.97) for code, _ in VILLAGES}
    for n in range(150):
        code = VILLAGES[n % len(VILLAGES)][0]
        cadre = cadres[code]
        actor = _actor(cadre, [code])
        p = diligence[code]
        # most registered long enough ago to have given birth within the past year; the rest are pregnant
        registered = today - timedelta(days=rng.randint(215, 540) if n < 126 else rng.randint(0, 200))
        ga_at_reg = rng.choice([rng.randint(42, 90)] * 3 + [rng.randint(91, 180)])
        lmp = registered - timedelta(days=ga_at_reg)
        birth = date(today.year - rng.randint(20, 40), rng.randint(1, 12), rng.randint(1, 28))
        ctx = _ctx(actor, today, cipher, registered)
        gravidity = rng.randint(1, 4)
        raw = {
            "id": str(uuid.uuid4()),
            "woman_id": str(uuid.uuid4()),
            "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
            "id_number": synthetic_id("990101", birth, rng.randrange(0, 999, 2))
            if rng.random() < 0.85
            else "",
            "birth_date": birth.isoformat(),
            "phone": f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}",
            "village_code": code,
            "address": f"{rng.randint(1, 99)}号",
            "lmp": lmp.isoformat(),
            "gravidity": str(gravidity),
            "parity": str(rng.randint(0, gravidity - 1)),
            "registered_on": registered.isoformat(),
            "colour": rng.choices(["green", "yellow", "orange", "red"], [55, 25, 15, 5])[0],
        }
        written = services.register_pregnancy(db, ctx, forms.read_registration(raw))
        pid = written.pregnancy_id
        edd = lmp + timedelta(days=280)
        high = raw["colour"] in ("orange", "red")
        # the outcome, when it has happened by today
        outcome_on: date | None = None
        kind = "live_birth"
        if n == 7:
            kind = "stillbirth"
        elif n % 23 == 5:
            kind = rng.choice(["spontaneous_abortion", "induced_abortion"])
        if kind in ("spontaneous_abortion", "induced_abortion"):
            outcome_on = registered + timedelta(days=rng.randint(10, 40))
        else:
            outcome_on = edd + timedelta(days=rng.randint(-18, 9))
        if outcome_on > today - timedelta(days=rng.choice([0, 2, 5, 20])):
            outcome_on = None  # not yet born, or born but not yet recorded (overdue outcome)
        end = outcome_on or today
        _prenatal_visits(db, rng, actor, sup_actor, today, cipher, pid, registered, lmp, end, p, high)
        if outcome_on is None:
            if n in (130, 141):  # two women move to a neighbouring village
                _write(
                    db,
                    services.close_case,
                    forms.read_closure,
                    {
                        "pregnancy_id": str(pid),
                        "kind": "transferred",
                        "closed_on": (today - timedelta(days=3)).isoformat(),
                        "to_village_code": VILLAGES[(n + 1) % len(VILLAGES)][0],
                        "reason": "婚后随夫家迁居",
                    },
                    _ctx(_actor(supervisor, [TOWNSHIP]), today, cipher, today - timedelta(days=3)),
                )
            continue
        babies = 2 if n == 12 else 1
        _write(
            db,
            services.record_outcome,
            forms.read_outcome,
            {
                "pregnancy_id": str(pid),
                "outcome_on": outcome_on.isoformat(),
                "outcome_type": kind,
                "place": "hospital",
                "mode": rng.choice(["vaginal", "vaginal", "caesarean"]),
                "discharge_on": (outcome_on + timedelta(days=rng.choice([2, 3, 5]))).isoformat()
                if kind in ("live_birth", "stillbirth")
                else "",
                "n_babies": str(babies),
                **{
                    f"babies-{i}-{k}": v
                    for i in range(babies)
                    for k, v in {
                        "id": str(uuid.uuid4()),
                        "sex": rng.choice("12"),
                        "weight_g": str(rng.randint(2100, 4200) if babies == 1 else rng.randint(1900, 2700)),
                        "alive": "0" if kind == "stillbirth" else "1",
                    }.items()
                },
            },
            _ctx(actor, today, cipher, outcome_on + timedelta(days=rng.randint(0, 6))),
        )
        _postnatal_visits(db, rng, actor, today, cipher, pid, p)
        if n % 41 == 3:
            _write(
                db,
                services.close_case,
                forms.read_closure,
                {
                    "pregnancy_id": str(pid),
                    "kind": rng.choice(["moved_out", "lost"]),
                    "closed_on": today.isoformat(),
                    "reason": "外出务工",
                },
                _ctx(actor, today, cipher, today),
            )


def _ctx(actor: Actor, today: date, cipher: FieldCipher, when: date) -> WriteContext:
    return WriteContext(
        actor=actor,
        today=today,
        cipher=cipher,
        device_id="demo-phone",
        recorded_at=datetime.combine(min(when, today), time(10, 30), tzinfo=UTC),
    )


def _write(db: Session, write, read, raw: dict[str, str], ctx: WriteContext) -> None:  # type: ignore[no-untyped-def]
    savepoint = db.begin_nested()
    try:
        write(db, ctx, read(raw))
    except ValidationFailed:
        savepoint.rollback()  # a generated value broke a rule: skip that record, as a cadre would retype it
    else:
        savepoint.commit()


def _prenatal_visits(
    db: Session,
    rng: random.Random,
    actor: Actor,
    sup: Actor,
    today: date,
    cipher: FieldCipher,
    pid: uuid.UUID,
    registered: date,
    lmp: date,
    end: date,
    p: float,
    high: bool,
) -> None:
    day = registered
    step = 14 if high else 30
    before = (
        48 + pid.int % 1700 / 100
    )  # her weight before, 48–65 kg (no draw: the rest of the demo stays put)
    while True:
        day = day + timedelta(days=step + rng.randint(-5, 10))
        if day >= end or day > today:
            break
        if rng.random() > p:
            continue  # a month without a visit
        _write(
            db,
            services.record_prenatal_visit,
            forms.read_prenatal_visit,
            {
                "pregnancy_id": str(pid),
                "visited_on": day.isoformat(),
                "kind": "home",
                "bp_systolic": str(rng.randint(100, 135)),
                "bp_diastolic": str(rng.randint(62, 85)),
                "weight_kg": f"{_weight_in_pregnancy(before, (day - lmp).days) + rng.uniform(-0.8, 0.8):.1f}",
                "advice": "注意休息，按时产检",
            },
            _ctx(actor, today, cipher, day),
        )
    for n, (lo, hi) in enumerate([(42, 90), (112, 146), (147, 174), (196, 258), (259, 286)], start=1):
        on = lmp + timedelta(days=rng.randint(lo, hi))
        if on < registered or on >= end or rng.random() > p + 0.05:
            continue
        _write(
            db,
            services.record_prenatal_visit,
            forms.read_prenatal_visit,
            {
                "pregnancy_id": str(pid),
                "visited_on": on.isoformat(),
                "kind": "check",
                "check_no": str(n),
                "facility": "镇卫生院",
            },
            _ctx(actor, today, cipher, on),
        )
    day = registered
    while True:
        day += timedelta(days=60 + rng.randint(-10, 20))
        if day >= end:
            break
        if rng.random() < 0.6:
            _write(
                db,
                services.record_prenatal_visit,
                forms.read_prenatal_visit,
                {"pregnancy_id": str(pid), "visited_on": day.isoformat(), "kind": "township"},
                _ctx(sup, today, cipher, day),
            )


def _weight_in_pregnancy(before: float, days: int) -> float:
    """About 1.5 kg in the first trimester, then about 0.45 kg a week."""
    weeks = days / 7
    return before + min(weeks, 13) * 0.12 + max(0.0, weeks - 13) * 0.45


def _baby_weight(birth_g: int, age_days: int) -> int:
    """A tenth lost in the first days and back by two weeks; then about 30 g a day to three months, 15 g a day
    to six, 8 g a day after."""
    if age_days <= 14:
        return round(birth_g * (0.93 + 0.07 * age_days / 14))
    gained = 30 * (min(age_days, 90) - 14) + 15 * max(0, min(age_days, 180) - 90) + 8 * max(0, age_days - 180)
    return birth_g + gained


def _infant_weight(baby: Any, born_on: date | None, on: date, rng: random.Random) -> int:
    draw = rng.randint(-120, 120)  # one draw, as before: the rest of the demo stays as it was
    if baby is None or baby.birth_weight_g is None or born_on is None:
        return 3200 + draw
    return max(300, _baby_weight(baby.birth_weight_g, (on - born_on).days) + draw)


def _postnatal_visits(
    db: Session, rng: random.Random, actor: Actor, today: date, cipher: FieldCipher, pid: uuid.UUID, p: float
) -> None:
    from backend.cases.models import DueItem, Infant, Outcome, Pregnancy

    pregnancy = db.get(Pregnancy, pid)
    if pregnancy is None:
        return
    born = {b.id: b for b in db.exec(select(Infant).where(Infant.pregnancy_id == pid))}
    outcome_on = db.exec(select(col(Outcome.outcome_on)).where(Outcome.pregnancy_id == pid)).first()
    items = [
        (i.kind, i.infant_id, i.window_start, i.window_end)
        for i in db.exec(select(DueItem).where(DueItem.pregnancy_id == pid, col(DueItem.is_open).is_(True)))
    ]
    milestone = {"mother_1w": "1w", "mother_42d": "42d", "loss_care": "loss"}
    for kind, infant_id, start, end in sorted(items, key=lambda i: i[2]):
        if start > today or rng.random() > p:
            continue
        late = rng.random() < 0.15
        on = (
            end + timedelta(days=rng.randint(1, 4))
            if late
            else start + timedelta(days=rng.randint(0, max(0, (end - start).days)))
        )
        if on > today:
            continue
        raw = {
            "pregnancy_id": str(pid),
            "visited_on": on.isoformat(),
            "milestone": milestone.get(kind, kind.removeprefix("infant_")),
        }
        if infant_id is None:
            raw |= {"covers_mother": "1", "mother_temperature_c": f"{rng.uniform(36.2, 37.2):.1f}"}
        else:
            raw |= {
                "infant_id": str(infant_id),
                "infant_weight_g": str(_infant_weight(born.get(infant_id), outcome_on, on, rng)),
                "feeding": rng.choice(["breast", "breast", "mixed", "formula"]),
            }
        _write(db, services.record_postnatal_visit, forms.read_postnatal, raw, _ctx(actor, today, cipher, on))
