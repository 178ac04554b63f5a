"""Writers of one case take turns. Every write checks a case's records, then rewrites its due items from them,
so a second writer that read the case before the first committed would check and plan without the first's
record: two outcomes of one pregnancy, two versions of a month's visit item, an earlier edit overwriting a
later one, the same entry saved twice when a form and a sync carry it at once. On SQLite a writing transaction
holds the whole database from its start (`backend.db.begin_writing`), so nothing more is needed. On PostgreSQL
two transactions run side by side, so a writer takes a lock named after the pregnancy — or the woman, for her
registration details — before it reads anything of it, and a second writer waits there for the first to
commit, then reads what it wrote. The locks are advisory, keyed by the record's UUID, so they also cover a
record not yet written (two copies of one registration).

So that two writers never wait for each other in a circle, every writer takes all its locks in one statement,
in key order, before it reads anything: a sync batch those of every woman and pregnancy its operations name or
reach (the case of each record it corrects, a known woman's earlier pregnancies: `sync.apply._cases_behind`,
read first — a record never changes pregnancy), a form's write its case (a registration: the woman, the new
pregnancy and her earlier ones). Later calls find them held and take nothing. Should a circle still form,
PostgreSQL fails one of the two: a sync batch is applied again op by op, a form answers "try again"."""

import uuid
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, select

from backend.cases.models import Pregnancy, Woman
from backend.db import transaction_root

CASE_LOCK = 0x5346_4341  # "SFCA": the first key of every case lock; the second is from the record's UUID
LOCKED = "suifang_case_locks"
_TAKE = text("SELECT count(pg_advisory_xact_lock(:space, k)) FROM unnest(CAST(:keys AS integer[])) AS k")


def lock_key(record_id: uuid.UUID) -> int:
    """The lock's second key: the UUID's last 32 bits (random in a v4 or v5 UUID). Two records sharing one
    only make one writer wait for the other."""
    return int.from_bytes(record_id.bytes[-4:], "big", signed=True)


def lock_for_writing(db: Session, record_ids: Iterable[uuid.UUID]) -> None:
    """Hold these women's and pregnancies' locks till the transaction ends (PostgreSQL; nothing on SQLite).
    Copies of them the session read before are read again once the locks are held, so checks see what the
    last writer committed. Locks this transaction holds already are not taken again."""
    if db.get_bind().dialect.name != "postgresql":
        return
    db.connection()  # begin, if nothing has yet: the locks held are remembered for that transaction
    root = transaction_root(db)
    held: tuple[object, set[uuid.UUID]] | None = db.info.get(LOCKED)
    if held is None or held[0] is not root:
        held = (root, set())
        db.info[LOCKED] = held
    wanted = {i for i in record_ids if i not in held[1]}
    if not wanted:
        return
    db.execute(_TAKE, {"space": CASE_LOCK, "keys": sorted({lock_key(i) for i in wanted})})
    held[1].update(wanted)
    for model in (Woman, Pregnancy):
        seen = [i for i in wanted if identity_key(model, i) in db.identity_map]
        if seen:
            stmt = select(model).where(col(model.id).in_(seen)).execution_options(populate_existing=True)
            db.exec(stmt).all()
