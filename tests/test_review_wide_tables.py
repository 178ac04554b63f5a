"""The 月报 and the county view in Debian's chromium: the report tables fit a 1366 px desktop in Chinese and
English (headings wrap, numbers stay on one line), and on a 360 px phone a table that is still too wide
scrolls inside its box with a cue (a shadow on the side that has more, the first column held in place)."""

from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser import *  # noqa: F403
from tests.browser import screenshot, sign_in
from tests.test_browser_review import OCT, october  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser
TABLES = ("t-coverage", "t-indicators", "t-events", "t-movements")
MEASURE = """ids => ids.map(id => {
  const t = document.getElementById(id), box = t.parentElement, cs = getComputedStyle(box);
  const first = t.querySelector('tbody th[scope=row]');
  const wrapped = [...t.querySelectorAll('td .num')].filter(n => n.getClientRects().length > 1).length;
  return {id, width: t.scrollWidth, room: box.clientWidth, cue: cs.backgroundImage.includes('gradient'),
          sticky: getComputedStyle(first).position, wrapped,
          scrolls: ['auto', 'scroll'].includes(cs.overflowX)};
})"""


def measure(page: Page) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate(MEASURE, list(TABLES))
    return result


@pytest.mark.parametrize("path", [f"/review/report?{OCT}", f"/review/county?{OCT}"])
def test_the_report_tables_fit_a_desktop_in_both_languages(page: Page, october: None, path: str) -> None:  # noqa: F811
    sign_in(page, "13800000010" if "report" in path else "13800000020")
    page.set_viewport_size({"width": 1366, "height": 800})
    for lang in ("zh", "en"):
        page.goto(f"/lang/{lang}")
        page.goto(path)
        for t in measure(page):
            assert t["width"] <= t["room"], (lang, t)
            assert t["wrapped"] == 0, (lang, t)
        screenshot(page, f"review-wide-tables-1366-{lang}-{path.split('?')[0].rsplit('/', 1)[1]}")
    page.goto("/lang/zh")


def test_a_report_table_too_wide_for_a_phone_scrolls_with_a_cue(page: Page, october: None) -> None:  # noqa: F811
    sign_in(page, "13800000010")
    page.goto(f"/review/report?{OCT}")
    tables = {t["id"]: t for t in measure(page)}
    # 随访覆盖率 fits a 360 px phone in Chinese, its 覆盖率 column included.
    assert tables["t-coverage"]["width"] <= tables["t-coverage"]["room"], tables["t-coverage"]
    for t in tables.values():
        assert t["wrapped"] == 0, t
        if t["width"] > t["room"]:
            assert t["scrolls"] and t["cue"] and t["sticky"] == "sticky", t
    screenshot(page, "review-wide-tables-360-zh")
