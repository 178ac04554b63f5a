"""With no signal the phone checks what it can before keeping an entry (DOMAIN.md §3), with the server's own
limits and words: a wrong value is shown beside its field, nothing typed is lost, nothing is kept until it is
right. And its checks agree with the server's on the same input (ID numbers, mobile numbers, numbers)."""

import random
from datetime import date, timedelta

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from backend.cases import rules
from backend.cases.models import Pregnancy
from backend.cases.schedule_store import CaseRecords
from backend.cases.services.outcomes import check_outcome_of
from backend.lib.idcard import check_digit, id_problem, normalise_id
from backend.lib.parsing import is_valid_mobile, parse_decimal, parse_int
from tests.browser import *  # noqa: F403
from tests.browser import LiveServer, screenshot, sign_in
from tests.browser_offline import (
    CADRE_A,
    make_case,
    make_visit,
    outbox,
    save_offline,
    server_db,
    server_today,
    submit,
    wait_until_kept_offline,
)

pytestmark = pytest.mark.browser


def error_of(page: Page, name: str) -> str:
    return (
        page.locator(f"#f-{name}")
        .locator("xpath=ancestor::div[contains(@class,'field')][1]//p[@class='error js-error']")
        .inner_text()
    )


def test_a_visit_with_wrong_values_is_not_kept_until_corrected(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    case = make_case(live_server, "陈晓红", registered_days_ago=40)
    today = server_today(live_server)
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    context.set_offline(True)
    page.goto(f"/p/{case.pregnancy_id}/visit")
    page.locator("html[data-ready=true]").wait_for(state="attached")
    typed = {
        "visited_on": (today + timedelta(days=1)).isoformat(),
        "bp_systolic": "abc",
        "bp_diastolic": "200",
        "weight_kg": "500",
        "fetal_heart_bpm": "１５０",  # full-width digits are fine, as on the server
    }
    for name, value in typed.items():
        page.fill(f"#f-{name}", value)
    submit(page)
    expect(page.locator(".js-error")).to_have_count(4)
    assert error_of(page, "visited_on") == "访视日期不能晚于今天"
    assert error_of(page, "bp_systolic") == "请输入数字"
    assert error_of(page, "bp_diastolic") == "舒张压应在 30–160 mmHg 之间"
    assert error_of(page, "weight_kg") == "体重应在 30–200 kg 之间"
    assert {name: page.input_value(f"#f-{name}") for name in typed} == typed  # nothing typed is lost
    assert outbox(page) == []
    screenshot(page, "offline-visit-checked")

    page.fill("#f-visited_on", today.isoformat())
    page.fill("#f-bp_systolic", "90")
    page.fill("#f-bp_diastolic", "95")
    page.fill("#f-weight_kg", "６２．５")
    submit(page)
    expect(page.locator(".js-error")).to_have_count(1)
    assert error_of(page, "bp_diastolic") == "舒张压应低于收缩压"
    page.fill("#f-bp_systolic", "120")
    save_offline(page)
    [kept] = outbox(page)
    assert (
        kept["kind"] == "visit" and kept["data"]["weight_kg"] == "６２．５"
    )  # sent as typed; the server reads it


def test_a_registration_with_a_wrong_id_number_phone_or_parity_is_not_kept(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    today = server_today(live_server)
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    context.set_offline(True)
    page.goto("/register")
    page.locator("html[data-ready=true]").wait_for(state="attached")
    good_id = "11010519900307" + "123"
    good_id += check_digit(good_id)
    wrong_digit = good_id[:17] + ("1" if good_id[17] != "1" else "2")
    page.fill("#f-name", "刘春梅")
    page.fill("#f-id_number", wrong_digit)
    page.fill("#f-phone", "1380013800")
    page.fill("#f-lmp", (today - timedelta(weeks=10)).isoformat())
    page.fill("#f-gravidity", "1")
    page.fill("#f-parity", "1")
    submit(page)
    expect(page.locator(".js-error")).to_have_count(3)
    assert error_of(page, "id_number") == "身份证号码校验位不正确，请逐位核对"
    assert error_of(page, "phone") == "手机号码应为 11 位手机号，如 13812341234"
    assert error_of(page, "parity") == "产次应小于孕次（本次妊娠不计入产次），最多为 0"
    assert outbox(page) == []

    page.fill("#f-id_number", good_id.lower()[:17] + good_id[17].lower())
    page.fill("#f-phone", "+86 138-0013-8000")
    page.fill("#f-parity", "０")
    save_offline(page)
    assert [e["kind"] for e in outbox(page)] == ["register"]


def test_the_phones_checks_agree_with_the_servers(page: Page, live_server: LiveServer) -> None:
    """The same inputs through checks.js in the browser and through the server's readers and rules."""
    rnd = random.Random(11643)
    ids = []
    for _ in range(300):
        first17 = f"{rnd.randint(110000, 659999)}{rnd.randint(1950, 2010)}{rnd.randint(1, 12):02d}"
        first17 += f"{rnd.randint(1, 28):02d}{rnd.randint(0, 999):03d}"
        last = check_digit(first17) if rnd.random() < 0.5 else rnd.choice("0123456789Xx")
        ids.append(first17 + last)
    ids += ["", "1234", "１１０１０５１９９０" + "0307123X", " 11010519900307123 4", "11010519900307123Y"]
    phones = [
        "13812341234",
        "+86 138 1234 1234",
        "0086-13812341234",
        "8613812341234",
        "１３８１２３４１２３４",
    ]
    phones += ["12812341234", "1381234123", "138123412345", "(138)1234-1234", "abc", "+8613812341234"]
    numbers = [
        "12",
        "+12",
        "-3",
        "1.5",
        ".5",
        "5.",
        "１２",
        "６２．５",
        "62。5",
        "1e3",
        "1,5",
        "0x10",
        " 7 ",
        "--1",
    ]
    page.goto(f"{live_server.url}/login")
    phone_js = page.evaluate(
        """async ([ids, phones, numbers]) => {
          const m = await import('/js/checks.js');
          const read = (whole) => (s) => {
            const n = m.readNumber(s, whole);
            return Number.isNaN(n) ? 'nan' : n;
          };
          return {
            ids: ids.map((s) => m.idProblem(s)),
            phones: phones.map((s) => m.isMobile(s)),
            whole: numbers.map(read(true)),
            decimal: numbers.map(read(false)),
          };
        }""",
        [ids, phones, numbers],
    )

    def server_id(s: str) -> str | None:
        problem = id_problem(normalise_id(s))
        return {"shape": "shape", "check_digit": "check"}.get(problem or "")

    def server_number(read: object, s: str) -> object:
        try:
            return read(s)  # type: ignore[operator]
        except ValueError:
            return "nan"

    assert phone_js["ids"] == [server_id(s) for s in ids]
    assert phone_js["phones"] == [is_valid_mobile(s) for s in phones]
    assert phone_js["whole"] == [server_number(parse_int, s) for s in numbers]
    assert phone_js["decimal"] == [server_number(parse_decimal, s) for s in numbers]


def test_the_dates_a_case_sets_are_checked_offline_in_the_servers_words(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    """A visit dated before the registration, an outcome before the last visit or 45 weeks past the LMP: the
    phone knows the case from its kept page and says what the server would, before keeping anything. Over a
    year of dates, the kept visit and outcome forms agree with the server's rules day by day."""
    case = make_case(live_server, "陈晓红", registered_days_ago=40, weeks_pregnant=20)
    make_visit(live_server, case)  # today, on the server: the outcome cannot be before it
    today = server_today(live_server)
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    context.set_offline(True)
    page.goto(f"/p/{case.pregnancy_id}/visit")
    page.locator("html[data-ready=true]").wait_for(state="attached")
    registered = today - timedelta(days=40)
    page.fill("#f-visited_on", (registered - timedelta(days=2)).isoformat())
    submit(page)
    expect(page.locator(".js-error")).to_have_count(1)
    assert error_of(page, "visited_on") == (
        f"访视日期不能早于登记日期（{registered.year}年{registered.month}月{registered.day}日）"
    )
    assert outbox(page) == []
    screenshot(page, "offline-visit-before-registration")
    page.fill("#f-visited_on", today.isoformat())
    save_offline(page)
    assert len(outbox(page)) == 1

    with server_db(live_server) as db:
        pregnancy = db.get(Pregnancy, case.pregnancy_id)
        assert pregnancy is not None
        records = CaseRecords(db, pregnancy)
        days = [today - timedelta(days=200) + timedelta(days=n) for n in range(400)]
        lmp = pregnancy.edd - timedelta(days=280)

        def server_visit(on: date) -> str | None:
            errors = rules.check_prenatal_visit(
                visited_on=on,
                registered_on=pregnancy.registered_on,
                outcome_on=None,
                lmp_or_none=lmp,
                today=date(9999, 1, 1),
                bp_systolic=None,
                bp_diastolic=None,
                weight_kg=None,
                fundal_height_cm=None,
                fetal_heart_bpm=None,
            )
            return errors[0].text.zh if errors else None

        def server_outcome(on: date) -> str | None:
            errors = check_outcome_of(
                records,
                outcome_on=on,
                outcome_type="live_birth",
                discharge_on=None,
                babies=[],
                today=date(9999, 1, 1),
            )
            return next((e.text.zh for e in errors if e.field == "outcome_on"), None)

        expected = {"visit": [server_visit(d) for d in days], "outcome": [server_outcome(d) for d in days]}
    assert any(expected["visit"]) and any(
        m and "45" in m for m in expected["outcome"]
    )  # bounds on both sides
    told = {}
    for form, name in (("visit", "visited_on"), ("outcome", "outcome_on")):
        page.goto(f"/p/{case.pregnancy_id}/{form}")
        page.locator("html[data-ready=true]").wait_for(state="attached")
        limits = page.get_attribute(f"#f-{name}", "data-limits")
        assert limits, form
        told[form] = page.evaluate(
            """async ([days, limits]) => {
                const m = await import('/js/checks.js');
                return days.map((d) => m.caseDateProblem(d, limits));
            }""",
            [[d.isoformat() for d in days], limits],
        )
    assert told == expected
