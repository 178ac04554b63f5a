"""The village cadre's day in Debian's chromium at 360 × 780: register a pregnancy, visit, record twins, visit
each baby at one week and watch each item leave the overdue list; wrong input is named beside its field with
everything else kept; typed markup never runs; every page fits the width and every target is thumb-sized.
Screenshots of Today, the case page and the outcome form go to test-artifacts/."""

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from playwright.sync_api import Dialog, Page, expect

from backend.lib.clock import local_today
from tests.browser import *  # noqa: F403  (live_server, browser, context, page)
from tests.browser import LiveServer, screenshot, sign_in
from tests.browser_offline import write_context
from tests.case_factories import infants_of, make_delivered_case, woman_id_number

pytestmark = pytest.mark.browser
CADRE_A = "13800000001"
DAY = timedelta(days=1)
# Everything a thumb presses; checkboxes and radios are pressed through their (44 px) labels.
TARGETS = (
    "a.button, button, .tabs a, .top a, .item a, .case-strip a, .small, summary, label.check, select, "
    "textarea, "
    "input:not([type=hidden]):not([type=checkbox]):not([type=radio])"
)


@pytest.fixture
def today() -> date:
    return local_today("Asia/Shanghai")


@pytest.fixture
def dialogs(page: Page) -> Iterator[list[str]]:
    """Every alert() a page manages to open (there must be none)."""
    seen: list[str] = []

    def record(dialog: Dialog) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    yield seen


CONTRAST = """() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(",").map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const background = (el) => { for (; el; el = el.parentElement) {
    const c = parse(getComputedStyle(el).backgroundColor);
    if (c && c.a > 0.5) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
  const low = [];
  for (const el of document.querySelectorAll("body *")) {
    const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (el.offsetParent === null || !text) continue;
    const [a, b] = [luminance(parse(getComputedStyle(el).color)), luminance(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(`${el.tagName} "${el.textContent.trim().slice(0, 20)}" ${ratio.toFixed(2)}`);
  }
  return low;
}"""
UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea")]
  .filter((el) => el.type !== "hidden" && el.offsetParent !== null)
  .filter((el) => !el.labels.length && !el.getAttribute("aria-label"))
  .map((el) => el.name)"""


def check_fits_a_phone(page: Page, what: str) -> None:
    """No horizontal scroll at 360 px, every visible target at least 44 px high and wide, every input
    labelled, and all visible text at a contrast of at least 4.5:1 against what is behind it."""
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, f"{what}: horizontal scroll"
    small = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
            .filter(el => el.offsetParent !== null)
            .map(el => [el.outerHTML.slice(0, 80), el.getBoundingClientRect()])
            .filter(([, r]) => r.height < 44 || r.width < 44)
            .map(([html, r]) => `${html} ${Math.round(r.width)}x${Math.round(r.height)}`)""",
        TARGETS,
    )
    assert not small, f"{what}: targets under 44 px: {small}"
    assert page.evaluate(UNLABELLED) == [], f"{what}: inputs without a label"
    assert page.evaluate(CONTRAST) == [], f"{what}: text under 4.5:1"


def snap(page: Page, name: str) -> None:
    """A full-page screenshot from the top (the sticky header stays where a user sees it)."""
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, name)


def iso(d: date) -> str:
    return d.isoformat()


def register(
    page: Page,
    today: date,
    *,
    name: str,
    lmp: date,
    registered: date,
    address: str = "3组8号",
    id_number: str = "",
) -> None:
    page.goto("/register")
    page.fill("#f-name", name)
    if id_number:
        page.fill("#f-id_number", id_number)
    page.fill("#f-birth_date", "1994-06-01")
    page.fill("#f-phone", "13912345678")
    page.fill("#f-address", address)
    page.fill("#f-registered_on", iso(registered))
    page.fill("#f-lmp", iso(lmp))
    page.fill("#f-gravidity", "２")
    page.fill("#f-parity", "1")
    page.select_option("#f-colour", "yellow")


def overdue_lines(page: Page) -> list[str]:
    page.goto("/")
    return [t.strip() for t in page.locator("#overdue li.item .what").all_inner_texts()]


def test_a_cadre_registers_visits_records_twins_and_clears_their_one_week_visits(
    page: Page, today: date, dialogs: list[str]
) -> None:
    sign_in(page, CADRE_A)
    check_fits_a_phone(page, "Today, empty")

    # register: the gestational age at registration shows while typing
    registered, lmp = today - 40 * DAY, today - 300 * DAY
    register(page, today, name="林晓燕", lmp=registered - 80 * DAY, registered=registered)
    expect(page.locator("#ga-live")).to_contain_text("孕11+3周")
    expect(page.locator("#ga-live")).to_contain_text("早孕建册")
    page.fill("#f-lmp", iso(lmp))
    expect(page.locator("#ga-live")).to_contain_text("孕37+1周")
    expect(page.locator("#ga-live")).not_to_contain_text("早孕建册")
    check_fits_a_phone(page, "registration form")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("林晓燕")
    expect(page.locator("[role=status]")).to_contain_text("已保存")

    # a village home visit
    page.click("text=记录访视")
    page.fill("#f-visited_on", iso(today - 20 * DAY))
    page.fill("#f-bp_systolic", "118")
    page.fill("#f-bp_diastolic", "76")
    page.fill("#f-weight_kg", "６３.５")
    check_fits_a_phone(page, "visit form")
    page.click("button[type=submit]")
    expect(page.locator("#timeline")).to_contain_text("入户访视")
    expect(page.locator("#timeline")).to_contain_text("118/76")

    # twins, born nine days ago: the second fieldset appears with the number of babies
    page.click("text=登记结局")
    expect(page.locator("#baby-2")).to_be_hidden()
    page.select_option("#f-outcome_type", "live_birth")
    page.fill("#f-outcome_on", iso(today - 9 * DAY))
    page.select_option("#f-place", "hospital")
    page.select_option("#f-n_babies", "2")
    expect(page.locator("#baby-2")).to_be_visible()
    page.select_option("#f-babies-0-sex", "1")
    page.fill("#f-babies-0-weight_g", "2650")
    page.select_option("#f-babies-1-sex", "2")
    page.fill("#f-babies-1-weight_g", "2550")
    check_fits_a_phone(page, "outcome form")
    snap(page, "field-outcome-form")
    page.click("button[type=submit]")
    expect(page.locator(".baby")).to_have_count(2)

    # both babies' one-week visits are overdue, and so is the mother's
    lines = overdue_lines(page)
    assert (
        "产后1周访视 — 男婴 1" in lines and "产后1周访视 — 女婴 2" in lines and "产后1周访视 — 产妇" in lines
    )
    expect(page.locator("#overdue-badge")).to_have_text("3")
    check_fits_a_phone(page, "Today")
    snap(page, "field-today")

    for baby, line in ((1, "产后1周访视 — 男婴 1"), (2, "产后1周访视 — 女婴 2")):
        page.locator("#overdue li.item", has_text=line).click()
        page.locator(".baby").nth(baby - 1).locator("text=记录该婴儿访视").click()
        expect(page.locator("#f-milestone")).to_have_value("1w")  # proposed: the milestone due
        page.fill("#f-infant_weight_g", "3050")
        page.select_option("#f-feeding", "breast")
        check_fits_a_phone(page, "postnatal form")
        page.click("button[type=submit]")
        expect(page.locator("[role=status]")).to_contain_text("已保存")
        assert line not in overdue_lines(page)
    assert overdue_lines(page) == ["产后1周访视 — 产妇"]
    expect(page.locator("#overdue-badge")).to_have_text("1")

    page.locator("#overdue li.item").first.click()
    check_fits_a_phone(page, "case page")
    snap(page, "field-case")
    expect(page.locator(".baby").first).to_contain_text("延迟完成")  # after its window, still counted
    assert dialogs == []


def test_a_wrong_blood_pressure_is_named_beside_its_field_and_the_rest_is_kept(
    page: Page, today: date
) -> None:
    sign_in(page, CADRE_A)
    register(page, today, name="高敏", lmp=today - 70 * DAY, registered=today - 10 * DAY)
    page.click("button[type=submit]")
    page.click("text=记录访视")
    page.fill("#f-bp_systolic", "８０")
    page.fill("#f-bp_diastolic", "120")
    page.fill("#f-weight_kg", "55.5")
    page.fill("#f-danger_signs", "头痛、眼花")
    page.click("button[type=submit]")
    expect(page.locator("#e-bp_diastolic")).to_have_text("舒张压应低于收缩压")
    expect(page.locator("#f-bp_diastolic")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-bp_systolic")).to_have_value("８０")
    expect(page.locator("#f-weight_kg")).to_have_value("55.5")
    expect(page.locator("#f-danger_signs")).to_have_value("头痛、眼花")
    expect(page.locator("#f-visited_on")).to_have_value(iso(today))
    check_fits_a_phone(page, "visit form with an error")
    page.fill("#f-bp_diastolic", "70")
    page.click("button[type=submit]")
    expect(page.locator("#timeline")).to_contain_text("80/70")


def test_an_id_number_with_a_bad_check_digit_is_named_and_nothing_typed_is_lost(
    page: Page, today: date
) -> None:
    sign_in(page, CADRE_A)
    good = woman_id_number()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    register(page, today, name="马丽", lmp=today - 60 * DAY, registered=today, id_number=bad, address="七组")
    page.click("button[type=submit]")
    expect(page.locator("#e-id_number")).to_contain_text("校验位")
    expect(page.locator("#error-summary")).to_contain_text("身份证号")
    for field, value in (
        ("name", "马丽"),
        ("id_number", bad),
        ("address", "七组"),
        ("phone", "13912345678"),
        ("lmp", iso(today - 60 * DAY)),
        ("gravidity", "２"),
    ):
        expect(page.locator(f"#f-{field}")).to_have_value(value)
    expect(page.locator("#f-colour")).to_have_value("yellow")
    expect(page.locator("#ga-live")).to_contain_text("孕8+4周")
    check_fits_a_phone(page, "registration form with an error")
    page.fill("#f-id_number", good)
    page.fill("#f-birth_date", "1995-03-14")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("马丽")
    expect(page.locator(".case-head")).to_contain_text(good[:6] + "********" + good[-4:])


def test_markup_typed_into_fields_is_shown_as_text_and_never_runs(
    page: Page, today: date, dialogs: list[str]
) -> None:
    sign_in(page, CADRE_A)
    register(
        page,
        today,
        name="<script>alert(1)</script>",
        lmp=today - 60 * DAY,
        registered=today,
        address='"><img src=x onerror=alert(2)>',
    )
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("<script>alert(1)</script>")
    page.click("text=记录访视")
    page.fill("#f-danger_signs", "<img src=x onerror=alert(3)>")
    page.click("button[type=submit]")
    expect(page.locator("#timeline")).to_contain_text("<img src=x onerror=alert(3)>")
    for path in ("/", "/women"):
        page.goto(path)
        expect(page.locator("body")).to_contain_text("<script>alert(1)</script>")
    page.fill("#q", "<script>")
    page.click("form.search button")
    expect(page.locator("#women-list")).to_contain_text("<script>alert(1)</script>")
    assert page.locator("img[src=x]").count() == 0
    assert dialogs == []


def test_the_cadre_switches_to_english_and_every_page_follows(page: Page, today: date) -> None:
    sign_in(page, CADRE_A)
    page.click("text=English")
    expect(page.locator("h1")).to_contain_text("Today")
    register(page, today, name="Chen", lmp=today - 60 * DAY, registered=today)
    page.fill("#f-gravidity", "1")
    page.click("button[type=submit]")
    expect(page.locator("#e-parity")).to_contain_text("Parity must be less than gravidity")
    for path, what in (("/women", "women list"), ("/settings", "settings")):
        page.goto(path)
        check_fits_a_phone(page, what)
        expect(page.locator("html")).to_have_attribute("lang", "en")


def test_every_page_of_a_case_fits_a_phone_in_both_languages(
    page: Page, live_server: LiveServer, today: date
) -> None:
    from sqlmodel import Session

    from backend.cases.models import PrenatalVisit
    from backend.db import make_engine
    from tests.conftest import VILLAGE_A

    engine = make_engine(live_server.settings)
    with Session(engine) as db:
        ctx = write_context(db, live_server)
        p, visit = make_delivered_case(db, ctx, VILLAGE_A)
        db.commit()
        baby = infants_of(db, p)[0]
        assert db.get(PrenatalVisit, visit.record_id) is not None
        paths = [
            "/",
            "/women",
            f"/women/{p.woman_id}",
            "/register",
            f"/register?woman={p.woman_id}",
            *(f"/p/{p.id}/{form}" for form in ("visit", "risk", "outcome", "postnatal", "close")),
            f"/p/{p.id}/postnatal?infant={baby.id}",
            f"/p/{p.id}/close?kind=died&infant={baby.id}",
            f"/correct/prenatal_visit/{visit.record_id}",
            f"/correct/prenatal_visit/{visit.record_id}?kind=void",
            f"/edit/woman/{p.woman_id}",
            f"/edit/pregnancy/{p.id}",
            "/settings",
        ]
    engine.dispose()
    sign_in(page, CADRE_A)
    for language in ("zh", "en"):
        page.goto(f"/lang/{language}")
        for path in paths:
            page.goto(path)
            check_fits_a_phone(page, f"{path} ({language})")
