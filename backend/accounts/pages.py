"""Sign in, sign out, language and password (HTML forms; the session lives in the database)."""

from functools import partial
from typing import Any
from urllib.parse import urlsplit

import anyio
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie, State
from sqlmodel import Session

from backend.accounts import services
from backend.accounts.services import Actor
from backend.db import begin_writing, session_scope, write_after_reading
from backend.lib.i18n import FieldError, Text, ValidationFailed
from backend.web import SESSION_COOKIE, AppState, app_state, check_origin, form_errors, redirect, render


def _session_cookie(request: Request[Any, Any, State], value: str, max_age: int) -> Cookie:
    settings = app_state(request).settings
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


@get("/login", sync_to_thread=False)
def login_page(request: Request[Any, Any, State], maybe_actor: Actor | None) -> Response[Any]:
    """The sign-in form (already signed in: straight to Today)."""
    if maybe_actor is not None:
        return redirect("/")
    return render(request, "login.html", {"bye": request.query_params.get("bye") == "1"})


ASK_PHONE = Text("请填写手机号", "Enter your phone number")
ASK_PASSWORD = Text("请填写密码", "Enter your password")


@post("/login")
async def login(request: Request[Any, Any, State]) -> Response[Any]:
    """Check phone and password; on success start a long-lived server-side session."""
    check_origin(request)
    form = await request.form()
    phone, password = str(form.get("phone", "")), str(form.get("password", ""))
    device = request.headers.get("user-agent", "")[:120]
    asked = (("phone", phone, ASK_PHONE), ("password", password, ASK_PASSWORD))
    missing = [FieldError(name, text) for name, value, text in asked if not value.strip()]
    signed_in: tuple[str, str] | ValidationFailed = (
        ValidationFailed(missing)
        if missing
        else await anyio.to_thread.run_sync(partial(_sign_in, app_state(request), phone, password, device))
    )
    if isinstance(signed_in, ValidationFailed):
        return render(
            request,
            "login.html",
            {
                "errors": form_errors(signed_in, request.cookies.get("sf_lang", "zh")),
                "form": {"phone": phone},
            },
            status_code=422,
        )
    token, locale = signed_in
    days = app_state(request).settings.session_days
    response = redirect("/")
    response.cookies.append(_session_cookie(request, token, days * 86400))
    response.cookies.append(
        Cookie(key="sf_lang", value=locale, max_age=365 * 86400, samesite="lax", path="/")
    )
    return response


def _sign_in(state: AppState, phone: str, password: str, device: str) -> tuple[str, str] | ValidationFailed:
    """Off the event loop, in two transactions: the password is hashed in one that only reads, so it holds no
    write lock; the outcome (a failure counted, or a new session) is written in the next. Returns the session
    token and the user's language, or the refusal."""
    with Session(state.engine) as db:
        checked = services.check_password(db, phone, password)
    with session_scope(state.engine) as db:
        begin_writing(db)
        try:
            user = services.authenticate(db, phone, password, checked=checked)
        except ValidationFailed as exc:
            return exc  # returned, not raised: the failure count is committed
        token, _ = services.start_session(db, user, days=state.settings.session_days, device=device)
        return token, user.locale


@post("/logout", sync_to_thread=False)
def logout(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """End this session on the server and forget the cookie."""
    services.end_session(db, request.cookies.get(SESSION_COOKIE))
    response = redirect("/login?bye=1")
    response.cookies.append(_session_cookie(request, "", 0))
    return response


@get("/lang/{locale:str}", sync_to_thread=False)
def switch_language(
    request: Request[Any, Any, State], db: Session, maybe_actor: Actor | None, locale: str
) -> Response[Any]:
    """中文 / English: stored per user when signed in, in a cookie otherwise."""
    locale = locale if locale in ("zh", "en") else "zh"
    if maybe_actor is not None:
        write_after_reading(db)  # a GET's transaction has read the session: on SQLite, write from a fresh one
        services.set_locale(db, maybe_actor, locale)
    response = redirect(_same_site_path(request, request.headers.get("referer", "")))
    response.cookies.append(
        Cookie(key="sf_lang", value=locale, max_age=365 * 86400, samesite="lax", path="/")
    )
    return response


def _same_site_path(request: Request[Any, Any, State], referer: str) -> str:
    """Back to the page the switch was pressed on, only ever a page of this site (no open redirect)."""
    parts = urlsplit(referer)
    if parts.netloc and parts.netloc != request.headers.get("host", ""):
        return "/"
    path = parts.path if parts.path.startswith("/") and not parts.path.startswith("//") else "/"
    return path + (f"?{parts.query}" if parts.query else "")


@get("/settings", sync_to_thread=False)
def settings_page(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """Language, password and notifications."""
    return render(
        request,
        "settings.html",
        {"saved": request.query_params.get("saved"), "overdue_count": _overdue(request, db, actor)},
        actor=actor,
    )


@post("/settings/password")
async def change_password(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """A cadre changes her own password (at least 8 characters)."""
    form = await request.form()
    try:
        await anyio.to_thread.run_sync(  # two argon2 hashes: off the event loop
            services.change_password,
            db,
            actor,
            str(form.get("current_password", "")),
            str(form.get("new_password", "")),
        )
    except ValidationFailed as exc:
        return render(
            request,
            "settings.html",
            {"errors": form_errors(exc, actor.locale), "overdue_count": _overdue(request, db, actor)},
            actor=actor,
            status_code=422,
        )
    return redirect("/settings?saved=password")


def _overdue(request: Request[Any, Any, State], db: Session, actor: Actor) -> int:
    from backend.cases.responsibility import overdue_badge

    return overdue_badge(db, actor, app_state(request).today())


ROUTES = [login_page, login, logout, switch_language, settings_page, change_password]
