"""Helpers of the offline browser tests: cases made on the live server's database, what the phone holds
(outbox, sync state, kept pages), and queries of what the server stored."""

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from playwright.sync_api import Page, expect
from sqlmodel import Session, col, func, select

from backend.accounts.models import User
from backend.accounts.services import area_codes_of
from backend.cases import forms, services
from backend.cases.services import WriteContext
from backend.db import make_engine
from backend.lib.clock import local_today
from backend.lib.fieldcrypt import FieldCipher
from tests.browser import LiveServer
from tests.conftest import TEST_SECRET, VILLAGE_A

CADRE_A = "13800000001"
CADRE_B = "13800000002"


@contextmanager
def server_db(server: LiveServer) -> Iterator[Session]:
    engine = make_engine(server.settings)
    try:
        with Session(engine, expire_on_commit=False) as db:
            yield db
    finally:
        engine.dispose()


def server_today(server: LiveServer) -> date:
    return local_today(server.settings.timezone)


@dataclass(frozen=True)
class Case:
    woman_id: uuid.UUID
    pregnancy_id: uuid.UUID
    name: str


def write_context(db: Session, server: LiveServer, phone: str = CADRE_A) -> WriteContext:
    """Writing on the live server's database as the user with this phone, on the server's day."""
    from backend.accounts.services import Actor

    user = db.exec(select(User).where(User.phone == phone)).one()
    actor = Actor(user_id=user.id, name=user.name, role=user.role, area_codes=area_codes_of(db, user.id))
    return WriteContext(actor=actor, today=server_today(server), cipher=FieldCipher(TEST_SECRET))


def make_case(
    server: LiveServer,
    name: str,
    *,
    registered_days_ago: int = 40,
    weeks_pregnant: int = 20,
    phone: str = CADRE_A,
    village: str = VILLAGE_A,
) -> Case:
    """A pregnancy registered by the cadre with this phone; registered 40 days ago its monthly visit is
    overdue."""
    today = server_today(server)
    with server_db(server) as db:
        ctx = write_context(db, server, phone)
        lmp = today - timedelta(weeks=weeks_pregnant)
        data = forms.read_registration(
            {
                "name": name,
                "village_code": village,
                "registered_on": (today - timedelta(days=registered_days_ago)).isoformat(),
                "lmp": lmp.isoformat(),
                "gravidity": "2",
                "parity": "1",
                "birth_date": "1995-03-04",
            }
        )
        services.register_pregnancy(db, ctx, data)
        db.commit()
        return Case(data.woman_id, data.pregnancy_id, name)


def make_visit(server: LiveServer, case: Case, phone: str = CADRE_A) -> uuid.UUID:
    """A home visit today, recorded on the server."""
    with server_db(server) as db:
        ctx = write_context(db, server, phone)
        data = forms.read_prenatal_visit(
            {
                "pregnancy_id": str(case.pregnancy_id),
                "visited_on": ctx.today.isoformat(),
                "kind": "home",
                "weight_kg": "58.5",
            }
        )
        services.record_prenatal_visit(db, ctx, data)
        db.commit()
        return data.id


def make_birth(server: LiveServer, case: Case, born: date, phone: str = CADRE_A) -> None:
    """A live birth recorded on the server (by someone else, or before the phone last refreshed)."""
    with server_db(server) as db:
        ctx = write_context(db, server, phone)
        data = forms.read_outcome(
            {
                "pregnancy_id": str(case.pregnancy_id),
                "outcome_on": born.isoformat(),
                "outcome_type": "live_birth",
                "place": "hospital",
                "mode": "vaginal",
                "n_babies": "1",
                "babies-0-sex": "2",
                "babies-0-weight_g": "3200",
            }
        )
        services.record_outcome(db, ctx, data)
        db.commit()


def count(server: LiveServer, model: Any, **where: Any) -> int:
    with server_db(server) as db:
        stmt = select(func.count()).select_from(model)
        for key, value in where.items():
            if isinstance(value, str) and len(value) == 36:
                value = uuid.UUID(value)
            stmt = stmt.where(col(getattr(model, key)) == value)
        return int(db.exec(stmt).one())


def user_id(page: Page) -> str:
    return str(page.locator('meta[name="user"]').get_attribute("content"))


def wait_until_kept_offline(page: Page, timeout: float = 30_000) -> None:
    """The service worker is active and has kept every page of the user's list."""
    # Active is enough: a page that loaded while the worker was installing is not controlled, but every
    # later navigation (a reload with no signal too) goes through the worker.
    poll(page, "async () => (await navigator.serviceWorker.getRegistration())?.active?.state === 'activated'")
    poll(page, f"async () => Boolean(await suifang.outbox.getMeta('refreshed:{user_id(page)}'))", timeout)


def poll(page: Page, script: str, timeout: float = 15_000) -> Any:
    """Evaluate `script` (which may return a promise) until it gives something truthy."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        value = page.evaluate(script)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} ms: {script}")
        page.wait_for_timeout(200)


def outbox(page: Page) -> list[dict[str, Any]]:
    """This user's entries on the phone, in order."""
    result: list[dict[str, Any]] = page.evaluate(
        "async () => suifang.outbox.forUser(document.querySelector('meta[name=\"user\"]').content)"
    )
    return result


def expect_pending(page: Page, n: int, timeout: float = 15_000) -> None:
    expect(page.locator("#sync-state")).to_have_attribute("data-pending", str(n), timeout=timeout)


def submit(page: Page) -> None:
    """Save the page's record form once the app has prepared it (a test taps faster than a thumb)."""
    page.locator("html[data-ready=true]").wait_for(state="attached")
    page.locator("form.record-form button[type=submit]").click()


def save_offline(page: Page) -> None:
    """Save the form with no signal and wait until the phone has kept it and shown where it went."""
    submit(page)
    expect(page.locator("#saved-on-phone")).to_be_visible()
