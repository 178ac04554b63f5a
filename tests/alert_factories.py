"""Factories for alert tests: due items placed exactly (relative to a day), with the woman and pregnancy they
need, and a subscription of a user pointing at the local push receiver."""

import uuid
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session

from backend.accounts.models import User
from backend.alerts.models import PushSubscription
from backend.cases.models import DueItem, Pregnancy, Woman

WOMAN_NAME = "韩梅梅"
"""Every factory woman is called this: no push payload may ever contain it."""


def make_pregnancy(db: Session, author: User, village: str, edd: date) -> Pregnancy:
    woman = Woman(author_id=author.id, name=WOMAN_NAME, village_code=village, id_masked="110***********1234")
    db.add(woman)
    db.flush()
    pregnancy = Pregnancy(
        author_id=author.id,
        woman_id=woman.id,
        village_code=village,
        edd=edd,
        gravidity=1,
        parity=0,
        registered_on=edd - timedelta(days=200),
        rules_version="2026.1",
    )
    db.add(pregnancy)
    db.flush()
    return pregnancy


def make_item(
    db: Session,
    pregnancy: Pregnancy,
    today: date,
    *,
    start: int,
    due: int,
    end: int,
    kind: str = "village",
    missed: int | None = None,
    done: int | None = None,
) -> DueItem:
    """An item whose window is [today+start, today+end], due today+due (negative numbers are in the past)."""
    item = DueItem(
        pregnancy_id=pregnancy.id,
        kind=kind,
        window_start=today + timedelta(days=start),
        due_on=today + timedelta(days=due),
        window_end=today + timedelta(days=end),
        missed_on=None if missed is None else today + timedelta(days=missed),
        done_on=None if done is None else today + timedelta(days=done),
        is_open=done is None,
        village_code=pregnancy.village_code,
        rules_version="2026.1",
    )
    db.add(item)
    db.flush()
    return item


def subscribe(db: Session, user: User | uuid.UUID, sub: dict[str, Any]) -> PushSubscription:
    row = PushSubscription(
        user_id=user if isinstance(user, uuid.UUID) else user.id,
        endpoint=sub["endpoint"],
        p256dh=sub["keys"]["p256dh"],
        auth=sub["keys"]["auth"],
    )
    db.add(row)
    db.flush()
    return row
