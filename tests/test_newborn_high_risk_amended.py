"""A high-risk newborn (DOMAIN.md §4.3: GA < 37 weeks, weight < 2500 g, asphyxia, defect) is decided from
the records as they now read, not from the flag stored when the outcome was recorded: an outcome date
amended across 37+0 weeks, or an EDD edited while the LMP is unknown, moves the baby's first visit (anchor
+ 3 or + 7 days), the 高危儿 mark on the case page and the report's newborn-on-time limit (§6: ≤ 3 days or
≤ 7 days)."""

import uuid
from datetime import date, timedelta

import pytest
from sqlmodel import Session

from backend.cases import forms, rules, services
from backend.cases.models import Pregnancy
from backend.cases.schedule_store import CaseRecords
from backend.cases.services import WriteContext
from backend.lib.clock import local_today
from backend.review.periods import month_of
from backend.review.reports import township_report
from tests.case_factories import infants_of, items_of, make_outcome, make_postnatal, make_registration
from tests.conftest import TOWNSHIP_T, VILLAGE_A, Cast
from tests.page_client import *  # noqa: F403  (the `pages` fixture)
from tests.page_client import Pages

DAY = timedelta(days=1)
TODAY = local_today("Asia/Shanghai")  # the case page reads the real day
LMP = TODAY - 300 * DAY
REGISTERED = LMP + 56 * DAY
AT_38 = LMP + 38 * 7 * DAY  # 38+0 weeks: a 3200 g baby is not high-risk
AT_35 = LMP + 35 * 7 * DAY  # 35+0 weeks: preterm, high-risk
HIGH_RISK_MARK = '<span class="risk high">高危儿</span>'


@pytest.fixture
def ctx(db: Session, cast: Cast) -> WriteContext:
    return cast.ctx(cast.cadre_a, db, TODAY)


def amend_outcome_date(db: Session, ctx: WriteContext, pregnancy: Pregnancy, on: date) -> None:
    outcome = CaseRecords(db, pregnancy).outcome
    assert outcome is not None
    raw = {"target_type": "outcome", "target_id": str(outcome.id), "kind": "amend", "reason": "日期记错"}
    services.correct_record(db, ctx, forms.read_correction(raw | {"new-outcome_on": on.isoformat()}))


def born_at_then_amended(db: Session, ctx: WriteContext, recorded: date, amended: date) -> Pregnancy:
    """A 3200 g girl, her birth recorded on `recorded` and then corrected to `amended`; no discharge, so the
    anchor of her first visit is the (amended) birth date."""
    pregnancy = make_registration(db, ctx, VILLAGE_A, name="林小燕", registered_on=REGISTERED, lmp=LMP)
    make_outcome(db, ctx, pregnancy, recorded, [("2", "3200")])
    amend_outcome_date(db, ctx, pregnancy, amended)
    db.commit()
    return pregnancy


def first_visit_due(db: Session, pregnancy: Pregnancy) -> date:
    (baby,) = infants_of(db, pregnancy)
    (item,) = [i for i in items_of(db, pregnancy, infant=baby) if i.kind == "infant_1w"]
    return item.due_on


def newborn_on_time(
    db: Session, cast: Cast, pregnancy: Pregnancy, born: date, seen_on: date
) -> tuple[int, int]:
    """Visit the baby on `seen_on` and read her township's newborn-on-time rate for the month of her birth."""
    (baby,) = infants_of(db, pregnancy)
    make_postnatal(
        db, cast.ctx(cast.cadre_a, db, TODAY), pregnancy, "1w", baby, visited_on=seen_on.isoformat()
    )
    db.commit()
    rate = township_report(db, TOWNSHIP_T, month_of(born), TODAY).total.indicators.newborn_visit_on_time
    return rate.numerator, rate.denominator


def test_an_outcome_amended_from_38_to_35_weeks_makes_the_baby_a_high_risk_newborn(
    db: Session, cast: Cast, ctx: WriteContext, pages: Pages
) -> None:
    pregnancy = born_at_then_amended(db, ctx, AT_38, AT_35)
    assert first_visit_due(db, pregnancy) == AT_35 + 3 * DAY  # not + 7
    records = CaseRecords(db, pregnancy)
    assert records.ga_at_birth == 35 * 7
    assert records.facts().infants[0].high_risk is True
    # seen on day 5: within 7 days, but a high-risk newborn is on time only within 3
    assert newborn_on_time(db, cast, pregnancy, AT_35, AT_35 + 5 * DAY) == (0, 1)
    db.commit()  # end the test session's read snapshot: the app writes (sign-in) in between
    page = pages.client(cast.cadre_a).get(f"/women/{pregnancy.woman_id}").text
    assert HIGH_RISK_MARK in page


def test_an_outcome_amended_from_35_to_38_weeks_makes_the_baby_no_high_risk_newborn(
    db: Session, cast: Cast, ctx: WriteContext, pages: Pages
) -> None:
    pregnancy = born_at_then_amended(db, ctx, AT_35, AT_38)
    assert first_visit_due(db, pregnancy) == AT_38 + 7 * DAY  # not + 3
    records = CaseRecords(db, pregnancy)
    assert records.ga_at_birth == 38 * 7
    assert records.facts().infants[0].high_risk is False
    # seen on day 5: on time for a baby who is not high-risk
    assert newborn_on_time(db, cast, pregnancy, AT_38, AT_38 + 5 * DAY) == (1, 1)
    db.commit()  # end the test session's read snapshot: the app writes (sign-in) in between
    page = pages.client(cast.cadre_a).get(f"/women/{pregnancy.woman_id}").text
    assert "第1个婴儿：女婴，3200 g</h3>" in page and "高危儿" not in page


def test_an_edd_edited_while_the_lmp_is_unknown_moves_the_ga_at_birth_and_the_first_visit(
    db: Session, cast: Cast, ctx: WriteContext, pages: Pages
) -> None:
    born = TODAY - 30 * DAY
    edd = born + 14 * DAY  # born at 38+0 by the ultrasound's EDD
    pregnancy = make_registration(
        db,
        ctx,
        VILLAGE_A,
        lmp="",
        edd=edd.isoformat(),
        edd_source="ultrasound",
        registered_on=TODAY - 250 * DAY,
    )
    make_outcome(db, ctx, pregnancy, born, [("1", "3300")])
    assert first_visit_due(db, pregnancy) == born + 7 * DAY
    services.edit_registration(
        db, ctx, "pregnancy", pregnancy.id, {"edd": (born + 35 * DAY).isoformat()}, uuid.uuid4(), "B超更正"
    )
    db.commit()
    assert CaseRecords(db, pregnancy).ga_at_birth == 35 * 7  # EDD − 280 days is the LMP
    assert first_visit_due(db, pregnancy) == born + 3 * DAY
    assert newborn_on_time(db, cast, pregnancy, born, born + 5 * DAY) == (0, 1)
    db.commit()  # end the test session's read snapshot: the app writes (sign-in) in between
    page = pages.client(cast.cadre_a).get(f"/women/{pregnancy.woman_id}").text
    assert HIGH_RISK_MARK in page


def test_one_rule_decides_from_the_outcome_date_the_lmp_or_the_edd_and_the_baby() -> None:
    assert rules.newborn_high_risk(
        outcome_on=AT_35, lmp=LMP, edd=LMP + 280 * DAY, weight_g=3200, asphyxia=False, defect=False
    )
    assert not rules.newborn_high_risk(
        outcome_on=AT_38, lmp=None, edd=LMP + 280 * DAY, weight_g=3200, asphyxia=False, defect=False
    )
    assert rules.newborn_high_risk(
        outcome_on=AT_38, lmp=LMP, edd=LMP + 280 * DAY, weight_g=2499, asphyxia=False, defect=False
    )
    assert rules.is_high_risk_newborn(36 * 7 + 6, None, False, False)
    assert not rules.is_high_risk_newborn(37 * 7, 2500, False, False)
    assert services.is_high_risk_newborn is rules.is_high_risk_newborn  # still importable from services
