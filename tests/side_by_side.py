"""Two writers at the same moment, in a set order: the second starts while the first's transaction is still
open, and the first commits only once the second has finished or is waiting for a lock — on PostgreSQL read
from pg_stat_activity; on SQLite, whose waiting writer sits in the busy handler, after a moment. Used by the
tests that two writers of one thing end as if one had gone first (test_same_case_concurrency.py,
test_pg_races.py)."""

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine, text

T = TypeVar("T")


def second_while_first_is_open(
    engine: Engine, commit_first: Callable[[], None], second: Callable[[], T]
) -> T:
    """Run `second` (which commits its own) in a thread; call `commit_first` once it has finished or waits for
    a lock; return what `second` returned, or raise what it raised."""
    outcome: list[T] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def run_second() -> None:
        try:
            outcome.append(second())
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=run_second)
    thread.start()
    wait_until(lambda: done.is_set() or waiting_for_a_lock(engine))
    commit_first()
    thread.join(timeout=60)
    assert done.is_set()
    assert not errors, errors
    return outcome[0]


def waiting_for_a_lock(engine: Engine) -> bool:
    """Another session of this database is waiting for a lock. SQLite cannot say: a writer waiting for the
    write lock sits in the busy handler, so after a moment it is taken to be waiting."""
    if engine.dialect.name != "postgresql":
        time.sleep(1.0)
        return True
    with engine.connect() as conn:
        waiting = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(waiting)


def wait_until(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the second writer neither finished nor waited"
        time.sleep(0.02)
