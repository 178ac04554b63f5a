"""Review figures kept between requests, per village, until the data changes: every write to a case adds a
row to the change feed (case_change) for its village, so a village's highest sequence number is a version
that moves with any change that can alter its counts. Keyed by database, scope, period and day; a small LRU
per process, safe across processes because each one reads the versions from the database."""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from backend.areas.models import Area
from backend.cases.models import CaseChange
from backend.scope import Scope

T = TypeVar("T")
MAX_ENTRIES = 128
_entries: OrderedDict[Hashable, tuple[Any, Any]] = OrderedDict()
_lock = threading.Lock()
enabled = True
"""Benchmarks turn this off to time the first view after a write."""


def village_versions(db: Session, scope: Scope) -> dict[str, Any]:
    """Each village's latest change: one index seek per village of the scope (the feed grows with every
    write, so it is never scanned)."""
    latest = (
        sa_select(func.max(CaseChange.seq)).where(col(CaseChange.village_code) == Area.code).scalar_subquery()
    )
    rows = db.execute(sa_select(col(Area.code), latest).where(scope.clause(Area.code))).all()
    return {code: seq for code, seq in rows if seq is not None}


def peek(db: Session, key: Hashable) -> Any:
    """What was stored under `key` for this database, whatever its version (None when nothing)."""
    if not enabled:
        return None
    with _lock:
        hit = _entries.get((str(db.get_bind().engine.url), key))
    return None if hit is None else hit[1]


def store(db: Session, key: Hashable, value: Any) -> None:
    if not enabled:
        return
    full = (str(db.get_bind().engine.url), key)
    with _lock:
        _entries[full] = (None, value)
        _entries.move_to_end(full)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)


def per_village(
    db: Session,
    key: Hashable,
    scope: Scope,
    compute: Callable[[Scope], dict[str, T]],
    linked: Callable[[set[str]], set[str]] = lambda villages: villages,
) -> dict[str, T]:
    """Figures per village kept between requests; after writes only the villages whose change feed moved
    (widened by `linked`) are computed again, with a scope of just those villages."""
    if not enabled:
        return compute(scope)
    versions = village_versions(db, scope)
    held = peek(db, key)
    if held is None:
        figures = compute(scope)
    else:
        old_versions, figures = held
        dirty = {v for v in versions.keys() | old_versions.keys() if versions.get(v) != old_versions.get(v)}
        if not dirty:
            return figures  # type: ignore[no-any-return]
        dirty = {v for v in linked(dirty) if scope.covers(v)}
        fresh = compute(Scope(tuple(sorted(dirty))))
        figures = {v: f for v, f in figures.items() if v not in dirty} | fresh
    store(db, key, (versions, figures))
    return figures


def clear() -> None:
    with _lock:
        _entries.clear()
