"""Resident ID numbers: check digit, validity, birth date, normalising and synthetic numbers."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.lib.idcard import (
    IdProblem,
    birth_date_of,
    check_digit,
    id_problem,
    is_valid_id,
    normalise_id,
    synthetic_id,
)

VALID_WITH_X = "11010519491231002X"
VALID_WITH_DIGIT = "440524188001010014"

areas = st.text(alphabet="0123456789", min_size=6, max_size=6)
birth_dates = st.dates(min_value=date(1800, 1, 1), max_value=date(9999, 12, 31))
order_codes = st.integers(min_value=0, max_value=999)
synthetic_ids = st.builds(synthetic_id, areas, birth_dates, order_codes)


def test_it_computes_the_check_digit_of_the_published_examples() -> None:
    assert check_digit(VALID_WITH_X[:17]) == "X"
    assert check_digit(VALID_WITH_DIGIT[:17]) == "4"


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_the_check_digit_follows_iso_7064_mod_11_2(first17: str) -> None:
    # ISO 7064 MOD 11-2 from its definition: weight 2^(n-1) mod 11 for the n-th character from the right,
    # the check character being the one that makes the weighted sum of all 18 equal 1 mod 11.
    total = sum(int(digit) * pow(2, 17 - i, 11) for i, digit in enumerate(first17))
    value = (12 - total % 11) % 11
    assert check_digit(first17) == ("X" if value == 10 else str(value))


def test_it_refuses_to_compute_a_check_digit_of_a_wrong_length() -> None:
    with pytest.raises(ValueError, match="17"):
        check_digit("1234")


def test_it_accepts_the_published_examples() -> None:
    assert is_valid_id(VALID_WITH_X)
    assert is_valid_id(VALID_WITH_DIGIT)


def test_it_accepts_a_lower_case_x() -> None:
    assert is_valid_id(VALID_WITH_X.lower())


def test_it_rejects_a_changed_check_digit() -> None:
    assert id_problem("110105194912310021") is IdProblem.CHECK_DIGIT


@pytest.mark.parametrize("position", range(17))
def test_it_rejects_a_changed_digit_at_each_position(position: int) -> None:
    digits = list(VALID_WITH_DIGIT)
    digits[position] = str((int(digits[position]) + 1) % 10)
    assert not is_valid_id("".join(digits))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "11010519491231002",
        "11010519491231002XX",
        "1101051949123100X2",
        "11010519491231002Y",
        "１１０１０５19491231002X",
    ],
)
def test_it_rejects_the_wrong_shape(text: str) -> None:
    assert id_problem(text) is IdProblem.SHAPE


def test_it_rejects_an_impossible_birth_date_even_with_a_right_check_digit() -> None:
    first17 = "11010519490230002"  # 30 February
    assert id_problem(first17 + check_digit(first17)) is IdProblem.BIRTH_DATE


def test_it_rejects_a_birth_year_before_1800() -> None:
    first17 = "11010517991231002"
    assert id_problem(first17 + check_digit(first17)) is IdProblem.BIRTH_DATE


def test_it_reads_the_birth_date() -> None:
    assert birth_date_of(VALID_WITH_X) == date(1949, 12, 31)
    assert birth_date_of(VALID_WITH_DIGIT) == date(1880, 1, 1)


def test_it_reads_the_birth_date_of_a_number_typed_loosely() -> None:
    assert birth_date_of(" 110105 19491231 002x ") == date(1949, 12, 31)


def test_it_refuses_the_birth_date_of_an_invalid_number() -> None:
    with pytest.raises(ValueError, match="check_digit"):
        birth_date_of("110105194912310021")


def test_it_normalises_spaces_full_width_and_a_lower_case_x() -> None:
    assert normalise_id(" １１０１０５ 19491231\u3000002ｘ ") == VALID_WITH_X


def test_it_refuses_a_synthetic_id_with_a_bad_area_or_order_code() -> None:
    with pytest.raises(ValueError, match="area6"):
        synthetic_id("11010", date(1990, 1, 1), 1)
    with pytest.raises(ValueError, match="seq"):
        synthetic_id("110105", date(1990, 1, 1), 1000)


def test_it_builds_the_published_example_synthetically() -> None:
    assert synthetic_id("110105", date(1949, 12, 31), 2) == VALID_WITH_X


@given(synthetic_ids)
def test_every_synthetic_id_is_valid(id_number: str) -> None:
    assert is_valid_id(id_number)


@given(areas, birth_dates, order_codes)
def test_the_birth_date_of_a_synthetic_id_round_trips(area: str, born: date, seq: int) -> None:
    id_number = synthetic_id(area, born, seq)
    assert birth_date_of(id_number) == born
    assert id_number[:6] == area
    assert id_number[14:17] == f"{seq:03d}"


@given(synthetic_ids, st.integers(min_value=0, max_value=17), st.integers(min_value=1, max_value=10))
def test_any_single_character_change_invalidates_a_valid_id(
    id_number: str, position: int, shift: int
) -> None:
    alphabet = "0123456789X" if position == 17 else "0123456789"
    current = alphabet.index(id_number[position])
    replacement = alphabet[(current + shift) % len(alphabet)]
    if replacement == id_number[position]:  # a shift of 10 on the digits-only alphabet comes back round
        replacement = alphabet[(current + 1) % len(alphabet)]
    changed = id_number[:position] + replacement + id_number[position + 1 :]
    assert not is_valid_id(changed)
