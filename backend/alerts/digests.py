"""What a day's alert says (DOMAIN.md §5): when it may be sent (send time, quiet hours), the one grouped
query over open due items that counts for every village at once, and the digest text made of counts only —
never a name, ID number or diagnosis, since it is shown on a lock screen."""

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, time, timedelta
from typing import Any, Final

from sqlalchemy import Select, and_, case, false, func, or_, select
from sqlmodel import Session, col

from backend.cases.models import DueItem, Pregnancy
from backend.push.sender import Notification
from backend.scope import Scope

CADRE_DIGEST: Final = "overdue-digest"
"""The village cadre's morning digest (每日逾期提醒): overdue and due-now counts in her villages."""
ESCALATION_DIGEST: Final = "escalation"
"""The township supervisor's digest (督导提醒): long-overdue items and outcomes not recorded after the EDD."""
KIND_OF_ROLE: Final = {"village": CADRE_DIGEST, "township": ESCALATION_DIGEST}

OVERDUE_URL: Final = "/#overdue"
ESCALATION_URL: Final = "/review/escalations"
OUTCOME_GRACE_DAYS: Final = 14
"""DOMAIN.md §5: a pregnancy whose outcome is not recorded this many days after the EDD is escalated."""


# -- when ----------------------------------------------------------------------------------------------------


def parse_hhmm(text: str) -> time:
    """`08:00` → time(8, 0); ValueError for anything else (settings are checked when the job starts)."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit()) or len(minutes) != 2:
        raise ValueError(f"{text!r} is not a HH:MM time")
    return time(int(hours), int(minutes))


def in_quiet_hours(at: time, quiet: tuple[str, str]) -> bool:
    """True between the quiet start (inclusive) and end (exclusive); a span such as 21:00–07:00 wraps past
    midnight, and equal start and end mean no quiet hours at all."""
    start, end = parse_hhmm(quiet[0]), parse_hhmm(quiet[1])
    if start == end:
        return False
    if start < end:
        return start <= at < end
    return at >= start or at < end


def may_send_digest(at: time, send_time: str, quiet: tuple[str, str]) -> bool:
    """A day's digest is due from the send time on (a job that was down at 08:00 catches up later the same
    day), but never inside quiet hours."""
    return at >= parse_hhmm(send_time) and not in_quiet_hours(at, quiet)


# -- what: the counts ----------------------------------------------------------------------------------------


@dataclass
class Counts:
    """Open items of one village (or summed over a user's scope) on one day."""

    overdue: int = 0
    """Past the end of their window and not yet missed: the number on the app's badge."""
    due_now: int = 0
    """Window open and due date reached (今天应访): the work list's "due now" section."""
    overdue_long: int = 0
    """Overdue by more than the escalation days, not counting the outcome item (counted below)."""
    outcome_missing: int = 0
    """Pregnancies whose outcome is still not recorded OUTCOME_GRACE_DAYS after the EDD."""

    def add(self, other: "Counts") -> None:
        self.overdue += other.overdue
        self.due_now += other.due_now
        self.overdue_long += other.overdue_long
        self.outcome_missing += other.outcome_missing


def village_counts_query(
    scopes: Iterable[Scope], today: date, escalation_days: int, *, by_cadre: bool = False
) -> Select[*tuple[Any, ...]]:
    """The alert job's selection query: one pass over the open items whose window has started (the index
    ix_due_item_open_scope leads with is_open), grouped by village, every count at once. With `by_cadre`,
    grouped by village and the cadre set on each case too (for villages several cadres share)."""
    overdue = col(DueItem.window_end) < today
    due_now = and_(col(DueItem.due_on) <= today, col(DueItem.window_end) >= today)
    overdue_long = and_(
        col(DueItem.window_end) < today - timedelta(days=escalation_days), col(DueItem.kind) != "outcome"
    )
    # The outcome item (结局登记) is due on the EDD: still open 14 days later means no outcome was recorded.
    outcome_missing = and_(
        col(DueItem.kind) == "outcome", col(DueItem.due_on) < today - timedelta(days=OUTCOME_GRACE_DAYS)
    )
    clauses = [scope.clause(DueItem.village_code) for scope in _merge(scopes)]
    sums = (func.sum(case((cond, 1), else_=0)) for cond in (overdue, due_now, overdue_long, outcome_missing))
    groups: list[Any] = [col(DueItem.village_code), *([col(Pregnancy.cadre_id)] if by_cadre else [])]
    query: Select[*tuple[Any, ...]] = select(*groups, *sums)
    if by_cadre:
        query = query.join(Pregnancy, col(Pregnancy.id) == col(DueItem.pregnancy_id))
    return query.where(
        col(DueItem.is_open).is_(True),
        col(DueItem.window_start) <= today,
        or_(col(DueItem.missed_on).is_(None), col(DueItem.missed_on) > today),
        or_(*clauses) if clauses else false(),
    ).group_by(*groups)


def village_counts(
    db: Session, scopes: Iterable[Scope], today: date, escalation_days: int
) -> dict[str, Counts]:
    """Counts per village code, for the villages any of `scopes` covers."""
    rows = db.execute(village_counts_query(scopes, today, escalation_days)).all()
    return {str(code): Counts(*(int(n or 0) for n in numbers)) for code, *numbers in rows}


def village_cadre_counts(
    db: Session, codes: Iterable[str], today: date, escalation_days: int
) -> dict[tuple[str, uuid.UUID | None], Counts]:
    """Counts per (village, cadre set on the case) for these villages."""
    scopes = [Scope((code,)) for code in sorted(set(codes))]
    if not scopes:
        return {}
    rows = db.execute(village_counts_query(scopes, today, escalation_days, by_cadre=True)).all()
    return {(str(code), cadre): Counts(*(int(n or 0) for n in numbers)) for code, cadre, *numbers in rows}


def counts_in(scope: Scope, by_village: Mapping[str, Counts]) -> Counts:
    total = Counts()
    for code, counts in by_village.items():
        if scope.covers(code):
            total.add(counts)
    return total


def _merge(scopes: Iterable[Scope]) -> list[Scope]:
    """One scope per distinct prefix, dropping prefixes a shorter one already covers."""
    prefixes = sorted({p for scope in scopes for p in scope.prefixes}, key=lambda p: (len(p), p))
    kept: list[str] = []
    for prefix in prefixes:
        if not any(prefix.startswith(k) for k in kept):
            kept.append(prefix)
    return [Scope((p,)) for p in kept]


# -- what: the words -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    """One user's alert for one day: the notification, and the counts it was made from (kept in the alert
    row for the record; they are numbers only)."""

    kind: str
    notification: Notification | None
    """None when there is nothing to say today."""
    counts: Counts = field(default_factory=Counts)

    def to_payload(self) -> str:
        data: dict[str, Any] = {"counts": asdict(self.counts)}
        if self.notification is not None:
            data["notification"] = asdict(self.notification)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def notification_of(payload: str) -> Notification:
    """The notification stored in an alert row by `Digest.to_payload`."""
    data = json.loads(payload)["notification"]
    return Notification(
        title=str(data["title"]),
        body=str(data["body"]),
        url=str(data["url"]),
        tag=str(data["tag"]),
        badge_count=None if data.get("badge_count") is None else int(data["badge_count"]),
    )


def cadre_digest(counts: Counts, locale: str) -> Digest:
    """每日逾期提醒: only when she has overdue or due-now items."""
    if counts.overdue == 0 and counts.due_now == 0:
        return Digest(CADRE_DIGEST, None, counts)
    en = locale == "en"
    parts = []
    if counts.overdue:
        parts.append(f"{counts.overdue} overdue" if en else f"逾期 {counts.overdue} 项")
    if counts.due_now:
        parts.append(f"{counts.due_now} due today" if en else f"今天应访 {counts.due_now} 项")
    body = (", ".join(parts) + ". Tap to open the list.") if en else ("，".join(parts) + "。点击查看。")
    note = Notification(
        title="Follow-up visits" if en else "随访提醒",
        body=body,
        url=OVERDUE_URL,
        tag=CADRE_DIGEST,
        badge_count=counts.overdue,
    )
    return Digest(CADRE_DIGEST, note, counts)


def escalation_digest(counts: Counts, locale: str, escalation_days: int) -> Digest:
    """督导提醒: only when items are overdue past the escalation days or outcomes are missing."""
    if counts.overdue_long == 0 and counts.outcome_missing == 0:
        return Digest(ESCALATION_DIGEST, None, counts)
    en = locale == "en"
    parts = []
    if counts.overdue_long:
        parts.append(
            f"{counts.overdue_long} visits overdue more than {escalation_days} days"
            if en
            else f"逾期超过 {escalation_days} 天 {counts.overdue_long} 项"
        )
    if counts.outcome_missing:
        parts.append(
            f"{counts.outcome_missing} outcomes not recorded {OUTCOME_GRACE_DAYS} days after the due date"
            if en
            else f"预产期后 {OUTCOME_GRACE_DAYS} 天未登记结局 {counts.outcome_missing} 人"
        )
    body = ("; ".join(parts) + ".") if en else ("；".join(parts) + "。")
    note = Notification(
        title="Township follow-up" if en else "随访督导提醒",
        body=body,
        url=ESCALATION_URL,
        tag=ESCALATION_DIGEST,
        badge_count=counts.overdue,
    )
    return Digest(ESCALATION_DIGEST, note, counts)


def digest_for(role: str, counts: Counts, locale: str, escalation_days: int) -> Digest:
    if role == "township":
        return escalation_digest(counts, locale, escalation_days)
    return cadre_digest(counts, locale)
