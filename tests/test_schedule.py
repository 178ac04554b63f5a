"""The follow-up schedule (DOMAIN.md §4) on hand-worked examples; every date below was counted on a calendar.

The standard case: LMP 2026-01-01, so EDD 2026-10-08; registered 2026-02-20 at 7+1 weeks.
"""

import uuid
from dataclasses import replace
from datetime import date
from typing import Any

from backend.schedule import (
    CURRENT_VERSION,
    InfantFact,
    Item,
    OutcomeFact,
    PostnatalVisitFact,
    PregnancyFacts,
    PrenatalVisitFact,
    RiskFact,
    State,
    format_ga,
    gestational_age_days,
    load_rules,
    plan_items,
    state_of,
)

RULES = load_rules()
LMP = date(2026, 1, 1)
EDD = date(2026, 10, 8)
REGISTERED = date(2026, 2, 20)
BORN = date(2026, 10, 5)
DISCHARGED = date(2026, 10, 8)
BABY_A = uuid.UUID(int=0xA)
BABY_B = uuid.UUID(int=0xB)


def make_pregnancy(**overrides: Any) -> PregnancyFacts:
    facts = PregnancyFacts(registered_on=REGISTERED, edd=EDD, lmp=LMP)
    return replace(facts, **overrides)


def make_twins(**overrides: Any) -> PregnancyFacts:
    """Twins born on 2026-10-05, discharged with their mother on 2026-10-08."""
    facts = make_pregnancy(
        outcome=OutcomeFact(on=BORN, type="live_birth", discharge_on=DISCHARGED),
        infants=(InfantFact(BABY_A), InfantFact(BABY_B)),
    )
    return replace(facts, **overrides)


def home(on: date) -> PrenatalVisitFact:
    return PrenatalVisitFact(on=on, kind="home")


def window(item: Item) -> tuple[date, date, date]:
    return (item.window_start, item.due_on, item.window_end)


def only(items: list[Item], kind: str, seq: int = 1, infant_id: uuid.UUID | None = None) -> Item:
    found = [i for i in items if i.key == (kind, seq, infant_id)]
    assert len(found) == 1, f"{kind} {seq} {infant_id}: {len(found)} items"
    return found[0]


def of_kind(items: list[Item], kind: str, infant_id: uuid.UUID | None = None) -> list[Item]:
    return [i for i in items if i.kind == kind and i.infant_id == infant_id]


def states(items: list[Item], on: date) -> list[State]:
    return [state_of(i, on) for i in items]


# --- 4.1 the village chain -------------------------------------------------------------------------------


def test_first_monthly_visit_is_due_thirty_days_after_registration_with_a_week_either_side() -> None:
    items = plan_items(make_pregnancy(), RULES)

    first = only(items, "village", 1)
    assert window(first) == (date(2026, 3, 15), date(2026, 3, 22), date(2026, 3, 29))
    assert state_of(first, date(2026, 3, 14)) == State.UPCOMING
    assert state_of(first, date(2026, 3, 15)) == State.DUE
    assert state_of(first, date(2026, 3, 29)) == State.DUE
    assert state_of(first, date(2026, 3, 30)) == State.OVERDUE


def test_a_visit_in_the_window_is_done_on_time_and_the_next_is_due_thirty_days_after_it() -> None:
    items = plan_items(make_pregnancy(prenatal_visits=[home(date(2026, 3, 18))]), RULES)

    first, second = of_kind(items, "village")[:2]
    assert first.done_on == date(2026, 3, 18)
    assert state_of(first, date(2026, 3, 18)) == State.DONE_ON_TIME
    assert window(second) == (date(2026, 4, 10), date(2026, 4, 17), date(2026, 4, 24))


def test_an_early_visit_counts_as_on_time_for_the_open_item() -> None:
    items = plan_items(make_pregnancy(prenatal_visits=[home(date(2026, 3, 1))]), RULES)

    first, second = of_kind(items, "village")[:2]
    assert state_of(first, date(2026, 3, 1)) == State.DONE_ON_TIME
    assert second.due_on == date(2026, 3, 31)


def test_a_high_risk_pregnancy_is_visited_every_fourteen_days() -> None:
    facts = make_pregnancy(
        risks=[RiskFact(on=REGISTERED, high=True)],
        prenatal_visits=[home(date(2026, 3, 5))],
    )
    first, second, third = of_kind(plan_items(facts, RULES), "village")[:3]

    assert window(first) == (date(2026, 2, 27), date(2026, 3, 6), date(2026, 3, 13))
    assert first.done_on == date(2026, 3, 5)
    assert window(second) == (date(2026, 3, 12), date(2026, 3, 19), date(2026, 3, 26))
    # Nobody came for the second: the third follows its due date, and their windows share 26 March.
    assert window(third) == (date(2026, 3, 26), date(2026, 4, 2), date(2026, 4, 9))


def test_a_pregnancy_graded_high_risk_later_switches_to_fourteen_days_from_its_next_visit() -> None:
    facts = make_pregnancy(
        risks=[RiskFact(on=REGISTERED, high=False), RiskFact(on=date(2026, 3, 10), high=True)],
        prenatal_visits=[home(date(2026, 3, 20))],
    )
    second = only(plan_items(facts, RULES), "village", 2)

    assert second.due_on == date(2026, 4, 3)


def test_of_two_grades_on_one_day_the_one_recorded_last_counts() -> None:
    regraded = make_pregnancy(risks=[RiskFact(on=REGISTERED, high=True), RiskFact(on=REGISTERED, high=False)])
    upgraded = make_pregnancy(risks=[RiskFact(on=REGISTERED, high=False), RiskFact(on=REGISTERED, high=True)])

    assert only(plan_items(regraded, RULES), "village", 1).due_on == date(2026, 3, 22)
    assert only(plan_items(upgraded, RULES), "village", 1).due_on == date(2026, 3, 6)


def test_a_late_visit_is_done_late_and_the_next_item_is_due_thirty_days_after_it() -> None:
    # The first window ends 29 March; the second would open on 14 April.
    items = plan_items(make_pregnancy(prenatal_visits=[home(date(2026, 4, 2))]), RULES)

    first, second = of_kind(items, "village")[:2]
    assert state_of(first, date(2026, 4, 1)) == State.OVERDUE
    assert state_of(first, date(2026, 4, 2)) == State.DONE_LATE
    assert window(second) == (date(2026, 4, 25), date(2026, 5, 2), date(2026, 5, 9))


def test_no_visit_for_two_months_gives_one_missed_item_and_one_overdue_never_a_pile() -> None:
    village = of_kind(plan_items(make_pregnancy(), RULES), "village")

    assert [i.due_on for i in village[:3]] == [date(2026, 3, 22), date(2026, 4, 21), date(2026, 5, 21)]
    on_1_may = states(village, date(2026, 5, 1))
    assert on_1_may[:3] == [State.MISSED, State.OVERDUE, State.UPCOMING]
    assert on_1_may.count(State.OVERDUE) == 1
    # The first became missed the day the second's window opened.
    assert state_of(village[0], date(2026, 4, 13)) == State.OVERDUE
    assert state_of(village[0], date(2026, 4, 14)) == State.MISSED


def test_a_visit_after_the_next_window_opened_belongs_to_the_next_item() -> None:
    # The second item's window opens on 14 April; a visit on 15 April is the second's, the first stays missed.
    items = plan_items(make_pregnancy(prenatal_visits=[home(date(2026, 4, 15))]), RULES)

    first, second, third = of_kind(items, "village")[:3]
    assert first.done_on is None
    assert state_of(first, date(2026, 4, 15)) == State.MISSED
    assert state_of(second, date(2026, 4, 15)) == State.DONE_ON_TIME
    assert third.due_on == date(2026, 5, 15)


def test_a_visit_on_the_registration_day_closes_nothing() -> None:
    items = plan_items(make_pregnancy(prenatal_visits=[home(REGISTERED)]), RULES)

    first = only(items, "village", 1)
    assert first.done_on is None
    assert first.due_on == date(2026, 3, 22)


def test_a_visit_on_the_day_two_windows_share_closes_the_earlier_item() -> None:
    # High risk: the first window is 27 Feb – 13 Mar, the second (if nobody came) opens 13 Mar.
    facts = make_pregnancy(
        risks=[RiskFact(on=REGISTERED, high=True)], prenatal_visits=[home(date(2026, 3, 13))]
    )
    first, second = of_kind(plan_items(facts, RULES), "village")[:2]

    assert state_of(first, date(2026, 3, 13)) == State.DONE_ON_TIME
    assert second.due_on == date(2026, 3, 27)


def test_two_visits_on_one_day_close_one_item() -> None:
    facts = make_pregnancy(prenatal_visits=[home(date(2026, 3, 20)), home(date(2026, 3, 20))])
    first, second = of_kind(plan_items(facts, RULES), "village")[:2]

    assert first.done_on == date(2026, 3, 20)
    assert second.done_on is None


# --- 4.1 the township chain ------------------------------------------------------------------------------


def test_the_township_chain_runs_every_sixty_days_with_two_weeks_either_side() -> None:
    facts = make_pregnancy(prenatal_visits=[PrenatalVisitFact(on=date(2026, 4, 30), kind="township")])
    first, second = of_kind(plan_items(facts, RULES), "township")[:2]

    assert window(first) == (date(2026, 4, 7), date(2026, 4, 21), date(2026, 5, 5))
    assert state_of(first, date(2026, 4, 30)) == State.DONE_ON_TIME
    assert window(second) == (date(2026, 6, 15), date(2026, 6, 29), date(2026, 7, 13))


def test_a_village_visit_does_not_close_a_township_item() -> None:
    items = plan_items(make_pregnancy(prenatal_visits=[home(date(2026, 4, 21))]), RULES)

    assert only(items, "township", 1).done_on is None


# --- 4.2 the five standard checks ------------------------------------------------------------------------


def test_the_five_checks_have_their_windows_by_gestational_age() -> None:
    checks = [only(plan_items(make_pregnancy(), RULES), f"check{n}", n) for n in range(1, 6)]

    # Check 1 runs "before 13+0" but opens at registration: nothing can be done before the woman is known.
    assert [(c.window_start, c.window_end) for c in checks] == [
        (date(2026, 2, 20), date(2026, 4, 1)),
        (date(2026, 4, 23), date(2026, 5, 27)),
        (date(2026, 5, 28), date(2026, 6, 24)),
        (date(2026, 7, 16), date(2026, 9, 16)),
        (date(2026, 9, 17), date(2026, 10, 14)),
    ]
    assert [format_ga(gestational_age_days(LMP, c.window_end)) for c in checks] == [
        "孕12+6周",
        "孕20+6周",
        "孕24+6周",
        "孕36+6周",
        "孕40+6周",
    ]
    assert [format_ga(gestational_age_days(LMP, c.window_start)) for c in checks[1:]] == [
        "孕16+0周",
        "孕21+0周",
        "孕28+0周",
        "孕37+0周",
    ]
    # A check is due by the end of its window.
    assert all(c.due_on == c.window_end for c in checks)


def test_a_check_attended_marks_it_done() -> None:
    facts = make_pregnancy(prenatal_visits=[PrenatalVisitFact(on=date(2026, 5, 2), kind="check", check_no=2)])
    items = plan_items(facts, RULES)

    assert state_of(only(items, "check2", 2), date(2026, 5, 2)) == State.DONE_ON_TIME
    assert state_of(only(items, "check2", 2), date(2026, 5, 1)) == State.DUE


def test_a_check_left_undone_is_missed_when_the_next_check_opens() -> None:
    check1 = only(plan_items(make_pregnancy(), RULES), "check1", 1)

    assert state_of(check1, date(2026, 4, 2)) == State.OVERDUE
    assert state_of(check1, date(2026, 4, 22)) == State.OVERDUE
    assert state_of(check1, date(2026, 4, 23)) == State.MISSED


def test_a_check_whose_window_closed_before_registration_is_not_planned() -> None:
    items = plan_items(make_pregnancy(registered_on=date(2026, 4, 10)), RULES)

    assert [i.kind for i in items if i.kind.startswith("check")] == ["check2", "check3", "check4", "check5"]


# --- 4.1 the outcome -------------------------------------------------------------------------------------


def test_the_outcome_is_expected_from_the_edd_for_two_weeks_then_overdue() -> None:
    outcome = only(plan_items(make_pregnancy(), RULES), "outcome")

    assert window(outcome) == (date(2026, 10, 8), date(2026, 10, 8), date(2026, 10, 22))
    assert state_of(outcome, date(2026, 10, 7)) == State.UPCOMING
    assert state_of(outcome, date(2026, 10, 22)) == State.DUE
    assert state_of(outcome, date(2026, 10, 23)) == State.OVERDUE


def test_an_outcome_in_the_window_closes_the_outcome_item_on_time() -> None:
    facts = make_twins(outcome=OutcomeFact(on=date(2026, 10, 10), type="live_birth"))

    assert state_of(only(plan_items(facts, RULES), "outcome"), date(2026, 10, 10)) == State.DONE_ON_TIME


def test_an_outcome_before_the_edd_plans_no_outcome_item() -> None:
    assert of_kind(plan_items(make_twins(), RULES), "outcome") == []


def test_the_outcome_stops_the_prenatal_chains() -> None:
    items = plan_items(make_twins(), RULES)
    village = of_kind(items, "village")

    # Due 22 Mar, 21 Apr, … 18 Sep; the eighth (due 18 Oct) would open on 11 Oct, after the birth.
    assert len(village) == 7
    assert village[-1].due_on == date(2026, 9, 18)
    assert state_of(village[-1], BORN) == State.MISSED
    # check5 (17 Sep – 14 Oct) still ran on 5 October.
    assert only(items, "check5", 5).cancelled_on == BORN


# --- 4.3 after the outcome -------------------------------------------------------------------------------


def test_twins_each_get_their_own_milestones_the_first_anchored_on_discharge() -> None:
    items = plan_items(make_twins(), RULES)

    for baby in (BABY_A, BABY_B):
        assert [(i.kind, *window(i)) for i in items if i.infant_id == baby] == [
            ("infant_1w", date(2026, 10, 8), date(2026, 10, 15), date(2026, 10, 15)),
            ("infant_2w", date(2026, 10, 15), date(2026, 10, 19), date(2026, 10, 22)),
            ("infant_1m", date(2026, 11, 2), date(2026, 11, 4), date(2026, 11, 9)),
            ("infant_3m", date(2026, 12, 28), date(2027, 1, 4), date(2027, 1, 18)),
            ("infant_6m", date(2027, 3, 29), date(2027, 4, 5), date(2027, 4, 19)),
        ]
    assert [(i.kind, *window(i)) for i in items if i.kind.startswith("mother")] == [
        ("mother_1w", date(2026, 10, 8), date(2026, 10, 15), date(2026, 10, 15)),
        ("mother_42d", date(2026, 11, 16), date(2026, 11, 16), date(2026, 11, 30)),
    ]


def test_without_a_discharge_date_the_first_week_is_anchored_on_the_birth() -> None:
    facts = make_twins(outcome=OutcomeFact(on=BORN, type="live_birth"))

    assert window(only(plan_items(facts, RULES), "infant_1w", infant_id=BABY_A)) == (
        date(2026, 10, 5),
        date(2026, 10, 12),
        date(2026, 10, 12),
    )


def test_a_high_risk_newborn_is_due_three_days_after_discharge() -> None:
    facts = make_twins(infants=(InfantFact(BABY_A, high_risk=True), InfantFact(BABY_B)))
    items = plan_items(facts, RULES)

    # On time means within 3 days for a high-risk newborn (§6), so the window closes with the due date.
    assert window(only(items, "infant_1w", infant_id=BABY_A)) == (
        date(2026, 10, 8),
        date(2026, 10, 11),
        date(2026, 10, 11),
    )
    assert only(items, "infant_1w", infant_id=BABY_B).due_on == date(2026, 10, 15)
    assert only(items, "infant_2w", infant_id=BABY_A).due_on == date(2026, 10, 19)


def test_a_postnatal_visit_closes_the_milestone_of_the_baby_it_names() -> None:
    visit = PostnatalVisitFact(on=date(2026, 10, 12), milestone="1w", infant_id=BABY_A, covers_mother=True)
    items = plan_items(make_twins(postnatal_visits=[visit]), RULES)

    day = date(2026, 10, 12)
    assert state_of(only(items, "infant_1w", infant_id=BABY_A), day) == State.DONE_ON_TIME
    assert state_of(only(items, "mother_1w"), day) == State.DONE_ON_TIME
    assert state_of(only(items, "infant_1w", infant_id=BABY_B), day) == State.DUE


def test_a_stillbirth_gives_mother_items_only() -> None:
    facts = make_pregnancy(
        outcome=OutcomeFact(on=BORN, type="stillbirth", discharge_on=DISCHARGED),
        infants=(InfantFact(BABY_A, alive_at_birth=False),),
    )
    postnatal = [i for i in plan_items(facts, RULES) if i.kind.startswith(("mother", "infant", "loss"))]

    assert [i.kind for i in postnatal] == ["mother_1w", "mother_42d"]
    assert all(i.infant_id is None for i in postnatal)


def test_one_twin_stillborn_gives_items_only_to_the_live_one() -> None:
    facts = make_twins(infants=(InfantFact(BABY_A), InfantFact(BABY_B, alive_at_birth=False)))
    items = plan_items(facts, RULES)

    assert len([i for i in items if i.infant_id == BABY_A]) == 5
    assert [i for i in items if i.infant_id == BABY_B] == []


def test_a_miscarriage_gives_care_after_loss_for_two_weeks() -> None:
    lost_on = date(2026, 3, 10)
    items = plan_items(make_pregnancy(outcome=OutcomeFact(on=lost_on, type="spontaneous_abortion")), RULES)

    assert window(only(items, "loss_care")) == (date(2026, 3, 10), date(2026, 3, 24), date(2026, 3, 24))
    assert not any(i.kind.startswith(("mother", "infant")) for i in items)
    assert of_kind(items, "outcome") == []
    # The first monthly visit would have opened on 15 March: not planned. Check 1 was running: cancelled.
    assert of_kind(items, "village") == []
    assert only(items, "check1", 1).cancelled_on == lost_on


def test_every_kind_of_loss_gets_care_after_loss() -> None:
    for kind in ("spontaneous_abortion", "induced_abortion", "termination", "ectopic", "molar"):
        items = plan_items(make_pregnancy(outcome=OutcomeFact(on=date(2026, 3, 10), type=kind)), RULES)
        assert len(of_kind(items, "loss_care")) == 1, kind


def test_a_baby_death_cancels_its_running_items_and_plans_no_later_ones() -> None:
    visit = PostnatalVisitFact(on=date(2026, 10, 12), milestone="1w", infant_id=BABY_B)
    died = date(2026, 10, 18)
    facts = make_twins(
        infants=(InfantFact(BABY_A), InfantFact(BABY_B, death_on=died)), postnatal_visits=[visit]
    )
    items = plan_items(facts, RULES)

    baby_b = [i for i in items if i.infant_id == BABY_B]
    assert [i.kind for i in baby_b] == ["infant_1w", "infant_2w"]
    assert state_of(baby_b[0], died) == State.DONE_ON_TIME
    assert state_of(baby_b[1], date(2026, 10, 17)) == State.DUE
    assert state_of(baby_b[1], died) == State.CANCELLED
    assert len([i for i in items if i.infant_id == BABY_A]) == 5


def test_a_baby_who_died_after_a_milestone_window_closed_unvisited_has_it_missed() -> None:
    # Discharged late (a month in neonatal care), the first week would run 5–12 Nov; the 2-week window
    # (15–22 Oct) had closed by the death on 25 Oct and counts as missed; later windows never opened.
    died = date(2026, 10, 25)
    facts = make_twins(
        outcome=OutcomeFact(on=BORN, type="live_birth", discharge_on=date(2026, 11, 5)),
        infants=(InfantFact(BABY_A, death_on=died),),
    )
    baby = [i for i in plan_items(facts, RULES) if i.infant_id == BABY_A]

    assert [i.kind for i in baby] == ["infant_2w"]
    assert state_of(baby[0], date(2026, 10, 24)) == State.OVERDUE
    assert state_of(baby[0], died) == State.MISSED


def test_moving_out_cancels_running_items_and_plans_no_later_ones() -> None:
    moved = date(2026, 3, 20)
    items = plan_items(make_pregnancy(closed_on=moved, closed_kind="moved_out"), RULES)

    assert sorted(i.kind for i in items) == ["check1", "village"]
    assert all(i.cancelled_on == moved for i in items)
    assert all(state_of(i, moved) == State.CANCELLED for i in items)
    assert all(state_of(i, date(2026, 3, 19)) == State.DUE for i in items)


def test_moving_out_after_a_birth_cancels_the_babies_items_too() -> None:
    moved = date(2026, 10, 20)
    items = plan_items(make_twins(closed_on=moved, closed_kind="moved_out"), RULES)
    postnatal = [i for i in items if i.kind.startswith(("mother", "infant"))]

    # 1 week (closed 15 Oct) missed, 2 weeks (running) cancelled, later ones never planned.
    assert sorted((i.kind, str(i.infant_id)) for i in postnatal) == sorted(
        [("mother_1w", "None")]
        + [(kind, str(baby)) for kind in ("infant_1w", "infant_2w") for baby in (BABY_A, BABY_B)]
    )
    assert {state_of(i, moved) for i in postnatal if i.kind.endswith("1w")} == {State.MISSED}
    assert {state_of(i, moved) for i in postnatal if i.kind == "infant_2w"} == {State.CANCELLED}


def test_a_mother_death_cancels_hers_but_not_the_surviving_babies_items() -> None:
    died = date(2026, 10, 12)
    items = plan_items(make_twins(closed_on=died, closed_kind="died"), RULES)

    assert [i.kind for i in items if i.kind.startswith("mother")] == ["mother_1w"]
    assert only(items, "mother_1w").cancelled_on == died
    babies = [i for i in items if i.infant_id is not None]
    assert len(babies) == 10
    assert all(i.cancelled_on is None and i.missed_on != died for i in babies)
    assert state_of(only(items, "infant_3m", infant_id=BABY_A), date(2027, 1, 1)) == State.DUE


def test_a_maternal_death_during_pregnancy_cancels_the_pregnancys_running_items() -> None:
    died = date(2026, 6, 15)
    facts = make_pregnancy(
        outcome=OutcomeFact(on=died, type="maternal_death"), closed_on=died, closed_kind="died"
    )
    items = plan_items(facts, RULES)

    # Village dues 22 Mar, 21 Apr, 21 May, 20 Jun (window from 13 Jun); township 21 Apr, 20 Jun (from 6 Jun).
    assert only(items, "village", 4).cancelled_on == died
    assert only(items, "township", 2).cancelled_on == died
    assert only(items, "check3", 3).cancelled_on == died
    assert state_of(only(items, "village", 3), died) == State.MISSED
    assert of_kind(items, "outcome") == []
    assert not any(i.kind.startswith(("mother", "loss")) for i in items)
    assert all(state_of(i, died) not in (State.UPCOMING, State.DUE, State.OVERDUE) for i in items)


# --- states and bookkeeping ------------------------------------------------------------------------------


def test_states_are_as_of_the_end_of_a_day_so_a_future_visit_does_not_count_yet() -> None:
    first = only(plan_items(make_pregnancy(prenatal_visits=[home(date(2026, 4, 2))]), RULES), "village", 1)

    assert state_of(first, date(2026, 3, 30)) == State.OVERDUE
    assert state_of(first, date(2026, 4, 2)) == State.DONE_LATE


def test_a_cancellation_does_not_count_before_its_day() -> None:
    item = only(
        plan_items(make_pregnancy(closed_on=date(2026, 3, 20), closed_kind="lost"), RULES), "village", 1
    )

    assert state_of(item, date(2026, 3, 19)) == State.DUE
    assert state_of(item, date(2026, 3, 20)) == State.CANCELLED


def test_every_item_carries_the_rules_version() -> None:
    items = plan_items(make_twins(), RULES)

    assert items
    assert {i.rules_version for i in items} == {CURRENT_VERSION} == {"2026.1"}


def test_an_unknown_lmp_is_taken_as_edd_minus_280_days() -> None:
    with_lmp = plan_items(make_pregnancy(), RULES)
    without = plan_items(make_pregnancy(lmp=None), RULES)

    assert with_lmp == without


def test_gestational_age_is_written_in_weeks_and_days() -> None:
    assert format_ga(87) == "孕12+3周"
    assert format_ga(87, locale="en") == "12+3 weeks"
    assert format_ga(0) == "孕0+0周"
    assert gestational_age_days(LMP, date(2026, 3, 29)) == 87
