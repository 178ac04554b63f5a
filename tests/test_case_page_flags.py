"""The case page marks what needs attention though it is no input error (DOMAIN §3): a fetal heart rate
outside 110–160 bpm is accepted and shown flagged."""

from sqlmodel import Session

from backend.lib.clock import local_today
from tests.case_factories import make_registration, make_visit
from tests.conftest import VILLAGE_A, Cast
from tests.page_client import *  # noqa: F403  (the `pages` fixture)
from tests.page_client import Pages


def test_a_fetal_heart_rate_outside_110_to_160_is_marked_on_the_case_page(
    db: Session, cast: Cast, pages: Pages
) -> None:
    ctx = cast.ctx(cast.cadre_a, db, local_today("Asia/Shanghai"))
    case = make_registration(db, ctx, VILLAGE_A, name="陈晓红")
    make_visit(db, ctx, case, fetal_heart_bpm="100")
    make_visit(db, ctx, case, fetal_heart_bpm="140")
    db.commit()
    page = pages.client(cast.cadre_a).get(f"/women/{case.woman_id}").text
    assert '<span class="warn fhr-flag">胎心 100（不在110–160之间）</span>' in page
    assert "胎心 140" in page and page.count("fhr-flag") == 1
