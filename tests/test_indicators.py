"""The pure formulas of backend.review.indicators and backend.review.periods: examples worked by hand and
properties that must hold for any input."""

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.review.indicators import (
    Baby,
    Coverage,
    Delivery,
    HighRiskCase,
    SexRatioRefused,
    antenatal_management,
    coverage_category,
    early_booking,
    high_risk_management,
    live_births,
    newborn_visit,
    newborn_visit_on_time,
    postpartum_visit,
    sex_ratio_at_birth,
)
from backend.review.periods import last_months, mch_year_of, month_of, parse_period, report_month
from backend.schedule import Item, State, state_of

D = date(2026, 10, 10)
days = timedelta


def test_twins_count_twice_below_and_their_mother_once_above() -> None:
    twins = Delivery(D, "live_birth", registered_ga_days=70, babies=(Baby("1"), Baby("2")))
    assert (early_booking([twins]).numerator, early_booking([twins]).denominator) == (1, 2)


def test_a_stillbirth_is_no_live_birth_and_changes_no_rate() -> None:
    born = Delivery(D, "live_birth", registered_ga_days=70, babies=(Baby("1"),))
    still = Delivery(D, "stillbirth", registered_ga_days=70, babies=(Baby("2", alive_at_birth=False),))
    assert live_births([born, still]) == 1
    assert early_booking([born, still]) == early_booking([born])


def test_early_booking_stops_at_12_weeks_6_days() -> None:
    on_edge = Delivery(D, "live_birth", registered_ga_days=90, babies=(Baby("1"),))
    a_day_late = Delivery(D, "live_birth", registered_ga_days=91, babies=(Baby("1"),))
    assert early_booking([on_edge, a_day_late]).numerator == 1


def test_antenatal_management_needs_all_five_checks() -> None:
    four = Delivery(D, "live_birth", 70, checks=frozenset({1, 2, 3, 4}), babies=(Baby("1"),))
    five = Delivery(D, "live_birth", 70, checks=frozenset({1, 2, 3, 4, 5}), babies=(Baby("1"),))
    assert antenatal_management([four, five]).numerator == 1


def test_postpartum_visits_count_from_discharge_and_a_late_visit_misses_the_7_day_share() -> None:
    late = Delivery(
        D, "live_birth", 70, discharge_on=D + days(3), mother_visits=(D + days(3 + 21),), babies=(Baby("1"),)
    )
    too_late = Delivery(D, "live_birth", 70, mother_visits=(D + days(29),), babies=(Baby("1"),))
    assert postpartum_visit([late, too_late]).numerator == 1
    assert postpartum_visit([late, too_late], within_days=7).numerator == 0


def test_a_high_risk_newborn_is_on_time_only_within_3_days_of_discharge() -> None:
    d = Delivery(
        D,
        "live_birth",
        70,
        discharge_on=D + days(2),
        babies=(Baby("1", high_risk=True, visits=(D + days(2 + 4),)), Baby("2", visits=(D + days(2 + 4),))),
    )
    assert newborn_visit([d]).numerator == 2
    assert newborn_visit_on_time([d]).numerator == 1


def test_high_risk_management_needs_a_visit_after_grading_and_nothing_overdue() -> None:
    cases = [HighRiskCase(D, (D + days(5),)), HighRiskCase(D, (D,)), HighRiskCase(D, (D + days(5),), 1)]
    assert (high_risk_management(cases).numerator, high_risk_management(cases).denominator) == (1, 3)


def test_coverage_leaves_items_still_in_their_window_out_of_the_rate() -> None:
    c = Coverage(on_time=6, late=1, overdue=1, missed=1, cancelled=2, pending=3)
    assert c.due == 14 and (c.rate.numerator, c.rate.denominator) == (7, 9)


# ---------------------------------------------------------------------------------------------------------

dates = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31))


@st.composite
def items(draw: st.DrawFn) -> Item:
    start = draw(dates)
    due = start + days(draw(st.integers(0, 14)))
    end = due + days(draw(st.integers(0, 14)))
    done = draw(st.none() | st.builds(lambda n: start + days(n), st.integers(-10, 60)))
    cancelled = None if done else draw(st.none() | st.builds(lambda n: start + days(n), st.integers(0, 30)))
    missed = draw(st.none() | st.builds(lambda n: end + days(n), st.integers(1, 40)))
    return Item("village", 1, start, due, end, done_on=done, cancelled_on=cancelled, missed_on=missed)


@given(items(), dates)
def test_the_coverage_category_is_the_schedule_state_on_the_report_day(item: Item, day: date) -> None:
    state = state_of(item, day)
    category = coverage_category(day, item.window_end, item.done_on, item.cancelled_on, item.missed_on)
    expected = {
        State.DONE_ON_TIME: "on_time",
        State.DONE_LATE: "late",
        State.CANCELLED: "cancelled",
        State.MISSED: "missed",
        State.OVERDUE: "overdue",
        State.DUE: "pending",
        State.UPCOMING: "pending",
    }
    assert category == expected[state]


babies = st.builds(
    Baby,
    st.sampled_from("1290"),
    st.booleans(),
    st.booleans(),
    st.lists(st.builds(lambda n: D + days(n), st.integers(-5, 60)), max_size=3).map(tuple),
)
deliveries = st.builds(
    Delivery,
    st.just(D),
    st.sampled_from(["live_birth", "stillbirth", "spontaneous_abortion"]),
    st.none() | st.integers(0, 280),
    st.frozensets(st.integers(1, 5)),
    st.none() | st.builds(lambda n: D + days(n), st.integers(0, 10)),
    st.lists(st.builds(lambda n: D + days(n), st.integers(-5, 60)), max_size=3).map(tuple),
    st.lists(babies, min_size=0, max_size=3).map(tuple),
)


@given(st.lists(deliveries, max_size=12))
def test_no_rate_counts_more_than_its_live_births(ds: list[Delivery]) -> None:
    n = live_births(ds)
    for rate in (
        early_booking(ds),
        antenatal_management(ds),
        postpartum_visit(ds),
        postpartum_visit(ds, 7),
        newborn_visit(ds),
        newborn_visit_on_time(ds),
    ):
        assert rate.denominator == n and 0 <= rate.numerator <= n
    assert newborn_visit_on_time(ds).numerator <= newborn_visit(ds).numerator  # discharge ≤ 10 days here
    assert postpartum_visit(ds, 7).numerator <= postpartum_visit(ds).numerator


@given(st.lists(deliveries, max_size=8), st.lists(deliveries, max_size=8))
def test_rates_of_two_villages_add_up_to_the_rate_of_both(a: list[Delivery], b: list[Delivery]) -> None:
    for f in (early_booking, antenatal_management, newborn_visit):
        both = f(a + b)
        assert both.numerator == f(a).numerator + f(b).numerator
        assert both.denominator == f(a).denominator + f(b).denominator


# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["village", "township", "cadre"])
def test_the_sex_ratio_is_refused_below_county_level(level: str) -> None:
    with pytest.raises(SexRatioRefused):
        sex_ratio_at_birth(600, 500, 0, level=level)


def test_the_sex_ratio_is_withheld_under_1000_births_of_known_sex() -> None:
    assert not sex_ratio_at_birth(512, 487, 40, level="county").computable
    assert sex_ratio_at_birth(512, 488, 0, level="county").computable


def test_the_sex_ratio_interval_matches_the_binomial_table_for_1000_births() -> None:
    srb = sex_ratio_at_birth(512, 488, 3, level="county")  # 104.9
    assert srb.ratio is not None and srb.low is not None and srb.high is not None
    assert round(srb.ratio, 1) == 104.9
    assert 92 <= srb.low <= 94 and 118 <= srb.high <= 120  # research table: about 93–119


@given(st.integers(500, 60000), st.integers(500, 60000))
def test_the_sex_ratio_interval_holds_the_estimate(boys: int, girls: int) -> None:
    srb = sex_ratio_at_birth(boys, girls, 0, level="county")
    assert srb.ratio is not None and srb.low is not None and srb.high is not None
    assert srb.low < srb.ratio < srb.high


# ---------------------------------------------------------------------------------------------------------


@given(dates)
def test_a_period_name_reads_back_to_the_same_period(day: date) -> None:
    for p in (
        parse_period(f"{day.year}-{day.month:02d}", day),
        parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}", day),
        parse_period(str(day.year), day),
        mch_year_of(day),
    ):
        assert parse_period(p.key, day) == p
        assert p.contains(day)


def test_the_maternal_health_year_runs_from_1_october_to_30_september() -> None:
    p = parse_period("mch2026", date(2026, 1, 1))
    assert (p.start, p.end) == (date(2025, 10, 1), date(2026, 9, 30))
    assert mch_year_of(date(2026, 10, 1)).key == "mch2027"


@pytest.mark.parametrize(
    "name", ["2026-13", "<script>", "0001-01", "0001-Q1", "0001", "9999", "mch0001", "2028"]
)
def test_an_unreadable_or_out_of_range_period_means_this_month(name: str) -> None:
    assert parse_period(name, date(2026, 11, 23)).key == "2026-11"
    assert parse_period(name, date(2026, 11, 23), default=month_of(date(2026, 10, 1))).key == "2026-10"


@given(st.dates(min_value=date(2001, 1, 1), max_value=date(2099, 12, 31)))
def test_the_report_being_filed_is_last_months_until_the_tenth(today: date) -> None:
    month = report_month(today)
    last = month_of(today.replace(day=1) - timedelta(days=1))
    assert month == (last if today.day <= 10 else month_of(today))
    assert parse_period(month.key, today) == month  # in range: it can be asked for by name


def test_twelve_months_end_with_the_chosen_month_and_touch() -> None:
    months = last_months(parse_period("2026-02", D))
    assert months[0].key == "2025-03" and months[-1].key == "2026-02"
    assert all(a.end + days(1) == b.start for a, b in itertools.pairwise(months))
