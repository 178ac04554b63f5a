"""The cadre's pages in-process: what each shows, forms that keep what was typed and say what is wrong beside
each field in the user's language, lenient dates and digits, one record per client UUID, and never a 500
whatever is posted."""

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, func, select

from backend.cases.models import Correction, Infant, Outcome, PostnatalVisit, Pregnancy, PrenatalVisit, Woman
from backend.lib.clock import local_today
from tests.case_factories import (
    infants_of,
    make_outcome,
    make_registration,
    make_visit,
    registration_form,
    woman_id_number,
)
from tests.conftest import VILLAGE_A, VILLAGE_B, Cast
from tests.page_client import *  # noqa: F403  (the `pages` fixture)
from tests.page_client import Pages

TODAY = local_today("Asia/Shanghai")  # the app's day: pages validate against the real local date
DAY = timedelta(days=1)
REGISTERED = TODAY - 240 * DAY
LMP = REGISTERED - 56 * DAY
BORN = TODAY - 9 * DAY  # the 1-week items are two days overdue


def twins_case(db: Session, cast: Cast) -> Pregnancy:
    """A woman of village A with a visit and twins (a boy of 2600 g, a girl of 2400 g) born 9 days ago."""
    ctx = cast.ctx(cast.cadre_a, db, TODAY)
    p = make_registration(
        db,
        ctx,
        VILLAGE_A,
        registered_on=REGISTERED,
        lmp=LMP,
        name="陈美",
        id_number=woman_id_number(),
        phone="13912345678",
    )
    make_visit(db, ctx, p, visited_on=(REGISTERED + 30 * DAY).isoformat())
    make_outcome(db, ctx, p, BORN, [("1", "2600"), ("2", "2400")])
    db.commit()
    return p


def open_case(db: Session, cast: Cast, **overrides: Any) -> Pregnancy:
    values = {"registered_on": TODAY - 20 * DAY, "lmp": TODAY - 90 * DAY, **overrides}
    p = make_registration(db, cast.ctx(cast.cadre_a, db, TODAY), VILLAGE_A, **values)
    db.commit()
    return p


def text_of(page_html: str) -> str:
    """The visible text, roughly: tags dropped, entities decoded, whitespace squeezed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page_html)))


def value_of(page_html: str, name: str) -> str | None:
    """The value an <input name=…> carries as rendered."""
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*value="([^"]*)"', page_html)
    return html.unescape(match.group(1)) if match else None


def selected_of(page_html: str, name: str) -> str | None:
    select_html = re.search(rf'<select[^>]*name="{re.escape(name)}".*?</select>', page_html, re.S)
    if select_html is None:
        return None
    match = re.search(r'<option value="([^"]*)"[^>]*\bselected>', select_html.group(0))
    return match.group(1) if match else None


def error_beside(page_html: str, name: str) -> str | None:
    match = re.search(rf'<p class="error" id="e-{re.escape(name)}">([^<]*)</p>', page_html)
    return html.unescape(match.group(1)) if match else None


def fresh(db: Session) -> Session:
    """The test's session, its transaction ended so it sees what the app committed since."""
    db.rollback()
    db.expire_all()  # objects loaded before keep their old values otherwise
    return db


def count(db: Session, model: type) -> int:
    return int(fresh(db).exec(select(func.count()).select_from(model)).one())


# --- what pages show ---------------------------------------------------------------------------------------


def test_every_cadre_page_answers_in_chinese_by_default_and_in_english_after_the_switch(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = twins_case(db, cast)
    a = pages.client(cast.cadre_a)
    paths = [
        "/",
        "/women",
        f"/women/{p.woman_id}",
        "/register",
        f"/p/{p.id}/visit",
        f"/p/{p.id}/risk",
        f"/p/{p.id}/outcome",
        f"/p/{p.id}/postnatal",
        f"/p/{p.id}/close",
        "/settings",
    ]
    for path in paths:
        r = a.get(path)
        assert r.status_code == 200, path
        assert '<html lang="zh-CN">' in r.text and "今日工作" in r.text, path
    assert a.get("/lang/en", headers={"referer": "http://testserver.local/women"}).url.path == "/women"
    for path in paths:
        r = a.get(path)
        assert '<html lang="en">' in r.text and "Today" in r.text and "今日工作" not in r.text, path


def test_today_lists_the_overdue_items_first_with_days_overdue_and_whom_each_is_for(
    db: Session, cast: Cast, pages: Pages
) -> None:
    twins_case(db, cast)
    page = pages.client(cast.cadre_a).get("/").text
    overdue = text_of(page[page.index('id="overdue"') : page.index('id="today"')])
    assert "产后1周访视 — 男婴 1" in overdue and "产后1周访视 — 女婴 2" in overdue
    assert "产后1周访视 — 产妇" in overdue
    assert "逾期 2 天" in overdue and "逾期 6 天" in overdue  # the girl, under 2500 g, was due on day 3
    closed = TODAY - 2 * DAY  # the days are counted from the date shown: when the window closed
    assert f"逾期 2 天 · 截止 {closed.year}年{closed.month}月{closed.day}日" in overdue
    assert "陈美" in overdue and "东岭村" in overdue
    assert page.index('id="overdue"') < page.index('id="today"') < page.index('id="week"')
    assert 'class="badge" id="overdue-badge">3<' in page


def test_a_supervisors_today_lists_a_long_section_in_part_with_its_whole_count_and_a_cadres_whole(
    db: Session, cast: Cast, pages: Pages, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backend.cases.pages import browse

    twins_case(db, cast)  # three overdue items in village A
    monkeypatch.setattr(browse, "TODAY_LINES", 2)
    supervisor = pages.client(cast.sup_t).get("/").text
    overdue = supervisor[supervisor.index('id="overdue"') : supervisor.index('id="today"')]
    assert overdue.count('<li class="item') == 2
    assert 'data-more="1"' in overdue and '<span class="count">3</span>' in overdue
    assert "另有 1 条未列出" in text_of(overdue) and 'href="/review"' in overdue
    cadre = pages.client(cast.cadre_a).get("/").text
    overdue = cadre[cadre.index('id="overdue"') : cadre.index('id="today"')]
    assert overdue.count('<li class="item') == 3 and "data-more" not in overdue


def test_a_line_of_today_shows_the_risk_colour(db: Session, cast: Cast, pages: Pages) -> None:
    open_case(db, cast, colour="red", name="周红")
    page = text_of(pages.client(cast.cadre_a).get("/").text)
    assert "周红" in page and "红色" in page and "高危" in page


def test_the_overdue_badge_is_in_the_header_of_every_page(db: Session, cast: Cast, pages: Pages) -> None:
    p = twins_case(db, cast)
    a = pages.client(cast.cadre_a)
    for path in ["/women", f"/women/{p.woman_id}", f"/p/{p.id}/postnatal", "/settings"]:
        assert 'id="overdue-badge">3<' in a.get(path).text, path


def test_women_are_found_by_name_phone_tail_or_id_tail_with_masked_numbers_only(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = twins_case(db, cast)
    number = woman_id_number()
    a = pages.client(cast.cadre_a)
    for q in ("陈", "5678", number[-4:]):
        page = a.post("/women", {"q": q}).text
        assert f"/women/{p.woman_id}" in page, q
        assert "139****5678" in page and number[:6] + "********" + number[-4:] in page
        assert number not in page and "13912345678" not in page
    assert f"/women/{p.woman_id}" not in a.post("/women", {"q": "王"}).text
    assert f"/women/{p.woman_id}" not in a.post("/women", {"q": "%"}).text


def test_the_case_page_shows_gestation_today_edd_risk_checks_schedule_and_history(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = open_case(db, cast, colour="orange", name="吴丽")
    page = text_of(pages.client(cast.cadre_a).get(f"/women/{p.woman_id}").text)
    assert "孕12+6周" in page  # LMP 90 days ago
    assert f"预产期 {p.edd.year}年{p.edd.month}月{p.edd.day}日" in page
    assert "橙色" in page and "第1次产检（早孕建册）" in page and "村每月访视" in page
    assert "孕10+0周 · 早孕建册" in page  # GA at registration, booked early


# --- forms: what goes in ----------------------------------------------------------------------------------


def test_a_registration_through_the_form_opens_the_new_case(db: Session, cast: Cast, pages: Pages) -> None:
    form = registration_form(VILLAGE_A, TODAY, name="郑雪", lmp=(TODAY - 60 * DAY).isoformat())
    r = pages.client(cast.cadre_a).post("/register", form)
    assert r.status_code == 303
    woman = fresh(db).exec(select(Woman).where(Woman.name == "郑雪")).one()
    assert r.headers["location"] == f"/women/{woman.id}?saved=register"
    page = text_of(pages.client(cast.cadre_a).get(r.headers["location"]).text)
    assert "已保存" in page and "孕8+4周" in page


def test_a_date_written_in_chinese_and_numbers_in_full_width_digits_are_accepted(
    db: Session, cast: Cast, pages: Pages
) -> None:
    lmp = TODAY - 70 * DAY
    form = registration_form(
        VILLAGE_A,
        TODAY,
        name="冯云",
        lmp=f"{lmp.year}年{lmp.month}月{lmp.day}日",
        birth_date="１９９３年４月５日",
        gravidity="２",
        parity="１",
    )
    assert pages.client(cast.cadre_a).post("/register", form).status_code == 303
    pregnancy = fresh(db).exec(select(Pregnancy).join(Woman).where(Woman.name == "冯云")).one()
    assert (pregnancy.lmp, pregnancy.gravidity, pregnancy.parity) == (lmp, 2, 1)


def test_an_invalid_registration_keeps_everything_typed_and_says_beside_each_field_what_is_wrong(
    db: Session, cast: Cast, pages: Pages
) -> None:
    good = woman_id_number()
    bad_id = good[:17] + ("0" if good[17] != "0" else "1")
    lmp = TODAY - 50 * DAY
    form = registration_form(
        VILLAGE_A,
        TODAY,
        name="蒋玲",
        id_number=bad_id,
        phone="12345",
        address="5组8号",
        lmp=f"{lmp.year}年{lmp.month}月{lmp.day}日",
        gravidity="3",
        parity="1",
        colour="yellow",
    )
    r = pages.client(cast.cadre_a).post("/register", form)
    assert r.status_code == 422
    page = r.text
    assert "校验位" in (error_beside(page, "id_number") or "")
    assert "手机号码" in (error_beside(page, "phone") or "")
    assert error_beside(page, "name") is None and error_beside(page, "lmp") is None
    for name in ("name", "id_number", "phone", "address", "gravidity", "parity", "id", "woman_id"):
        assert value_of(page, name) == form[name], name
    assert value_of(page, "lmp") == lmp.isoformat()  # as the date picker can show it
    assert selected_of(page, "colour") == "yellow" and selected_of(page, "village_code") == VILLAGE_A
    assert 'href="#f-id_number">身份证号</a>' in page  # the summary names the field
    assert count(db, Woman) == 0


def test_a_number_that_does_not_read_and_other_wrong_fields_are_named_in_one_answer(
    db: Session, cast: Cast, pages: Pages
) -> None:
    """Not first 孕次 alone, then the ID number and phone on the next try."""
    good = woman_id_number()
    form = registration_form(
        VILLAGE_A, TODAY, id_number=good[:17] + ("0" if good[17] != "0" else "1"), phone="1380013800"
    )
    form |= {"gravidity": "abc", "parity": "0"}
    page = pages.client(cast.cadre_a).post("/register", form).text
    assert error_beside(page, "gravidity") == "请输入数字"
    assert "校验位" in (error_beside(page, "id_number") or "")
    assert "手机号码" in (error_beside(page, "phone") or "")
    visit = {"id": str(uuid.uuid4()), "visited_on": TODAY.isoformat(), "kind": "home"}
    p = open_case(db, cast)
    page = (
        pages.client(cast.cadre_a)
        .post(f"/p/{p.id}/visit", {**visit, "bp_systolic": "abc", "weight_kg": "500"})
        .text
    )
    assert error_beside(page, "bp_systolic") == "请输入数字"
    assert error_beside(page, "weight_kg") == "体重应在 30–200 kg 之间"


def test_the_field_messages_are_in_english_after_the_switch(db: Session, cast: Cast, pages: Pages) -> None:
    a = pages.client(cast.cadre_a)
    a.get("/lang/en")
    good = woman_id_number()
    form = registration_form(VILLAGE_A, TODAY, id_number=good[:17] + ("0" if good[17] != "0" else "1"))
    page = a.post("/register", form).text
    assert "check digit" in (error_beside(page, "id_number") or "")
    assert 'href="#f-id_number">ID number</a>' in page


def test_a_wrong_blood_pressure_is_refused_beside_the_diastolic_field_keeping_the_rest(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = open_case(db, cast)
    form = {
        "id": str(uuid.uuid4()),
        "visited_on": TODAY.isoformat(),
        "kind": "home",
        "bp_systolic": "９０",
        "bp_diastolic": "120",
        "weight_kg": "６２。５",
        "danger_signs": "头晕",
        "advice": "多休息",
    }
    r = pages.client(cast.cadre_a).post(f"/p/{p.id}/visit", form)
    assert r.status_code == 422
    assert error_beside(r.text, "bp_diastolic") == "舒张压应低于收缩压"
    assert value_of(r.text, "bp_systolic") == "９０" and value_of(r.text, "weight_kg") == "６２。５"
    assert "头晕" in r.text and "多休息" in r.text and value_of(r.text, "id") == form["id"]
    assert count(db, PrenatalVisit) == 0
    form |= {"bp_systolic": "１３０", "bp_diastolic": "８５"}
    assert pages.client(cast.cadre_a).post(f"/p/{p.id}/visit", form).status_code == 303
    visit = fresh(db).exec(select(PrenatalVisit)).one()
    assert (visit.bp_systolic, visit.bp_diastolic, visit.weight_kg) == (130, 85, 62.5)


def test_a_form_sent_twice_with_its_uuid_saves_one_visit(db: Session, cast: Cast, pages: Pages) -> None:
    p = open_case(db, cast)
    form = {"id": str(uuid.uuid4()), "visited_on": TODAY.isoformat(), "kind": "home"}
    a = pages.client(cast.cadre_a)
    assert a.post(f"/p/{p.id}/visit", form).status_code == 303
    assert a.post(f"/p/{p.id}/visit", form).status_code == 303
    assert count(db, PrenatalVisit) == 1


def test_a_possible_duplicate_is_shown_before_registering_and_a_confirmed_one_is_saved(
    db: Session, cast: Cast, pages: Pages
) -> None:
    open_case(db, cast, name="孙丽", birth_date="1994-05-06")
    a = pages.client(cast.cadre_a)
    form = registration_form(VILLAGE_A, TODAY, name="孙丽", birth_date="1994-05-06")
    r = a.post("/register", form)
    assert r.status_code == 409 and "可能重复" in r.text and 'name="confirm_duplicate"' in r.text
    assert value_of(r.text, "id") == form["id"] and count(db, Woman) == 1
    assert a.post("/register", {**form, "confirm_duplicate": "1"}).status_code == 303
    assert count(db, Woman) == 2


def test_a_woman_whose_pregnancy_ended_gets_her_next_pregnancy_from_her_case(
    db: Session, cast: Cast, pages: Pages
) -> None:
    ctx = cast.ctx(cast.cadre_a, db, TODAY)
    p = make_registration(db, ctx, VILLAGE_A, registered_on=TODAY - 100 * DAY, lmp=TODAY - 150 * DAY)
    make_outcome(db, ctx, p, TODAY - 90 * DAY, [], outcome_type="spontaneous_abortion")
    make_visit  # noqa: B018  (the case stays open for care after loss)
    db.commit()
    a = pages.client(cast.cadre_a)
    form_page = a.get(f"/register?woman={p.woman_id}").text
    assert value_of(form_page, "woman_id") == str(p.woman_id) and value_of(form_page, "existing_woman") == "1"
    form = {
        n: value_of(form_page, n) or ""
        for n in (
            "id",
            "woman_id",
            "existing_woman",
            "name",
            "birth_date",
            "phone",
            "village_code",
            "address",
            "registered_on",
        )
    }
    form |= {"lmp": (TODAY - 40 * DAY).isoformat(), "gravidity": "2", "parity": "0"}
    assert a.post("/register", form).status_code == 303
    assert count(db, Woman) == 1
    assert [x.status for x in fresh(db).exec(select(Pregnancy).order_by(Pregnancy.registered_on)).all()] == [
        "closed",
        "open",
    ]


def test_a_twin_birth_through_the_outcome_form_records_two_babies(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = open_case(db, cast)
    a = pages.client(cast.cadre_a)
    form_page = a.get(f"/p/{p.id}/outcome").text
    form = {
        "id": value_of(form_page, "id"),
        "outcome_type": "live_birth",
        "outcome_on": TODAY.isoformat(),
        "n_babies": "2",
        "babies-0-id": value_of(form_page, "babies-0-id"),
        "babies-0-sex": "1",
        "babies-0-weight_g": "２６００",
        "babies-0-alive": "1",
        "babies-1-id": value_of(form_page, "babies-1-id"),
        "babies-1-sex": "2",
        "babies-1-weight_g": "",
        "babies-1-alive": "1",
    }
    r = a.post(f"/p/{p.id}/outcome", form)
    assert r.status_code == 422 and "必填" in (error_beside(r.text, "babies-1-weight_g") or "")
    assert "第2个婴儿：出生体重" in text_of(r.text)  # the summary names the baby and the field
    assert value_of(r.text, "babies-0-weight_g") == "２６００" and selected_of(r.text, "babies-1-sex") == "2"
    assert a.post(f"/p/{p.id}/outcome", {**form, "babies-1-weight_g": "2450"}).status_code == 303
    assert [(b.sex, b.birth_weight_g) for b in infants_of(fresh(db), p)] == [("1", 2600), ("2", 2450)]


def test_the_postnatal_form_proposes_the_milestone_due_for_the_chosen_baby(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = twins_case(db, cast)
    boy, girl = infants_of(db, p)
    a = pages.client(cast.cadre_a)
    page = a.get(f"/p/{p.id}/postnatal").text  # mother and babies share the 1-week visit: both are proposed
    babies = (str(boy.id), str(girl.id))
    assert selected_of(page, "milestone") == "1w" and selected_of(page, "infant_id") in babies
    assert re.search(r'name="covers_mother"[^>]*value="1"[^>]*checked|name="covers_mother"[^>]*checked', page)
    page = a.get(f"/p/{p.id}/postnatal?infant={girl.id}").text
    assert selected_of(page, "milestone") == "1w" and selected_of(page, "infant_id") == str(girl.id)
    assert f'value="{boy.id}" data-milestone="1w"' in page
    form = {
        "id": str(uuid.uuid4()),
        "visited_on": TODAY.isoformat(),
        "milestone": "1w",
        "infant_id": str(girl.id),
        "infant_weight_g": "2600",
        "feeding": "breast",
    }
    assert a.post(f"/p/{p.id}/postnatal", form).status_code == 303
    page = a.get(f"/p/{p.id}/postnatal?infant={girl.id}").text
    assert selected_of(page, "milestone") == "2w"


def test_the_township_supervisor_records_her_bimonthly_visit_with_the_same_form(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = open_case(db, cast)
    sup = pages.client(cast.sup_t)
    page = sup.get(f"/p/{p.id}/visit").text
    assert selected_of(page, "kind") == "township"
    form = {"id": value_of(page, "id"), "visited_on": TODAY.isoformat(), "kind": "township"}
    assert sup.post(f"/p/{p.id}/visit", form).status_code == 303
    refused = pages.client(cast.cadre_a).post(f"/p/{p.id}/visit", {**form, "id": str(uuid.uuid4())})
    assert refused.status_code == 422 and "乡级访视" in (error_beside(refused.text, "kind") or "")


# --- corrections ------------------------------------------------------------------------------------------


def test_the_correction_form_names_every_field_in_words_not_codes(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = twins_case(db, cast)
    visit = db.exec(select(PrenatalVisit).where(PrenatalVisit.pregnancy_id == p.id)).one()
    a = pages.client(cast.cadre_a)
    page = a.get(f"/correct/prenatal_visit/{visit.id}").text
    labels = re.findall(r'<label for="f-new-[^"]+">([^<]+)<', page)
    assert "收缩压 " in labels and "访视日期 " in labels and "胎心率 " in labels
    assert not any(re.search(r"[a-z]_[a-z]", label) for label in labels), labels
    assert 'name="new-visited_on" type="date"' in page
    a.get("/lang/en")
    page = a.get(f"/correct/prenatal_visit/{visit.id}").text
    assert "Systolic BP" in page and "Visit date" in page


def test_an_amendment_shows_in_the_history_and_a_voided_visit_stays_struck_through_with_its_reason(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = twins_case(db, cast)
    visit = db.exec(select(PrenatalVisit).where(PrenatalVisit.pregnancy_id == p.id)).one()
    a = pages.client(cast.cadre_a)
    amend = {"id": str(uuid.uuid4()), "kind": "amend", "new-bp_systolic": "１２５", "reason": "血压抄错"}
    assert a.post(f"/correct/prenatal_visit/{visit.id}", amend).status_code == 303
    page = a.get(f"/women/{p.woman_id}").text
    assert "更正" in text_of(page) and "收缩压 118 → 125" in text_of(page) and "血压抄错" in page
    void = {"id": str(uuid.uuid4()), "kind": "void", "reason": "记到了别人名下"}
    assert a.post(f"/correct/prenatal_visit/{visit.id}", void).status_code == 303
    page = a.get(f"/women/{p.woman_id}").text
    voided = re.search(r'<li class="voided" data-record="prenatal_visit">(.*?)</li>', page, re.S)
    assert voided is not None and "记到了别人名下" in voided.group(1) and "入户访视" in voided.group(1)
    assert count(db, PrenatalVisit) == 1 and count(db, Correction) == 2


def test_a_correction_made_after_midnight_in_china_shows_that_day_not_the_utc_day_before(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = twins_case(db, cast)
    visit = db.exec(select(PrenatalVisit).where(PrenatalVisit.pregnancy_id == p.id)).one()
    a = pages.client(cast.cadre_a)
    amend = {"id": str(uuid.uuid4()), "kind": "amend", "new-bp_systolic": "125", "reason": "血压抄错"}
    assert a.post(f"/correct/prenatal_visit/{visit.id}", amend).status_code == 303
    correction = fresh(db).get(Correction, uuid.UUID(amend["id"]))
    assert correction is not None
    correction.recorded_at = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)  # 01:30 on 24 November in China
    db.add(correction)
    db.commit()
    for path in (f"/women/{p.woman_id}", f"/correct/prenatal_visit/{visit.id}"):
        page = text_of(a.get(path).text)
        assert "2026年11月24日（血压抄错）" in page and "11月23日（" not in page, path


def test_an_amendment_changing_nothing_says_so_about_the_new_values_not_the_reason(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = twins_case(db, cast)
    visit = db.exec(select(PrenatalVisit).where(PrenatalVisit.pregnancy_id == p.id)).one()
    a = pages.client(cast.cadre_a)
    refused = a.post(
        f"/correct/prenatal_visit/{visit.id}",
        {"id": str(uuid.uuid4()), "kind": "amend", "reason": "血压抄错"},
    )
    assert refused.status_code == 422
    assert re.search(r"新的值\s*：请至少修改一项", text_of(refused.text))
    beside = re.search(r'id="f-changes".*?<p class="error"[^>]*>(.*?)</p>', refused.text, re.S)
    assert beside is not None and beside.group(1) == "请至少修改一项"
    assert error_beside(refused.text, "reason") is None
    assert "血压抄错" in refused.text


def test_a_refused_correction_keeps_what_was_typed(db: Session, cast: Cast, pages: Pages) -> None:
    p = twins_case(db, cast)
    visit = db.exec(select(PrenatalVisit).where(PrenatalVisit.pregnancy_id == p.id)).one()
    form = {"id": str(uuid.uuid4()), "kind": "amend", "new-bp_diastolic": "300", "reason": "改一下"}
    r = pages.client(cast.cadre_a).post(f"/correct/prenatal_visit/{visit.id}", form)
    assert r.status_code == 422 and "舒张压" in (error_beside(r.text, "new-bp_diastolic") or "")
    assert value_of(r.text, "new-bp_diastolic") == "300" and "改一下" in r.text


def test_a_refused_outcome_amendment_names_the_date_beside_it_in_the_users_language(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = twins_case(db, cast)  # its prenatal visit was 30 days after registration
    outcome = db.exec(select(Outcome).where(Outcome.pregnancy_id == p.id)).one()
    a = pages.client(cast.cadre_a)
    early = (REGISTERED + 29 * DAY).isoformat()
    form = {"id": str(uuid.uuid4()), "kind": "amend", "new-outcome_on": early, "reason": "日期记错"}
    r = a.post(f"/correct/outcome/{outcome.id}", form)
    assert r.status_code == 422
    assert "结局日期不能早于该日期" in (error_beside(r.text, "new-outcome_on") or "")
    a.get("/lang/en")
    r = a.post(f"/correct/outcome/{outcome.id}", {**form, "id": str(uuid.uuid4())})
    assert r.status_code == 422
    assert "the outcome date cannot be before it" in (error_beside(r.text, "new-outcome_on") or "")
    assert count(db, Correction) == 0


# --- malformed input ---------------------------------------------------------------------------------------

HUGE = "长" * 20_000  # far past every column length
GARBAGE = [
    "",
    " ",
    "x",
    "-1",
    "1e9",
    "99999999999999999999999",
    "NaN",
    "２０２６年１３月４０日",
    "9999-12-31",
    "0001-01-01",
    "<script>",
    "'; DROP TABLE woman; --",
    "\x00",
    HUGE,
]


def _every_form(p: Pregnancy, visit_id: uuid.UUID) -> list[tuple[str, list[str]]]:
    return [
        (
            "/register",
            [
                "id",
                "woman_id",
                "name",
                "id_number",
                "birth_date",
                "phone",
                "village_code",
                "address",
                "lmp",
                "edd",
                "edd_source",
                "gravidity",
                "parity",
                "registered_on",
                "colour",
                "existing_woman",
                "confirm_duplicate",
            ],
        ),
        (
            f"/p/{p.id}/visit",
            [
                "id",
                "visited_on",
                "kind",
                "check_no",
                "facility",
                "bp_systolic",
                "bp_diastolic",
                "weight_kg",
                "fundal_height_cm",
                "fetal_heart_bpm",
                "danger_signs",
                "next_on",
            ],
        ),
        (f"/p/{p.id}/risk", ["id", "assessed_on", "colour", "purple", "factors"]),
        (
            f"/p/{p.id}/outcome",
            [
                "id",
                "outcome_on",
                "outcome_type",
                "place",
                "mode",
                "discharge_on",
                "n_babies",
                "babies-0-id",
                "babies-0-sex",
                "babies-0-weight_g",
                "babies-0-alive",
                "babies-5-weight_g",
            ],
        ),
        (
            f"/p/{p.id}/postnatal",
            [
                "id",
                "visited_on",
                "milestone",
                "infant_id",
                "covers_mother",
                "mother_temperature_c",
                "mother_bp_systolic",
                "infant_weight_g",
                "feeding",
            ],
        ),
        (f"/p/{p.id}/close", ["id", "kind", "closed_on", "reason", "to_village_code", "infant_id"]),
        (
            f"/correct/prenatal_visit/{visit_id}",
            [
                "id",
                "kind",
                "reason",
                "new-visited_on",
                "new-kind",
                "new-check_no",
                "new-bp_systolic",
                "new-facility",
                "new-nope",
            ],
        ),
        ("/settings/password", ["current_password", "new_password"]),
        ("/women", ["q"]),
    ]


def test_no_form_answers_a_server_error_whatever_is_posted(db: Session, cast: Cast, pages: Pages) -> None:
    p = open_case(db, cast)
    visit_id = make_visit(db, cast.ctx(cast.cadre_a, db, TODAY), p, visited_on=TODAY.isoformat()).record_id
    db.commit()
    a = pages.client(cast.cadre_a)
    for path, fields in _every_form(p, visit_id):
        assert a.post(path, {}).status_code < 500, path
        for junk in GARBAGE:
            r = a.post(path, dict.fromkeys(fields, junk))
            assert r.status_code < 500, (path, junk[:20], r.text[:500])
        for field in fields:
            r = a.post(path, {field: HUGE})
            assert r.status_code < 500, (path, field)
    assert count(db, Pregnancy) == 1


def test_bad_uuids_and_odd_queries_in_urls_answer_404_or_a_page_never_a_server_error(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = open_case(db, cast)
    a = pages.client(cast.cadre_a)
    for path in [
        "/women/not-a-uuid",
        f"/women/{uuid.uuid4()}",
        f"/p/{uuid.uuid4()}/visit",
        "/p/zzz/visit",
        f"/p/{p.id}/nothing",
        f"/correct/nothing/{uuid.uuid4()}",
        "/correct/outcome/123",
        f"/correct/prenatal_visit/{uuid.uuid4()}",
    ]:
        r = a.get(path)
        assert r.status_code in (400, 404), (path, r.status_code)
    for path in [
        f"/p/{p.id}/outcome?n=abc",
        f"/p/{p.id}/postnatal?infant=%00",
        f"/p/{p.id}/visit?kind=<x>",
        "/register?woman=nope",
        f"/women?q={HUGE[:5000]}",
        "/women?q=%25_%5C",
        "/correct/outcome/x?kind=z",
    ]:
        assert a.get(path).status_code in (200, 400, 404), path
    for path in [f"/p/{uuid.uuid4()}/visit", "/p/zzz/visit", f"/correct/outcome/{uuid.uuid4()}"]:
        assert a.post(path, {"visited_on": TODAY.isoformat()}).status_code in (400, 404), path


def test_a_post_that_is_not_a_form_is_refused_without_a_server_error(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = open_case(db, cast)
    a = pages.client(cast.cadre_a)
    headers = {"x-csrf-token": a.csrf}
    for body, content_type in [
        (b'{"visited_on": "2026-01-01"}', "application/json"),
        (b"\xff\xfe\x00", "text/plain"),
        (b"--x\r\n", "multipart/form-data; boundary=x"),
        (b"%%%=%%%", "application/x-www-form-urlencoded"),
    ]:
        r = a.http.post(f"/p/{p.id}/visit", content=body, headers={**headers, "content-type": content_type})
        assert r.status_code < 500, (content_type, r.text[:300])
    assert count(db, PrenatalVisit) == 0


def test_another_villages_baby_cannot_be_named_in_a_postnatal_form(
    db: Session, cast: Cast, pages: Pages
) -> None:
    twins = twins_case(db, cast)
    ctx_b = cast.ctx(cast.cadre_b, db, TODAY)
    other = make_registration(db, ctx_b, VILLAGE_B, registered_on=REGISTERED, lmp=LMP)
    make_outcome(db, ctx_b, other, BORN)
    db.commit()
    stranger = infants_of(db, twins)[0]
    form = {
        "id": str(uuid.uuid4()),
        "visited_on": TODAY.isoformat(),
        "milestone": "1w",
        "infant_id": str(stranger.id),
    }
    r = pages.client(cast.cadre_b).post(f"/p/{other.id}/postnatal", form)
    assert r.status_code == 422 and stranger.sex not in (None, "")
    assert count(db, PostnatalVisit) == 0 and count(db, Infant) == 3


def test_a_refused_correction_leaves_nothing_behind(db: Session, cast: Cast, pages: Pages) -> None:
    """Voiding the 迁出 of an earlier pregnancy would reopen it beside her open one: refused, and the void
    the service had already written is not kept."""
    from tests.case_factories import make_closure

    ctx = cast.ctx(cast.cadre_a, db, TODAY)
    first = make_registration(db, ctx, VILLAGE_A, registered_on=TODAY - 100 * DAY, lmp=TODAY - 150 * DAY)
    closure = make_closure(db, ctx, first, "moved_out", closed_on=(TODAY - 50 * DAY).isoformat())
    make_registration(db, ctx, VILLAGE_A, woman_id=first.woman_id, lmp=TODAY - 40 * DAY)
    db.commit()
    form = {"id": str(uuid.uuid4()), "kind": "void", "reason": "她回来了"}
    r = pages.client(cast.cadre_a).post(f"/correct/closure/{closure.record_id}", form)
    assert r.status_code == 422 and "已有一个在管的妊娠" in r.text
    assert count(db, Correction) == 0


def test_control_characters_typed_or_pasted_are_dropped_rather_than_refused(
    db: Session, cast: Cast, pages: Pages
) -> None:
    form = registration_form(VILLAGE_A, TODAY, name="\x00秦\x07岚", address="五组\x00\x1b12号")
    assert pages.client(cast.cadre_a).post("/register", form).status_code == 303
    woman = fresh(db).exec(select(Woman)).one()
    assert (woman.name, woman.address) == ("秦岚", "五组12号")
    assert "秦岚" in pages.client(cast.cadre_a).post("/women", {"q": "秦\x00"}).text


def test_a_registration_edit_changes_her_details_and_keeps_the_old_ones_in_the_history(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = open_case(db, cast, name="卫芳", phone="13912345678")
    a = pages.client(cast.cadre_a)
    page = a.get(f"/edit/woman/{p.woman_id}").text
    assert "139****5678" in page and "13912345678" not in page
    form = {
        "id": value_of(page, "id"),
        "new-name": "卫芳芳",
        "new-phone": "138 1234 5678",
        "reason": "身份证上的名字",
    }
    assert a.post(f"/edit/woman/{p.woman_id}", form).status_code == 303
    case = text_of(a.get(f"/women/{p.woman_id}").text)
    assert "卫芳芳" in case and "姓名 卫芳 → 卫芳芳" in case and "手机号 139****5678 → 138****5678" in case
    new_edd = p.edd + 7 * DAY
    page = a.get(f"/edit/pregnancy/{p.id}").text
    form = {
        "id": value_of(page, "id"),
        "new-edd": f"{new_edd.year}年{new_edd.month}月{new_edd.day}日",
        "new-edd_source": "ultrasound",
    }
    assert a.post(f"/edit/pregnancy/{p.id}", form).status_code == 303
    assert fresh(db).get(Pregnancy, p.id).edd == new_edd  # type: ignore[union-attr]


def test_a_registration_edit_that_breaks_a_rule_is_refused_beside_the_field(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = open_case(db, cast)
    a = pages.client(cast.cadre_a)
    r = a.post(f"/edit/pregnancy/{p.id}", {"id": str(uuid.uuid4()), "new-parity": "5", "new-gravidity": "2"})
    assert r.status_code == 422 and "产次" in (error_beside(r.text, "new-parity") or "")
    assert value_of(r.text, "new-parity") == "5" and value_of(r.text, "new-gravidity") == "2"
    r = a.post(f"/edit/woman/{p.woman_id}", {"id": str(uuid.uuid4())})
    assert r.status_code == 422 and "至少修改一项" in r.text
    assert count(db, Correction) == 0


def test_error_pages_speak_the_users_language(db: Session, cast: Cast, pages: Pages) -> None:
    a = pages.client(cast.cadre_a)
    expected = {
        "zh": ("无权操作", "您的角色不能进行此操作", "页面已过期", "未找到"),
        "en": ("Not allowed", "Your role may not do this", "This page has expired", "Not found"),
    }
    for locale, (title, role, csrf, missing) in expected.items():
        a.get(f"/lang/{locale}")
        other = "en" if locale == "zh" else "zh"
        denied = a.get("/review/county")
        assert denied.status_code == 403
        assert title in denied.text and role in denied.text and expected[other][0] not in denied.text
        stale = a.post("/register", {"csrf": "stale-token", "name": "王"}, csrf=False)
        assert stale.status_code == 403 and csrf in stale.text and "CSRF" not in stale.text
        gone = a.get(f"/women/{uuid.uuid4()}")
        assert gone.status_code == 404 and missing in gone.text and expected[other][3] not in gone.text


def test_each_text_answer_names_its_charset_once(db: Session, cast: Cast, pages: Pages) -> None:
    a, sup = pages.client(cast.cadre_a), pages.client(cast.sup_t)
    answers = [a.get("/"), a.get("/sw.js"), a.get("/sw-push.js"), sup.get("/review/report.csv")]
    for answer in answers:
        assert answer.status_code == 200
        assert answer.headers["content-type"].count("charset=utf-8") == 1, answer.headers["content-type"]


def test_the_women_list_puts_the_soonest_due_first_then_those_after_their_outcome(
    db: Session, cast: Cast, pages: Pages
) -> None:
    twins_case(db, cast)  # 陈美: delivered 9 days ago
    open_case(db, cast, name="赵晚", lmp=TODAY - 60 * DAY)
    open_case(db, cast, name="钱早", lmp=TODAY - 200 * DAY)
    page = pages.client(cast.cadre_a).get("/women").text
    names = re.findall(r'<span class="who">([^<]+?) <', page)
    assert names[:3] == ["钱早", "赵晚", "陈美"]
    listed = text_of(page)
    assert re.search(r"钱早.*?孕28\+4周 · 预产期", listed)
    assert f"结局 {BORN.year}年{BORN.month}月{BORN.day}日 （9 天前）" in listed  # text_of spaces the tags
