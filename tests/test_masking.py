"""Masked ID numbers and phone numbers never show the hidden part."""

from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.lib.idcard import synthetic_id
from backend.lib.masking import mask_id, mask_phone

synthetic_ids = st.builds(
    synthetic_id,
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.dates(min_value=date(1800, 1, 1), max_value=date(9999, 12, 31)),
    st.integers(min_value=0, max_value=999),
)
mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


def test_it_masks_an_id_number() -> None:
    assert mask_id("11010519491231002X") == "110105********002X"


def test_it_masks_an_id_number_typed_loosely() -> None:
    assert mask_id(" 110105 19491231 002x") == "110105********002X"


def test_it_masks_a_phone_number() -> None:
    assert mask_phone("13812341234") == "138****1234"


def test_it_masks_a_phone_number_with_a_country_code() -> None:
    assert mask_phone("+86 138 1234 1234") == "138****1234"


@pytest.mark.parametrize("mask", [mask_id, mask_phone])
@pytest.mark.parametrize("empty", [None, "", "   "])
def test_it_gives_nothing_for_nothing(mask: Callable[[str | None], str], empty: str | None) -> None:
    assert mask(empty) == ""


@pytest.mark.parametrize("short", ["1", "1101051949", "11010519491231"])
def test_it_fully_masks_a_short_id_number(short: str) -> None:
    assert mask_id(short) == "*" * len(short)


@pytest.mark.parametrize("short", ["1", "1381234", "1381234123"])
def test_it_fully_masks_a_short_phone_number(short: str) -> None:
    assert mask_phone(short) == "*" * len(short)


@given(synthetic_ids)
def test_a_masked_id_never_contains_the_birth_date(id_number: str) -> None:
    masked = mask_id(id_number)
    assert masked[6:14] == "********"
    assert id_number[6:14] not in masked
    assert masked[:6] + masked[14:] == id_number[:6] + id_number[14:]


@given(mobiles)
def test_a_masked_phone_never_contains_the_middle_digits(phone: str) -> None:
    masked = mask_phone(phone)
    assert masked[3:7] == "****"
    assert masked[:3] + masked[7:] == phone[:3] + phone[7:]


@given(st.text(max_size=30))
def test_a_mask_never_returns_a_long_input_in_clear(text: str) -> None:
    for masked in (mask_id(text), mask_phone(text)):
        if len(masked) >= 4:
            assert "*" in masked
