"""A baby is followed to 6 months (DOMAIN §4.3) even when her mother's part of the case has ended: the mother
died, or her next pregnancy was registered. Her visits and her death can still be recorded, and the case page
offers them; nothing else is written to the closed case."""

from datetime import date, timedelta

import pytest
from sqlmodel import Session

from backend.cases.models import Infant, Pregnancy
from backend.cases.schedule_store import item_of
from backend.lib.clock import local_today
from backend.lib.i18n import ValidationFailed
from backend.schedule import State, state_of
from tests.case_factories import (
    infants_of,
    items_of,
    make_closure,
    make_outcome,
    make_postnatal,
    make_registration,
    make_visit,
)
from tests.conftest import VILLAGE_A, Cast
from tests.page_client import *  # noqa: F403  (the `pages` fixture)
from tests.page_client import Pages

DAY = timedelta(days=1)


def born_and_bereaved(db: Session, cast: Cast, today: date) -> tuple[Pregnancy, Infant]:
    """A birth 20 days ago; the mother died two days after it."""
    born = today - 20 * DAY
    lmp = born - 270 * DAY
    ctx = cast.ctx(cast.cadre_a, db, born + 2 * DAY)
    pregnancy = make_registration(
        db, ctx, VILLAGE_A, lmp=lmp.isoformat(), registered_on=(lmp + 60 * DAY).isoformat()
    )
    make_outcome(db, ctx, pregnancy, born, [("1", "3300")])
    make_closure(db, ctx, pregnancy, "died", closed_on=(born + 2 * DAY).isoformat(), reason="产后出血")
    db.commit()
    return pregnancy, infants_of(db, pregnancy)[0]


def born_then_pregnant_again(db: Session, cast: Cast, today: date) -> tuple[Pregnancy, Infant]:
    """A girl born 100 days ago (her 3-month visit is due); her mother pregnant again, registered today."""
    born = today - 100 * DAY
    lmp = born - 270 * DAY
    ctx = cast.ctx(cast.cadre_a, db, born)
    earlier = make_registration(
        db, ctx, VILLAGE_A, lmp=lmp.isoformat(), registered_on=(lmp + 60 * DAY).isoformat()
    )
    make_outcome(db, ctx, earlier, born, [("2", "3300")])
    again = cast.ctx(cast.cadre_a, db, today)
    next_lmp = (today - 50 * DAY).isoformat()
    make_registration(db, again, VILLAGE_A, woman_id=str(earlier.woman_id), lmp=next_lmp)
    db.commit()
    return earlier, infants_of(db, earlier)[0]


def test_after_the_mothers_death_her_babys_visits_and_death_are_still_recorded(
    db: Session, cast: Cast
) -> None:
    today = date(2026, 11, 20)
    pregnancy, baby = born_and_bereaved(db, cast, today)
    ctx = cast.ctx(cast.cadre_a, db, today)
    assert pregnancy.status == "closed" and pregnancy.close_reason == "died"

    make_postnatal(db, ctx, pregnancy, "2w", baby, visited_on=today.isoformat())
    with pytest.raises(ValidationFailed) as refused:  # the mother's part is over
        make_postnatal(db, ctx, pregnancy, "1w", None, visited_on=today.isoformat())
    assert [e.field for e in refused.value.errors] == ["pregnancy_id"]
    with pytest.raises(ValidationFailed):  # and the case is not closed a second way
        make_closure(db, ctx, pregnancy, "lost", infant_id=str(baby.id))
    make_closure(db, ctx, pregnancy, "died", infant_id=str(baby.id), reason="肺炎")
    db.commit()

    states = {i.kind: state_of(item_of(i), today) for i in items_of(db, pregnancy, infant=baby)}
    assert states["infant_2w"] in (State.DONE_ON_TIME, State.DONE_LATE)
    assert not {State.DUE, State.UPCOMING, State.OVERDUE} & set(states.values())  # nothing left to do


def test_after_her_next_pregnancy_is_registered_her_earlier_baby_is_still_visited(
    db: Session, cast: Cast
) -> None:
    today = date(2026, 11, 20)
    earlier, baby = born_then_pregnant_again(db, cast, today)
    ctx = cast.ctx(cast.cadre_a, db, today)
    db.refresh(earlier)
    assert (earlier.status, earlier.close_reason) == ("closed", "completed")

    make_postnatal(db, ctx, earlier, "3m", baby, visited_on=today.isoformat())
    with pytest.raises(ValidationFailed):  # nothing more about her earlier pregnancy itself
        make_visit(db, ctx, earlier, visited_on=today.isoformat())
    db.commit()
    [three_months] = [i for i in items_of(db, earlier, infant=baby) if i.kind == "infant_3m"]
    assert three_months.done_on == today


def test_the_case_page_offers_the_babys_visits_after_her_mother_died(
    db: Session, cast: Cast, pages: Pages
) -> None:
    pregnancy, baby = born_and_bereaved(db, cast, local_today("Asia/Shanghai"))
    page = pages.client(cast.cadre_a).get(f"/women/{pregnancy.woman_id}").text
    assert f"/p/{pregnancy.id}/postnatal?infant={baby.id}" in page
    assert f"/p/{pregnancy.id}/close?kind=died&amp;infant={baby.id}" in page
    assert "登记她的新一次妊娠" not in page  # she died


def test_the_case_page_shows_her_earlier_baby_still_followed(db: Session, cast: Cast, pages: Pages) -> None:
    earlier, baby = born_then_pregnant_again(db, cast, local_today("Asia/Shanghai"))
    page = pages.client(cast.cadre_a).get(f"/women/{earlier.woman_id}").text
    section = page.split('id="earlier-babies"', 1)[1]
    assert "上次妊娠的婴儿" in page
    assert f"/p/{earlier.id}/postnatal?infant={baby.id}" in section
    assert 'data-item-kind="infant_3m"' in section and "3月龄访视" in section  # her schedule, still open


def test_a_bereaved_babys_page_and_forms_are_kept_on_the_phone(db: Session, cast: Cast, pages: Pages) -> None:
    pregnancy, _baby = born_and_bereaved(db, cast, local_today("Asia/Shanghai"))
    closed_for_good = make_registration(
        db, cast.ctx(cast.cadre_a, db, local_today("Asia/Shanghai")), VILLAGE_A, name="李梅"
    )
    make_closure(db, cast.ctx(cast.cadre_a, db, local_today("Asia/Shanghai")), closed_for_good, "moved_out")
    db.commit()
    kept = set(pages.client(cast.cadre_a).get("/api/pwa/pages").json()["pages"])
    assert {
        f"/women/{pregnancy.woman_id}",
        f"/p/{pregnancy.id}/postnatal",
        f"/p/{pregnancy.id}/close",
    } <= kept
    assert f"/women/{closed_for_good.woman_id}" not in kept  # moved away: nothing left to do here
