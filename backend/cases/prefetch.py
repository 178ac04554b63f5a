"""Reading a sync batch's records together: the rows its operations name are loaded in one query per table
before the first operation runs, and the ids found missing are remembered, so the services' lookups by id
(`stored`) cost no query — a batch of 500 visits otherwise asks the database 500 times for a visit that is
not there yet. Rows looked up by a foreign key (a woman's pregnancies, the edits of a registration) are read
together the same way (`rows_by`)."""

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlmodel import Session, SQLModel, col, select

M = TypeVar("M", bound=SQLModel)
T = TypeVar("T")
ABSENT = "suifang_absent_ids"
RELATED = "suifang_related_rows"
CHUNK = 500
Related = dict[tuple[type[SQLModel], str], dict[Any, list[Any]]]


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices of `size`: long IN lists are sent a few hundred values at a time."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


@contextmanager
def prefetched(
    db: Session,
    ids: Mapping[type[SQLModel], Iterable[uuid.UUID]],
    related: Mapping[tuple[type[SQLModel], str], Iterable[uuid.UUID]] | None = None,
) -> Iterator[None]:
    """Within the block, `stored(db, model, id)` answers for these ids without a query: rows found are in the
    session's identity map (held by the caller's reference to the block); ids not found are remembered as
    absent until this session adds a row with that id. `rows_by(db, model, column, key)` answers for the
    (model, column) keys of `related`, kept current as rows are added. A rollback forgets it all."""
    absent: set[tuple[type[SQLModel], uuid.UUID]] = set()
    rows: list[Any] = []  # held for the block: the identity map only keeps rows something refers to
    for model, wanted in ids.items():
        unique = list(dict.fromkeys(wanted))
        key: Any = model.__table__.primary_key.columns.values()[0]  # type: ignore[attr-defined]
        found: list[Any] = []
        for chunk in chunks(unique):
            found.extend(db.exec(select(model).where(col(key).in_(chunk))).all())
        rows.extend(found)
        present = {row.id for row in found}
        absent.update((model, record_id) for record_id in unique if record_id not in present)
    groups: Related = {}
    for (model, column), keys in (related or {}).items():
        by: dict[Any, list[Any]] = {k: [] for k in keys}
        for chunk in chunks(list(by)):
            stmt: Any = select(model).where(col(getattr(model, column)).in_(chunk))
            for row in db.exec(stmt).all():
                by[getattr(row, column)].append(row)
        groups[(model, column)] = by
    db.info[ABSENT], db.info[RELATED] = absent, groups
    try:
        yield
    finally:
        db.info.pop(ABSENT, None)
        db.info.pop(RELATED, None)


def stored(db: Session, model: type[M], record_id: uuid.UUID) -> M | None:
    """`db.get`, without a query for an id the batch prefetch found missing and nobody has added since. A row
    added but not yet flushed is found too (`db.get` looks in the identity map, then the database, which
    autoflushes it first)."""
    absent: set[tuple[type[SQLModel], uuid.UUID]] | None = db.info.get(ABSENT)
    if absent is not None and (model, record_id) in absent:
        return None
    return db.get(model, record_id)


def rows_by(db: Session, model: type[M], column: str, key: Any) -> list[M]:
    """The rows of `model` whose `column` equals `key`: from the batch's read when it covers the key, else
    from the database."""
    groups: Related | None = db.info.get(RELATED)
    kept = groups.get((model, column), {}).get(key) if groups else None
    if kept is not None:
        return list(kept)
    return list(db.exec(select(model).where(col(getattr(model, column)) == key)).all())


@event.listens_for(Session, "transient_to_pending")
def _added_rows_are_found(session: Session, obj: Any) -> None:
    """A row added to the session, flushed or not, is found by `stored` and `rows_by` from then on."""
    absent: set[tuple[type[SQLModel], Any]] | None = session.info.get(ABSENT)
    if absent:
        absent.discard((type(obj), getattr(obj, "id", None)))
    groups: Related | None = session.info.get(RELATED)
    if groups:
        for (model, column), by in groups.items():
            if type(obj) is model and (kept := by.get(getattr(obj, column))) is not None:
                kept.append(obj)


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, _previous: Any) -> None:
    """A rolled-back savepoint may have undone a write seen above: from now on, ask the database."""
    absent: set[tuple[type[SQLModel], Any]] | None = session.info.get(ABSENT)
    if absent:
        absent.clear()
    groups: Related | None = session.info.get(RELATED)
    if groups:
        groups.clear()
