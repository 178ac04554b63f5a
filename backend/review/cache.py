"""Review figures kept between requests until the data changes: every write to a case adds a row to the
change feed (case_change), so its highest sequence number is a version that moves with any change that can
alter a count. Keyed by database, scope, period and day; a small LRU per process, safe across processes
because each one reads the version from the database."""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import func
from sqlmodel import Session, select

from backend.cases.models import CaseChange

T = TypeVar("T")
MAX_ENTRIES = 128
_entries: OrderedDict[Hashable, tuple[Any, Any]] = OrderedDict()
_lock = threading.Lock()
enabled = True
"""Benchmarks turn this off to time the first view after a write."""


def data_version(db: Session) -> Any:
    """The change feed's highest sequence number (an index lookup)."""
    return db.exec(select(func.max(CaseChange.seq))).one()


def cached(db: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` once per (database, key, data version)."""
    if not enabled:
        return compute()
    version = data_version(db)
    full = (str(db.get_bind().engine.url), key)
    with _lock:
        hit = _entries.get(full)
        if hit is not None and hit[0] == version:
            _entries.move_to_end(full)
            return hit[1]  # type: ignore[no-any-return]
    value = compute()
    with _lock:
        _entries[full] = (version, value)
        _entries.move_to_end(full)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    with _lock:
        _entries.clear()
