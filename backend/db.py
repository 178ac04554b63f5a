"""Engine and sessions: SQLite in WAL mode by default, PostgreSQL when DATABASE_URL says so."""

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session

from backend.settings import Settings


def make_engine(settings: Settings) -> Engine:
    """One engine per app; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            settings.sqlalchemy_url,
            connect_args={"check_same_thread": False, "timeout": 15},
            pool_size=8,
            max_overflow=8,
            hide_parameters=True,  # an error's message never quotes a name or phone (DOMAIN.md §7)
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling is taken over: a plain BEGIN, or BEGIN IMMEDIATE for a unit of
        # work that asked to write from the start (`begin_writing`).
        event.listen(engine, "begin", _begin)
        return engine
    return create_engine(
        settings.sqlalchemy_url, pool_size=10, max_overflow=10, pool_pre_ping=True, hide_parameters=True
    )


WRITE_FROM_THE_START = "suifang_write_from_the_start"


def _begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(WRITE_FROM_THE_START)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def transaction_root(db: Session) -> Any:
    """The session's outermost transaction (None outside one): what a lock taken in it lasts as long as."""
    root = db.get_transaction()
    while root is not None and root.parent is not None:
        root = root.parent
    return root


def begin_writing(db: Session) -> None:
    """Start the session's next transaction holding SQLite's write lock (BEGIN IMMEDIATE), for a unit of work
    that reads, then writes a lot: a sync batch. With a plain BEGIN, two phones syncing at once both read,
    then the second to write finds its snapshot stale and fails at once (the busy timeout does not help);
    taking the lock up front makes it wait its turn instead. Nothing on PostgreSQL, whose row locks need none,
    nor when the session's transaction has begun already (a request that may write begins it so itself)."""
    if db.get_bind().dialect.name == "sqlite" and not db.in_transaction():
        db.connection(execution_options={WRITE_FROM_THE_START: True})


def write_after_reading(db: Session) -> None:
    """End what the session has done so far and begin again holding SQLite's write lock: for a request that
    reads a lot (a report being exported) and then records a line (the export's audit entry). Written in the
    reading transaction, that line would fail on SQLite if anyone committed meanwhile (the snapshot is stale);
    taking the lock first would hold every writer — phones syncing — for the whole read."""
    db.commit()
    begin_writing(db)


TURNS = 0x5346_5455  # "SFTU": the first key of every `take_turns` lock (cases have their own, CASE_LOCK)


def take_turns(db: Session, name: str) -> None:
    """Hold the lock called `name` till the transaction ends, so that writers of one thing run one after
    another: the second reads what the first committed instead of clashing with it. For what no existing row
    can be locked for — places a CSV is about to add. PostgreSQL only: on SQLite a writer holds the database
    from its start. An advisory lock keyed by the name's CRC-32; two names sharing one only make one writer
    wait for the other."""
    if db.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(zlib.crc32(name.encode()).to_bytes(4, "big"), "big", signed=True)
    db.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": TURNS, "key": key})


def _sqlite_pragmas(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work: commits when the block ends normally, rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
