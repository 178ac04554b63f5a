"""The area list: import or update 12-digit codes and names from CSV, all or nothing."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from backend.areas.models import Area
from backend.lib.i18n import Text

BAD_CODE = Text("区划代码须为12位数字", "The area code must be 12 digits")
NO_NAME = Text("缺少名称", "The name is missing")
BAD_COLUMNS = Text("每行应为：代码,名称", "Each line must be: code,name")
DUPLICATE = Text("代码重复", "This code appears twice")


@dataclass(frozen=True)
class LineProblem:
    line: int
    text: Text


class AreaImportError(Exception):
    def __init__(self, problems: list[LineProblem]) -> None:
        super().__init__(f"{len(problems)} bad lines")
        self.problems = problems


def parse_area_rows(rows: Sequence[Sequence[str]]) -> list[tuple[str, str]]:
    """Check every line first; raise with every bad line so nothing is half-imported."""
    problems: list[LineProblem] = []
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for n, row in enumerate(rows, start=1):
        if not row or all(not c.strip() for c in row):
            continue
        if n == 1 and row[0].strip().lower() in ("code", "代码", "区划代码"):
            continue
        if len(row) < 2:
            problems.append(LineProblem(n, BAD_COLUMNS))
            continue
        code, name = row[0].strip(), row[1].strip()
        if len(code) != 12 or not code.isascii() or not code.isdigit():
            problems.append(LineProblem(n, BAD_CODE))
        elif not name:
            problems.append(LineProblem(n, NO_NAME))
        elif code in seen:
            problems.append(LineProblem(n, DUPLICATE))
        else:
            seen.add(code)
            out.append((code, name[:80]))
    if problems:
        raise AreaImportError(problems)
    return out


def import_areas(db: Session, rows: Sequence[Sequence[str]]) -> tuple[int, int]:
    added = updated = 0
    for code, name in parse_area_rows(rows):
        area = db.get(Area, code)
        if area is None:
            db.add(Area(code=code, name=name))
            added += 1
        elif area.name != name:
            area.name = name
            db.add(area)
            updated += 1
    db.flush()
    return added, updated
