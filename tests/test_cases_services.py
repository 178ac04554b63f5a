"""The follow-up writes (登记, 随访, 分级, 结局, 产后访视, 结案, 更正) through the real services, on SQLite
and PostgreSQL: what each stores, which due items it opens or closes, scope, idempotency by client UUID,
and the ID number never stored in clear."""

import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session, col, func, select

from backend.accounts.models import AuditEntry
from backend.cases import forms, queries, services
from backend.cases.models import (
    CaseChange,
    Closure,
    Correction,
    Outcome,
    PostnatalVisit,
    Pregnancy,
    PrenatalVisit,
    RiskGrade,
    Woman,
)
from backend.cases.schedule_store import CaseRecords
from backend.cases.services import NotFound, WriteContext, Written
from backend.lib.i18n import ValidationFailed
from backend.settings import Settings
from tests.case_factories import (
    infants_of,
    items_of,
    make_closure,
    make_outcome,
    make_postnatal,
    make_registration,
    make_risk,
    make_visit,
    outcome_form,
    woman_id_number,
)
from tests.conftest import VILLAGE_A, VILLAGE_B, VILLAGE_C, Cast

TODAY = date(2026, 11, 23)
DAY = timedelta(days=1)
REGISTERED = TODAY - 240 * DAY  # registered at 8+0 weeks; the EDD was 16 days ago
LMP = REGISTERED - 56 * DAY
BORN = TODAY - 9 * DAY  # the 1-week items of mother and babies are two days overdue today


@pytest.fixture
def ctx_a(db: Session, cast: Cast) -> WriteContext:
    return cast.ctx(cast.cadre_a, db, TODAY)


@pytest.fixture
def pregnancy(db: Session, ctx_a: WriteContext) -> Pregnancy:
    """A pregnancy of village A registered 240 days ago, LMP 8 weeks before that."""
    p = make_registration(db, ctx_a, VILLAGE_A, registered_on=REGISTERED, lmp=LMP)
    db.commit()
    return p


def field_of(exc: pytest.ExceptionInfo[ValidationFailed]) -> list[str]:
    return [e.field for e in exc.value.errors]


def open_overdue(db: Session, cast: Cast, user_field: str = "cadre_a") -> list[queries.WorkItem]:
    actor = cast.actor(getattr(cast, user_field), db)
    return queries.work_list(db, actor.scope, TODAY).overdue


# --- registration -----------------------------------------------------------------------------------------


def test_registering_creates_the_woman_the_pregnancy_with_its_edd_and_the_first_due_items(
    db: Session, pregnancy: Pregnancy
) -> None:
    woman = db.get(Woman, pregnancy.woman_id)
    assert woman is not None and woman.name == "刘小红" and woman.village_code == VILLAGE_A
    assert pregnancy.edd == LMP + 280 * DAY
    assert pregnancy.status == "open"
    kinds = {i.kind for i in items_of(db, pregnancy)}
    assert {"village", "township", "check1", "check2", "outcome"} <= kinds
    first_village = next(i for i in items_of(db, pregnancy) if i.kind == "village" and i.seq == 1)
    assert first_village.due_on == REGISTERED + 30 * DAY
    assert first_village.village_code == VILLAGE_A


def test_the_id_number_is_kept_encrypted_with_a_blind_index_and_a_mask(
    db: Session, ctx_a: WriteContext
) -> None:
    number = woman_id_number(date(1992, 7, 1), 24)
    p = make_registration(db, ctx_a, VILLAGE_A, id_number=number, birth_date="")
    woman = db.get(Woman, p.woman_id)
    assert woman is not None
    assert woman.id_cipher is not None and number not in woman.id_cipher
    assert ctx_a.cipher.decrypt(woman.id_cipher) == number
    assert woman.id_index == ctx_a.cipher.blind_index(number)
    assert woman.id_masked == number[:6] + "********" + number[-4:]
    assert woman.birth_date == date(1992, 7, 1)  # read from the ID number


def test_a_woman_with_the_same_id_number_is_found_as_a_possible_duplicate_however_it_was_typed(
    db: Session, cast: Cast, ctx_a: WriteContext
) -> None:
    number = woman_id_number(date(1990, 12, 31), 2)
    make_registration(db, ctx_a, VILLAGE_A, id_number=number, name="赵敏")
    typed = " ".join(number[:9]) + number[9:].translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    index = ctx_a.cipher.blind_index(typed)
    found = queries.possible_duplicates(
        db, ctx_a.actor.scope, id_index=index, name="另一个名字", birth_date=None
    )
    assert [w.name for w in found] == ["赵敏"]


def test_a_woman_with_the_same_name_and_birth_date_is_found_as_a_possible_duplicate(
    db: Session, ctx_a: WriteContext
) -> None:
    make_registration(db, ctx_a, VILLAGE_A, name="孙丽", birth_date="1994-05-06")
    scope = ctx_a.actor.scope
    assert [
        w.name
        for w in queries.possible_duplicates(
            db, scope, id_index=None, name="孙丽", birth_date=date(1994, 5, 6)
        )
    ] == ["孙丽"]
    assert not queries.possible_duplicates(db, scope, id_index=None, name="孙丽", birth_date=date(1994, 5, 7))


def test_duplicate_search_never_looks_outside_the_callers_area(db: Session, cast: Cast) -> None:
    make_registration(db, cast.ctx(cast.cadre_a, db, TODAY), VILLAGE_A, name="孙丽", birth_date="1994-05-06")
    scope_b = cast.actor(cast.cadre_b, db).scope
    assert not queries.possible_duplicates(
        db, scope_b, id_index=None, name="孙丽", birth_date=date(1994, 5, 6)
    )


def test_a_second_open_pregnancy_for_the_same_woman_is_refused(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        make_registration(db, ctx_a, VILLAGE_A, woman_id=pregnancy.woman_id)
    assert field_of(exc) == ["name"]


def test_a_new_pregnancy_of_a_woman_whose_last_one_has_its_outcome_closes_the_old_follow_up(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_outcome(db, ctx_a, pregnancy, TODAY - 200 * DAY, outcome_type="spontaneous_abortion", n_babies="0")
    second = make_registration(db, ctx_a, VILLAGE_A, woman_id=pregnancy.woman_id, lmp=TODAY - 50 * DAY)
    db.commit()
    db.refresh(pregnancy)
    assert pregnancy.status == "closed" and pregnancy.close_reason == "completed"
    assert second.status == "open" and second.woman_id == pregnancy.woman_id


def test_a_cadre_cannot_register_a_woman_in_a_village_outside_her_area(
    db: Session, ctx_a: WriteContext
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        make_registration(db, ctx_a, VILLAGE_B)
    assert field_of(exc) == ["village_code"]
    assert db.exec(select(func.count()).select_from(Woman)).one() == 0


def test_registration_refuses_an_id_number_with_a_wrong_check_digit_naming_the_field(
    db: Session, ctx_a: WriteContext
) -> None:
    good = woman_id_number()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(ValidationFailed) as exc:
        make_registration(db, ctx_a, VILLAGE_A, id_number=bad)
    assert field_of(exc) == ["id_number"]
    assert "校验位" in exc.value.errors[0].text.zh and "check digit" in exc.value.errors[0].text.en


def test_a_registration_with_a_red_grade_plans_the_monthly_visit_every_fourteen_days(
    db: Session, ctx_a: WriteContext
) -> None:
    p = make_registration(db, ctx_a, VILLAGE_A, registered_on=REGISTERED, lmp=LMP, colour="red")
    first = next(i for i in items_of(db, p) if i.kind == "village" and i.seq == 1)
    assert p.high_risk is True
    assert first.due_on == REGISTERED + 14 * DAY


# --- prenatal visits ---------------------------------------------------------------------------------------


def test_a_home_visit_closes_the_open_monthly_item_and_moves_the_next_one_thirty_days_on(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    visit_day = REGISTERED + 27 * DAY
    make_visit(db, ctx_a, pregnancy, visited_on=visit_day.isoformat())
    village = [i for i in items_of(db, pregnancy) if i.kind == "village"]
    assert village[0].done_on == visit_day and not village[0].is_open
    assert village[1].due_on == visit_day + 30 * DAY
    stored = db.exec(select(PrenatalVisit).where(PrenatalVisit.pregnancy_id == pregnancy.id)).one()
    assert stored.ga_days == 56 + 27 and stored.bp_systolic == 118


def test_a_standard_check_attended_closes_that_check_and_no_monthly_item(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_visit(
        db,
        ctx_a,
        pregnancy,
        visited_on=(LMP + 120 * DAY).isoformat(),
        kind="check",
        check_no="2",
        facility="镇卫生院",
    )
    items = {(i.kind, i.seq): i for i in items_of(db, pregnancy)}
    assert items[("check2", 2)].done_on == LMP + 120 * DAY
    assert all(i.done_on is None for i in items_of(db, pregnancy) if i.kind == "village")


@pytest.mark.parametrize("kind", ["phone", "urged"])
def test_a_phone_call_or_an_urging_is_recorded_but_closes_no_item(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy, kind: str
) -> None:
    make_visit(
        db,
        ctx_a,
        pregnancy,
        visited_on=(REGISTERED + 20 * DAY).isoformat(),
        kind=kind,
        check_no="1",
        bp_systolic="",
        bp_diastolic="",
    )
    assert len(CaseRecords(db, pregnancy).visits) == 1
    assert all(i.done_on is None for i in items_of(db, pregnancy))


def test_a_standard_check_without_its_number_is_refused_on_the_check_field() -> None:
    with pytest.raises(ValidationFailed) as exc:
        forms.read_prenatal_visit(
            {"pregnancy_id": str(uuid.uuid4()), "visited_on": "2026-11-01", "kind": "check"}
        )
    assert field_of(exc) == ["check_no"]


def test_a_village_cadre_may_not_record_a_township_visit(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        make_visit(db, ctx_a, pregnancy, kind="township", visited_on=(REGISTERED + 50 * DAY).isoformat())
    assert field_of(exc) == ["kind"]
    assert "乡" in exc.value.errors[0].text.zh and "township" in exc.value.errors[0].text.en


def test_the_township_supervisor_records_the_bimonthly_visit_which_closes_the_township_item(
    db: Session, cast: Cast, pregnancy: Pregnancy
) -> None:
    ctx = cast.ctx(cast.sup_t, db, TODAY)
    make_visit(db, ctx, pregnancy, kind="township", visited_on=(REGISTERED + 55 * DAY).isoformat())
    township = [i for i in items_of(db, pregnancy) if i.kind == "township"]
    assert township[0].done_on == REGISTERED + 55 * DAY
    assert township[0].done_by is not None


def test_a_visit_before_registration_or_in_the_future_is_refused_naming_the_date(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    for day in (REGISTERED - DAY, TODAY + DAY):
        with pytest.raises(ValidationFailed) as exc:
            make_visit(db, ctx_a, pregnancy, visited_on=day.isoformat())
        assert field_of(exc) == ["visited_on"]


def test_a_grade_or_a_closure_dated_in_the_future_is_refused_naming_the_date(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    """Not a server fault: a phone would otherwise be told `retry` for it forever."""
    tomorrow = (TODAY + DAY).isoformat()
    with pytest.raises(ValidationFailed) as exc:
        make_risk(db, ctx_a, pregnancy, "yellow", assessed_on=tomorrow)
    assert field_of(exc) == ["assessed_on"] and "评估日期不能晚于今天" in str(exc.value.errors[0].text.zh)
    with pytest.raises(ValidationFailed) as exc:
        make_closure(db, ctx_a, pregnancy, "lost", closed_on=tomorrow)
    assert field_of(exc) == ["closed_on"]


def test_a_blood_pressure_with_diastolic_above_systolic_is_refused_on_the_diastolic_field(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        make_visit(
            db,
            ctx_a,
            pregnancy,
            visited_on=(REGISTERED + 30 * DAY).isoformat(),
            bp_systolic="80",
            bp_diastolic="120",
        )
    assert field_of(exc) == ["bp_diastolic"]


# --- risk grade --------------------------------------------------------------------------------------------


def test_a_high_risk_grade_marks_the_pregnancy_and_puts_the_monthly_chain_on_fourteen_days(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_risk(db, ctx_a, pregnancy, "orange", assessed_on=(REGISTERED + 20 * DAY).isoformat())
    visit_day = REGISTERED + 30 * DAY
    make_visit(db, ctx_a, pregnancy, visited_on=visit_day.isoformat())
    db.commit()
    db.refresh(pregnancy)
    assert pregnancy.high_risk is True
    village = [i for i in items_of(db, pregnancy) if i.kind == "village"]
    assert village[1].due_on == visit_day + 14 * DAY


def test_the_latest_grade_counts_so_a_later_green_grade_ends_high_risk(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_risk(db, ctx_a, pregnancy, "red", assessed_on=(REGISTERED + 10 * DAY).isoformat())
    make_risk(db, ctx_a, pregnancy, "green", assessed_on=(REGISTERED + 40 * DAY).isoformat())
    db.commit()
    db.refresh(pregnancy)
    assert pregnancy.high_risk is False
    assert [g.colour for g in CaseRecords(db, pregnancy).risks] == ["green", "red", "green"]


def test_the_purple_flag_alone_is_high_risk(db: Session, ctx_a: WriteContext, pregnancy: Pregnancy) -> None:
    make_risk(db, ctx_a, pregnancy, "green", purple="1", assessed_on=(REGISTERED + 10 * DAY).isoformat())
    db.commit()
    db.refresh(pregnancy)
    assert pregnancy.high_risk is True


# --- outcomes ----------------------------------------------------------------------------------------------


def test_a_twin_birth_records_two_babies_each_with_their_five_postnatal_items(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_outcome(db, ctx_a, pregnancy, BORN, [("1", "2600"), ("2", "2450")])
    outcome = db.exec(select(Outcome).where(Outcome.pregnancy_id == pregnancy.id)).one()
    babies = infants_of(db, pregnancy)
    assert outcome.n_babies == 2 and outcome.ga_days == (BORN - LMP).days
    assert [(b.seq, b.sex, b.birth_weight_g) for b in babies] == [(1, "1", 2600), (2, "2", 2450)]
    assert babies[1].high_risk is True and babies[0].high_risk is False  # under 2500 g
    for baby in babies:
        assert [i.kind for i in items_of(db, pregnancy, infant=baby)] == [
            "infant_1w",
            "infant_2w",
            "infant_1m",
            "infant_3m",
            "infant_6m",
        ]
    mother = {i.kind for i in items_of(db, pregnancy) if i.infant_id is None}
    assert {"mother_1w", "mother_42d"} <= mother


def test_the_high_risk_twin_is_due_for_her_first_visit_within_three_days(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_outcome(db, ctx_a, pregnancy, BORN, [("1", "2600"), ("2", "2450")])
    first, second = (items_of(db, pregnancy, infant=b)[0] for b in infants_of(db, pregnancy))
    assert first.due_on == BORN + 7 * DAY
    assert second.due_on == BORN + 3 * DAY


def test_an_outcome_ends_prenatal_follow_up_so_no_monthly_visit_stays_open(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_outcome(db, ctx_a, pregnancy, BORN)
    for item in items_of(db, pregnancy):
        if item.kind in ("village", "township"):
            assert not item.is_open or (item.missed_on is not None and item.missed_on <= TODAY), item
    assert not any(i.kind in ("village", "township", "outcome") for i in open_overdue(db, cast_of(db)))


def cast_of(db: Session) -> Cast:
    from backend.accounts.models import User

    users = {u.phone: u for u in db.exec(select(User)).all()}
    return Cast(
        users["13800000001"],
        users["13800000002"],
        users["13800000003"],
        users["13800000010"],
        users["13800000011"],
        users["13800000020"],
    )


def test_a_stillbirth_records_the_baby_without_any_baby_visits_but_keeps_the_mothers(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_outcome(db, ctx_a, pregnancy, BORN, [("2", "1800")], outcome_type="stillbirth")
    babies = infants_of(db, pregnancy)
    assert len(babies) == 1 and babies[0].alive_at_birth is False
    assert all(i.infant_id is None for i in items_of(db, pregnancy))
    assert {"mother_1w", "mother_42d"} <= {i.kind for i in items_of(db, pregnancy)}


def test_a_stillborn_baby_cannot_be_marked_alive(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    raw = outcome_form(pregnancy, BORN, [("2", "1800")], outcome_type="stillbirth", **{"babies-0-alive": "1"})
    with pytest.raises(ValidationFailed) as exc:
        services.record_outcome(db, ctx_a, forms.read_outcome(raw))
    assert field_of(exc) == ["babies-0-alive"]


def test_a_miscarriage_has_no_babies_and_plans_care_after_loss(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_outcome(db, ctx_a, pregnancy, REGISTERED + 20 * DAY, [], outcome_type="spontaneous_abortion")
    assert infants_of(db, pregnancy) == []
    assert [i.kind for i in items_of(db, pregnancy) if i.infant_id is None and i.is_open] == ["loss_care"]


def test_a_second_outcome_for_the_same_pregnancy_is_refused(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_outcome(db, ctx_a, pregnancy, BORN)
    with pytest.raises(ValidationFailed) as exc:
        make_outcome(db, ctx_a, pregnancy, BORN)
    assert field_of(exc) == ["outcome_type"]


def test_with_only_the_edd_known_an_outcome_over_315_days_after_edd_less_280_days_is_refused(
    db: Session, ctx_a: WriteContext
) -> None:
    registered = TODAY - 300 * DAY
    edd = registered + 224 * DAY  # registered at 8+0 weeks by ultrasound; EDD − 280 days is 356 days ago
    p = make_registration(
        db, ctx_a, VILLAGE_A, lmp="", edd=edd.isoformat(), edd_source="ultrasound", registered_on=registered
    )
    assert p.lmp is None
    with pytest.raises(ValidationFailed) as exc:
        make_outcome(db, ctx_a, p, BORN)  # 347 days after EDD − 280
    assert field_of(exc) == ["outcome_on"]
    error = exc.value.errors[0]
    assert "结局日期" in error.text.zh and "347" in error.text.zh and "预产期" in error.text.zh
    assert error.text.en.startswith("Outcome date") and "EDD" in error.text.en
    make_outcome(db, ctx_a, p, edd + 35 * DAY)  # 315 days: the last day allowed


# --- postnatal visits --------------------------------------------------------------------------------------


def test_a_one_week_visit_per_baby_takes_each_baby_off_the_overdue_list(
    db: Session, cast: Cast, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_outcome(db, ctx_a, pregnancy, BORN, [("1", "3100"), ("2", "3000")])
    first, second = infants_of(db, pregnancy)

    def overdue_babies() -> set[uuid.UUID | None]:
        return {i.infant_id for i in open_overdue(db, cast) if i.kind == "infant_1w"}

    assert overdue_babies() == {first.id, second.id}
    make_postnatal(db, ctx_a, pregnancy, "1w", first, infant_weight_g="3300")
    assert overdue_babies() == {second.id}
    make_postnatal(db, ctx_a, pregnancy, "1w", second, infant_weight_g="3150")
    assert overdue_babies() == set()
    done = next(i for i in items_of(db, pregnancy, infant=first) if i.kind == "infant_1w")
    assert done.done_on == TODAY and done.done_on > done.window_end  # done, but late


def test_a_visit_of_mother_and_baby_together_closes_both_one_week_items(
    db: Session, cast: Cast, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_outcome(db, ctx_a, pregnancy, BORN)
    (baby,) = infants_of(db, pregnancy)
    make_postnatal(db, ctx_a, pregnancy, "1w", baby, covers_mother="1", mother_temperature_c="36.8")
    closed = {i.kind for i in items_of(db, pregnancy) if i.done_on == TODAY}
    assert closed == {"mother_1w", "infant_1w"}


def test_a_postnatal_visit_before_any_outcome_is_refused(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        make_postnatal(db, ctx_a, pregnancy, "1w")
    assert field_of(exc) == ["visited_on"]


def test_a_postnatal_visit_of_a_baby_of_another_pregnancy_is_refused(
    db: Session, cast: Cast, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_outcome(db, ctx_a, pregnancy, BORN)
    ctx_b = cast.ctx(cast.cadre_b, db, TODAY)
    other = make_registration(db, ctx_b, VILLAGE_B, registered_on=REGISTERED, lmp=LMP)
    make_outcome(db, ctx_b, other, BORN)
    (stranger,) = infants_of(db, pregnancy)
    with pytest.raises(ValidationFailed) as exc:
        make_postnatal(db, ctx_b, other, "1w", stranger)
    assert field_of(exc) == ["infant_id"]


# --- closures ----------------------------------------------------------------------------------------------


def test_a_transfer_moves_the_case_into_the_new_villages_scope_and_out_of_the_old(
    db: Session, cast: Cast, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_closure(db, ctx_a, pregnancy, "transferred", to_village_code=VILLAGE_C, reason="随夫家迁居")
    db.commit()
    db.refresh(pregnancy)
    woman = db.get(Woman, pregnancy.woman_id)
    assert woman is not None and pregnancy.village_code == VILLAGE_C == woman.village_code
    assert pregnancy.status == "open"
    assert {i.village_code for i in items_of(db, pregnancy)} == {VILLAGE_C}
    with pytest.raises(NotFound):
        make_visit(db, ctx_a, pregnancy, visited_on=TODAY.isoformat())
    assert queries.case_view(db, cast.actor(cast.cadre_a, db).scope, pregnancy.woman_id) is None
    ctx_c = cast.ctx(cast.cadre_c, db, TODAY)
    make_visit(db, ctx_c, pregnancy, visited_on=(TODAY - 200 * DAY).isoformat())
    closure = db.exec(select(Closure).where(Closure.pregnancy_id == pregnancy.id)).one()
    assert (closure.from_village_code, closure.to_village_code) == (VILLAGE_A, VILLAGE_C)
    feed = set(db.exec(select(CaseChange.village_code).where(CaseChange.pregnancy_id == pregnancy.id)).all())
    assert {VILLAGE_A, VILLAGE_C} <= feed  # both phones hear of it


def test_a_transfer_to_the_same_village_or_an_unknown_code_is_refused(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    for code in (VILLAGE_A, "990101100999", "990101100000"):
        with pytest.raises(ValidationFailed) as exc:
            make_closure(db, ctx_a, pregnancy, "transferred", to_village_code=code)
        assert field_of(exc) == ["to_village_code"]


@pytest.mark.parametrize("kind", ["moved_out", "lost", "died"])
def test_moving_out_loss_to_follow_up_or_death_closes_the_case_and_its_open_items(
    db: Session, cast: Cast, ctx_a: WriteContext, pregnancy: Pregnancy, kind: str
) -> None:
    make_closure(db, ctx_a, pregnancy, kind)
    db.commit()
    db.refresh(pregnancy)
    assert pregnancy.status == "closed" and pregnancy.close_reason == kind
    assert open_overdue(db, cast) == []
    assert queries.work_list(db, cast.actor(cast.cadre_a, db).scope, TODAY).total == 0
    with pytest.raises(ValidationFailed):
        make_visit(db, ctx_a, pregnancy, visited_on=TODAY.isoformat())


def test_lost_to_follow_up_needs_a_reason(db: Session, ctx_a: WriteContext, pregnancy: Pregnancy) -> None:
    with pytest.raises(ValidationFailed) as exc:
        make_closure(db, ctx_a, pregnancy, "lost", reason="")
    assert field_of(exc) == ["reason"]


def test_the_death_of_one_twin_cancels_her_items_and_leaves_her_sisters_and_the_mothers(
    db: Session, cast: Cast, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_outcome(db, ctx_a, pregnancy, BORN, [("2", "2700"), ("2", "2650")])
    first, second = infants_of(db, pregnancy)
    before = len(items_of(db, pregnancy, infant=second))
    make_closure(
        db,
        ctx_a,
        pregnancy,
        "died",
        infant_id=str(first.id),
        closed_on=(BORN + 5 * DAY).isoformat(),
        reason="",
    )
    db.commit()
    db.refresh(pregnancy)
    assert pregnancy.status == "open"
    first_items = items_of(db, pregnancy, infant=first)
    assert [i.kind for i in first_items] == ["infant_1w"]
    assert first_items[0].cancelled_on == BORN + 5 * DAY and not first_items[0].is_open
    assert len(items_of(db, pregnancy, infant=second)) == before
    overdue = {(i.kind, i.infant_id) for i in open_overdue(db, cast)}
    assert ("infant_1w", second.id) in overdue and ("mother_1w", None) in overdue
    assert not any(infant == first.id for _, infant in overdue)


# --- corrections -------------------------------------------------------------------------------------------


def test_an_amendment_changes_what_the_visit_reads_while_the_original_row_and_history_stay(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    visit_id = make_visit(db, ctx_a, pregnancy, visited_on=(REGISTERED + 30 * DAY).isoformat()).record_id
    services.correct_record(
        db,
        ctx_a,
        forms.read_correction(
            {
                "target_type": "prenatal_visit",
                "target_id": str(visit_id),
                "kind": "amend",
                "new-bp_systolic": "142",
                "new-bp_diastolic": "",
                "reason": "抄错了",
            }
        ),
    )
    (seen,) = CaseRecords(db, pregnancy).visits
    assert seen.bp_systolic == 142
    stored = db.get(PrenatalVisit, visit_id)
    assert stored is not None and stored.bp_systolic == 118
    correction = db.exec(select(Correction).where(Correction.target_id == visit_id)).one()
    assert json.loads(correction.previous) == {"bp_systolic": 118}
    assert json.loads(correction.changes) == {"bp_systolic": 142}
    assert correction.reason == "抄错了"


def test_an_amendment_must_pass_the_same_rules_as_a_new_record(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    visit_id = make_visit(db, ctx_a, pregnancy, visited_on=(REGISTERED + 30 * DAY).isoformat()).record_id
    with pytest.raises(ValidationFailed) as exc:
        services.correct_record(
            db,
            ctx_a,
            forms.read_correction(
                {
                    "target_type": "prenatal_visit",
                    "target_id": str(visit_id),
                    "kind": "amend",
                    "new-bp_diastolic": "200",
                    "reason": "x",
                }
            ),
        )
    assert field_of(exc) == ["new-bp_diastolic"]


@pytest.mark.parametrize(("field", "value"), [("kind", "party"), ("check_no", "9"), ("facility", "院" * 81)])
def test_an_amendment_to_a_value_no_form_would_accept_is_refused_on_that_field(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy, field: str, value: str
) -> None:
    visit_id = make_visit(
        db, ctx_a, pregnancy, visited_on=(REGISTERED + 30 * DAY).isoformat(), kind="check", check_no="1"
    ).record_id
    with pytest.raises(ValidationFailed) as exc:
        services.correct_record(
            db,
            ctx_a,
            forms.read_correction(
                {
                    "target_type": "prenatal_visit",
                    "target_id": str(visit_id),
                    "kind": "amend",
                    f"new-{field}": value,
                    "reason": "x",
                }
            ),
        )
    assert field_of(exc) == [f"new-{field}"]


def test_voiding_a_visit_reopens_the_item_it_closed_and_keeps_the_visit_in_history(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    visit_id = make_visit(db, ctx_a, pregnancy, visited_on=(REGISTERED + 30 * DAY).isoformat()).record_id
    services.correct_record(
        db,
        ctx_a,
        forms.read_correction(
            {
                "target_type": "prenatal_visit",
                "target_id": str(visit_id),
                "kind": "void",
                "reason": "记错了孕妇",
            }
        ),
    )
    assert CaseRecords(db, pregnancy).visits == []
    assert db.get(PrenatalVisit, visit_id) is not None
    first = next(i for i in items_of(db, pregnancy) if i.kind == "village")
    assert first.done_on is None
    void = db.exec(select(Correction).where(Correction.target_id == visit_id)).one()
    assert void.kind == "void" and void.reason == "记错了孕妇"


def test_voiding_an_outcome_removes_its_babies_and_their_items_and_allows_a_new_outcome(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    outcome_id = make_outcome(db, ctx_a, pregnancy, BORN).record_id
    services.correct_record(
        db,
        ctx_a,
        forms.read_correction(
            {"target_type": "outcome", "target_id": str(outcome_id), "kind": "void", "reason": "登记错了个案"}
        ),
    )
    assert CaseRecords(db, pregnancy).outcome is None and CaseRecords(db, pregnancy).infants == []
    assert not any(i.infant_id for i in items_of(db, pregnancy))
    make_outcome(db, ctx_a, pregnancy, BORN + DAY, [("1", "3300"), ("1", "3100")])
    assert len(CaseRecords(db, pregnancy).infants) == 2


def amend_outcome(db: Session, ctx: WriteContext, outcome_id: uuid.UUID, **changes: date) -> Written:
    raw = {"target_type": "outcome", "target_id": str(outcome_id), "kind": "amend", "reason": "日期记错"}
    raw |= {f"new-{k}": v.isoformat() for k, v in changes.items()}
    return services.correct_record(db, ctx, forms.read_correction(raw))


@pytest.mark.parametrize(
    ("changes", "field", "zh"),
    [
        ({"outcome_on": TODAY + DAY}, "new-outcome_on", "结局日期不能晚于今天"),
        ({"outcome_on": LMP - DAY}, "new-outcome_on", "结局日期不能早于末次月经日期"),
        ({"outcome_on": REGISTERED + 99 * DAY}, "new-outcome_on", "已有 2026年7月6日 的产前访视"),
        ({"discharge_on": BORN - DAY}, "new-discharge_on", "出院日期不能早于结局日期"),
        ({"outcome_on": BORN - 70 * DAY, "discharge_on": BORN}, "new-discharge_on", "出院日期应在结局日期后"),
    ],
)
def test_an_amended_outcome_must_pass_the_rules_of_a_new_outcome(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy, changes: dict[str, date], field: str, zh: str
) -> None:
    make_visit(db, ctx_a, pregnancy, visited_on=(REGISTERED + 100 * DAY).isoformat())
    outcome_id = make_outcome(db, ctx_a, pregnancy, BORN).record_id
    with pytest.raises(ValidationFailed) as exc:
        amend_outcome(db, ctx_a, outcome_id, **changes)
    assert field_of(exc) == [field]
    assert exc.value.errors[0].text.zh.startswith(zh), exc.value.errors[0].text
    assert exc.value.errors[0].text.en.split()[0] in ("Outcome", "Discharge", "There")
    assert CaseRecords(db, pregnancy).outcome.outcome_on == BORN  # type: ignore[union-attr]


def test_an_outcome_may_be_amended_to_the_day_of_the_last_prenatal_visit(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_visit(db, ctx_a, pregnancy, visited_on=(REGISTERED + 100 * DAY).isoformat())
    outcome_id = make_outcome(db, ctx_a, pregnancy, BORN).record_id
    amend_outcome(
        db, ctx_a, outcome_id, outcome_on=REGISTERED + 100 * DAY, discharge_on=REGISTERED + 103 * DAY
    )
    outcome = CaseRecords(db, pregnancy).outcome
    assert outcome is not None and outcome.outcome_on == REGISTERED + 100 * DAY


def test_a_new_outcome_dated_before_a_recorded_prenatal_visit_is_refused(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_visit(db, ctx_a, pregnancy, visited_on=(REGISTERED + 100 * DAY).isoformat())
    with pytest.raises(ValidationFailed) as exc:
        make_outcome(db, ctx_a, pregnancy, REGISTERED + 99 * DAY)
    assert field_of(exc) == ["outcome_on"]
    assert "2026年7月6日" in exc.value.errors[0].text.zh and "6 Jul 2026" in exc.value.errors[0].text.en
    assert CaseRecords(db, pregnancy).outcome is None


def test_a_correction_needs_a_reason() -> None:
    with pytest.raises(ValidationFailed) as exc:
        forms.read_correction({"target_type": "outcome", "target_id": str(uuid.uuid4()), "kind": "void"})
    assert field_of(exc) == ["reason"]


def test_of_two_edits_of_one_registration_field_the_later_made_wins_in_whatever_order_they_arrive(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    early = replace(ctx_a, device_id="phone-1", recorded_at=at)
    late = replace(ctx_a, device_id="phone-2", recorded_at=at + timedelta(hours=2))
    late_id, early_id = uuid.uuid4(), uuid.uuid4()
    services.edit_registration(db, late, "woman", pregnancy.woman_id, {"name": "刘晓红"}, late_id, "改名")
    services.edit_registration(
        db, early, "woman", pregnancy.woman_id, {"name": "刘小虹", "address": "5组"}, early_id, ""
    )
    woman = db.get(Woman, pregnancy.woman_id)
    assert woman is not None and woman.name == "刘晓红" and woman.address == "5组"
    losing = db.get(Correction, early_id)
    assert losing is not None and losing.superseded is True  # kept for the supervisor to see
    assert json.loads(losing.changes)["name"] == "刘小虹"

    third = replace(ctx_a, device_id="phone-1", recorded_at=at + timedelta(hours=5))
    services.edit_registration(db, third, "woman", pregnancy.woman_id, {"name": "刘红"}, uuid.uuid4())
    db.refresh(woman)
    winner = db.get(Correction, late_id)
    assert woman.name == "刘红" and winner is not None and winner.superseded is True


def test_editing_the_edd_moves_the_outcome_item(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    new_edd = pregnancy.edd + 10 * DAY
    changes = {"edd": new_edd.isoformat(), "edd_source": "ultrasound"}
    services.edit_registration(db, ctx_a, "pregnancy", pregnancy.id, changes, uuid.uuid4())
    outcome_item = next(i for i in items_of(db, pregnancy) if i.kind == "outcome")
    assert outcome_item.due_on == new_edd


def test_another_village_cannot_edit_a_registration(db: Session, cast: Cast, pregnancy: Pregnancy) -> None:
    with pytest.raises(NotFound):
        services.edit_registration(
            db, cast.ctx(cast.cadre_b, db, TODAY), "woman", pregnancy.woman_id, {"name": "x"}, uuid.uuid4()
        )


# --- idempotency -------------------------------------------------------------------------------------------


Write = Callable[[Session, WriteContext, Pregnancy, str], tuple[Written, type]]


def _send_visit(db: Session, ctx: WriteContext, p: Pregnancy, rid: str) -> tuple[Written, type]:
    return make_visit(db, ctx, p, id=rid, visited_on=(REGISTERED + 30 * DAY).isoformat()), PrenatalVisit


def _send_risk(db: Session, ctx: WriteContext, p: Pregnancy, rid: str) -> tuple[Written, type]:
    return make_risk(db, ctx, p, "yellow", id=rid, assessed_on=REGISTERED.isoformat()), RiskGrade


def _send_outcome(db: Session, ctx: WriteContext, p: Pregnancy, rid: str) -> tuple[Written, type]:
    return make_outcome(db, ctx, p, BORN, [("1", "3000"), ("2", "3000")], id=rid), Outcome


def _send_postnatal(db: Session, ctx: WriteContext, p: Pregnancy, rid: str) -> tuple[Written, type]:
    if not infants_of(db, p):
        make_outcome(db, ctx, p, BORN)
    return make_postnatal(db, ctx, p, "1w", id=rid), PostnatalVisit


def _send_closure(db: Session, ctx: WriteContext, p: Pregnancy, rid: str) -> tuple[Written, type]:
    return make_closure(db, ctx, p, "moved_out", id=rid), Closure


def _send_correction(db: Session, ctx: WriteContext, p: Pregnancy, rid: str) -> tuple[Written, type]:
    visits = db.exec(select(PrenatalVisit).where(PrenatalVisit.pregnancy_id == p.id)).all()
    target = visits[0].id if visits else make_visit(db, ctx, p, visited_on=REGISTERED.isoformat()).record_id
    return services.correct_record(
        db,
        ctx,
        forms.read_correction(
            {
                "id": rid,
                "target_type": "prenatal_visit",
                "target_id": str(target),
                "kind": "void",
                "reason": "重复",
            }
        ),
    ), Correction


@pytest.mark.parametrize(
    "send",
    [_send_visit, _send_risk, _send_outcome, _send_postnatal, _send_closure, _send_correction],
    ids=lambda f: f.__name__.removeprefix("_send_"),
)
def test_the_same_client_uuid_sent_twice_creates_one_record(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy, send: Write
) -> None:
    rid = str(uuid.uuid4())
    first, model = send(db, ctx_a, pregnancy, rid)
    db.commit()
    rows_before = db.exec(select(func.count()).select_from(model)).one()
    second, _ = send(db, ctx_a, pregnancy, rid)
    db.commit()
    assert db.exec(select(func.count()).select_from(model)).one() == rows_before
    assert second.duplicate is True and first.duplicate is False
    assert second.record_id == first.record_id


def test_the_same_registration_sent_twice_creates_one_woman_and_one_pregnancy(
    db: Session, ctx_a: WriteContext
) -> None:
    ids = {"id": str(uuid.uuid4()), "woman_id": str(uuid.uuid4())}
    make_registration(db, ctx_a, VILLAGE_A, **ids)
    make_registration(db, ctx_a, VILLAGE_A, **ids)
    db.commit()
    assert db.exec(select(func.count()).select_from(Woman)).one() == 1
    assert db.exec(select(func.count()).select_from(Pregnancy)).one() == 1


def test_a_uuid_of_another_villages_record_reveals_nothing_and_writes_nothing(
    db: Session, cast: Cast, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    visit_id = make_visit(db, ctx_a, pregnancy, visited_on=(REGISTERED + 30 * DAY).isoformat()).record_id
    ctx_b = cast.ctx(cast.cadre_b, db, TODAY)
    own = make_registration(db, ctx_b, VILLAGE_B, registered_on=REGISTERED, lmp=LMP)
    db.commit()
    with pytest.raises(NotFound):
        make_visit(db, ctx_b, own, id=str(visit_id), visited_on=(REGISTERED + 30 * DAY).isoformat())
    with pytest.raises(NotFound):
        make_visit(db, ctx_b, pregnancy, visited_on=(REGISTERED + 30 * DAY).isoformat())
    with pytest.raises(NotFound):
        services.correct_record(
            db,
            ctx_b,
            forms.read_correction(
                {"target_type": "prenatal_visit", "target_id": str(visit_id), "kind": "void", "reason": "x"}
            ),
        )
    db.rollback()
    assert db.exec(select(func.count()).select_from(PrenatalVisit)).one() == 1
    assert db.exec(select(func.count()).select_from(Correction)).one() == 0


# --- audit and privacy -------------------------------------------------------------------------------------


def test_every_write_leaves_an_audit_row_naming_who_and_what_but_no_personal_data(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    make_visit(db, ctx_a, pregnancy, visited_on=(REGISTERED + 30 * DAY).isoformat())
    make_outcome(db, ctx_a, pregnancy, BORN)
    db.commit()
    rows = db.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
    assert [r.action for r in rows] == ["register_pregnancy", "prenatal_visit", "outcome"]
    assert {r.user_id for r in rows} == {ctx_a.actor.user_id}
    assert all("刘小红" not in r.detail + r.target_id and "139" not in r.detail for r in rows)


def test_an_id_number_never_reaches_the_database_in_clear(
    db: Session, ctx_a: WriteContext, settings: Settings, db_kind: str
) -> None:
    """Issue 2 item 5: open the stored bytes and look for the number."""
    number = woman_id_number(date(1990, 12, 31), 2)
    make_registration(db, ctx_a, VILLAGE_A, id_number=number, birth_date="", name="钱芳")
    db.commit()
    if db_kind == "sqlite":
        db.connection().execute(text("PRAGMA wal_checkpoint(FULL)"))
        files = [p for p in Path(settings.data_dir).glob("suifang.db*") if p.is_file()]
        stored = b"".join(p.read_bytes() for p in files)
        assert "钱芳".encode() in stored  # the search can see the clear text of other fields
    else:
        tables = inspect(db.connection()).get_table_names()
        stored = "".join(
            str(db.connection().execute(text(f'SELECT t::text FROM "{t}" t')).all()) for t in tables
        ).encode()
        assert "钱芳".encode() in stored
    assert number.encode() not in stored
    assert number[:17].encode() not in stored


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"edd": "2030-01-01"}, "new-edd"),
        ({"parity": "2"}, "new-parity"),
        ({"gravidity": "０"}, "new-gravidity"),
    ],
)
def test_a_registration_edit_must_pass_the_registration_rules(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy, changes: dict[str, str], field: str
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.edit_registration(db, ctx_a, "pregnancy", pregnancy.id, changes, uuid.uuid4())
    assert field_of(exc) == [field]


@pytest.mark.parametrize("phone", ["1234", "hello", "23812341234", "138123412345"])
def test_a_womans_phone_edited_to_something_not_a_mobile_number_is_refused(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy, phone: str
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.edit_registration(db, ctx_a, "woman", pregnancy.woman_id, {"phone": phone}, uuid.uuid4())
    assert field_of(exc) == ["new-phone"]


def test_a_womans_phone_edited_as_typed_with_a_country_code_is_kept_normalised(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    services.edit_registration(
        db, ctx_a, "woman", pregnancy.woman_id, {"phone": "+86 139-1234-5678"}, uuid.uuid4()
    )
    db.commit()
    woman = db.get(Woman, pregnancy.woman_id)
    assert woman is not None and woman.phone == "13912345678"


def test_voiding_a_wrong_moved_out_reopens_the_case(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    closure_id = make_closure(db, ctx_a, pregnancy, "moved_out").record_id
    services.correct_record(
        db,
        ctx_a,
        forms.read_correction(
            {"target_type": "closure", "target_id": str(closure_id), "kind": "void", "reason": "她没有迁出"}
        ),
    )
    db.commit()
    db.refresh(pregnancy)
    assert pregnancy.status == "open" and pregnancy.closed_on is None
    make_visit(db, ctx_a, pregnancy, visited_on=TODAY.isoformat())


def test_amending_the_date_of_a_loss_to_follow_up_moves_the_closing_date(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    closure_id = make_closure(db, ctx_a, pregnancy, "lost").record_id
    services.correct_record(
        db,
        ctx_a,
        forms.read_correction(
            {
                "target_type": "closure",
                "target_id": str(closure_id),
                "kind": "amend",
                "new-closed_on": (TODAY - 3 * DAY).isoformat(),
                "reason": "日期填错",
            }
        ),
    )
    db.commit()
    db.refresh(pregnancy)
    assert pregnancy.status == "closed" and pregnancy.closed_on == TODAY - 3 * DAY


def test_a_record_already_voided_cannot_be_voided_or_amended_again(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    visit_id = make_visit(db, ctx_a, pregnancy, visited_on=(REGISTERED + 30 * DAY).isoformat()).record_id
    void = {"target_type": "prenatal_visit", "target_id": str(visit_id), "kind": "void", "reason": "x"}
    services.correct_record(db, ctx_a, forms.read_correction(void))
    for again in (void, {**void, "kind": "amend", "new-weight_kg": "60"}):
        with pytest.raises(ValidationFailed) as exc:
            services.correct_record(db, ctx_a, forms.read_correction(again))
        assert field_of(exc) == ["kind"]


def test_a_transfer_cannot_be_voided_only_repeated(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    closure_id = make_closure(db, ctx_a, pregnancy, "transferred", to_village_code=VILLAGE_B).record_id
    with pytest.raises(ValidationFailed) as exc:
        services.correct_record(
            db,
            replace(ctx_a, actor=replace(ctx_a.actor, area_codes=(VILLAGE_B,))),
            forms.read_correction(
                {"target_type": "closure", "target_id": str(closure_id), "kind": "void", "reason": "转错了"}
            ),
        )
    assert field_of(exc) == ["kind"]


def test_today_shows_the_latest_grade_as_corrected(
    db: Session, ctx_a: WriteContext, pregnancy: Pregnancy
) -> None:
    def colour() -> tuple[str | None, bool]:
        return queries.latest_colours(db, [pregnancy.id])[pregnancy.id]

    make_risk(db, ctx_a, pregnancy, "red", assessed_on=(REGISTERED + 10 * DAY).isoformat())
    green = make_risk(db, ctx_a, pregnancy, "green", assessed_on=(REGISTERED + 40 * DAY).isoformat())
    assert colour() == ("green", False)
    services.correct_record(
        db,
        ctx_a,
        forms.read_correction(
            {
                "target_type": "risk_grade",
                "target_id": str(green.record_id),
                "kind": "amend",
                "new-colour": "yellow",
                "new-purple": "1",
                "reason": "看错",
            }
        ),
    )
    assert colour() == ("yellow", True)
    services.correct_record(
        db,
        ctx_a,
        forms.read_correction(
            {"target_type": "risk_grade", "target_id": str(green.record_id), "kind": "void", "reason": "重复"}
        ),
    )
    assert colour() == ("red", False)


def test_with_the_lmp_unknown_an_edd_edit_must_keep_the_outcome_and_visits_within_their_limits(
    db: Session, ctx_a: WriteContext
) -> None:
    """The LMP is then EDD − 280 days: a new EDD moves it, and with it the 0–315 days of the outcome and the
    0–45 weeks of each visit. An EDD that breaks them is refused on the EDD, in the rules' words."""
    edd = TODAY - 30 * DAY
    p = make_registration(
        db, ctx_a, VILLAGE_A, lmp="", edd=edd.isoformat(), registered_on=(TODAY - 250 * DAY).isoformat()
    )
    make_visit(db, ctx_a, p, visited_on=(TODAY - 40 * DAY).isoformat())
    make_outcome(db, ctx_a, p, TODAY - 20 * DAY)
    db.commit()
    assert p.lmp is None

    def edit(new_edd: date) -> list[tuple[str, str]]:
        try:
            services.edit_registration(
                db, ctx_a, "pregnancy", p.id, {"edd": new_edd.isoformat()}, uuid.uuid4()
            )
        except ValidationFailed as exc:
            db.rollback()
            return [(e.field, e.text.zh) for e in exc.errors]
        db.rollback()
        return []

    # 60 days earlier: the outcome falls 350 days after the LMP reckoned from it, the visit at 47+1 weeks
    refused = edit(edd - 60 * DAY)
    assert [field for field, _ in refused] == ["new-edd", "new-edd"]
    assert "350 天" in refused[0][1] and refused[1][1] == "随访时孕周为 47+1 周，应在 0–45 周之间"
    assert edit(edd - 5 * DAY) == []  # within the limits: accepted
