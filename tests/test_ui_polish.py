"""UI polish found by a user audit: English pages speak English punctuation, the header fits a 360 px
phone, the case strip keeps its dates whole, "no danger signs" is not a warning, a failed push sign-up is
explained."""

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlmodel import Session, select

from backend.cases.models import PrenatalVisit
from tests.browser import *  # noqa: F403  (live_server, page, sign_in)
from tests.browser import LiveServer, sign_in
from tests.case_factories import make_visit
from tests.conftest import VILLAGE_A, Cast
from tests.page_client import *  # noqa: F403  (the `pages` fixture)
from tests.page_client import Pages
from tests.review_factory import make_october
from tests.test_pages import DAY, REGISTERED, TODAY, text_of, twins_case

FULL_WIDTH = re.compile(r"[（）：，；、。]")
CJK = re.compile(r"[\u3400-\u9fff]")


def chinese_punctuation_in_template_text(page_html: str) -> list[str]:
    """Each full-width punctuation mark of the visible text with a little context, leaving out marks that
    sit beside Chinese characters: those belong to data typed by users (names, places, reasons)."""
    text = text_of(re.sub(r"<(script|style)\b.*?</\1>", " ", page_html, flags=re.S))
    found = []
    for m in FULL_WIDTH.finditer(text):
        before, after = text[max(0, m.start() - 1) : m.start()], text[m.end() : m.end() + 1]
        if CJK.search(before) or CJK.search(after):
            continue
        found.append(text[max(0, m.start() - 25) : m.end() + 25])
    return found


def test_english_pages_use_english_punctuation(db: Session, cast: Cast, pages: Pages) -> None:
    p = twins_case(db, cast)
    ctx = cast.ctx(cast.cadre_a, db, TODAY)
    make_visit(
        db,
        ctx,
        p,
        visited_on=(REGISTERED + 60 * DAY).isoformat(),
        kind="check",
        check_no="4",
        danger_signs="none",
    )
    db.commit()
    make_october(db, cast)
    cadre = pages.client(cast.cadre_a)
    visit = db.exec(select(PrenatalVisit).where(PrenatalVisit.pregnancy_id == p.id)).first()
    assert visit is not None
    amend = {"id": str(uuid.uuid4()), "kind": "amend", "new-bp_systolic": "125", "reason": "typo"}
    assert cadre.post(f"/correct/prenatal_visit/{visit.id}", amend).status_code == 303
    cadre.get("/lang/en")
    case = cadre.get(f"/women/{p.woman_id}").text
    assert "Outcome: Live birth" in text_of(case) and "Done, missed or cancelled (" in text_of(case)
    assert "(Standard check 4)" in text_of(case) or "( Standard check 4 )" in text_of(case)
    cadre_paths = [
        "/",
        "/women",
        "/women?q=%E9%99%88",
        f"/women/{p.woman_id}",
        "/register",
        f"/p/{p.id}/visit",
        f"/p/{p.id}/risk",
        f"/p/{p.id}/outcome",
        f"/p/{p.id}/postnatal",
        f"/p/{p.id}/close",
        f"/correct/prenatal_visit/{visit.id}",
        f"/edit/woman/{p.woman_id}",
        "/settings",
    ]
    supervisor = pages.client(cast.sup_t)
    supervisor.get("/lang/en")
    county = pages.client(cast.county)
    county.get("/lang/en")
    month = "period=2026-10"
    checks = (
        [(cadre, path) for path in cadre_paths]
        + [
            (supervisor, path)
            for path in (
                "/",
                f"/review?{month}",
                f"/review/report?{month}",
                f"/review/escalations?{month}",
                f"/review/village/{VILLAGE_A}",
                f"/women/{p.woman_id}",
            )
        ]
        + [(county, path) for path in (f"/review?{month}", f"/review/report?{month}", "/review/county")]
    )
    problems = {}
    for client, path in checks:
        r = client.get(path)
        if r.status_code == 404 and path.startswith("/edit/"):
            continue
        assert r.status_code == 200, path
        assert '<html lang="en">' in r.text, path
        if found := chinese_punctuation_in_template_text(r.text):
            problems[path] = found
    assert problems == {}


LONG_PILLS = {"zh": "2 条待同步 · 2 条被退回 · 无网络", "en": "2 pending · 2 sent back · no signal"}


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_header_is_one_row_at_360_px_with_the_longest_sync_pill_and_every_tab_shows(
    page: Page, lang: str
) -> None:
    sign_in(page, "13800000010")  # the township supervisor: five tabs
    page.goto(f"/lang/{lang}")
    page.goto("/")
    page.wait_for_selector("#sync-state:not([hidden])")
    page.evaluate(
        """pill => {
            const box = document.getElementById('sync-state');
            box.classList.add('failed');
            const link = Object.assign(document.createElement('a'), { href: '/pending', textContent: pill });
            box.replaceChildren(link);
        }""",
        LONG_PILLS[lang],
    )
    layout = page.evaluate(
        """() => {
            const box = (e) => e.getBoundingClientRect();
            const header = document.querySelector('header.top');
            const parts = [...header.children].filter((e) => !e.hidden);
            const nav = document.querySelector('nav.tabs');
            return {
                width: document.documentElement.clientWidth,
                header: box(header).height,
                rowTop: Math.min(...parts.map((e) => box(e).top)),
                rowBottom: Math.max(...parts.map((e) => box(e).bottom)),
                tallest: Math.max(...parts.map((e) => box(e).height)),
                rights: parts.map((e) => [e.className, box(e).right, box(e).width]),
                pill: box(document.getElementById('sync-state')).width,
                tabsOverflow: nav.scrollWidth - nav.clientWidth,
                lastTabRight: box(nav.lastElementChild).right,
            };
        }"""
    )
    assert layout["width"] == 360
    # One row: every part of the header sits beside the others, none below another.
    assert layout["rowBottom"] - layout["rowTop"] == pytest.approx(layout["tallest"], abs=1), layout
    assert layout["header"] < 2 * 44, layout
    for name, right, width in layout["rights"]:
        assert right <= 360 and width > 0, (name, layout)
    assert layout["pill"] >= 100, layout  # truncated, still readable and tappable
    assert layout["tabsOverflow"] <= 0 and layout["lastTabRight"] <= 360, layout


def test_the_case_strip_keeps_each_date_whole_and_no_space_before_the_dot(
    db: Session, cast: Cast, pages: Pages
) -> None:
    p = twins_case(db, cast)
    cadre = pages.client(cast.cadre_a)
    strip = re.search(r'<p class="case-strip">(.*?)</p>', cadre.get(f"/p/{p.id}/postnatal").text, re.S)
    assert strip is not None
    assert "</a>· " in strip.group(1) and "</a> ·" not in strip.group(1)
    assert re.search(r'<span class="date">\d{4}年\d{1,2}月\d{1,2}日</span>', strip.group(1)), strip.group(1)
    css = (Path(__file__).parent.parent / "static/css/app.css").read_text(encoding="utf-8")
    assert re.search(r"\.case-strip \.date \{[^}]*white-space: nowrap", css)


@pytest.mark.parametrize(
    ("typed", "warned"), [("无", False), ("没有", False), ("None", False), ("头痛、视物模糊", True)]
)
def test_danger_signs_are_a_warning_only_when_there_are_some(
    db: Session, cast: Cast, pages: Pages, typed: str, warned: bool
) -> None:
    p = twins_case(db, cast)
    make_visit(
        db,
        cast.ctx(cast.cadre_a, db, TODAY),
        p,
        visited_on=(REGISTERED + 60 * DAY).isoformat(),
        danger_signs=typed,
    )
    db.commit()
    page = pages.client(cast.cadre_a).get(f"/women/{p.woman_id}").text
    shown = re.search(r'<span class="([^"]*)">危险征象：' + re.escape(typed) + "</span>", page)
    assert shown is not None
    assert (shown.group(1) == "warn") is warned


@pytest.mark.browser
def test_a_failed_push_sign_up_is_explained_in_chinese_without_the_browsers_english_error(
    browser: Browser, live_server: LiveServer
) -> None:
    ctx = browser.new_context(
        viewport={"width": 360, "height": 780},
        base_url=live_server.url,
        locale="zh-CN",
        service_workers="allow",
        permissions=["notifications"],
    )
    # As on a phone without Google services: the browser has no push service to register with.
    ctx.add_init_script(
        "PushManager.prototype.subscribe = async () => {"
        " throw new DOMException('Registration failed - permission denied', 'AbortError'); };"
        "PushManager.prototype.getSubscription = async () => null;"
    )
    page = ctx.new_page()
    sign_in(page, "13800000001")
    page.goto("/settings")
    page.evaluate(
        "async () => { await navigator.serviceWorker.register('/sw.js', { scope: '/' });"
        " await navigator.serviceWorker.ready; }"
    )
    page.reload()
    page.wait_for_selector("#push-settings[data-state=off]")
    page.click("#push-on")
    page.locator("#push-status").filter(has_text="推送服务").wait_for()
    status = page.inner_text("#push-status")
    assert "Registration failed" not in status and "今日工作" in status, status
    assert "Registration failed" in (page.get_attribute("#push-status", "title") or "")
    ctx.close()
