"""The monthly report against a hand-computed fixture (tests/review_factory.make_october): every expected
number below was worked out by hand from DOMAIN.md §6, not by running the code."""

from datetime import date

from sqlmodel import Session

from backend.review.periods import month_of
from backend.review.reports import county_report, township_report
from tests.conftest import COUNTY, TOWNSHIP_T, VILLAGE_A, VILLAGE_B, Cast
from tests.review_factory import make_october

OCTOBER = month_of(date(2026, 10, 1))
TODAY = date(2026, 11, 20)


def rates(row: object) -> dict[str, tuple[int, int]]:
    return {name: (r.numerator, r.denominator) for name, r in row.indicators.items()}


def test_the_township_indicators_match_the_hand_computed_fixture(db: Session, cast: Cast) -> None:
    make_october(db, cast)
    report = township_report(db, TOWNSHIP_T, OCTOBER, TODAY)
    by_code = {r.code: r for r in report.rows}
    # Live births: A = Anna's twins (2); B = Cora (1) + Dora, who delivered after moving to B (1). Bella's
    # stillbirth is no live birth; Ella is in township U.
    assert rates(report.total) == {
        "early_booking": (2, 4),  # Anna (9+6) and Cora (10+1) booked by 12+6; Dora at 13+5 was not
        "antenatal_management": (1, 4),  # only Anna has all five checks
        "postpartum_visit": (3, 4),  # Anna 5 d, Cora 21 d, Dora 3 d after discharge/birth
        "postpartum_visit_7d": (2, 4),  # Cora's 21 days is late
        "newborn_visit": (4, 4),  # every baby seen within 28 days
        "newborn_visit_on_time": (
            2,
            4,
        ),  # twin 1 (2 d ≤ 3), Dora's boy (3 d ≤ 7); twin 2 (5 d > 3), Cora's 21 d
        "high_risk_management": (1, 2),  # Gina visited after grading, nothing overdue; Fay never visited
    }
    assert rates(by_code[VILLAGE_A]) == {
        "early_booking": (1, 2),
        "antenatal_management": (1, 2),
        "postpartum_visit": (1, 2),
        "postpartum_visit_7d": (1, 2),
        "newborn_visit": (2, 2),
        "newborn_visit_on_time": (1, 2),
        "high_risk_management": (1, 1),
    }
    assert rates(by_code[VILLAGE_B]) == {
        "early_booking": (1, 2),
        "antenatal_management": (0, 2),
        "postpartum_visit": (2, 2),
        "postpartum_visit_7d": (1, 2),
        "newborn_visit": (2, 2),
        "newborn_visit_on_time": (1, 2),
        "high_risk_management": (0, 1),
    }
    assert all(r.small for _, r in report.total.indicators.items())  # every denominator is under 20


def test_the_monthly_report_counts_events_per_village_and_in_total(db: Session, cast: Cast) -> None:
    make_october(db, cast)
    report = township_report(db, TOWNSHIP_T, OCTOBER, TODAY)
    a, b = ({r.code: r for r in report.rows}[v].events for v in (VILLAGE_A, VILLAGE_B))
    assert (a.registrations, b.registrations) == (1, 0)  # Gina, 1 Oct
    assert dict(a.outcomes) == {"live_birth": 1, "stillbirth": 1}
    assert dict(b.outcomes) == {"live_birth": 2}
    assert (a.boys, a.girls, b.boys, b.girls) == (1, 1, 1, 1)
    assert (a.transfers_out, a.transfers_in, b.transfers_out, b.transfers_in) == (1, 0, 0, 1)
    assert (a.lost, b.lost) == (0, 1)
    total = report.total.events
    assert (total.registrations, total.live_births, total.boys, total.girls) == (1, 4, 2, 2)
    assert (total.maternal_deaths, total.infant_deaths, total.moved_out) == (0, 0, 0)
    assert report.sex_ratio is None  # never on a township's report


def test_the_county_view_puts_townships_side_by_side_and_withholds_the_sex_ratio_under_1000_births(
    db: Session, cast: Cast
) -> None:
    make_october(db, cast)
    report = county_report(db, COUNTY, OCTOBER, TODAY)
    births = {r.code: r.events.live_births for r in report.rows}
    assert births == {TOWNSHIP_T: 4, "990101101000": 1}
    assert report.total.indicators.newborn_visit.denominator == 5
    assert report.sex_ratio is not None and not report.sex_ratio.computable
    assert (report.sex_ratio.boys, report.sex_ratio.girls) == (3, 2)


def test_corrections_apply_a_voided_visit_no_longer_counts_and_an_amended_date_moves_a_birth(
    db: Session, cast: Cast
) -> None:
    import uuid

    from sqlmodel import select

    from backend.cases import services
    from backend.cases.forms import CorrectionInput
    from backend.cases.models import Outcome, PostnatalVisit, PrenatalVisit
    from tests.review_factory import WRITTEN_ON

    cases = make_october(db, cast)
    ctx_b = cast.ctx(cast.cadre_b, db, WRITTEN_ON)
    cora_visit = db.exec(select(PostnatalVisit).where(PostnatalVisit.pregnancy_id == cases["cora"].id)).one()
    services.correct_record(
        db, ctx_b, CorrectionInput(uuid.uuid4(), "postnatal_visit", cora_visit.id, "void", {}, "记错了人")
    )
    ctx_a = cast.ctx(cast.cadre_a, db, WRITTEN_ON)
    anna_outcome = db.exec(select(Outcome).where(Outcome.pregnancy_id == cases["anna"].id)).one()
    # Her check 5 of 1 Oct was in fact on 28 Sep: no prenatal visit may come after the outcome.
    anna_check_5 = db.exec(
        select(PrenatalVisit).where(
            PrenatalVisit.pregnancy_id == cases["anna"].id, PrenatalVisit.check_no == 5
        )
    ).one()
    services.correct_record(
        db,
        ctx_a,
        CorrectionInput(
            uuid.uuid4(), "prenatal_visit", anna_check_5.id, "amend", {"visited_on": "2026-09-28"}, "日期填错"
        ),
    )
    services.correct_record(
        db,
        ctx_a,
        CorrectionInput(
            uuid.uuid4(),
            "outcome",
            anna_outcome.id,
            "amend",
            {"outcome_on": "2026-09-30", "discharge_on": "2026-10-03"},
            "日期填错",
        ),
    )
    db.commit()
    report = township_report(db, TOWNSHIP_T, OCTOBER, TODAY)
    # Anna's twins now belong to September: October keeps Cora and Dora (2 live births). Cora's only
    # postnatal visit is void: she and her baby count as not visited.
    assert rates(report.total)["postpartum_visit"] == (1, 2)  # Dora only
    assert rates(report.total)["newborn_visit"] == (1, 2)
    september = township_report(db, TOWNSHIP_T, month_of(date(2026, 9, 1)), TODAY)
    assert september.total.events.live_births == 2
    assert rates(september.total)["early_booking"] == (1, 2)


def test_a_transfer_mid_period_splits_coverage_and_a_later_visit_updates_the_old_village(
    db: Session, cast: Cast
) -> None:
    from tests.review_factory import make_closure, make_pregnancy, make_visit

    # Registered 1 Sep at 13+1 (no check 1). October's items: the monthly visit due 1 Oct (window 24 Sep –
    # 8 Oct), standard check 2 due 25 Oct, the township visit due 31 Oct and, nobody having come, the next
    # monthly visit due 31 Oct. Transferred A → B on 20 Oct: the first belongs to A, the other three to B.
    p = make_pregnancy(
        db,
        cast,
        cast.cadre_a,
        village=VILLAGE_A,
        name="转娣",
        lmp=date(2026, 6, 1),
        registered_on=date(2026, 9, 1),
    )
    make_closure(db, cast, cast.cadre_a, p, "transferred", date(2026, 10, 20), to=VILLAGE_B)
    before = {r.code: r.coverage for r in township_report(db, TOWNSHIP_T, OCTOBER, TODAY).rows}
    assert (before[VILLAGE_A].due, before[VILLAGE_A].done, before[VILLAGE_A].missed) == (1, 0, 1)
    assert (before[VILLAGE_B].due, before[VILLAGE_B].missed, before[VILLAGE_B].overdue) == (3, 1, 2)
    # B's cadre records the visit made on 12 Oct, after the window: it closes A's item, late, and moves the
    # next monthly visit to 11 Nov, out of October.
    make_visit(db, cast, cast.cadre_b, p, date(2026, 10, 12))
    after = {r.code: r.coverage for r in township_report(db, TOWNSHIP_T, OCTOBER, TODAY).rows}
    assert (after[VILLAGE_A].late, after[VILLAGE_A].rate.numerator, after[VILLAGE_A].rate.denominator) == (
        1,
        1,
        1,
    )
    assert (after[VILLAGE_B].due, after[VILLAGE_B].missed, after[VILLAGE_B].overdue) == (2, 1, 1)


def test_a_woman_who_moved_to_another_township_still_counts_where_she_delivered_and_was_due(
    db: Session, cast: Cast
) -> None:
    from tests.conftest import VILLAGE_C
    from tests.review_factory import make_closure, make_outcome, make_pregnancy

    # Graded red and delivered in A on 5 Oct, then transferred to C (township U) on 15 Oct.
    p = make_pregnancy(
        db,
        cast,
        cast.cadre_a,
        village=VILLAGE_A,
        name="迁娥",
        lmp=date(2026, 1, 1),
        registered_on=date(2026, 3, 1),
        colour="red",
    )
    make_outcome(db, cast, cast.cadre_a, p, date(2026, 10, 5), babies=[("2", 3000, True)])
    make_closure(db, cast, cast.cadre_a, p, "transferred", date(2026, 10, 15), to=VILLAGE_C)
    t = township_report(db, TOWNSHIP_T, OCTOBER, TODAY)
    a = {r.code: r for r in t.rows}[VILLAGE_A]
    assert (a.events.live_births, a.events.transfers_out, t.total.events.transfers_in) == (1, 1, 0)
    assert a.indicators.early_booking.denominator == 1  # she delivered in A
    assert a.coverage.due >= 1  # her items due before 15 Oct (the baby's first visit) stay with A
    u = township_report(db, "990101101000", OCTOBER, TODAY)
    assert (u.total.events.live_births, u.total.events.transfers_in) == (0, 1)


def test_the_csv_and_xlsx_flag_each_rate_over_fewer_than_20_births(db: Session, cast: Cast) -> None:
    """DOMAIN.md §6: flag rates with a denominator under 20 (the page marks them *); a rate over none is
    no rate and carries no flag."""
    import csv
    import io
    from dataclasses import replace

    from openpyxl import load_workbook

    from backend.review.exports import report_csv, report_xlsx
    from backend.review.indicators import Rate

    make_october(db, cast)
    report = township_report(db, TOWNSHIP_T, OCTOBER, TODAY)
    indicators = replace(report.total.indicators, early_booking=Rate(15, 20), antenatal_management=Rate(0, 0))
    report = replace(report, total=replace(report.total, indicators=indicators))
    expected = {  # of the total: 20 births, none, 4 births (the fixture's), …
        "早孕建册率": "",
        "产前健康管理率": "",
        "产后访视率": "分母不足20，仅供参考",
    }

    def indicator_rows(rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
        start = rows.index(["工作指标"])
        end = rows.index([], start)
        return rows[start + 1], rows[start + 2 : end]

    header, body = indicator_rows(list(csv.reader(io.StringIO(report_csv(report).decode("utf-8-sig")))))
    total = body[-1]
    assert total[1].startswith("合计")
    for name, flag in expected.items():
        assert total[header.index(f"{name} 分母不足20")] == flag, name
    assert total[header.index("早孕建册率")] == "0.7500"  # the rate itself stays a number
    for row in body:  # every row: flagged exactly when 0 < denominator < 20
        for name in (h.removesuffix(" 分母") for h in header if h.endswith(" 分母")):
            den = int(row[header.index(f"{name} 分母")])
            flagged = row[header.index(f"{name} 分母不足20")] == "分母不足20，仅供参考"
            assert flagged == (0 < den < 20), (row[1], name)

    english = list(csv.reader(io.StringIO(report_csv(report, "en").decode("utf-8-sig"))))
    header_en = english[english.index(["Indicators"]) + 1]
    total_en = english[english.index([], english.index(["Indicators"])) - 1]
    assert total_en[header_en.index("Early booking small denominator")] == ""  # over 20 births
    flags_en = [total_en[i] for i, h in enumerate(header_en) if h.endswith(" small denominator")]
    assert flags_en.count("denominator under 20") == len(flags_en) - 2

    sheet = load_workbook(io.BytesIO(report_xlsx(report)))["工作指标"]
    xlsx_header = [c.value for c in sheet[2]]
    xlsx_total = [c.value for c in sheet[sheet.max_row]]
    for name, flag in expected.items():
        assert (xlsx_total[xlsx_header.index(f"{name} 分母不足20")] or "") == flag, name
