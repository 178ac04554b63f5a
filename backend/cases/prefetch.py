"""Reading a sync batch's records together: the rows its operations name are loaded in one query per table
before the first operation runs, and the ids found missing are remembered, so the services' lookups by id
(`stored`) cost no query — a batch of 500 visits otherwise asks the database 500 times for a visit that is
not there yet."""

import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlmodel import Session, SQLModel, col, select

M = TypeVar("M", bound=SQLModel)
ABSENT = "suifang_absent_ids"
CHUNK = 500


@contextmanager
def prefetched(db: Session, ids: Mapping[type[SQLModel], Iterable[uuid.UUID]]) -> Iterator[None]:
    """Within the block, `stored(db, model, id)` answers for these ids without a query: rows found are in the
    session's identity map (held by the caller's reference to the block); ids not found are remembered as
    absent until this session adds a row with that id. A rollback forgets them all."""
    absent: set[tuple[type[SQLModel], uuid.UUID]] = set()
    rows: list[Any] = []  # held for the block: the identity map only keeps rows something refers to
    for model, wanted in ids.items():
        unique = list(dict.fromkeys(wanted))
        key: Any = model.__table__.primary_key.columns.values()[0]  # type: ignore[attr-defined]
        for i in range(0, len(unique), CHUNK):
            rows.extend(db.exec(select(model).where(col(key).in_(unique[i : i + CHUNK]))).all())
        found = {row.id for row in rows if type(row) is model}  # type: ignore[attr-defined]
        absent.update((model, record_id) for record_id in unique if record_id not in found)
    db.info[ABSENT] = absent
    try:
        yield
    finally:
        db.info.pop(ABSENT, None)


def stored(db: Session, model: type[M], record_id: uuid.UUID) -> M | None:
    """`db.get`, without a query for an id the batch prefetch found missing and nobody has added since. A row
    added but not yet flushed is found too (`db.get` looks in the identity map, then the database, which
    autoflushes it first)."""
    absent: set[tuple[type[SQLModel], uuid.UUID]] | None = db.info.get(ABSENT)
    if absent is not None and (model, record_id) in absent:
        return None
    return db.get(model, record_id)


@event.listens_for(Session, "transient_to_pending")
def _written_is_no_longer_absent(session: Session, obj: Any) -> None:
    """A row added to the session, flushed or not, is found by `stored` from then on."""
    absent: set[tuple[type[SQLModel], Any]] | None = session.info.get(ABSENT)
    if absent:
        absent.discard((type(obj), getattr(obj, "id", None)))


@event.listens_for(Session, "after_soft_rollback")
def _forget_absent_on_rollback(session: Session, _previous: Any) -> None:
    """A rolled-back savepoint may have undone a write seen above: from now on, ask the database."""
    absent: set[tuple[type[SQLModel], Any]] | None = session.info.get(ABSENT)
    if absent:
        absent.clear()
