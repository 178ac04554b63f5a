"""create_app(settings): the one place that wires routes, dependencies, error handling and headers."""

import gc
import hashlib
import logging
from pathlib import Path
from typing import Any

from litestar import Litestar, MediaType, Request, Response, get
from litestar.config.compression import CompressionConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.static_files import create_static_files_router
from litestar.types import Message, Scope
from sqlalchemy import text

from backend import migrate, pwa_files
from backend.accounts import admin_pages
from backend.accounts import pages as account_pages
from backend.alerts import api as alerts_api
from backend.alerts import job as alerts_job
from backend.cases import pages as case_pages
from backend.cases.services import Forbidden, NotFound
from backend.db import make_engine
from backend.lib.faults import fault
from backend.lib.fieldcrypt import FieldCipher
from backend.lib.i18n import Text, ValidationFailed
from backend.review import assign_pages
from backend.review import pages as review_pages
from backend.settings import Settings
from backend.web import (
    AppState,
    CsrfFailed,
    NotSignedIn,
    RoleDenied,
    app_state,
    make_jinja,
    problem,
    provide_actor,
    provide_db,
    provide_optional_actor,
    redirect,
    render,
    wants_html,
)
from sync import api as sync_api

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
log = logging.getLogger("suifang")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


async def security_headers(message: Message, scope: Scope) -> None:
    """The headers of DESIGN.md §4 on every response, errors included: an app-level send hook, because the
    router's own 404 and 405 answers never pass through route middleware."""
    if message["type"] == "http.response.start":
        headers = list(message.get("headers", []))
        present = {bytes(k).lower() for k, _ in headers}
        message["headers"] = headers + [(k, v) for k, v in SECURITY_HEADERS if k not in present]


def build_id() -> str:
    """A short hash of every file the phone caches: it names the service worker's caches, so a release
    replaces them."""
    digest = hashlib.sha256()
    for folder in (STATIC, ROOT / "pwa"):
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@get("/healthz", media_type=MediaType.JSON, sync_to_thread=False)
def healthz(request: Request[Any, Any, State]) -> Response[bytes]:
    """Process up, database reachable, migrations current."""
    state = app_state(request)
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = migrate.is_current(state.engine)
    except Exception as exc:  # the answer must be a 503, never a crash
        log.warning("healthz: database unreachable: %s", type(exc).__name__)
        return problem(503, "database unreachable")
    if not current:
        return problem(503, "migrations not current", "run `suifang migrate`")
    return Response(content=b'{"status":"ok"}', media_type=MediaType.JSON)


NOT_ALLOWED = Text("无权操作", "Not allowed")
NOT_FOUND = Text("未找到", "Not found")
BAD_REQUEST = Text("请求无效", "Bad request")
SERVER_ERROR = Text("服务器出错", "Server error")
TRY_AGAIN = Text(
    "请稍后重试；如仍出错，请联系乡镇管理员", "Try again later; if it goes on, tell your township"
)


def _on_error(request: Request[Any, Any, State], exc: Exception) -> Response[Any]:
    """Every error becomes a clear page (in the user's language) or problem document; nothing answers a bare
    500 with a trace."""
    if isinstance(exc, NotSignedIn):
        if wants_html(request):
            return redirect("/login")
        return problem(401, "sign in required")
    if isinstance(exc, CsrfFailed | RoleDenied | Forbidden):
        detail = getattr(exc, "text", None) or RoleDenied.text
        return _error_page(request, 403, NOT_ALLOWED, detail)
    if isinstance(exc, NotFound | NotFoundException):
        return _error_page(request, 404, NOT_FOUND)
    if isinstance(exc, ValidationFailed):
        return problem(422, "invalid input", errors=[e.as_dict() for e in exc.errors])
    if isinstance(exc, ValidationException):
        return _error_page(request, 400, BAD_REQUEST)
    if isinstance(exc, HTTPException):
        return _error_page(request, exc.status_code, Text(str(exc.detail), str(exc.detail)))
    # the type and our frames, never the message: a database error quotes the values a user typed
    log.error("unhandled error on %s %s: %s", request.method, request.url.path, fault(exc))
    return _error_page(request, 500, SERVER_ERROR, TRY_AGAIN)


def _error_page(
    request: Request[Any, Any, State], status: int, title: Text, detail: Text | None = None
) -> Response[Any]:
    """The page in the language the user chose (her cookie); a JSON client gets both languages."""
    if wants_html(request):
        locale = request.cookies.get("sf_lang", "zh")
        context = {
            "status": status,
            "title": title.in_(locale),
            "detail": detail.in_(locale) if detail else "",
        }
        return render(request, "error.html", context, status_code=status)
    return problem(status, _both(title), _both(detail) if detail else "")


def _both(text: Text) -> str:
    return f"{text.zh} / {text.en}" if text.zh != text.en else text.zh


def freeze_gc(app: Litestar) -> None:
    """After start-up, hand every long-lived object to the GC's permanent generation (see Settings)."""
    if app.state.suifang.settings.freeze_gc_at_startup:
        gc.collect()
        gc.freeze()


def create_app(settings: Settings | None = None, *, run_migrations: bool = True) -> Litestar:
    settings = settings or Settings.from_env()
    engine = make_engine(settings)
    if run_migrations:
        migrate.upgrade(engine)
    state = AppState(
        settings=settings,
        engine=engine,
        cipher=FieldCipher(settings.secret_key),
        jinja=make_jinja(),
        build=build_id(),
    )
    return Litestar(
        openapi_config=None,  # no public API schema: the JSON API is documented in sync/PROTOCOL.md
        # pages, CSS and JS travel gzip-compressed (level 6: nearly level 9's size at a fraction of the CPU)
        compression_config=CompressionConfig(backend="gzip", minimum_size=500, gzip_compress_level=6),
        route_handlers=[
            healthz,
            *account_pages.ROUTES,
            *case_pages.ROUTES,
            *review_pages.ROUTES,
            *assign_pages.ROUTES,
            *admin_pages.ROUTES,
            *alerts_api.ROUTES,
            *sync_api.ROUTES,
            *pwa_files.ROUTES,
            create_static_files_router(path="/static", directories=[STATIC]),
            create_static_files_router(path="/js", directories=[ROOT / "pwa" / "js"], name="js"),
        ],
        dependencies={
            "db": Provide(provide_db),
            "actor": Provide(provide_actor),
            "maybe_actor": Provide(provide_optional_actor),
        },
        exception_handlers={Exception: _on_error},
        before_send=[security_headers],
        state=State({"suifang": state}),
        on_startup=[alerts_job.start, freeze_gc],
        on_shutdown=[alerts_job.stop, lambda: engine.dispose()],
        debug=False,
        logging_config=None,
    )
