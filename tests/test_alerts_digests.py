"""What a digest says and when it may be sent: pure rules, no database."""

from datetime import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.alerts.digests import (
    Counts,
    cadre_digest,
    escalation_digest,
    in_quiet_hours,
    may_send_digest,
    parse_hhmm,
)

QUIET = ("21:00", "07:00")


@pytest.mark.parametrize(
    ("at", "quiet"),
    [("21:00", True), ("23:59", True), ("00:00", True), ("06:59", True), ("07:00", False), ("20:59", False)],
)
def test_quiet_hours_wrap_past_midnight(at: str, quiet: bool) -> None:
    assert in_quiet_hours(parse_hhmm(at), QUIET) is quiet


def test_quiet_hours_within_one_day_and_none_at_all() -> None:
    assert in_quiet_hours(time(12, 30), ("12:00", "14:00"))
    assert not in_quiet_hours(time(14, 0), ("12:00", "14:00"))
    assert not in_quiet_hours(time(3, 0), ("00:00", "00:00"))


def test_the_digest_waits_for_the_send_time_and_stays_out_of_quiet_hours() -> None:
    assert not may_send_digest(time(7, 59), "08:00", QUIET)
    assert may_send_digest(time(8, 0), "08:00", QUIET)
    assert may_send_digest(time(20, 59), "08:00", QUIET)
    assert not may_send_digest(time(21, 0), "08:00", QUIET)


@pytest.mark.parametrize("text", ["8", "8:0", "08-00", "", "ab:cd", "25:00"])
def test_a_malformed_time_setting_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hhmm(text)


def test_a_cadre_with_nothing_due_hears_nothing_and_one_with_due_items_hears_counts_only() -> None:
    assert cadre_digest(Counts(), "zh").notification is None
    note = cadre_digest(Counts(overdue=0, due_now=2), "zh").notification
    assert note is not None
    assert (note.body, note.badge_count) == ("今天应访 2 项。点击查看。", 0)


def test_a_supervisor_is_not_told_of_items_only_recently_overdue() -> None:
    assert escalation_digest(Counts(overdue=9, due_now=3), "zh", 7).notification is None


@given(
    st.builds(Counts, *(st.integers(min_value=0, max_value=10**12) for _ in range(4))),
    st.sampled_from(["zh", "en"]),
    st.integers(min_value=1, max_value=365),
)
def test_every_digest_fits_a_push_with_room_to_spare(counts: Counts, locale: str, days: int) -> None:
    for digest in (cadre_digest(counts, locale), escalation_digest(counts, locale, days)):
        if digest.notification is not None:
            assert len(digest.notification.to_json_bytes()) < 1000  # the aes128gcm limit is 3993 bytes
