"""The date limits a stored case writes into its kept forms (`offline_checks.case_dates`) say, for every day,
what the services themselves say when the form is sent: the phone refuses offline exactly the dates the
server would, in the server's words (pwa/js/checks.js reads them the way `told` does below; a browser test
checks that reading against the server too)."""

import json
import re
import uuid
from collections.abc import Callable
from datetime import date, timedelta

from sqlmodel import Session

from backend.cases import forms, services
from backend.cases.models import Pregnancy
from backend.cases.offline_checks import case_dates
from backend.cases.schedule_store import CaseRecords
from backend.lib.i18n import ValidationFailed
from tests.case_factories import make_outcome, make_registration, make_visit, outcome_form
from tests.conftest import VILLAGE_A, Cast

TODAY = date(2026, 11, 23)
DAY = timedelta(days=1)


def told(attrs: str, on: date) -> str | None:
    """What the phone says of this date, read as checks.js reads `data-limits`."""
    raw = re.search(r'data-limits="([^"]*)"', attrs)
    assert raw is not None
    limits = json.loads(raw.group(1).replace("&#34;", '"').replace("&quot;", '"').replace("&amp;", "&"))
    value = on.isoformat()
    for limit in limits:
        if ("min" in limit and value < limit["min"]) or ("max" in limit and value > limit["max"]):
            if "from" not in limit:
                return str(limit["msg"])
            days = (on - date.fromisoformat(limit["from"])).days
            return str(limit["msg"]).replace("{ga}", f"{days // 7}+{days % 7}").replace("{days}", str(days))
    return None


def said(db: Session, write: Callable[[date], object], name: str, on: date) -> str | None:
    """What the service says of `name` when the form is sent with this date (nothing is kept)."""
    with db.begin_nested() as savepoint:
        try:
            write(on)
        except ValidationFailed as exc:
            return next((e.text.zh for e in exc.errors if e.field == name), None)
        finally:
            savepoint.rollback()
    return None


def agree(db: Session, pregnancy: Pregnancy, form: str, name: str, write: Callable[[date], object]) -> None:
    attrs = str(case_dates(form, CaseRecords(db, pregnancy), "zh")[name])
    days = [TODAY - 400 * DAY + n * 5 * DAY for n in range(81)]  # every fifth day of 400 before today
    phone = [told(attrs, d) for d in days]
    server = [said(db, write, name, d) for d in days]
    assert phone == server
    assert any(phone) and not all(phone)  # some dates refused, some not


def test_a_kept_postnatal_form_refuses_offline_the_dates_the_server_refuses(db: Session, cast: Cast) -> None:
    ctx = cast.ctx(cast.cadre_a, db, TODAY)
    pregnancy = make_registration(db, ctx, VILLAGE_A, registered_on=TODAY - 200 * DAY, lmp=TODAY - 260 * DAY)
    make_outcome(db, ctx, pregnancy, TODAY - 20 * DAY)
    db.commit()

    def write(on: date) -> object:
        raw = {"id": str(uuid.uuid4()), "pregnancy_id": str(pregnancy.id), "visited_on": on.isoformat()}
        return services.record_postnatal_visit(
            db, ctx, forms.read_postnatal(raw | {"milestone": "extra", "covers_mother": "1"})
        )

    agree(db, pregnancy, "postnatal", "visited_on", write)


def test_a_kept_closing_form_refuses_offline_the_dates_the_server_refuses(db: Session, cast: Cast) -> None:
    ctx = cast.ctx(cast.cadre_a, db, TODAY)
    pregnancy = make_registration(db, ctx, VILLAGE_A, registered_on=TODAY - 100 * DAY, lmp=TODAY - 160 * DAY)
    db.commit()

    def write(on: date) -> object:
        raw = {"id": str(uuid.uuid4()), "pregnancy_id": str(pregnancy.id), "closed_on": on.isoformat()}
        return services.close_case(db, ctx, forms.read_closure(raw | {"kind": "lost", "reason": "外出务工"}))

    agree(db, pregnancy, "close", "closed_on", write)


def test_with_the_lmp_unknown_the_outcome_form_counts_from_the_edd_as_the_server_does(
    db: Session, cast: Cast
) -> None:
    ctx = cast.ctx(cast.cadre_a, db, TODAY)
    pregnancy = make_registration(
        db, ctx, VILLAGE_A, registered_on=TODAY - 300 * DAY, lmp="", edd=(TODAY - 30 * DAY).isoformat()
    )
    make_visit(db, ctx, pregnancy, visited_on=(TODAY - 250 * DAY).isoformat())
    db.commit()
    assert pregnancy.lmp is None

    def write(on: date) -> object:
        return services.record_outcome(
            db, ctx, forms.read_outcome(outcome_form(pregnancy, on, [("2", "3200")]))
        )

    agree(db, pregnancy, "outcome", "outcome_on", write)


def test_a_visit_form_is_bounded_by_the_outcome_of_its_case(db: Session, cast: Cast) -> None:
    ctx = cast.ctx(cast.cadre_a, db, TODAY)
    pregnancy = make_registration(db, ctx, VILLAGE_A, registered_on=TODAY - 300 * DAY, lmp=TODAY - 330 * DAY)
    make_outcome(db, ctx, pregnancy, TODAY - 60 * DAY)
    db.commit()
    records = CaseRecords(db, pregnancy)
    attrs = str(case_dates("visit", records, "zh")["visited_on"])
    assert told(attrs, TODAY - 59 * DAY) is not None
    assert told(attrs, TODAY - 60 * DAY) is None
