"""What makes the field app an installable PWA that works without signal: the service worker at root
scope, the web app manifest, the offline page, the pending list (待同步), the two shells a phone fills from
its outbox (the case page and the forms of a pregnancy registered offline), and the list of pages a phone
keeps for offline reading, each with a version so a phone refetches only what changed."""

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.accounts.services import EXPORT_REASON_MIN, EXPORT_REASON_REQUIRED, Actor
from backend.cases import labels, queries
from backend.cases import pages as case_pages
from backend.cases.models import CaseChange, Closure, Correction, DueItem, Pregnancy
from backend.cases.services.common import BABIES_STILL_FOLLOWED
from backend.web import app_state, render, require_role

ROOT = Path(__file__).resolve().parent.parent
PWA = ROOT / "pwa"
STATIC = ROOT / "static"
NO_CACHE = {"Cache-Control": "no-cache"}
PRIVATE = {"Cache-Control": "no-store"}

PLACEHOLDER = uuid.UUID(int=0)
"""The pregnancy id of the form shells; the phone replaces it with the id of the pregnancy it registered."""
PLACEHOLDER_BABY = uuid.UUID(int=1)
"""The baby of the postnatal and close shells; the phone puts the babies of an outcome it holds instead."""

RECORD_FORMS = ("visit", "risk", "outcome", "postnatal", "close")
"""Every form of an open case is kept offline, the postnatal one too: an outcome recorded offline needs it."""

MAX_OFFLINE_CASES = 400
CORRECTABLE_DAYS = 14
CORRECTABLE_PER_CASE = 3
"""The correction pages kept offline: of each open case, its latest records received in the last two weeks
(a mistake is mostly seen soon after; each kept page is ~2 KB to download again whenever the case changes)."""
"""A village has tens of open cases; a township supervisor's phone keeps at most this many (most urgent first
is not known here, so the women list order: open cases by name)."""

PRECACHE_STATIC = ("css/app.css", "icons/icon-192.png", "icons/apple-touch-icon.png")


def _precache(build: str) -> list[str]:
    """The shell the service worker stores at install: the files every page loads (with the `?v=` the pages
    use), every ES module, vendored libraries, the offline page and the manifest."""
    urls = ["/offline", "/manifest.webmanifest"]
    urls += [f"/static/{name}" + ("?v=" + build if name.endswith(".css") else "") for name in PRECACHE_STATIC]
    urls += [
        f"/static/{p.relative_to(STATIC).as_posix()}"
        for p in sorted((STATIC / "vendor").rglob("*"))
        if p.is_file() and p.name != "VERSIONS"
    ]
    for module in sorted((PWA / "js").glob("*.js")):
        urls.append(f"/js/{module.name}" + ("?v=" + build if module.name == "app.js" else ""))
    return urls


@cache
def _service_worker(build: str) -> bytes:
    """pwa/sw.js with its configuration in front: the build names the caches, so a release replaces them and
    the changed bytes make browsers install the new worker."""
    config = {"build": build, "precache": _precache(build)}
    return f"const CONFIG = {json.dumps(config)};\n".encode() + (PWA / "sw.js").read_bytes()


def _response(
    request: Request[Any, Any, State], body: bytes, media_type: str, headers: dict[str, str]
) -> Response[bytes]:
    """A response the app's compression gzips when the phone accepts it (see create_app)."""
    return Response(content=body, media_type=media_type, headers=headers)


def _not_modified(request: Request[Any, Any, State], etag: str) -> Response[bytes] | None:
    if request.headers.get("if-none-match") == etag:
        return Response(content=b"", status_code=304, headers={**NO_CACHE, "ETag": etag})
    return None


@get("/sw.js", sync_to_thread=False)
def service_worker(request: Request[Any, Any, State]) -> Response[bytes]:
    """The service worker, at root scope; `no-cache` so every update check reaches the server."""
    build = app_state(request).build
    etag = f'"{build}"'
    return _not_modified(request, etag) or _response(
        request,
        _service_worker(build),
        "text/javascript",
        {**NO_CACHE, "ETag": etag, "Service-Worker-Allowed": "/"},
    )


@get("/sw-push.js", sync_to_thread=False)
def service_worker_push(request: Request[Any, Any, State]) -> Response[bytes]:
    """Push and notification-click handlers (alerts), loaded by the service worker with importScripts."""
    path = PWA / "sw-push.js"
    if not path.is_file():
        raise NotFoundException()
    return Response(content=path.read_bytes(), media_type="text/javascript", headers=NO_CACHE)


@get("/manifest.webmanifest", sync_to_thread=False)
def manifest(request: Request[Any, Any, State]) -> Response[bytes]:
    """The web app manifest (name 随访, icons, standalone display, colours)."""
    return Response(
        content=(PWA / "manifest.webmanifest").read_bytes(),
        media_type="application/manifest+json",
        headers=NO_CACHE,
    )


@get("/offline", sync_to_thread=False)
def offline_page(request: Request[Any, Any, State]) -> Response[Any]:
    """What a phone shows for a page it has not kept, with no connection. Shared by every user of the phone,
    so it carries nobody's data."""
    return render(request, "offline.html")


@get("/pending", sync_to_thread=False)
def pending_page(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """待同步: the entries this phone holds for this user — see, correct, discard or export them. The list
    itself lives on the phone and is drawn there, with the fields named as the forms name them."""
    names = {name: text.in_(actor.locale) for name, text in labels.FIELDS.items()}
    reason = {"min": EXPORT_REASON_MIN, "message": EXPORT_REASON_REQUIRED.in_(actor.locale)}
    context = {"field_labels": names, "export_reason": reason}
    return case_pages.page(request, db, actor, "pending.html", context)


@get("/offline/case", sync_to_thread=False)
def pending_case_shell(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """The case page of a pregnancy registered on this phone, not yet on the server: drawn from the outbox."""
    return case_pages.page(request, db, actor, "pending_case.html")


@get("/offline/form/{name:str}", sync_to_thread=False)
def form_shell(request: Request[Any, Any, State], db: Session, actor: Actor, name: str) -> Response[Any]:
    """A record form for a pregnancy the server does not know yet: the real form template around a placeholder
    pregnancy, which the phone replaces with the pregnancy it registered offline."""
    require_role(actor, *case_pages.FIELD_ROLES)
    if name not in RECORD_FORMS:
        raise NotFoundException()
    today = app_state(request).today()
    pregnancy = SimpleNamespace(
        id=PLACEHOLDER,
        woman_id=PLACEHOLDER,
        village_code="",
        lmp=None,
        edd=today + timedelta(days=280),
        edd_source="lmp",
        registered_on=today,
        gravidity=1,
        parity=0,
        status="open",
        high_risk=False,
        close_reason=None,
        closed_on=None,
    )
    woman = SimpleNamespace(id=PLACEHOLDER, name="", village_code="", id_masked=None, phone=None)
    baby = SimpleNamespace(
        id=PLACEHOLDER_BABY, seq=1, sex="0", alive_at_birth=True, birth_weight_g=None, high_risk=False
    )
    records = SimpleNamespace(
        outcome=None,
        infants=[baby] if name in ("postnatal", "close") else [],
        visits=[],
        risks=[],
        postnatal=[],
        closures=[],
        corrections=[],
        death_of=lambda _id: None,
    )
    ctx: dict[str, Any] = {
        "pregnancy": pregnancy,
        "woman": woman,
        "records": records,
        "open_items": [],
        "villages": case_pages._all_villages(db),
        "milestones_due": {},
        "form_name": name,
    }
    ctx["form"] = case_pages._defaults(name, ctx, actor, today, {})
    return case_pages.page(request, db, actor, case_pages.FORMS[name].template, ctx)


def _seq_by_pregnancy(db: Session, actor: Actor, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    stmt = (
        select(CaseChange.pregnancy_id, func.max(CaseChange.seq))
        .where(col(CaseChange.pregnancy_id).in_(ids))
        .group_by(col(CaseChange.pregnancy_id))
    )
    return {pid: int(seq or 0) for pid, seq in db.exec(stmt)}


def offline_pages(db: Session, actor: Actor, build: str, today: date) -> dict[str, str]:
    """Every page this user keeps offline → its version. A version changes when the page's content may have:
    a release or language (build, locale), a write to the case (the change feed's seq), a new day (gestational
    age, overdue days). The forms ignore the day: the phone puts today's date in them itself."""
    scope_seq = db.exec(
        select(func.max(CaseChange.seq)).where(actor.scope.clause(CaseChange.village_code))
    ).one()
    shared = f"{build}.{actor.locale}.{today.isoformat()}.{scope_seq or 0}"
    pages = dict.fromkeys(["/", "/women", "/pending", "/settings", "/offline/case"], shared)
    if actor.role not in case_pages.FIELD_ROLES:
        return pages
    pages["/register"] = shared
    pages |= {f"/offline/form/{name}": f"{build}.{actor.locale}" for name in RECORD_FORMS}
    rows = queries.search_women(db, actor.scope, open_only=True, limit=MAX_OFFLINE_CASES)
    open_ids = [r.pregnancy.id for r in rows if r.pregnancy is not None]
    seqs = _seq_by_pregnancy(db, actor, open_ids)
    recent = _correctable_records(db, open_ids, today - timedelta(days=CORRECTABLE_DAYS))
    for row in rows:
        if row.pregnancy is None:
            continue
        seq = seqs.get(row.pregnancy.id, 0)
        form_version = f"{build}.{actor.locale}.{seq}"
        pages[f"/women/{row.woman.id}"] = f"{build}.{actor.locale}.{today.isoformat()}.{seq}"
        for name in RECORD_FORMS:
            pages[f"/p/{row.pregnancy.id}/{name}"] = form_version
        pages[f"/edit/woman/{row.woman.id}"] = form_version
        pages[f"/edit/pregnancy/{row.pregnancy.id}"] = form_version
        for target_type, record_id in recent.get(row.pregnancy.id, []):
            pages[f"/correct/{target_type}/{record_id}"] = form_version
    for woman_id, pregnancy_id, seq in _babies_still_followed(db, actor):
        pages.setdefault(f"/women/{woman_id}", f"{build}.{actor.locale}.{today.isoformat()}.{seq}")
        for name in ("postnatal", "close"):
            pages[f"/p/{pregnancy_id}/{name}"] = f"{build}.{actor.locale}.{seq}"
    return pages


def _babies_still_followed(db: Session, actor: Actor) -> list[tuple[uuid.UUID, uuid.UUID, int]]:
    """Closed cases in scope whose babies still have open items (the mother died, or her next pregnancy was
    registered): woman, pregnancy and change-feed seq, so the baby's page and forms are kept offline too."""
    stmt = (
        select(Pregnancy.woman_id, Pregnancy.id)
        .where(
            actor.scope.clause(Pregnancy.village_code),
            col(Pregnancy.status) == "closed",
            col(Pregnancy.close_reason).in_(BABIES_STILL_FOLLOWED),
            select(DueItem.id)
            .where(
                col(DueItem.pregnancy_id) == Pregnancy.id,
                col(DueItem.infant_id).is_not(None),
                col(DueItem.is_open),
            )
            .exists(),
        )
        .limit(MAX_OFFLINE_CASES)
    )
    found = list(db.exec(stmt))
    seqs = _seq_by_pregnancy(db, actor, [pid for _, pid in found])
    return [(woman_id, pid, seqs.get(pid, 0)) for woman_id, pid in found]


def _correctable_records(
    db: Session, pregnancy_ids: list[uuid.UUID], since: date
) -> dict[uuid.UUID, list[tuple[str, uuid.UUID]]]:
    """Per pregnancy, its latest records received since `since` that may still be corrected (not voided, not
    a transfer): their correction pages are kept offline."""
    found: list[tuple[str, uuid.UUID, uuid.UUID, datetime]] = []
    moment = datetime.combine(since, time.min, tzinfo=UTC)
    for target_type, model in queries.RECORD_MODELS.items():
        stmt: Any = select(model.id, model.pregnancy_id, model.received_at).where(  # type: ignore[attr-defined]
            col(model.pregnancy_id).in_(pregnancy_ids),  # type: ignore[attr-defined]
            col(model.received_at) >= moment,
        )
        if model is Closure:
            stmt = stmt.where(col(Closure.kind) != "transferred")
        found += [(target_type, record_id, pid, at) for record_id, pid, at in db.exec(stmt)]
    voided = set(
        db.exec(
            select(Correction.target_id).where(
                col(Correction.kind) == "void", col(Correction.target_id).in_([r[1] for r in found])
            )
        )
    )
    out: dict[uuid.UUID, list[tuple[str, uuid.UUID]]] = {}
    for target_type, record_id, pid, _ in sorted(found, key=lambda r: r[3], reverse=True):
        kept = out.setdefault(pid, [])
        if record_id not in voided and len(kept) < CORRECTABLE_PER_CASE:
            kept.append((target_type, record_id))
    return out


@get("/api/pwa/pages", sync_to_thread=False)
def offline_page_list(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[bytes]:
    """The pages the service worker keeps for this user (and their versions), in the user's scope only."""
    state = app_state(request)
    body = {"user_id": str(actor.user_id), "pages": offline_pages(db, actor, state.build, state.today())}
    return _response(request, json.dumps(body, separators=(",", ":")).encode(), "application/json", PRIVATE)


ROUTES = [
    service_worker,
    service_worker_push,
    manifest,
    offline_page,
    pending_page,
    pending_case_shell,
    form_shell,
    offline_page_list,
]
