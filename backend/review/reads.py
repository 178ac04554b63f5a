"""How the review reports read: column selects executed on the connection (no ORM row handling), and long IN
lists (hundreds of ids or village codes) bound as one parameter — a JSON array read by json_each on SQLite, an
array literal cast on PostgreSQL. Binding each value on its own made SQLAlchemy render, and the driver parse
and quote, a statement of hundreds of placeholders on every report; the plans are the same index seeks."""

import json
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, Executable, String, any_, bindparam, cast, func
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, col


def one_of(db: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN values` with a single bound parameter. Values are ids (uuid.UUID, or as text the way
    backend.review.cohort reads them) or area codes: nothing that needs quoting in an array literal."""
    target: ColumnElement[Any] = col(column)  # type: ignore[assignment]
    if db.get_bind().dialect.name == "postgresql":
        listed_text = "{" + ",".join(str(v) for v in values) + "}"
        return target == any_(cast(bindparam(None, listed_text, type_=String), ARRAY(target.type)))
    stored = [v.hex if isinstance(v, uuid.UUID) else v for v in values]
    listed = func.json_each(json.dumps(stored)).table_valued("value")
    return target.in_(sa_select(listed.c.value))


def read(db: Session, stmt: Executable) -> CursorResult[*tuple[Any, ...]]:
    """Run a column select on the session's connection: the ORM's per-row handling costs more than the
    query on a county's report. Pending changes are flushed first, as the session's own execute would."""
    db.flush()
    return db.connection().execute(stmt)
