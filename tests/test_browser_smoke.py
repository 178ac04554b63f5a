"""The real app in Debian's chromium at phone width: a cadre signs in and sees Today."""

import pytest
from playwright.sync_api import Page

from tests.browser import *  # noqa: F403
from tests.browser import screenshot, sign_in

pytestmark = pytest.mark.browser


def test_a_cadre_signs_in_and_sees_today_without_horizontal_scroll(page: Page) -> None:
    sign_in(page, "13800000001")
    assert page.locator("h1").first.inner_text().startswith("今日工作")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "smoke-today-360")
