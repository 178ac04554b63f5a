"""The review pages in Debian's chromium: the dashboard and the 月报 at 360 px and 1280 px (screenshots kept
as artefacts), sorting and drill-down without JavaScript, and the report printed to A4."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page
from sqlmodel import Session, select

from backend.accounts.models import User
from backend.db import make_engine
from tests.browser import *  # noqa: F403
from tests.browser import ARTIFACTS, LiveServer, screenshot, sign_in
from tests.conftest import Cast
from tests.review_factory import make_october

pytestmark = pytest.mark.browser
OCT = "period=2026-10"
A4_PRINTABLE_PX = int((210 - 2 * 14) / 25.4 * 96)  # A4 width less the 14 mm margins of app.css, at 96 dpi


@pytest.fixture
def october(live_server: LiveServer) -> None:
    engine = make_engine(live_server.settings)
    with Session(engine, expire_on_commit=False) as db:
        by_phone = {u.phone: u for u in db.exec(select(User)).all()}
        cast = Cast(
            *(
                by_phone[p]
                for p in (
                    "13800000001",
                    "13800000002",
                    "13800000003",
                    "13800000010",
                    "13800000011",
                    "13800000020",
                )
            )
        )
        make_october(db, cast)
    engine.dispose()


def no_page_scroll(page: Page, width: int) -> bool:
    return bool(page.evaluate(f"document.documentElement.scrollWidth <= {width}"))


def test_the_dashboard_reads_at_360_px_and_1280_px(page: Page, october: None) -> None:
    sign_in(page, "13800000010")
    page.goto(f"/review?{OCT}")
    assert page.locator("h1").first.inner_text().startswith("甲镇")
    assert page.locator("svg.chart").count() == 2
    assert no_page_scroll(page, 360)
    assert page.locator("#village-table tbody tr").count() == 2
    screenshot(page, "review-dashboard-360")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    screenshot(page, "review-dashboard-1280")


def test_sorting_is_a_plain_link_and_the_drill_down_reaches_the_case(page: Page, october: None) -> None:
    sign_in(page, "13800000010")
    page.goto(f"/review?{OCT}")
    page.click("#village-table thead a:has-text('逾期')")
    assert "sort=overdue" in page.url
    page.click("#village-table a:has-text('东岭村')")
    assert page.locator("h1").first.inner_text().startswith("东岭村")
    page.locator("#overdue .items a").first.click()
    assert re.search(r"/women/[0-9a-f-]{36}$", page.url)


def test_the_monthly_report_prints_on_one_a4_page(page: Page, october: None, tmp_path: Path) -> None:
    sign_in(page, "13800000010")
    page.goto(f"/review/report?{OCT}")
    assert "孕产妇与新生儿随访月报" in page.locator("h1").first.inner_text()
    assert no_page_scroll(page, 360)
    screenshot(page, "review-report-360")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    screenshot(page, "review-report-1280")
    page.emulate_media(media="print")
    page.set_viewport_size({"width": A4_PRINTABLE_PX, "height": 1000})
    assert page.evaluate("document.getElementById('report').scrollWidth") <= A4_PRINTABLE_PX
    screenshot(page, "review-report-print")
    pdf = page.pdf(format="A4", print_background=True)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "review-report-a4.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert pages == 1, pages


def test_the_county_view_reads_at_360_px(page: Page, october: None) -> None:
    sign_in(page, "13800000020")
    page.goto(f"/review?{OCT}")
    assert "各乡镇对比" in page.locator("h1").first.inner_text()
    assert page.get_by_text("出生数过少，无法计算").count() == 1
    assert no_page_scroll(page, 360)
    screenshot(page, "review-county-360")
