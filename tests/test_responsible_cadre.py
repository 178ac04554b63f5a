"""负责专干 (DOMAIN.md §3): every pregnancy has a responsible cadre — whoever registered it or took it over,
or the one the township supervisor chose — and a cadre who leaves hands her cases on without a write."""

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import Session, select

from backend.accounts import admin
from backend.accounts.models import AuditEntry, User
from backend.accounts.services import create_user
from backend.cases.models import CaseChange, DueItem, Pregnancy
from backend.cases.responsibility import answerable, responsible_cadre
from backend.cases.services import Forbidden
from backend.cases.services.assignment import assign_cadre
from backend.lib.clock import local_today
from backend.lib.i18n import ValidationFailed
from backend.review import by_cadre
from backend.review import coverage as cov
from backend.review.dashboard import build_dashboard
from backend.review.indicators import total_coverage
from backend.review.periods import Period, quarter_of
from backend.scope import Scope
from tests.case_factories import items_of, make_closure, make_registration, make_visit
from tests.conftest import PASSWORD, TOWNSHIP_T, VILLAGE_A, VILLAGE_B, Cast
from tests.page_client import *  # noqa: F403  (the `pages` fixture)
from tests.page_client import Pages

TODAY = local_today("Asia/Shanghai")
ids = st.uuids()


@given(stored=st.none() | ids, cadres=st.lists(ids, max_size=4, unique=True))
def test_who_answers_is_the_cadre_set_while_she_has_the_village_else_its_only_cadre_else_nobody(
    stored: uuid.UUID | None, cadres: list[uuid.UUID]
) -> None:
    who = answerable(stored, cadres)
    assert who is None or who in cadres  # never someone who does not answer for the village
    if stored in cadres:
        assert who == stored
    elif len(cadres) == 1:
        assert who == cadres[0]
    else:
        assert who is None  # several share the village, or none: the supervisor chooses


@given(cadres=st.lists(ids, min_size=1, max_size=4, unique=True), data=st.data())
def test_the_cadre_set_on_a_case_keeps_it_whoever_else_joins_the_village(
    cadres: list[uuid.UUID], data: st.DataObject
) -> None:
    stored = data.draw(st.sampled_from(cadres))
    joined = data.draw(st.lists(ids, max_size=3))
    assert answerable(stored, [*cadres, *joined]) == stored


def second_cadre_of_a(db: Session) -> User:
    """A second cadre sharing village A with cadre A (a 村医 beside the 计生专干)."""
    user = create_user(
        db, phone="13800000009", name="赵芳", password=PASSWORD, role="village", area_codes=[VILLAGE_A]
    )
    db.commit()
    return user


def test_a_cadre_who_registers_a_case_answers_for_it(db: Session, cast: Cast) -> None:
    second_cadre_of_a(db)
    p = make_registration(db, cast.ctx(cast.cadre_a, db, TODAY), VILLAGE_A)
    assert p.cadre_id == cast.cadre_a.id
    answering = responsible_cadre(db, p).answering
    assert answering is not None and answering.id == cast.cadre_a.id


def test_a_case_the_supervisor_registers_goes_to_the_village_s_only_cadre_or_waits_for_her_choice(
    db: Session, cast: Cast
) -> None:
    p = make_registration(db, cast.ctx(cast.sup_t, db, TODAY), VILLAGE_A)
    assert p.cadre_id == cast.cadre_a.id
    other = second_cadre_of_a(db)
    q = make_registration(db, cast.ctx(cast.sup_t, db, TODAY), VILLAGE_A)
    assert q.cadre_id is None
    assert responsible_cadre(db, q).answering is None
    assert {u.id for u in responsible_cadre(db, q).choices} == {cast.cadre_a.id, other.id}
    # the case registered while cadre A was the only one stays hers
    assert responsible_cadre(db, p).answering.id == cast.cadre_a.id  # type: ignore[union-attr]


def test_a_transferred_case_goes_to_the_new_village_s_cadre(db: Session, cast: Cast) -> None:
    p = make_registration(
        db, cast.ctx(cast.cadre_a, db, TODAY), VILLAGE_A, registered_on=TODAY - timedelta(days=30)
    )
    make_closure(db, cast.ctx(cast.cadre_a, db, TODAY), p, "transferred", to_village_code=VILLAGE_B)
    db.refresh(p)
    assert p.village_code == VILLAGE_B and p.cadre_id == cast.cadre_b.id


def test_a_cadre_who_leaves_hands_her_cases_on_without_a_write(db: Session, cast: Cast) -> None:
    other = second_cadre_of_a(db)
    p = make_registration(db, cast.ctx(cast.cadre_a, db, TODAY), VILLAGE_A)
    db.commit()
    admin.set_active(db, cast.actor(cast.sup_t, db), cast.cadre_a.id, False)
    db.commit()
    db.refresh(p)
    assert p.cadre_id == cast.cadre_a.id  # nothing written to the case
    answering = responsible_cadre(db, p).answering
    assert answering is not None and answering.id == other.id


def feed_rows(db: Session, p: Pregnancy) -> int:
    return db.exec(select(func.count()).select_from(CaseChange).where(CaseChange.pregnancy_id == p.id)).one()


def test_the_supervisor_chooses_among_the_village_s_cadres_noted_in_the_feed_and_audited(
    db: Session, cast: Cast
) -> None:
    other = second_cadre_of_a(db)
    p = make_registration(db, cast.ctx(cast.cadre_a, db, TODAY), VILLAGE_A)
    db.commit()
    before = feed_rows(db, p)
    assign_cadre(db, cast.ctx(cast.sup_t, db, TODAY), p.id, other.id)
    db.commit()
    db.refresh(p)
    assert p.cadre_id == other.id
    assert feed_rows(db, p) == before + 1  # phones and the supervisors' cached figures follow
    entry = db.exec(select(AuditEntry).where(AuditEntry.action == "assign_cadre")).one()
    assert entry.target_id == str(p.id) and entry.user_id == cast.sup_t.id
    with pytest.raises(ValidationFailed) as refused:
        assign_cadre(db, cast.ctx(cast.sup_t, db, TODAY), p.id, cast.cadre_b.id)  # village B's cadre
    assert [e.field for e in refused.value.errors] == ["cadre_id"]
    with pytest.raises(Forbidden):
        assign_cadre(db, cast.ctx(cast.cadre_a, db, TODAY), p.id, cast.cadre_a.id)


def test_the_case_page_names_the_cadre_and_the_supervisor_reassigns_it_there(
    db: Session, cast: Cast, pages: Pages
) -> None:
    other = second_cadre_of_a(db)
    p = make_registration(db, cast.ctx(cast.cadre_a, db, TODAY), VILLAGE_A, name="钱小红")
    db.commit()
    cadre_page = pages.client(cast.cadre_a).get(f"/women/{p.woman_id}").text
    assert "负责专干" in cadre_page and "王秀英" in cadre_page
    assert "/assign/" not in cadre_page  # a cadre does not choose
    sup = pages.client(cast.sup_t)
    page = sup.get(f"/women/{p.woman_id}").text
    assert f'action="/assign/{p.id}"' in page and "赵芳" in page
    refused = sup.post(f"/assign/{p.id}", {"cadre_id": "not-a-uuid"})
    assert refused.status_code == 422
    assert "请选择该村的在岗专干" in refused.text and "钱小红" in refused.text
    refused = sup.post(f"/assign/{p.id}", {"cadre_id": str(cast.cadre_b.id)})
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text
    done = sup.post(f"/assign/{p.id}", {"cadre_id": str(other.id)})
    assert done.status_code == 303 and done.headers["location"] == f"/women/{p.woman_id}?saved=cadre"
    db.expire_all()
    assert db.get(Pregnancy, p.id).cadre_id == other.id  # type: ignore[union-attr]
    shown = sup.get(f"/women/{p.woman_id}").text
    assert f'<option value="{other.id}" selected>' in shown
    assert "赵芳" in shown.split('class="cadre"')[1].split("</dd>")[0]
    county = pages.client(cast.county).get(f"/women/{p.woman_id}").text
    assert "赵芳" in county and "/assign/" not in county


def items_due(db: Session, p: Pregnancy, period: Period) -> int:
    return db.exec(
        select(func.count())
        .select_from(DueItem)
        .where(DueItem.pregnancy_id == p.id, DueItem.due_on >= period.start, DueItem.due_on <= period.end)
    ).one()


def test_in_a_shared_village_each_cadre_s_row_counts_only_the_cases_she_answers_for(
    db: Session, cast: Cast
) -> None:
    other = second_cadre_of_a(db)
    began = {"registered_on": TODAY - timedelta(days=100), "lmp": TODAY - timedelta(days=150)}
    mine = make_registration(db, cast.ctx(cast.cadre_a, db, TODAY), VILLAGE_A, **began)
    hers = make_registration(db, cast.ctx(other, db, TODAY), VILLAGE_A, **began)
    nobodys = make_registration(db, cast.ctx(cast.sup_t, db, TODAY), VILLAGE_A, **began)
    make_visit(db, cast.ctx(cast.cadre_a, db, TODAY), mine)
    db.commit()
    period = quarter_of(TODAY)
    assert min(items_due(db, p, period) for p in (mine, hers, nobodys)) > 0

    def board() -> tuple[Any, Any, Any]:
        b = build_dashboard(db, TOWNSHIP_T, "甲镇", period, TODAY)
        rows = {c.user_id: c for c in b.cadres}
        village = next(v for v in b.villages if v.code == VILLAGE_A)
        return rows.get(cast.cadre_a.id), rows.get(other.id), village

    a, o, village = board()
    assert (a.pregnancies, o.pregnancies, village.pregnancies, village.unanswered) == (1, 1, 3, 1)
    assert a.coverage.due == items_due(db, mine, period) and o.coverage.due == items_due(db, hers, period)
    assert a.coverage.on_time + a.coverage.late == 1 and o.coverage.on_time + o.coverage.late == 0
    assert a.coverage.due + o.coverage.due + items_due(db, nobodys, period) == village.coverage.due

    assign_cadre(db, cast.ctx(cast.sup_t, db, TODAY), nobodys.id, other.id)
    db.commit()
    a, o, village = board()
    assert (a.pregnancies, o.pregnancies, village.unanswered) == (1, 2, 0)

    admin.set_active(db, cast.actor(cast.sup_t, db), other.id, False)  # she leaves: cadre A answers for all
    db.commit()
    a, o, village = board()
    assert o is None and a.pregnancies == 3 and a.coverage == village.coverage


def test_the_escalations_and_the_village_page_name_the_cadre_of_each_case(
    db: Session, cast: Cast, pages: Pages
) -> None:
    other = second_cadre_of_a(db)
    long_ago = {"registered_on": TODAY - timedelta(days=200), "lmp": TODAY - timedelta(days=300)}
    make_registration(db, cast.ctx(other, db, TODAY), VILLAGE_A, name="孙晓", **long_ago)
    make_registration(db, cast.ctx(cast.sup_t, db, TODAY), VILLAGE_A, name="钱多", **long_ago)
    db.commit()
    sup = pages.client(cast.sup_t)
    rows = {
        row.split("</a>")[0].rsplit(">", 1)[1]: row
        for row in sup.get("/review/escalations").text.split('id="esc-outcome"')[1].split("<tr>")[2:]
    }
    assert "赵芳" in rows["孙晓"] and "王秀英" not in rows["孙晓"]
    assert "未指定" in rows["钱多"]  # both names listed, marked as nobody chosen
    village = sup.get(f"/review/village/{VILLAGE_A}").text
    assert "负责 赵芳" in village and "未指定" in village


def test_today_lists_a_colleague_s_cases_apart_and_her_badge_counts_only_hers(
    db: Session, cast: Cast, pages: Pages
) -> None:
    other = second_cadre_of_a(db)
    overdue = {"registered_on": TODAY - timedelta(days=100), "lmp": TODAY - timedelta(days=150)}
    make_registration(db, cast.ctx(cast.cadre_a, db, TODAY), VILLAGE_A, name="周一", **overdue)
    make_registration(db, cast.ctx(other, db, TODAY), VILLAGE_A, name="吴二", **overdue)
    make_registration(db, cast.ctx(cast.sup_t, db, TODAY), VILLAGE_A, name="郑三", **overdue)  # nobody's
    db.commit()

    def sections(page: str) -> dict[str, list[str]]:
        """Section id → the lines in it, each starting with the woman's name."""
        out = {}
        for part in page.split('<section class="list-section" id="')[1:]:
            name, rest = part.split('"', 1)
            out[name] = [line.split('class="who">')[1] for line in rest.split('<li class="item ')[1:]]
        return out

    def badge(page: str) -> int:
        return int(page.split('id="overdue-badge">')[1].split("<")[0])

    page = pages.client(cast.cadre_a).get("/").text
    mine = sections(page)
    main = [line for name in ("overdue", "today", "week", "upcoming") for line in mine[name]]
    assert {line[:2] for line in main} == {"周一", "郑三"}  # hers and nobody's
    assert mine["colleagues"] and all(
        line.startswith("吴二") and "赵芳负责" in line for line in mine["colleagues"]
    )
    assert not any("负责" in line for line in main)
    assert badge(page) == len(mine["overdue"]) > 0  # her overdue ones, her colleague's apart
    assert badge(pages.client(cast.cadre_a).get("/women").text) == badge(page)  # the same on every page
    theirs = sections(pages.client(other).get("/").text)
    assert {line[:2] for line in theirs["colleagues"]} == {"周一"} and "王秀英负责" in theirs["colleagues"][0]
    supervisor = pages.client(cast.sup_t).get("/").text
    assert 'class="colleague"' not in supervisor and 'id="colleagues"' not in supervisor
    b = pages.client(cast.cadre_b).get("/").text  # alone in her village: as before
    assert 'id="colleagues"' not in b


def test_the_supervisor_divides_a_shared_village_in_one_save_all_or_nothing(
    db: Session, cast: Cast, pages: Pages
) -> None:
    other = second_cadre_of_a(db)
    mine = make_registration(db, cast.ctx(cast.cadre_a, db, TODAY), VILLAGE_A, name="周一")
    nobodys = make_registration(db, cast.ctx(cast.sup_t, db, TODAY), VILLAGE_A, name="郑三")
    elsewhere = make_registration(db, cast.ctx(cast.cadre_b, db, TODAY), VILLAGE_B, name="冯四")
    db.commit()
    sup = pages.client(cast.sup_t)
    path = f"/review/village/{VILLAGE_A}/cadres"
    assert path in sup.get(f"/review/village/{VILLAGE_A}").text
    page = sup.get(path).text
    assert "周一" in page and "郑三" in page and "冯四" not in page
    assert f'name="cadre-{nobodys.id}"' in page and f'name="cadre-{elsewhere.id}"' not in page

    def stored() -> tuple[Any, Any, Any]:
        db.rollback()  # a fresh read, after the app's commit
        db.expire_all()
        return tuple(db.get(Pregnancy, p.id).cadre_id for p in (mine, nobodys, elsewhere))  # type: ignore[union-attr]

    refused = sup.post(
        path,
        {
            f"cadre-{mine.id}": str(other.id),  # fine alone
            f"cadre-{nobodys.id}": str(cast.cadre_b.id),  # village B's cadre
        },
    )
    assert refused.status_code == 422
    assert "郑三" in refused.text.split('id="error-summary"')[1].split("</div>")[0]
    assert f'<option value="{cast.cadre_b.id}"' not in refused.text  # not offered; what was typed is kept
    assert f'<option value="{other.id}" selected>' in refused.text.split(f'name="cadre-{mine.id}"')[1]
    assert stored() == (cast.cadre_a.id, None, cast.cadre_b.id)  # nothing saved
    done = sup.post(
        path,
        {
            f"cadre-{mine.id}": str(cast.cadre_a.id),  # unchanged
            f"cadre-{nobodys.id}": str(other.id),
            f"cadre-{elsewhere.id}": str(other.id),  # not a case of this village: left alone
        },
    )
    assert done.status_code == 303 and done.headers["location"] == f"{path}?saved=1"
    assert stored() == (cast.cadre_a.id, other.id, cast.cadre_b.id)
    assert "1 人改了负责专干" in sup.get(done.headers["location"]).text


def test_before_deactivating_a_cadre_the_supervisor_sees_where_her_cases_will_go(
    db: Session, cast: Cast, pages: Pages
) -> None:
    make_registration(db, cast.ctx(cast.cadre_a, db, TODAY), VILLAGE_A, name="周一")
    make_registration(db, cast.ctx(cast.cadre_a, db, TODAY), VILLAGE_A, name="吴二")
    make_registration(db, cast.ctx(cast.cadre_b, db, TODAY), VILLAGE_B, name="冯四")
    db.commit()
    sup = pages.client(cast.sup_t)

    def handover(user: User) -> str:
        return sup.get(f"/admin/people/{user.id}").text.split('class="handover"')[1].split("</ul>")[0]

    assert "东岭村：2 人，" in handover(cast.cadre_a) and "由乡镇负责" in handover(cast.cadre_a)
    assert "西河村：1 人，" in handover(cast.cadre_b)
    other = second_cadre_of_a(db)
    assert "交给 赵芳" in handover(cast.cadre_a) and "东岭村：0 人，交给 王秀英" in handover(other)
    create_user(
        db, phone="13800000008", name="孙丽", password=PASSWORD, role="village", area_codes=[VILLAGE_A]
    )
    db.commit()
    assert "待指定（本村另有 孙丽、赵芳）" in handover(cast.cadre_a)


def test_a_shared_village_s_parts_add_up_to_its_figure_when_women_move_in_and_out(
    db: Session, cast: Cast
) -> None:
    """Items of a woman who moved follow the village of their due date (coverage.Moves); in a shared village
    those from before she moved in or after she left are nobody's, and the parts still add up."""
    other = second_cadre_of_a(db)
    began = {"registered_on": TODAY - timedelta(days=100), "lmp": TODAY - timedelta(days=150)}
    leaving = make_registration(db, cast.ctx(cast.cadre_a, db, TODAY), VILLAGE_A, **began)
    arriving = make_registration(db, cast.ctx(cast.cadre_b, db, TODAY), VILLAGE_B, **began)
    staying = make_registration(db, cast.ctx(other, db, TODAY), VILLAGE_A, **began)
    moved_on = TODAY - timedelta(days=40)
    make_closure(
        db,
        cast.ctx(cast.cadre_a, db, TODAY),
        leaving,
        "transferred",
        to_village_code=VILLAGE_B,
        closed_on=moved_on.isoformat(),
    )
    make_closure(
        db,
        cast.ctx(cast.sup_t, db, TODAY),
        arriving,
        "transferred",
        to_village_code=VILLAGE_A,
        closed_on=moved_on.isoformat(),
    )
    db.commit()
    db.refresh(arriving)
    assert arriving.cadre_id is None  # moved into a shared village by the supervisor: she chooses
    assign_cadre(db, cast.ctx(cast.sup_t, db, TODAY), arriving.id, other.id)
    db.commit()
    period = quarter_of(TODAY)
    scope = Scope((VILLAGE_A,))
    whole = cov.coverage_by_village(db, scope, period, TODAY, cov.load_moves(db, scope, {}))[VILLAGE_A]
    cadres = {VILLAGE_A: [cast.cadre_a.id, other.id]}
    shared = by_cadre.shared_villages(db, cadres, period, TODAY, TODAY)
    parts = {who: c for (code, who), c in shared.coverage.items() if code == VILLAGE_A}
    assert total_coverage(parts.values()) == whole

    def due(p: Pregnancy, since: date = period.start, until: date = period.end) -> int:
        return sum(1 for i in items_of(db, p) if since <= i.due_on <= until)

    # what fell due for the woman who left while she was here: nobody's (who answered then is not kept)
    assert parts[None].due == due(leaving, until=moved_on - timedelta(days=1)) > 0
    # the woman who stayed, and the one who came from the day she came: the doctor's
    assert parts[other.id].due == due(staying) + due(arriving, since=moved_on)
    assert cast.cadre_a.id not in parts  # her only case here left


def test_choosing_a_cadre_for_a_case_closed_meanwhile_says_so(db: Session, cast: Cast, pages: Pages) -> None:
    other = second_cadre_of_a(db)
    p = make_registration(db, cast.ctx(cast.cadre_a, db, TODAY), VILLAGE_A, name="钱小红")
    db.commit()
    sup = pages.client(cast.sup_t)
    assert f'action="/assign/{p.id}"' in sup.get(f"/women/{p.woman_id}").text
    make_closure(db, cast.ctx(cast.cadre_a, db, TODAY), p, "moved_out")  # while her page is open
    db.commit()
    refused = sup.post(f"/assign/{p.id}", {"cadre_id": str(other.id)})
    assert refused.status_code == 422
    assert "该个案已结案" in refused.text.split('role="alert"')[1].split("</div>")[0]
