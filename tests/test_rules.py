"""Validation rules of DOMAIN.md §3: every rule accepts the edge of its range and refuses just past it."""

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.cases.rules import (
    FETAL_HEART_BPM,
    FIELD_BOUNDS,
    OUTCOME_TYPES,
    check_bp,
    check_each_alone,
    check_not_future,
    check_outcome,
    check_postnatal_visit,
    check_pregnancy,
    check_prenatal_visit,
    check_range,
    check_required,
    check_woman,
    fetal_heart_flag,
)
from backend.lib.i18n import FieldError
from backend.lib.idcard import synthetic_id

TODAY = date(2026, 5, 20)
REGISTERED = date(2026, 1, 10)
LMP = date(2025, 12, 1)
OUTCOME = date(2026, 4, 1)
DAY = timedelta(days=1)


def fields(errors: list[FieldError]) -> list[str]:
    return [error.field for error in errors]


def only_error(errors: list[FieldError], field: str) -> FieldError:
    assert fields(errors) == [field], errors
    return errors[0]


def assert_bilingual(error: FieldError) -> None:
    assert error.text.zh and error.text.en
    assert error.text.zh != error.text.en
    assert "{" not in error.text.zh + error.text.en, error  # no template left unfilled


def make_woman_id() -> str:
    return synthetic_id("110105", date(1995, 3, 14), 2)


def make_woman(**overrides: Any) -> list[FieldError]:
    values: dict[str, Any] = {
        "name": "王芳",
        "id_number": make_woman_id(),
        "birth_date": date(1995, 3, 14),
        "phone": "13812341234",
        "village_code": "110105001001",
        "today": TODAY,
    } | overrides
    return check_woman(**values)


def make_pregnancy(**overrides: Any) -> list[FieldError]:
    values: dict[str, Any] = {
        "lmp": LMP,
        "edd": LMP + 280 * DAY,
        "registered_on": REGISTERED,
        "gravidity": 2,
        "parity": 1,
        "today": TODAY,
    } | overrides
    return check_pregnancy(**values)


def make_prenatal_visit(**overrides: Any) -> list[FieldError]:
    values: dict[str, Any] = {
        "visited_on": date(2026, 3, 1),
        "registered_on": REGISTERED,
        "outcome_on": None,
        "lmp_or_none": LMP,
        "today": TODAY,
        "bp_systolic": 118,
        "bp_diastolic": 76,
        "weight_kg": 62.5,
        "fundal_height_cm": 24,
        "fetal_heart_bpm": 140,
    } | overrides
    return check_prenatal_visit(**values)


def make_baby(**overrides: Any) -> dict[str, Any]:
    return {"sex": "2", "weight_g": 3200, "alive": True} | overrides


def make_outcome(**overrides: Any) -> list[FieldError]:
    values: dict[str, Any] = {
        "outcome_on": date(2026, 5, 1),
        "lmp_or_none": LMP - 120 * DAY,
        "registered_on": REGISTERED,
        "outcome_type": "live_birth",
        "discharge_on": date(2026, 5, 4),
        "babies": [make_baby()],
        "today": TODAY,
    } | overrides
    return check_outcome(**values)


def make_postnatal_visit(**overrides: Any) -> list[FieldError]:
    values: dict[str, Any] = {
        "visited_on": OUTCOME + 7 * DAY,
        "outcome_on": OUTCOME,
        "today": TODAY,
        "mother_temperature_c": 36.8,
        "mother_bp_systolic": 120,
        "mother_bp_diastolic": 80,
        "infant_weight_g": 3600,
        "infant_temperature_c": 36.6,
    } | overrides
    return check_postnatal_visit(**values)


# The factories' defaults are valid, so every refusal below comes from the one overridden value.
@pytest.mark.parametrize(
    "make", [make_woman, make_pregnancy, make_prenatal_visit, make_outcome, make_postnatal_visit]
)
def test_the_default_records_pass(make: Callable[[], list[FieldError]]) -> None:
    assert make() == []


# Small helpers


def test_it_refuses_a_date_in_the_future() -> None:
    error = only_error(check_not_future("visited_on", TODAY + DAY, TODAY), "visited_on")
    assert error.text.zh == "访视日期不能晚于今天"
    assert error.text.en == "Visit date cannot be in the future"


def test_it_accepts_today_and_a_missing_date() -> None:
    assert check_not_future("visited_on", TODAY, TODAY) == []
    assert check_not_future("visited_on", None, TODAY) == []


def test_it_refuses_a_blank_required_value() -> None:
    assert fields(check_required("name", "  ")) == ["name"]
    assert fields(check_required("name", None)) == ["name"]
    assert check_required("parity", 0) == []


def test_a_range_message_names_the_field_the_range_and_the_unit() -> None:
    error = only_error(check_bp("bp_systolic", "bp_diastolic", 261, 80), "bp_systolic")
    assert error.text.zh == "收缩压应在 60–260 mmHg 之间"
    assert error.text.en == "Systolic BP must be between 60 and 260 mmHg"


def test_a_range_refuses_not_a_number() -> None:
    assert fields(check_range("fetal_heart_bpm", float("nan"), FETAL_HEART_BPM)) == ["fetal_heart_bpm"]


# Woman


def test_it_derives_the_birth_date_from_the_id_number() -> None:
    assert make_woman(birth_date=None) == []


def test_it_accepts_a_woman_without_id_number() -> None:
    assert make_woman(id_number=None) == []
    assert make_woman(id_number="  ") == []


def test_it_accepts_an_id_number_typed_loosely() -> None:
    id_number = make_woman_id()
    assert make_woman(id_number=f" {id_number[:6]} {id_number[6:14]} {id_number[14:].lower()}") == []


def test_it_rejects_a_changed_check_digit() -> None:
    id_number = make_woman_id()
    wrong = id_number[:17] + ("0" if id_number[17] != "0" else "1")
    error = only_error(make_woman(id_number=wrong), "id_number")
    assert "校验位" in error.text.zh
    assert "check digit" in error.text.en


def test_it_rejects_an_id_number_of_the_wrong_shape() -> None:
    error = only_error(make_woman(id_number="1101051995"), "id_number")
    assert "18" in error.text.zh and "18" in error.text.en


def test_it_rejects_a_birth_date_that_differs_from_the_id_number() -> None:
    error = only_error(make_woman(birth_date=date(1995, 3, 15)), "birth_date")
    assert error.text.en == "Birth date does not match the ID number"


def test_it_requires_a_birth_date_without_id_number() -> None:
    only_error(make_woman(id_number=None, birth_date=None), "birth_date")


def test_it_requires_a_name_of_at_most_40_characters() -> None:
    only_error(make_woman(name=""), "name")
    assert make_woman(name="张" * 40) == []
    only_error(make_woman(name="张" * 41), "name")


@pytest.mark.parametrize(
    ("born", "ok"),
    [
        (date(2016, 5, 20), True),  # 10th birthday today
        (date(2016, 5, 21), False),  # 10th birthday tomorrow
        (date(1965, 5, 21), True),  # 61st birthday tomorrow: still 60
        (date(1965, 5, 20), False),  # 61 today
        (TODAY + DAY, False),  # not born yet
    ],
)
def test_the_mother_is_aged_10_to_60(born: date, ok: bool) -> None:
    errors = make_woman(id_number=None, birth_date=born)
    assert fields(errors) == ([] if ok else ["birth_date"])


def test_an_age_read_from_the_id_number_is_reported_on_the_id_number() -> None:
    old = synthetic_id("110105", date(1940, 1, 1), 2)
    error = only_error(make_woman(id_number=old, birth_date=None), "id_number")
    assert "86" in error.text.zh and "86" in error.text.en


@pytest.mark.parametrize("phone", [None, "", "13812341234", "+86 139 0000 1111"])
def test_it_accepts_a_mobile_number_or_none(phone: str | None) -> None:
    assert make_woman(phone=phone) == []


@pytest.mark.parametrize("phone", ["12812341234", "1381234123", "021-12345678"])
def test_it_rejects_a_phone_that_is_not_a_mobile(phone: str) -> None:
    only_error(make_woman(phone=phone), "phone")


@pytest.mark.parametrize("code", ["", None, "11010500100", "1101050010011", "11010500100x", "１10105001001"])
def test_it_requires_a_12_digit_village_code(code: str | None) -> None:
    only_error(make_woman(village_code=code), "village_code")


# Pregnancy


def test_it_requires_an_edd_when_the_lmp_is_unknown() -> None:
    error = only_error(make_pregnancy(lmp=None, edd=None), "edd")
    assert "EDD is required" in error.text.en


def test_it_accepts_an_edd_from_ultrasound_without_lmp() -> None:
    assert make_pregnancy(lmp=None) == []


def test_it_checks_the_ga_at_registration_from_the_edd_when_the_lmp_is_unknown() -> None:
    only_error(make_pregnancy(lmp=None, edd=REGISTERED - 36 * DAY), "edd")
    assert make_pregnancy(lmp=None, edd=REGISTERED - 35 * DAY) == []
    assert make_pregnancy(lmp=None, edd=REGISTERED + 280 * DAY) == []
    only_error(make_pregnancy(lmp=None, edd=REGISTERED + 281 * DAY), "edd")


def test_it_refuses_an_lmp_after_registration() -> None:
    assert make_pregnancy(lmp=REGISTERED, edd=None) == []
    error = only_error(make_pregnancy(lmp=REGISTERED + DAY, edd=None), "lmp")
    assert error.text.en == "LMP date cannot be after the registration date"


def test_it_refuses_a_registration_in_the_future() -> None:
    assert make_pregnancy(registered_on=TODAY) == []
    only_error(make_pregnancy(registered_on=TODAY + DAY), "registered_on")


def test_the_ga_at_registration_is_at_most_45_weeks() -> None:
    assert make_pregnancy(lmp=REGISTERED - 315 * DAY, edd=None) == []
    error = only_error(make_pregnancy(lmp=REGISTERED - 316 * DAY, edd=None), "lmp")
    assert "45+1" in error.text.zh and "45+1" in error.text.en


@pytest.mark.parametrize(("days", "ok"), [(249, False), (250, True), (280, True), (300, True), (301, False)])
def test_the_edd_is_250_to_300_days_after_the_lmp(days: int, ok: bool) -> None:
    errors = make_pregnancy(edd=LMP + days * DAY)
    assert fields(errors) == ([] if ok else ["edd"])


@pytest.mark.parametrize(
    ("gravidity", "parity", "field"),
    [
        (0, 0, "gravidity"),
        (21, 0, "gravidity"),
        (None, 0, "gravidity"),
        (3, -1, "parity"),
        (3, None, "parity"),
    ],
)
def test_gravidity_and_parity_stay_in_range(gravidity: int | None, parity: int | None, field: str) -> None:
    only_error(make_pregnancy(gravidity=gravidity, parity=parity), field)


@given(st.integers(min_value=1, max_value=20), st.data())
def test_parity_up_to_gravidity_minus_one_passes(gravidity: int, data: st.DataObject) -> None:
    parity = data.draw(st.integers(min_value=0, max_value=gravidity - 1))
    assert make_pregnancy(gravidity=gravidity, parity=parity) == []


@given(st.integers(min_value=1, max_value=20))
def test_parity_equal_to_gravidity_is_refused(gravidity: int) -> None:
    error = only_error(make_pregnancy(gravidity=gravidity, parity=gravidity), "parity")
    assert str(gravidity - 1) in error.text.en


# Prenatal visit


def test_a_prenatal_visit_date_lies_between_registration_and_outcome() -> None:
    assert make_prenatal_visit(visited_on=REGISTERED) == []
    only_error(make_prenatal_visit(visited_on=REGISTERED - DAY), "visited_on")
    assert make_prenatal_visit(visited_on=OUTCOME, outcome_on=OUTCOME) == []
    only_error(make_prenatal_visit(visited_on=OUTCOME + DAY, outcome_on=OUTCOME), "visited_on")
    only_error(make_prenatal_visit(visited_on=TODAY + DAY), "visited_on")
    only_error(make_prenatal_visit(visited_on=None), "visited_on")


def test_a_prenatal_visit_is_at_most_45_weeks_after_the_lmp() -> None:
    lmp = REGISTERED - 200 * DAY
    assert make_prenatal_visit(lmp_or_none=lmp, visited_on=lmp + 315 * DAY) == []
    only_error(make_prenatal_visit(lmp_or_none=lmp, visited_on=lmp + 316 * DAY), "visited_on")
    assert make_prenatal_visit(lmp_or_none=None, visited_on=lmp + 316 * DAY) == []


MEASURES = [
    # field, lowest accepted, highest accepted, a step just past
    ("weight_kg", 30, 200, 0.1),
    ("fundal_height_cm", 5, 50, 0.1),
    ("fetal_heart_bpm", 60, 220, 1),
]


@pytest.mark.parametrize(("field", "lo", "hi", "step"), MEASURES)
def test_a_prenatal_measurement_accepts_its_bounds_and_refuses_just_past(
    field: str, lo: float, hi: float, step: float
) -> None:
    assert make_prenatal_visit(**{field: lo}) == []
    assert make_prenatal_visit(**{field: hi}) == []
    assert_bilingual(only_error(make_prenatal_visit(**{field: lo - step}), field))
    assert_bilingual(only_error(make_prenatal_visit(**{field: hi + step}), field))


def test_prenatal_measurements_may_be_left_out() -> None:
    assert (
        make_prenatal_visit(
            bp_systolic=None, bp_diastolic=None, weight_kg=None, fundal_height_cm=None, fetal_heart_bpm=None
        )
        == []
    )


@pytest.mark.parametrize(
    ("systolic", "diastolic", "field"),
    [
        (59, 40, "bp_systolic"),
        (261, 100, "bp_systolic"),
        (120, 29, "bp_diastolic"),
        (200, 161, "bp_diastolic"),
    ],
)
def test_blood_pressure_refuses_just_past_its_bounds(systolic: int, diastolic: int, field: str) -> None:
    only_error(make_prenatal_visit(bp_systolic=systolic, bp_diastolic=diastolic), field)


def test_blood_pressure_accepts_its_extreme_bounds() -> None:
    assert make_prenatal_visit(bp_systolic=60, bp_diastolic=30) == []
    assert make_prenatal_visit(bp_systolic=260, bp_diastolic=160) == []


def test_systolic_must_be_above_diastolic() -> None:
    assert make_prenatal_visit(bp_systolic=91, bp_diastolic=90) == []
    error = only_error(make_prenatal_visit(bp_systolic=90, bp_diastolic=90), "bp_diastolic")
    assert error.text.en == "Diastolic BP must be lower than systolic BP"


def test_a_lone_half_of_the_blood_pressure_is_reported_on_the_missing_half() -> None:
    only_error(make_prenatal_visit(bp_diastolic=None), "bp_diastolic")
    only_error(make_prenatal_visit(bp_systolic=None), "bp_systolic")


@given(
    st.floats(min_value=60, max_value=260),
    st.floats(min_value=30, max_value=160),
    st.floats(min_value=30, max_value=200),
    st.floats(min_value=5, max_value=50),
    st.floats(min_value=60, max_value=220),
)
def test_every_measurement_inside_the_ranges_passes(
    systolic: float, diastolic: float, weight: float, fundal: float, heart: float
) -> None:
    errors = make_prenatal_visit(
        bp_systolic=systolic,
        bp_diastolic=diastolic,
        weight_kg=weight,
        fundal_height_cm=fundal,
        fetal_heart_bpm=heart,
    )
    assert fields(errors) == ([] if systolic > diastolic else ["bp_diastolic"])


@given(st.one_of(st.floats(max_value=59.99), st.floats(min_value=220.01)).filter(lambda v: v == v))
def test_every_fetal_heart_rate_outside_the_range_is_refused(heart: float) -> None:
    only_error(make_prenatal_visit(fetal_heart_bpm=heart), "fetal_heart_bpm")


@pytest.mark.parametrize(
    ("bpm", "flagged"), [(None, False), (109, True), (110, False), (160, False), (161, True), (80, True)]
)
def test_a_fetal_heart_rate_outside_110_to_160_is_flagged(bpm: float | None, flagged: bool) -> None:
    assert fetal_heart_flag(bpm) is flagged


def test_a_flagged_fetal_heart_rate_is_not_an_error() -> None:
    assert make_prenatal_visit(fetal_heart_bpm=100) == []


# Outcome


def test_an_outcome_may_come_before_its_late_registration() -> None:
    assert make_outcome(registered_on=date(2026, 5, 10)) == []


@pytest.mark.parametrize(("days", "ok"), [(-1, False), (0, True), (315, True), (316, False)])
def test_the_outcome_is_0_to_315_days_after_the_lmp(days: int, ok: bool) -> None:
    outcome_on = date(2026, 5, 1)
    errors = make_outcome(lmp_or_none=outcome_on - days * DAY, outcome_type="spontaneous_abortion", babies=[])
    assert fields(errors) == ([] if ok else ["outcome_on"])


def test_an_outcome_is_not_in_the_future() -> None:
    only_error(make_outcome(outcome_on=TODAY + DAY, discharge_on=None), "outcome_on")


@pytest.mark.parametrize(("days", "ok"), [(-1, False), (0, True), (19, True), (20, False)])
def test_discharge_follows_the_outcome_and_is_not_in_the_future(days: int, ok: bool) -> None:
    errors = make_outcome(discharge_on=date(2026, 5, 1) + days * DAY)  # TODAY is 19 days after
    assert fields(errors) == ([] if ok else ["discharge_on"])


def test_discharge_is_within_60_days_of_the_outcome() -> None:
    outcome_on = date(2026, 3, 1)
    lmp = outcome_on - 270 * DAY
    assert make_outcome(outcome_on=outcome_on, lmp_or_none=lmp, discharge_on=outcome_on + 60 * DAY) == []
    only_error(
        make_outcome(outcome_on=outcome_on, lmp_or_none=lmp, discharge_on=outcome_on + 61 * DAY),
        "discharge_on",
    )


@pytest.mark.parametrize("outcome_type", OUTCOME_TYPES)
def test_every_outcome_type_is_accepted(outcome_type: str) -> None:
    born = outcome_type in ("live_birth", "stillbirth")
    baby = make_baby(alive=outcome_type == "live_birth")
    assert make_outcome(outcome_type=outcome_type, babies=[baby] if born else []) == []


@pytest.mark.parametrize("outcome_type", [None, "", "miscarriage"])
def test_an_unknown_outcome_type_is_refused(outcome_type: str | None) -> None:
    only_error(make_outcome(outcome_type=outcome_type), "outcome_type")


@pytest.mark.parametrize("outcome_type", ["live_birth", "stillbirth"])
def test_a_birth_needs_a_baby(outcome_type: str) -> None:
    only_error(make_outcome(outcome_type=outcome_type, babies=[]), "babies")


@pytest.mark.parametrize("outcome_type", ["induced_abortion", "termination", "spontaneous_abortion"])
def test_no_baby_and_no_sex_is_recorded_for_a_pregnancy_that_did_not_end_in_birth(outcome_type: str) -> None:
    only_error(make_outcome(outcome_type=outcome_type, babies=[make_baby(alive=False)]), "babies")


def test_a_live_birth_needs_a_baby_born_alive() -> None:
    only_error(make_outcome(babies=[make_baby(alive=False), make_baby(alive=False)]), "babies")
    assert make_outcome(babies=[make_baby(alive=False), make_baby(alive=True)]) == []


def test_a_stillbirth_has_no_baby_alive() -> None:
    babies = [make_baby(alive=False), make_baby(alive="on")]
    error = only_error(make_outcome(outcome_type="stillbirth", babies=babies), "babies-1-alive")
    assert_bilingual(error)


@pytest.mark.parametrize("sex", ["1", "2", "0", "9", 1, 2])
def test_a_baby_sex_follows_gb_t_2261(sex: object) -> None:
    assert make_outcome(babies=[make_baby(sex=sex)]) == []


@pytest.mark.parametrize("sex", [None, "", "3", "男", "M"])
def test_an_unknown_sex_code_is_refused_on_its_baby(sex: object) -> None:
    babies = [make_baby(), make_baby(sex=sex)]
    error = only_error(make_outcome(babies=babies), "babies-1-sex")
    assert error.text.en == "Choose the sex of baby 2"


@pytest.mark.parametrize(
    ("weight", "ok"), [(299, False), (300, True), (8000, True), (8001, False), (None, True)]
)
def test_a_birth_weight_is_300_to_8000_g(weight: float | None, ok: bool) -> None:
    errors = make_outcome(babies=[make_baby(weight_g=weight)])
    assert fields(errors) == ([] if ok else ["babies-0-weight_g"])


def test_a_birth_weight_may_arrive_as_typed_text() -> None:
    assert make_outcome(babies=[make_baby(weight_g="３２００")]) == []
    assert make_outcome(babies=[make_baby(weight_g="")]) == []
    error = only_error(make_outcome(babies=[make_baby(weight_g="heavy")]), "babies-0-weight_g")
    assert error.text.en == "Birth weight of baby 1 must be a number"
    only_error(make_outcome(babies=[make_baby(weight_g=True)]), "babies-0-weight_g")


@pytest.mark.parametrize("alive", [True, 1, "1", "on", "true", "yes"])
def test_a_checked_alive_box_counts_as_alive(alive: object) -> None:
    babies: list[Mapping[str, object]] = [make_baby(alive=alive)]
    assert make_outcome(babies=babies) == []


@pytest.mark.parametrize("alive", [False, 0, "0", "", "off", None])
def test_an_unchecked_alive_box_counts_as_not_alive(alive: object) -> None:
    only_error(make_outcome(babies=[make_baby(alive=alive)]), "babies")


# Postnatal visit


def test_a_postnatal_visit_is_on_or_after_the_outcome_and_not_in_the_future() -> None:
    assert make_postnatal_visit(visited_on=OUTCOME) == []
    only_error(make_postnatal_visit(visited_on=OUTCOME - DAY), "visited_on")
    assert make_postnatal_visit(visited_on=TODAY) == []
    only_error(make_postnatal_visit(visited_on=TODAY + DAY), "visited_on")


@pytest.mark.parametrize(
    ("field", "lo", "hi", "step"),
    [
        ("mother_temperature_c", 34, 42, 0.1),
        ("infant_temperature_c", 34, 42, 0.1),
        ("infant_weight_g", 300, 15000, 1),
    ],
)
def test_a_postnatal_measurement_accepts_its_bounds_and_refuses_just_past(
    field: str, lo: float, hi: float, step: float
) -> None:
    assert make_postnatal_visit(**{field: lo}) == []
    assert make_postnatal_visit(**{field: hi}) == []
    assert_bilingual(only_error(make_postnatal_visit(**{field: lo - step}), field))
    assert_bilingual(only_error(make_postnatal_visit(**{field: hi + step}), field))


def test_a_six_month_baby_may_weigh_more_than_any_newborn() -> None:
    assert make_postnatal_visit(infant_weight_g=9000) == []
    assert make_outcome(babies=[make_baby(weight_g=9000)]) != []


def test_the_mothers_blood_pressure_uses_her_own_fields() -> None:
    only_error(make_postnatal_visit(mother_bp_systolic=80, mother_bp_diastolic=85), "mother_bp_diastolic")
    only_error(make_postnatal_visit(mother_bp_systolic=None), "mother_bp_systolic")
    error = only_error(make_postnatal_visit(mother_temperature_c=42.5), "mother_temperature_c")
    assert error.text.zh == "产妇体温应在 34–42 °C 之间"
    assert error.text.en == "Mother's temperature must be between 34 and 42 °C"


@given(
    st.floats(min_value=34, max_value=42),
    st.floats(min_value=34, max_value=42),
    st.floats(min_value=300, max_value=15000),
)
def test_every_postnatal_value_inside_the_ranges_passes(
    mother_c: float, infant_c: float, weight: float
) -> None:
    assert (
        make_postnatal_visit(
            mother_temperature_c=mother_c, infant_temperature_c=infant_c, infant_weight_g=weight
        )
        == []
    )


# Messages


def test_every_error_is_bilingual_and_fully_filled_in() -> None:
    errors = (
        make_woman(name="", id_number="11010519491231002Y", phone="1", village_code="1")
        + make_woman(id_number=None, birth_date=None)
        + make_pregnancy(lmp=None, edd=None, registered_on=TODAY + DAY, gravidity=0, parity=None)
        + make_pregnancy(lmp=LMP, edd=LMP, gravidity=2, parity=2)
        + make_prenatal_visit(visited_on=TODAY + DAY, bp_systolic=None, weight_kg=1)
        + make_outcome(outcome_on=None, outcome_type="x")
        + make_outcome(outcome_type="stillbirth", babies=[make_baby(sex="3", weight_g="x")])
        + make_postnatal_visit(visited_on=OUTCOME - DAY, infant_weight_g=1)
    )
    assert len(errors) >= 15
    for error in errors:
        assert_bilingual(error)


def test_a_message_naming_a_date_writes_it_as_the_pages_do() -> None:
    registered = date(2026, 2, 3)
    [error] = make_prenatal_visit(visited_on=date(2026, 2, 1), registered_on=registered)
    assert error.text.zh == "访视日期不能早于登记日期（2026年2月3日）"
    assert error.text.en == "Visit date cannot be before the registration date (3 Feb 2026)"


@given(st.sampled_from(sorted(FIELD_BOUNDS)), st.floats(-1000, 20000, allow_nan=False))
def test_a_measurement_alone_is_refused_exactly_when_out_of_its_range(name: str, value: float) -> None:
    bounds = FIELD_BOUNDS[name]
    errors = check_each_alone({name: value})
    assert bool(errors) == (not bounds.lo <= value <= bounds.hi)
    assert all(e.field == name for e in errors)


def test_alone_an_id_number_and_a_phone_are_checked_but_not_against_each_other() -> None:
    errors = check_each_alone({"id_number": "11010519900307123X", "phone": "1380013800", "name": "王"})
    assert [e.field for e in errors] == ["id_number", "phone"]
    assert check_each_alone({"phone": "+86 138 1234 1234", "id_number": "", "weight_kg": None}) == []
