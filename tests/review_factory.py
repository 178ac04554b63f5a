"""make_* helpers for the review tests: write cases through the same services and form parsers the app uses,
with the writer's `today` fixed so dates in the past stay valid."""

import uuid
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from backend.accounts.models import User
from backend.cases import forms, services
from backend.cases.models import Infant, Pregnancy
from tests.conftest import Cast

WRITTEN_ON = date(2026, 11, 20)


def _ctx(cast: Cast, user: User, db: Session) -> services.WriteContext:
    return cast.ctx(user, db, WRITTEN_ON)


def make_pregnancy(
    db: Session,
    cast: Cast,
    user: User,
    *,
    village: str,
    name: str,
    lmp: date,
    registered_on: date,
    colour: str = "",
) -> Pregnancy:
    raw = {
        "name": name,
        "village_code": village,
        "lmp": lmp.isoformat(),
        "gravidity": "1",
        "parity": "0",
        "birth_date": "1998-05-06",
        "registered_on": registered_on.isoformat(),
        "colour": colour,
    }
    written = services.register_pregnancy(db, _ctx(cast, user, db), forms.read_registration(raw))
    db.commit()
    p = db.get(Pregnancy, written.pregnancy_id)
    assert p is not None
    return p


def make_visit(
    db: Session,
    cast: Cast,
    user: User,
    p: Pregnancy,
    on: date,
    kind: str = "home",
    check_no: int | None = None,
) -> None:
    raw: dict[str, Any] = {"pregnancy_id": str(p.id), "visited_on": on.isoformat(), "kind": kind}
    if check_no is not None:
        raw["check_no"] = str(check_no)
    services.record_prenatal_visit(db, _ctx(cast, user, db), forms.read_prenatal_visit(raw))
    db.commit()


def make_checks(db: Session, cast: Cast, user: User, p: Pregnancy, dates: dict[int, date]) -> None:
    for n, on in dates.items():
        make_visit(db, cast, user, p, on, "check", n)


def make_outcome(
    db: Session,
    cast: Cast,
    user: User,
    p: Pregnancy,
    on: date,
    outcome_type: str = "live_birth",
    babies: list[tuple[str, int, bool]] = (),
    discharge_on: date | None = None,
) -> list[uuid.UUID]:
    """babies: (sex, weight in g, alive) each; returns the infants' ids in order."""
    raw: dict[str, Any] = {
        "pregnancy_id": str(p.id),
        "outcome_on": on.isoformat(),
        "outcome_type": outcome_type,
        "n_babies": str(len(babies)),
        "place": "hospital",
        "mode": "vaginal",
    }
    if discharge_on:
        raw["discharge_on"] = discharge_on.isoformat()
    for i, (sex, weight, alive) in enumerate(babies):
        raw |= {
            f"babies-{i}-sex": sex,
            f"babies-{i}-weight_g": str(weight),
            f"babies-{i}-alive": "1" if alive else "0",
        }
    services.record_outcome(db, _ctx(cast, user, db), forms.read_outcome(raw))
    db.commit()
    return list(db.exec(select(Infant.id).where(Infant.pregnancy_id == p.id).order_by(col(Infant.seq))).all())


def make_postnatal(
    db: Session,
    cast: Cast,
    user: User,
    p: Pregnancy,
    on: date,
    milestone: str = "1w",
    *,
    mother: bool = False,
    infant: uuid.UUID | None = None,
) -> None:
    raw: dict[str, Any] = {
        "pregnancy_id": str(p.id),
        "visited_on": on.isoformat(),
        "milestone": milestone,
        "covers_mother": "1" if mother else "",
    }
    if infant is not None:
        raw["infant_id"] = str(infant)
    services.record_postnatal_visit(db, _ctx(cast, user, db), forms.read_postnatal(raw))
    db.commit()


def make_closure(
    db: Session,
    cast: Cast,
    user: User,
    p: Pregnancy,
    kind: str,
    on: date,
    *,
    to: str = "",
    reason: str = "",
    infant: uuid.UUID | None = None,
) -> None:
    raw: dict[str, Any] = {
        "pregnancy_id": str(p.id),
        "kind": kind,
        "closed_on": on.isoformat(),
        "to_village_code": to,
        "reason": reason or ("联系不上" if kind == "lost" else ""),
    }
    if infant is not None:
        raw["infant_id"] = str(infant)
    services.close_case(db, _ctx(cast, user, db), forms.read_closure(raw))
    db.commit()


def make_october(db: Session, cast: Cast) -> dict[str, Pregnancy]:
    """The hand-computed fixture of the indicator tests: October 2026 in township T (villages A and B), one
    delivery in township U. Expected numbers are written out in tests/test_review_reports.py."""
    from tests.conftest import VILLAGE_A, VILLAGE_B, VILLAGE_C

    a, b, c = cast.cadre_a, cast.cadre_b, cast.cadre_c
    d = date
    # Anna (A): booked at 9+6, all five checks, twins born 12 Oct (both under 2,500 g: high-risk newborns),
    # discharged 15 Oct; mother seen on 20 Oct, baby 1 on 17 Oct (2 days), baby 2 on 20 Oct (5 days: late
    # for a high-risk newborn, in time for the 28-day rate).
    anna = make_pregnancy(
        db, cast, a, village=VILLAGE_A, name="安娜", lmp=d(2026, 1, 10), registered_on=d(2026, 3, 20)
    )
    make_checks(
        db,
        cast,
        a,
        anna,
        {1: d(2026, 3, 20), 2: d(2026, 5, 10), 3: d(2026, 6, 20), 4: d(2026, 8, 20), 5: d(2026, 10, 1)},
    )
    twins = make_outcome(
        db,
        cast,
        a,
        anna,
        d(2026, 10, 12),
        babies=[("1", 2300, True), ("2", 2400, True)],
        discharge_on=d(2026, 10, 15),
    )
    make_postnatal(db, cast, a, anna, d(2026, 10, 20), mother=True)
    make_postnatal(db, cast, a, anna, d(2026, 10, 17), infant=twins[0])
    make_postnatal(db, cast, a, anna, d(2026, 10, 20), infant=twins[1])
    # Bella (A): booked at 14+6, checks 2–4, stillbirth on 5 Oct.
    bella = make_pregnancy(
        db, cast, a, village=VILLAGE_A, name="贝拉", lmp=d(2026, 1, 1), registered_on=d(2026, 4, 15)
    )
    make_checks(db, cast, a, bella, {2: d(2026, 5, 1), 3: d(2026, 5, 30), 4: d(2026, 7, 30)})
    make_outcome(db, cast, a, bella, d(2026, 10, 5), "stillbirth", babies=[("2", 2900, False)])
    # Cora (B): booked at 10+1, check 1 only, a girl born at home on 20 Oct; mother and baby first seen on
    # 10 Nov (21 days: the late visit).
    cora = make_pregnancy(
        db, cast, b, village=VILLAGE_B, name="可拉", lmp=d(2026, 1, 20), registered_on=d(2026, 4, 1)
    )
    make_checks(db, cast, b, cora, {1: d(2026, 4, 1)})
    (girl,) = make_outcome(db, cast, b, cora, d(2026, 10, 20), babies=[("2", 3200, True)])
    make_postnatal(db, cast, b, cora, d(2026, 11, 10), mother=True, infant=girl)
    # Dora: booked in A at 13+5, checks 2–5, transferred to B on 10 Oct (mid-period), a boy born 25 Oct,
    # discharged 27 Oct; mother and baby seen on 30 Oct.
    dora = make_pregnancy(
        db, cast, a, village=VILLAGE_A, name="多拉", lmp=d(2026, 1, 25), registered_on=d(2026, 5, 1)
    )
    make_checks(db, cast, a, dora, {2: d(2026, 5, 20), 3: d(2026, 7, 1), 4: d(2026, 9, 1), 5: d(2026, 10, 8)})
    make_closure(db, cast, a, dora, "transferred", d(2026, 10, 10), to=VILLAGE_B)
    (boy,) = make_outcome(
        db, cast, b, dora, d(2026, 10, 25), babies=[("1", 3000, True)], discharge_on=d(2026, 10, 27)
    )
    make_postnatal(db, cast, b, dora, d(2026, 10, 30), mother=True, infant=boy)
    # Gina (A): graded red at booking on 1 Oct, visited on 14 and 28 Oct: managed.
    gina = make_pregnancy(
        db,
        cast,
        a,
        village=VILLAGE_A,
        name="吉娜",
        lmp=d(2026, 7, 1),
        registered_on=d(2026, 10, 1),
        colour="red",
    )
    make_visit(db, cast, a, gina, d(2026, 10, 14))
    make_visit(db, cast, a, gina, d(2026, 10, 28))
    # Fay (B): graded red at booking on 1 Aug, never visited: not managed.
    fay = make_pregnancy(
        db,
        cast,
        b,
        village=VILLAGE_B,
        name="菲菲",
        lmp=d(2026, 5, 1),
        registered_on=d(2026, 8, 1),
        colour="red",
    )
    # Hana (B): lost to follow-up on 5 Oct.
    hana = make_pregnancy(
        db, cast, b, village=VILLAGE_B, name="哈娜", lmp=d(2026, 4, 1), registered_on=d(2026, 6, 1)
    )
    make_closure(db, cast, b, hana, "lost", d(2026, 10, 5), reason="外出务工，联系不上")
    # Ella (C, township U): a boy born 8 Oct — never part of T's numbers.
    ella = make_pregnancy(
        db, cast, c, village=VILLAGE_C, name="艾拉", lmp=d(2026, 1, 5), registered_on=d(2026, 3, 1)
    )
    make_outcome(db, cast, c, ella, d(2026, 10, 8), babies=[("1", 3300, True)])
    return {
        "anna": anna,
        "bella": bella,
        "cora": cora,
        "dora": dora,
        "gina": gina,
        "fay": fay,
        "hana": hana,
        "ella": ella,
    }
