"""Lenient parsing of dates, numbers and phone numbers typed on Chinese phones."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.lib.parsing import (
    ParseError,
    is_valid_mobile,
    normalise_phone,
    parse_date,
    parse_decimal,
    parse_int,
    to_halfwidth,
)

FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
dates = st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31))


def full_width(text: str) -> str:
    return text.translate(FULL_WIDTH_DIGITS)


def test_it_turns_full_width_characters_into_ascii() -> None:
    assert to_halfwidth("１２３．４－５：６ＡＢｃ（）\u3000") == "123.4-5:6ABc() "


def test_it_leaves_chinese_characters_alone() -> None:
    assert to_halfwidth("2026年11月23日 张三") == "2026年11月23日 张三"


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23",
        "2026/11/23",
        "2026.11.23",
        "2026年11月23日",
        "2026年11月23号",
        "20261123",
        "２０２６年１１月２３日",
        "２０２６－１１－２３",
        "2026 年 11 月 23 日",
        "  2026-11-23  ",
        "\u30002026．11．23\u3000",
    ],
)
def test_it_reads_a_date_in_every_common_form(text: str) -> None:
    assert parse_date(text) == date(2026, 11, 23)


def test_it_reads_a_date_without_leading_zeros() -> None:
    assert parse_date("2026年1月3日") == date(2026, 1, 3)
    assert parse_date("2026-1-3") == date(2026, 1, 3)


@pytest.mark.parametrize("empty", [None, "", "   ", "\u3000"])
def test_it_reads_an_empty_date_as_none(empty: str | None) -> None:
    assert parse_date(empty) is None


@pytest.mark.parametrize(
    "garbage", ["yesterday", "2026-11", "26-11-23", "2026-11/23", "2026年11月", "2026-11-23x"]
)
def test_it_rejects_an_unreadable_date(garbage: str) -> None:
    with pytest.raises(ValueError, match="Could not read"):
        parse_date(garbage)


@pytest.mark.parametrize(
    "impossible", ["2026-02-30", "2026-13-01", "2025-02-29", "2026年4月31日", "2026-00-10"]
)
def test_it_rejects_an_impossible_date(impossible: str) -> None:
    with pytest.raises(ParseError, match="no such date") as caught:
        parse_date(impossible)
    assert "日期不存在" in caught.value.text.zh


def test_it_accepts_29_february_of_a_leap_year() -> None:
    assert parse_date("2028-02-29") == date(2028, 2, 29)


@given(dates)
def test_a_date_round_trips_in_the_dashed_form(d: date) -> None:
    assert parse_date(d.isoformat()) == d
    assert parse_date(full_width(d.isoformat())) == d


@given(dates)
def test_a_date_round_trips_in_the_chinese_form(d: date) -> None:
    text = f"{d.year}年{d.month}月{d.day}日"
    assert parse_date(text) == d
    assert parse_date(full_width(text)) == d


@given(dates, st.sampled_from(["/", "."]))
def test_a_date_round_trips_with_slashes_and_dots(d: date, separator: str) -> None:
    assert parse_date(d.isoformat().replace("-", separator)) == d


def test_it_reads_whole_numbers() -> None:
    assert parse_int("120") == 120
    assert parse_int(" １２０ ") == 120
    assert parse_int("-3") == -3
    assert parse_int("") is None
    assert parse_int(None) is None


@pytest.mark.parametrize("garbage", ["12.5", "abc", "1 2", "12kg", "--1"])
def test_it_rejects_a_garbled_whole_number(garbage: str) -> None:
    with pytest.raises(ValueError, match="whole number"):
        parse_int(garbage)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("36.5", 36.5),
        ("３６．５", 36.5),
        ("36。5", 36.5),
        ("65", 65.0),
        (".5", 0.5),
        ("3200.", 3200.0),
        ("-1.5", -1.5),
    ],
)
def test_it_reads_decimals_with_any_kind_of_point(text: str, value: float) -> None:
    assert parse_decimal(text) == value


@pytest.mark.parametrize("garbage", ["abc", "36.5.1", "nan", "inf", "1e3", ".", "36,5"])
def test_it_rejects_a_garbled_decimal(garbage: str) -> None:
    with pytest.raises(ValueError, match="number"):
        parse_decimal(garbage)


def test_it_reads_an_empty_decimal_as_none() -> None:
    assert parse_decimal("  ") is None
    assert parse_decimal(None) is None


@pytest.mark.parametrize(
    "text",
    [
        "13812341234",
        "+86 138 1234 1234",
        "+8613812341234",
        "008613812341234",
        "8613812341234",
        "138-1234-1234",
        "(+86) 138 1234 1234",
        "１３８１２３４１２３４",
    ],
)
def test_it_normalises_a_mobile_number_to_11_digits(text: str) -> None:
    assert normalise_phone(text) == "13812341234"
    assert is_valid_mobile(text)


@pytest.mark.parametrize(
    "text",
    ["", None, "12812341234", "1381234123", "138123412345", "138abcd1234", "138１2341234x", "02112345678"],
)
def test_it_rejects_what_is_not_a_mobile_number(text: str | None) -> None:
    assert not is_valid_mobile(text)


def test_it_does_not_read_other_scripts_digits_as_a_mobile_number() -> None:
    assert not is_valid_mobile("١٣٨١٢٣٤١٢٣٤")  # Arabic-Indic digits match \\d without re.ASCII


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_every_mobile_number_is_valid_with_or_without_country_code(phone: str) -> None:
    assert is_valid_mobile(phone)
    assert normalise_phone(f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}") == phone
