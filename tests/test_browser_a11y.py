"""Every page a user meets, audited by axe-core (tests/vendor/axe-core, WCAG 2 A and AA) in Debian's chromium:
the cadre's pages in Chinese at 360 px (sign-in, Today, the women list, a case, every record form, a form sent
back with errors, the pending list, the offline page and a case registered offline, with entries kept on the
phone, settings), the
supervisor's and the county's (dashboard, village, escalations, 月报, people, areas), some in English and at
1366 px. No violation of impact serious or critical may remain."""

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import Session, select

from backend.accounts.models import User
from backend.db import make_engine
from backend.lib.clock import local_today
from tests.browser import *  # noqa: F403  (live_server, browser)
from tests.browser import PHONE, LiveServer, screenshot, sign_in
from tests.browser_offline import submit, wait_until_kept_offline, write_context
from tests.case_factories import infants_of, make_delivered_case, make_registration, woman_id_number
from tests.conftest import Cast
from tests.review_factory import make_october

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1366, "height": 900}
CADRE_A, SUPERVISOR, COUNTY = "13800000001", "13800000010", "13800000020"
OCT = "period=2026-10"
DAY = timedelta(days=1)
# (rule id, CSS selector of the one element) → why that rule does not apply to it. Empty: nothing is excused.
EXCUSED: dict[tuple[str, str], str] = {}
# WCAG 2.0 A and AA, and the A/AA criteria 2.1 and 2.2 added (a control's name holds its visible words, tap
# targets of at least 24 px), which the phones' users meet just the same.
RUN = """async () => {
  const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
  const result = await axe.run(document, { runOnly: tags });
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(' '), impact: n.impact })) }));
}"""


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """The phone of tests/browser.py, which lets the test add axe's script to a page despite the app's
    Content-Security-Policy (script-src 'self'): the policy is the app's, not what is audited."""
    ctx = browser.new_context(
        viewport=PHONE,
        base_url=live_server.url,
        locale="zh-CN",
        service_workers="allow",
        bypass_csp=True,
    )
    yield ctx
    ctx.close()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations of impact serious or critical on the page as it is now, less the excused."""
    page.wait_for_load_state("load")
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=AXE)
    found: list[dict[str, Any]] = page.evaluate(RUN)
    kept = []
    for violation in found:
        nodes = [
            n
            for n in violation["nodes"]
            if n["impact"] in ("serious", "critical") and (violation["id"], n["target"]) not in EXCUSED
        ]
        if nodes:
            kept.append({**violation, "nodes": nodes})
    return kept


class Audit:
    """Pages audited one after another; every violation is reported at the end, page by page."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.found: dict[str, list[dict[str, Any]]] = {}

    def check(self, what: str, path: str | None = None) -> None:
        if path is not None:
            self.page.goto(path)
        violations = serious_violations(self.page)
        if violations:
            self.found[what] = violations

    def report(self) -> str:
        lines = []
        for what, violations in self.found.items():
            count = sum(len(v["nodes"]) for v in violations)
            lines.append(f"\n{what}: {count} serious/critical")
            for v in violations:
                for n in v["nodes"]:
                    lines.append(f"  {v['id']} ({n['impact']}) {n['target']} — {v['help']}")
        return "".join(lines)

    def assert_clean(self) -> None:
        assert not self.found, "accessibility violations:" + self.report()


@pytest.fixture
def audit(page: Page) -> Audit:
    return Audit(page)


@pytest.fixture
def case_paths(live_server: LiveServer) -> dict[str, str]:
    """A case with everything on its page: a red grade, a visit with danger signs, twins born nine days ago;
    and a second, open, not yet delivered (for the forms of pregnancy)."""
    from tests.conftest import VILLAGE_A

    today = local_today(live_server.settings.timezone)
    engine = make_engine(live_server.settings)
    with Session(engine) as db:
        ctx = write_context(db, live_server)
        born, visit = make_delivered_case(db, ctx, VILLAGE_A)
        expecting = make_registration(
            db,
            ctx,
            VILLAGE_A,
            registered_on=today - 40 * DAY,
            lmp=today - 150 * DAY,
            name="陈晓红",
            id_number=woman_id_number(seq=4),
            colour="yellow",
        )
        db.commit()
        baby = infants_of(db, born)[0]
        paths = {
            "case (born)": f"/women/{born.woman_id}",
            "case (expecting)": f"/women/{expecting.woman_id}",
            "registration form": "/register",
            "prenatal visit form": f"/p/{expecting.id}/visit",
            "standard check form": f"/p/{expecting.id}/visit?kind=check",
            "risk grade form": f"/p/{expecting.id}/risk",
            "outcome form": f"/p/{expecting.id}/outcome",
            "postnatal form (mother)": f"/p/{born.id}/postnatal",
            "postnatal form (baby)": f"/p/{born.id}/postnatal?infant={baby.id}",
            "closure form": f"/p/{expecting.id}/close",
            "transfer form": f"/p/{expecting.id}/close?kind=transferred",
            "baby died form": f"/p/{born.id}/close?kind=died&infant={baby.id}",
            "correction form": f"/correct/prenatal_visit/{visit.record_id}",
            "void form": f"/correct/prenatal_visit/{visit.record_id}?kind=void",
            "edit woman form": f"/edit/woman/{born.woman_id}",
            "edit pregnancy form": f"/edit/pregnancy/{expecting.id}",
            "expecting visit": f"/p/{expecting.id}/visit",
        }
    engine.dispose()
    return paths


@pytest.fixture
def october(live_server: LiveServer) -> None:
    engine = make_engine(live_server.settings)
    with Session(engine, expire_on_commit=False) as db:
        by_phone = {u.phone: u for u in db.exec(select(User)).all()}
        phones = ("13800000001", "13800000002", "13800000003", "13800000010", "13800000011", "13800000020")
        make_october(db, Cast(*(by_phone[p] for p in phones)))
    engine.dispose()


def test_the_cadres_pages_in_chinese_at_360_px_have_no_serious_violations(
    page: Page, audit: Audit, case_paths: dict[str, str]
) -> None:
    audit.check("sign-in", "/login")
    page.fill("#f-phone", CADRE_A)
    page.fill("#f-password", "wrong-password")
    page.click("button[type=submit]")
    expect(page.locator(".error, .alert").first).to_be_visible()
    audit.check("sign-in refused")
    sign_in(page, CADRE_A)
    audit.check("Today")
    audit.check("women list", "/women")
    for what, path in case_paths.items():
        if what != "expecting visit":
            audit.check(what, path)
    audit.check("settings", "/settings")
    audit.check("not found", f"/women/{uuid.uuid4()}")
    audit.assert_clean()


def test_forms_sent_back_with_errors_name_each_field_accessibly(
    page: Page, audit: Audit, case_paths: dict[str, str]
) -> None:
    sign_in(page, CADRE_A)
    page.goto("/register")
    page.fill("#f-id_number", "110101199003070000")
    page.fill("#f-lmp", "2000-01-01")
    page.fill("#f-gravidity", "1")
    page.fill("#f-parity", "3")
    page.click("button[type=submit]")
    expect(page.locator("#error-summary")).to_be_visible()
    audit.check("registration form with errors")
    assert_errors_named(page, at_least=2)
    screenshot(page, "a11y-register-errors-360")

    page.goto(case_paths["prenatal visit form"])
    page.fill("#f-bp_systolic", "80")
    page.fill("#f-bp_diastolic", "120")
    page.click("button[type=submit]")
    expect(page.locator("#f-bp_diastolic")).to_have_attribute("aria-invalid", "true")
    audit.check("visit form with errors")
    assert_errors_named(page, at_least=1)
    audit.assert_clean()


# Every field shown as wrong: the field says it is invalid and its description is the message beside it.
INVALID_FIELDS = """() => [...document.querySelectorAll('.field.invalid')].map((box) => {
  const field = box.querySelector('input, select, textarea');
  const ids = (field.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
  return { name: field.name, invalid: field.getAttribute('aria-invalid'),
    described: ids.map((id) => (document.getElementById(id)?.textContent || '').trim()).join(' '),
    shown: [...box.querySelectorAll('.error')].map((p) => p.textContent.trim()).join(' ') };
})"""


def assert_errors_named(page: Page, at_least: int) -> None:
    fields = page.evaluate(INVALID_FIELDS)
    assert len(fields) >= at_least, fields
    for f in fields:
        assert f["invalid"] == "true" and f["shown"] and f["described"] == f["shown"], f


def test_the_pending_list_and_offline_page_with_an_entry_on_the_phone(
    page: Page, context: BrowserContext, audit: Audit, case_paths: dict[str, str]
) -> None:
    sign_in(page, CADRE_A)
    wait_until_kept_offline(page)
    audit.check("pending list, empty", "/pending")
    context.set_offline(True)
    page.goto(case_paths["expecting visit"])
    page.locator("html[data-ready=true]").wait_for(state="attached")
    page.fill("#f-bp_systolic", "120")
    page.fill("#f-bp_diastolic", "200")
    submit(page)
    expect(page.locator(".js-error")).to_have_count(1)
    audit.check("visit form checked on the phone")
    assert_errors_named(page, at_least=1)
    screenshot(page, "a11y-visit-checked-on-phone-360")
    page.fill("#f-bp_diastolic", "80")
    submit(page)
    expect(page.locator("#saved-on-phone")).to_be_visible()
    expect(page.locator("#sync-state")).to_have_attribute("data-pending", "1")
    # what the phone says about syncing is announced as it changes (polite live regions)
    expect(page.locator("#sync-state")).to_have_attribute("aria-live", "polite")
    expect(page.locator("#banner")).to_have_attribute("aria-live", "polite")
    expect(page.locator(".badge-link")).to_have_accessible_name(re.compile(r"^\d+ 逾期$"))
    audit.check("case with an entry saved on the phone")
    page.goto("/pending")
    expect(page.locator("#pending-entries .card")).to_have_count(1)
    audit.check("pending list with an entry")
    screenshot(page, "a11y-pending-360")
    audit.check("offline page", "/offline")
    page.goto("/")
    expect(page.locator("#pending-list")).to_be_visible()
    audit.check("Today offline with an entry")
    page.goto("/register")  # a case registered with no signal: drawn by the phone from its outbox
    page.fill("#f-name", "刘春梅")
    page.fill("#f-birth_date", "1998-06-01")
    page.fill("#f-lmp", (local_today("Asia/Shanghai") - timedelta(weeks=10)).isoformat())
    page.fill("#f-gravidity", "1")
    page.fill("#f-parity", "0")
    submit(page)
    expect(page.locator("#pending-case h1")).to_contain_text("刘春梅")
    audit.check("case registered offline, drawn on the phone")
    screenshot(page, "a11y-offline-case-360")
    context.set_offline(False)
    audit.assert_clean()


def test_the_cadres_pages_in_english_and_at_1366_px(
    page: Page, audit: Audit, case_paths: dict[str, str]
) -> None:
    sign_in(page, CADRE_A)
    # the other language's name is read in that language (WCAG 3.1.2)
    expect(page.locator("a.lang")).to_have_attribute("lang", "en")
    page.goto("/lang/en")
    audit.check("Today (en)", "/")
    expect(page.locator("a.lang")).to_have_attribute("lang", "zh-CN")
    audit.check("women list (en)", "/women")
    audit.check("case (en)", case_paths["case (born)"])
    audit.check("registration form (en)", "/register")
    audit.check("outcome form (en)", case_paths["outcome form"])
    audit.check("postnatal form (en)", case_paths["postnatal form (baby)"])
    audit.check("pending list (en)", "/pending")
    audit.check("settings (en)", "/settings")
    page.set_viewport_size(DESKTOP)
    audit.check("Today (en, 1366)", "/")
    page.goto("/lang/zh")
    audit.check("case (1366)", case_paths["case (born)"])
    audit.check("registration form (1366)", "/register")
    audit.assert_clean()


def test_the_supervisors_and_county_pages_have_no_serious_violations(
    page: Page, audit: Audit, october: None
) -> None:
    sign_in(page, SUPERVISOR)
    pages = {
        "dashboard": f"/review?{OCT}",
        "village": f"/review/village/{_village_a()}?{OCT}",
        "responsible cadres of a village": f"/review/village/{_village_a()}/cadres",
        "escalations": "/review/escalations",
        "monthly report": f"/review/report?{OCT}",
        "line list": f"/review/linelist?{OCT}",
        "people": "/admin/people",
        "Today (supervisor)": "/",
    }
    for what, path in pages.items():
        audit.check(what, path)
    page.goto(pages["monthly report"])
    page.locator("#sec-indicators .table-wrap").focus()  # a keyboard reaches the table that scrolls sideways
    page.keyboard.press("ArrowRight")
    screenshot(page, "a11y-report-table-focused-360")
    page.goto(pages["people"])
    person = page.locator("a[href^='/admin/people/']").first
    if person.count():
        person.click()
        audit.check("person")
    page.set_viewport_size(DESKTOP)
    for what in ("dashboard", "monthly report", "people"):
        audit.check(f"{what} (1366)", pages[what])
    page.goto("/lang/en")
    for what in ("dashboard", "monthly report"):
        audit.check(f"{what} (en, 1366)", pages[what])
    page.set_viewport_size(PHONE)
    audit.check("dashboard (en)", pages["dashboard"])
    page.goto("/lang/zh")

    page.context.clear_cookies()
    sign_in(page, COUNTY)
    audit.check("county", f"/review/county?{OCT}")
    audit.check("areas", "/admin/areas")
    audit.check("people (county)", "/admin/people")
    page.set_viewport_size(DESKTOP)
    audit.check("county (1366)", f"/review/county?{OCT}")
    audit.assert_clean()


def _village_a() -> str:
    from tests.conftest import VILLAGE_A

    return VILLAGE_A


def test_the_audit_finds_what_it_is_meant_to_find(page: Page, audit: Audit) -> None:
    """The check itself can fail: an unlabelled input and grey-on-white text are reported."""
    page.goto("/login")
    page.evaluate(
        """() => { const main = document.getElementById('main');
        main.insertAdjacentHTML('beforeend', '<input id="bare"><p style="color:#bbb">faint</p>'); }"""
    )
    audit.check("sign-in with planted faults")
    ids = {v["id"] for v in audit.found.get("sign-in with planted faults", [])}
    assert {"label", "color-contrast"} <= ids, audit.report()
