"""Long IN lists (hundreds of ids or village codes) bound as one parameter: a JSON array read by json_each on
SQLite, an array on PostgreSQL. Binding each value on its own made SQLAlchemy render, and the driver parse,
a statement of hundreds of placeholders on every report; the plans are the same index seeks."""

import json
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam, func
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, col


def one_of(db: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN values` with a single bound parameter. Ids may be given as uuid.UUID or as the database
    reads them back raw (32 hex digits on SQLite, a uuid on PostgreSQL)."""
    target: ColumnElement[Any] = col(column)  # type: ignore[assignment]
    if db.get_bind().dialect.name == "postgresql":
        return target == any_(bindparam(None, list(values), type_=ARRAY(target.type)))
    stored = [v.hex if isinstance(v, uuid.UUID) else v for v in values]
    listed = func.json_each(json.dumps(stored)).table_valued("value")
    return target.in_(sa_select(listed.c.value))
