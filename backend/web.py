"""What every page and API handler shares: the per-request transaction, the signed-in actor with its CSRF
check, page rendering in the user's language, and the errors handlers raise."""

import json
import logging
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import anyio
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from litestar import Request, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.response import Redirect
from markupsafe import Markup
from sqlalchemy import Engine
from sqlmodel import Session

from backend.accounts.services import Actor, actor_for_token
from backend.db import begin_writing
from backend.lib.clock import local_today, utc_offset_minutes
from backend.lib.fieldcrypt import FieldCipher
from backend.lib.i18n import DEFAULT_LOCALE, Text, ValidationFailed
from backend.settings import Settings

log = logging.getLogger("suifang")
SESSION_COOKIE = "sf_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TEMPLATES = Path(__file__).resolve().parent.parent / "pwa" / "templates"


@dataclass
class AppState:
    """Built once by create_app; reached from handlers as `request.app.state.suifang`."""

    settings: Settings
    engine: Engine
    cipher: FieldCipher
    jinja: Environment
    build: str

    def today(self) -> date:
        return local_today(self.settings.timezone)


def app_state(request: Request[Any, Any, State]) -> AppState:
    state: AppState = request.app.state.suifang
    return state


class NotSignedIn(HTTPException):
    status_code = 401
    detail = "sign in required"


class CsrfFailed(HTTPException):
    status_code = 403
    detail = "CSRF check failed: reload the page and try again"
    text = Text("页面已过期或来源不明：请刷新页面后重试", "This page has expired: reload it and try again")


class RoleDenied(HTTPException):
    status_code = 403
    detail = "your role may not do this"
    text = Text("您的角色不能进行此操作", "Your role may not do this")


async def provide_db(request: Request[Any, Any, State]) -> AsyncGenerator[Session, None]:
    """One transaction per request, committed here and nowhere else; rolled back on any error. A request that
    may change something starts it holding SQLite's write lock (`begin_writing`)."""
    session = Session(app_state(request).engine, expire_on_commit=False)
    if request.method not in SAFE_METHODS:  # it may wait for another writer: not on the event loop
        await anyio.to_thread.run_sync(begin_writing, session)
    try:
        yield session
    except BaseException:
        session.rollback()
        session.close()
        raise
    else:
        session.commit()
        session.close()


def _load_actor(request: Request[Any, Any, State], db: Session) -> Actor | None:
    cached = request.scope.get("suifang_actor")
    if isinstance(cached, Actor):
        return cached
    state = app_state(request)
    actor = actor_for_token(db, request.cookies.get(SESSION_COOKIE), days=state.settings.session_days)
    if actor is not None:
        request.scope["suifang_actor"] = actor  # type: ignore[typeddict-unknown-key]
    return actor


async def provide_actor(request: Request[Any, Any, State], db: Session) -> Actor:
    """The signed-in user; every state-changing request must also carry the session's CSRF token, read from
    the `X-CSRF-Token` header or the `csrf` form field (the offline outbox reads it at send time)."""
    actor = _load_actor(request, db)
    if actor is None:
        raise NotSignedIn()
    if request.method not in SAFE_METHODS:
        check_origin(request)
        sent = request.headers.get("x-csrf-token")
        if not sent and request.content_type[0] in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            sent = (await request.form()).get("csrf")
        if not sent or sent != actor.csrf_token:
            raise CsrfFailed()
    return actor


async def provide_optional_actor(request: Request[Any, Any, State], db: Session) -> Actor | None:
    return _load_actor(request, db)


def check_origin(request: Request[Any, Any, State]) -> None:
    """Refuse cross-site writes outright when the browser says where they came from."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return
    host = request.headers.get("host", "")
    if urlsplit(origin).netloc != host:
        raise CsrfFailed()


def require_role(actor: Actor, *roles: str) -> None:
    if actor.role not in roles:
        raise RoleDenied()


def make_jinja() -> Environment:
    from backend.cases.rules import fetal_heart_flag

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals.update(
        _=_translate,
        label=_label,
        fmt_date=_fmt_date,
        ga=_ga,
        checks=_checks,
        fetal_heart_flag=fetal_heart_flag,  # accepted, but shown marked (DOMAIN §3)
    )
    from backend.lib.masking import mask_phone

    env.filters.update(
        d=_fmt_date,
        local_day=_local_day,
        mask_phone=mask_phone,
        zip=lambda a, b: list(zip(a, b, strict=False)),
    )
    return env


@pass_context
def _translate(ctx: Any, zh: str, en: str) -> str:
    return en if ctx.get("locale") == "en" else zh


@pass_context
def _label(ctx: Any, category: str, key: str | None) -> str:
    from backend.cases.labels import label

    return label(category, key, ctx.get("locale", DEFAULT_LOCALE))


@pass_context
def _checks(ctx: Any, kind: str, name: str) -> Markup:
    """What the phone checks of a field before keeping it offline (backend/cases/offline_checks.py)."""
    from backend.cases import offline_checks

    check = {
        "number": offline_checks.number,
        "date": offline_checks.not_future,
        "identity": offline_checks.identity,
    }
    return check[kind](name, ctx.get("locale", DEFAULT_LOCALE))


@pass_context
def _fmt_date(ctx: Any, value: date | None) -> str:
    """2026年11月23日 in Chinese, 23 Nov 2026 in English."""
    if value is None:
        return ""
    if ctx.get("locale") == "en":
        return f"{value.day} {value.strftime('%b')} {value.year}"
    return f"{value.year}年{value.month}月{value.day}日"


@pass_context
def _local_day(ctx: Any, moment: datetime | None) -> date | None:
    """The service's date (Asia/Shanghai) of a stored instant: a correction made at 01:30 in China is on
    that day, not on the UTC day before."""
    if moment is None:
        return None
    if moment.tzinfo is None:  # stored instants are UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(ctx["timezone"])).date()


@pass_context
def _ga(ctx: Any, pregnancy: Any, on: date | None) -> str:
    """Gestational age of a pregnancy on a day: 孕12+3周 (from the LMP, else from the EDD)."""
    from datetime import timedelta

    from backend.schedule import format_ga

    if pregnancy is None or on is None:
        return ""
    lmp = pregnancy.lmp or pregnancy.edd - timedelta(days=280)
    return format_ga((on - lmp).days, ctx.get("locale", DEFAULT_LOCALE))


def render(
    request: Request[Any, Any, State],
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    actor: Actor | None = None,
    status_code: int = 200,
) -> Response[str]:
    """Render a page in the actor's language (zh unless the user chose English)."""
    state = app_state(request)
    locale = actor.locale if actor else request.cookies.get("sf_lang", DEFAULT_LOCALE)
    locale = locale if locale in ("zh", "en") else DEFAULT_LOCALE
    ctx: dict[str, Any] = {
        "actor": actor,
        "locale": locale,
        "build": state.build,
        "today": state.today(),
        "timezone": state.settings.timezone,
        "utc_offset": utc_offset_minutes(state.settings.timezone),
        "path": request.url.path,
        "errors": {},
        "form": {},
        "overdue_count": request.scope.get("suifang_overdue", 0),
    }
    ctx.update(context or {})
    html = state.jinja.get_template(template).render(ctx)
    return Response(
        content=html,
        media_type="text/html",
        status_code=status_code,
        headers={"Cache-Control": "no-store" if actor else "no-cache"},
    )


def redirect(path: str) -> Redirect:
    return Redirect(path=path, status_code=303)


def form_errors(exc: ValidationFailed, locale: str) -> dict[str, str]:
    return {field: err.text.in_(locale) for field, err in exc.by_field().items()}


def problem(status: int, title: str, detail: str = "", **extra: Any) -> Response[bytes]:
    """RFC 9457 problem details."""
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        **({"detail": detail} if detail else {}),
        **extra,
    }
    return Response(
        content=json.dumps(body, ensure_ascii=False).encode(),
        status_code=status,
        media_type="application/problem+json",
    )


def wants_html(request: Request[Any, Any, State]) -> bool:
    return not request.url.path.startswith(("/api/", "/sync/")) and "json" not in request.headers.get(
        "accept", ""
    )
