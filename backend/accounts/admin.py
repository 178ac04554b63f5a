"""People and places (人员与地区): a township supervisor manages the cadres of her villages, a county
administrator the supervisors of her townships and the area list. Every change is checked against the
manager's scope and written to the audit log; a password reset or deactivation signs the person out."""

import csv
import io
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from backend.accounts.models import User, UserArea
from backend.accounts.services import (
    Actor,
    audit,
    check_new_password,
    create_user,
    hash_password,
    revoke_sessions,
)
from backend.areas.models import Area
from backend.areas.services import AreaImportError, LineProblem, import_areas, parse_area_rows
from backend.cases.services import Forbidden, NotFound
from backend.db import take_turns
from backend.lib.i18n import FieldError, Text, ValidationFailed
from backend.lib.parsing import is_valid_mobile, normalise_phone
from backend.scope import level_of

MANAGES = {"township": "village", "county": "township"}
"""Whom each role manages: supervisors their cadres, county administrators their supervisors."""

NAME_REQUIRED = Text("请填写姓名", "Enter the name")
BAD_PHONE = Text("请输入11位手机号", "Enter an 11-digit mobile number")
PHONE_TAKEN = Text("该手机号已有账号", "An account with this phone number exists")
AREAS_REQUIRED = Text("请至少选择一个", "Choose at least one")
AREA_OUT_OF_SCOPE = Text("不在您的管辖范围内", "Outside your area")
CODE_OUT_OF_COUNTY = Text("区划代码不在本县范围内", "The code is outside your county")
BAD_ENCODING = Text(
    "文件编码无法识别，请保存为 UTF-8 或 GBK 的 CSV", "Unreadable file: save it as CSV in UTF-8 or GBK"
)


@dataclass(frozen=True)
class Person:
    user: User
    areas: tuple[str, ...]


def managed_role(actor: Actor) -> str:
    role = MANAGES.get(actor.role)
    if role is None:
        raise Forbidden()
    return role


def assignable_areas(db: Session, actor: Actor) -> list[Area]:
    """Villages of a supervisor's township; townships of an administrator's county."""
    wanted = "village" if managed_role(actor) == "village" else "township"
    rows = db.exec(select(Area).where(actor.scope.clause(Area.code)).order_by(col(Area.code))).all()
    return [a for a in rows if level_of(a.code) == wanted]


def people(db: Session, actor: Actor) -> list[Person]:
    """The people this manager looks after, active first, in the order of their areas' codes (as the reports
    list villages), then by name."""
    role = managed_role(actor)
    rows = db.exec(
        select(User, UserArea.area_code)
        .join(UserArea, col(UserArea.user_id) == User.id)
        .where(col(User.role) == role, actor.scope.clause(UserArea.area_code))
    ).all()
    by_user: dict[uuid.UUID, tuple[User, list[str]]] = {}
    for user, code in rows:
        by_user.setdefault(user.id, (user, []))[1].append(code)
    out = [Person(u, tuple(sorted(codes))) for u, codes in by_user.values()]
    return sorted(out, key=lambda p: (not p.user.active, p.areas[:1], p.user.name))


def person_in_reach(db: Session, actor: Actor, user_id: uuid.UUID, *, to_change: bool = False) -> Person:
    """A person this manager may change: of the managed role, every area of hers inside the manager's scope.
    Anyone else is "not found". `to_change`: her row is locked till the transaction ends (PostgreSQL), so a
    second change of her — the same form sent twice — waits for the first and reads what it wrote."""
    if to_change:
        stmt = (
            select(User)
            .where(col(User.id) == user_id)
            .with_for_update(key_share=True)  # FOR NO KEY UPDATE: rows that only refer to her need not wait
            .execution_options(populate_existing=True)
        )
        user: User | None = db.exec(stmt).first()
    else:
        user = db.get(User, user_id)
    if user is None or user.role != managed_role(actor):
        raise NotFound(str(user_id))
    areas = tuple(sorted(db.exec(select(UserArea.area_code).where(UserArea.user_id == user.id)).all()))
    if not areas or not all(actor.scope.covers(a) for a in areas):
        raise NotFound(str(user_id))
    return Person(user, areas)


def _check_areas(db: Session, actor: Actor, codes: list[str]) -> list[str]:
    allowed = {a.code for a in assignable_areas(db, actor)}
    chosen = sorted(set(codes))
    if not chosen:
        raise ValidationFailed([FieldError("areas", AREAS_REQUIRED)])
    if any(c not in allowed for c in chosen):
        raise ValidationFailed([FieldError("areas", AREA_OUT_OF_SCOPE)])
    return chosen


def create_person(
    db: Session, actor: Actor, *, name: str, phone: str, password: str, areas: list[str]
) -> User:
    """A new cadre (for a supervisor) or supervisor (for a county administrator)."""
    role = managed_role(actor)
    errors: list[FieldError] = []
    name = " ".join(name.split())[:40]
    if not name:
        errors.append(FieldError("name", NAME_REQUIRED))
    phone = normalise_phone(phone)
    if not is_valid_mobile(phone):
        errors.append(FieldError("phone", BAD_PHONE))
    elif db.exec(select(User.id).where(User.phone == phone)).first() is not None:
        errors.append(FieldError("phone", PHONE_TAKEN))
    try:
        check_new_password(password)
    except ValidationFailed as exc:
        errors += exc.errors
    try:
        chosen = _check_areas(db, actor, areas)
    except ValidationFailed as exc:
        errors += exc.errors
    if errors:
        raise ValidationFailed(errors)
    try:
        with db.begin_nested():
            user = create_user(db, phone=phone, name=name, password=password, role=role, area_codes=chosen)
    except IntegrityError:  # a concurrent creation with the same phone
        raise ValidationFailed([FieldError("phone", PHONE_TAKEN)]) from None
    audit(
        db,
        actor.user_id,
        "user_created",
        "user",
        str(user.id),
        device=actor.device,
        detail=f"role={role} areas={','.join(chosen)}",
    )
    return user


def reset_password(db: Session, actor: Actor, user_id: uuid.UUID, password: str) -> None:
    """Set a new password and sign the person out everywhere."""
    person = person_in_reach(db, actor, user_id)
    check_new_password(password)
    person.user.password_hash = hash_password(password)
    person.user.failed_logins, person.user.locked_until = 0, None
    db.add(person.user)
    revoke_sessions(db, user_id)
    audit(db, actor.user_id, "password_reset", "user", str(user_id), device=actor.device)


def set_active(db: Session, actor: Actor, user_id: uuid.UUID, active: bool) -> None:
    """Deactivate (signed out at once; her villages' open items show on the township's list until another
    cadre is assigned) or reactivate."""
    person = person_in_reach(db, actor, user_id)
    person.user.active = active
    db.add(person.user)
    if not active:
        revoke_sessions(db, user_id)
    audit(
        db,
        actor.user_id,
        "user_activated" if active else "user_deactivated",
        "user",
        str(user_id),
        device=actor.device,
    )


def reassign(db: Session, actor: Actor, user_id: uuid.UUID, areas: list[str]) -> None:
    """Replace the villages (or township) a person answers for. Her row is locked first: a second replacement
    running alongside would delete only the rows it had seen, then add rows the first had just added (a key
    clash, a server error), or leave her with both managers' choices."""
    person = person_in_reach(db, actor, user_id, to_change=True)
    chosen = _check_areas(db, actor, areas)
    db.exec(delete(UserArea).where(col(UserArea.user_id) == user_id))
    db.add_all(UserArea(user_id=user_id, area_code=code) for code in chosen)
    db.flush()
    audit(
        db,
        actor.user_id,
        "user_reassigned",
        "user",
        str(person.user.id),
        device=actor.device,
        detail=f"areas={','.join(chosen)}",
    )


def read_csv_rows(content: bytes) -> list[list[str]]:
    """CSV text as rows, whether saved as UTF-8 (with or without BOM) or GBK/GB18030 (Excel on Chinese
    Windows)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        return list(csv.reader(io.StringIO(text)))
    raise ValidationFailed([FieldError("file", BAD_ENCODING)])


def import_area_file(db: Session, actor: Actor, rows: list[list[str]]) -> tuple[int, int]:
    """Import or update the area list of the administrator's county: every line is checked first (format,
    duplicates, inside the county) and every bad line reported; one bad line and nothing is imported.
    Imports take turns: one running alongside another (the same file sent twice) would find none of the
    places the other is adding, then add them again (a key clash, a server error)."""
    if actor.role != "county":
        raise Forbidden()
    take_turns(db, "area import")
    problems: list[LineProblem] = []
    try:
        parse_area_rows(rows)
    except AreaImportError as exc:
        problems += exc.problems
    bad_lines = {p.line for p in problems}
    for n, row in enumerate(rows, start=1):
        code = row[0].strip() if row else ""
        if n in bad_lines or len(code) != 12 or not code.isdigit():
            continue
        if not actor.scope.covers(code):
            problems.append(LineProblem(n, CODE_OUT_OF_COUNTY))
    if problems:
        raise AreaImportError(sorted(problems, key=lambda p: p.line))
    with db.begin_nested():
        added, updated = import_areas(db, rows)
    audit(
        db,
        actor.user_id,
        "areas_imported",
        "area",
        actor.area_codes[0] if actor.area_codes else "",
        device=actor.device,
        detail=f"added={added} updated={updated}",
    )
    return added, updated
