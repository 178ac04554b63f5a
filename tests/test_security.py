"""Security as a user or an attacker meets it (DESIGN.md §4): headers on every response, no inline script,
lockout after five wrong passwords, password rules, sessions that end on the server, the audit trail, text
typed anywhere coming back escaped, and no personal data in any URL."""

import html
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from backend.accounts import services as accounts
from backend.accounts.models import AuditEntry, LoginSession, User
from backend.cases.models import PrenatalVisit, Woman
from backend.lib.clock import local_today
from backend.lib.i18n import ValidationFailed
from tests.case_factories import (
    infants_of,
    make_outcome,
    make_registration,
    registration_form,
    woman_id_number,
)
from tests.conftest import PASSWORD, VILLAGE_A, Cast
from tests.page_client import *  # noqa: F403  (the `pages` fixture)
from tests.page_client import Pages, SignedIn

TODAY = local_today("Asia/Shanghai")
DAY = timedelta(days=1)
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


def fresh(db: Session) -> Session:
    db.rollback()
    db.expire_all()  # objects loaded before keep their old values otherwise
    return db


# --- headers ------------------------------------------------------------------------------------------------


def assert_security_headers(response: object, what: str) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    csp = headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp, what
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, what
    assert headers.get("x-content-type-options") == "nosniff", what
    assert headers.get("referrer-policy") in (
        "same-origin",
        "no-referrer",
        "strict-origin-when-cross-origin",
    ), what


def test_every_kind_of_response_carries_the_security_headers(db: Session, cast: Cast, pages: Pages) -> None:
    anonymous, a = pages.anonymous(), pages.client(cast.cadre_a)
    responses = {
        "login page": anonymous.get("/login"),
        "refused sign-in": anonymous.http.post("/login", data={"phone": "1", "password": "x"}),
        "redirect to sign in": anonymous.get("/", follow_redirects=False),
        "api 401": anonymous.get("/sync/pull"),
        "today": a.get("/"),
        "404 page": a.get(f"/women/{uuid.uuid4()}"),
        "unknown path": a.get("/no/such/page"),
        "405": a.http.put("/women"),
        "csrf 403": a.post("/register", {}, csrf=False),
        "role 403": pages.client(cast.county).get("/register"),
        "form 422": a.post("/register", {}),
        "stylesheet": a.get("/static/css/app.css"),
        "script": a.get("/js/forms.js"),
        "health": a.get("/healthz"),
    }
    for what, response in responses.items():
        assert_security_headers(response, what)
    assert responses["404 page"].status_code == 404 and responses["csrf 403"].status_code == 403


def test_no_page_carries_an_inline_script_a_style_attribute_or_an_event_handler(
    db: Session, cast: Cast, pages: Pages
) -> None:
    ctx = cast.ctx(cast.cadre_a, db, TODAY)
    p = make_registration(db, ctx, VILLAGE_A, registered_on=TODAY - 240 * DAY, lmp=TODAY - 296 * DAY)
    make_outcome(db, ctx, p, TODAY - 9 * DAY, [("1", "3000"), ("2", "2900")])
    db.commit()
    a = pages.client(cast.cadre_a)
    paths = [
        "/",
        "/women",
        f"/women/{p.woman_id}",
        "/register",
        "/settings",
        *(f"/p/{p.id}/{n}" for n in ("visit", "risk", "outcome", "postnatal", "close")),
    ]
    bodies = [a.get(path).text for path in paths] + [pages.anonymous().get("/login").text]
    for body in bodies:
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), "inline <script>"
        assert not re.search(r"<[^>]+\sstyle=", body), "style attribute"
        assert not re.search(r"<[^>]+\son[a-z]+=", body), "event handler attribute"


def test_the_session_cookie_is_http_only_and_same_site(pages: Pages, cast: Cast) -> None:
    r = pages.anonymous().http.post(
        "/login", data={"phone": cast.cadre_a.phone, "password": PASSWORD}, follow_redirects=False
    )
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("sf_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")


# --- sign-in, lockout, passwords, sessions -----------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes_even_against_the_right_one(
    db: Session, cast: Cast
) -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    for attempt in range(4):
        with pytest.raises(ValidationFailed) as exc:
            accounts.authenticate(
                db, cast.cadre_a.phone, "wrong-password", now=now + attempt * timedelta(seconds=5)
            )
        assert exc.value.errors[0].text.zh == "手机号或密码不正确"
    with pytest.raises(ValidationFailed) as exc:
        accounts.authenticate(db, cast.cadre_a.phone, "wrong-password", now=now + timedelta(seconds=30))
    locked = exc.value.errors[0].text
    assert "锁定" in locked.zh and "15 分钟" in locked.zh and "15 minutes" in locked.en
    for minutes in (1, 14):
        with pytest.raises(ValidationFailed) as exc:
            accounts.authenticate(db, cast.cadre_a.phone, PASSWORD, now=now + timedelta(minutes=minutes))
        assert "锁定" in exc.value.errors[0].text.zh
    user = accounts.authenticate(
        db, cast.cadre_a.phone, PASSWORD, now=now + timedelta(minutes=15, seconds=31)
    )
    assert user.id == cast.cadre_a.id and user.failed_logins == 0 and user.locked_until is None


def test_a_sign_in_with_an_empty_field_asks_for_it_and_counts_no_failure(
    db: Session, cast: Cast, pages: Pages
) -> None:
    browser = pages.anonymous()
    r = browser.http.post("/login", data={"phone": "", "password": ""})
    assert r.status_code == 422 and "请填写手机号" in r.text and "请填写密码" in r.text
    r = browser.http.post("/login", data={"phone": cast.cadre_a.phone, "password": "  "})
    assert r.status_code == 422 and "请填写密码" in r.text and "手机号或密码不正确" not in r.text
    assert cast.cadre_a.phone in r.text  # kept
    user = fresh(db).get(User, cast.cadre_a.id)
    assert user is not None and user.failed_logins == 0


def test_the_sign_in_page_says_the_account_is_locked_and_for_how_long(
    db: Session, cast: Cast, pages: Pages
) -> None:
    browser = pages.anonymous()
    for _ in range(4):
        r = browser.http.post("/login", data={"phone": cast.cadre_a.phone, "password": "nope-nope"})
        assert r.status_code == 422 and "手机号或密码不正确" in r.text
    r = browser.http.post("/login", data={"phone": cast.cadre_a.phone, "password": "nope-nope"})
    assert "账号已锁定" in r.text and "15 分钟" in r.text
    r = browser.http.post(
        "/login", data={"phone": cast.cadre_a.phone, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 422 and "账号已锁定" in r.text
    user = fresh(db).get(User, cast.cadre_a.id)
    assert user is not None and user.locked_until is not None
    user.locked_until = datetime.now(UTC) - timedelta(seconds=1)  # fifteen minutes later
    db.commit()
    r = browser.http.post(
        "/login", data={"phone": cast.cadre_a.phone, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303


def test_an_unknown_phone_number_gets_the_same_answer_as_a_wrong_password(pages: Pages) -> None:
    r = pages.anonymous().http.post("/login", data={"phone": "13999999999", "password": "whatever-1"})
    assert r.status_code == 422 and "手机号或密码不正确" in r.text


def test_a_password_under_eight_characters_is_refused(db: Session, cast: Cast, pages: Pages) -> None:
    with pytest.raises(ValidationFailed):
        accounts.create_user(
            db, phone="13700000000", name="新", password="1234567", role="village", area_codes=[VILLAGE_A]
        )
    a = pages.client(cast.cadre_a)
    r = a.post("/settings/password", {"current_password": PASSWORD, "new_password": "short12"})
    assert r.status_code == 422 and "至少需要 8 个字符" in r.text


def test_a_cadre_changes_her_own_password_and_signs_in_with_the_new_one(
    db: Session, cast: Cast, pages: Pages
) -> None:
    a = pages.client(cast.cadre_a)
    r = a.post(
        "/settings/password", {"current_password": "not-my-password", "new_password": "a-new-password"}
    )
    assert r.status_code == 422 and "当前密码不正确" in r.text
    r = a.post("/settings/password", {"current_password": PASSWORD, "new_password": "a-new-password"})
    assert r.status_code == 303 and r.headers["location"] == "/settings?saved=password"
    assert "密码已修改" in a.get("/settings?saved=password").text
    old = pages.anonymous().http.post("/login", data={"phone": cast.cadre_a.phone, "password": PASSWORD})
    assert old.status_code == 422
    new = pages.anonymous().http.post(
        "/login", data={"phone": cast.cadre_a.phone, "password": "a-new-password"}, follow_redirects=False
    )
    assert new.status_code == 303


def test_signing_out_ends_the_session_on_the_server_so_a_copied_cookie_is_useless(
    db: Session, cast: Cast, pages: Pages
) -> None:
    a = pages.client(cast.cadre_a)
    stolen = a.http.cookies.get("sf_session")
    assert stolen
    assert a.post("/logout").status_code == 303
    thief = pages.anonymous()
    thief.http.cookies.set("sf_session", stolen)
    assert thief.get("/", follow_redirects=False).headers["location"].startswith("/login")
    rows = fresh(db).exec(select(LoginSession).where(LoginSession.user_id == cast.cadre_a.id)).all()
    assert rows and all(r.revoked_at is not None for r in rows)


def test_revoking_a_users_sessions_signs_her_out_everywhere(db: Session, cast: Cast, pages: Pages) -> None:
    phone_1, phone_2 = pages.client(cast.cadre_a), pages.anonymous()
    phone_2.http.post("/login", data={"phone": cast.cadre_a.phone, "password": PASSWORD})
    assert phone_1.get("/").status_code == 200 and phone_2.get("/").status_code == 200
    accounts.revoke_sessions(fresh(db), cast.cadre_a.id)
    db.commit()
    for phone in (phone_1, phone_2):
        assert phone.get("/", follow_redirects=False).headers["location"].startswith("/login")


# --- audit -------------------------------------------------------------------------------------------------


def test_sign_ins_and_every_write_leave_an_audit_row_with_who_and_which_device(
    db: Session, cast: Cast, pages: Pages
) -> None:
    pages.anonymous().http.post("/login", data={"phone": cast.cadre_a.phone, "password": "wrong-wrong"})
    a = pages.client(cast.cadre_a)
    form = {
        "id": str(uuid.uuid4()),
        "woman_id": str(uuid.uuid4()),
        "name": "审计测试",
        "birth_date": "1990-01-01",
        "phone": "13912345678",
        "village_code": VILLAGE_A,
        "registered_on": TODAY.isoformat(),
        "lmp": (TODAY - 60 * DAY).isoformat(),
        "gravidity": "1",
        "parity": "0",
    }
    assert a.post("/register", form).status_code == 303
    visit = {"id": str(uuid.uuid4()), "visited_on": TODAY.isoformat(), "kind": "home"}
    assert a.post(f"/p/{form['id']}/visit", visit).status_code == 303
    correction = {"id": str(uuid.uuid4()), "kind": "void", "reason": "重复录入"}
    assert a.post(f"/correct/prenatal_visit/{visit['id']}", correction).status_code == 303
    a.post("/settings/password", {"current_password": PASSWORD, "new_password": "another-password"})
    a.post("/logout")
    rows = fresh(db).exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
    actions = [r.action for r in rows]
    assert actions == [
        "login_failed",
        "login",
        "register_pregnancy",
        "prenatal_visit",
        "void_prenatal_visit",
        "password_changed",
        "logout",
    ]
    assert {r.user_id for r in rows} == {cast.cadre_a.id}
    assert rows[1].device == "testclient"  # the browser that signed in
    everything = " ".join(f"{r.target_id} {r.detail} {r.device}" for r in rows)
    assert "审计测试" not in everything and "13912345678" not in everything


# --- escaping ----------------------------------------------------------------------------------------------


def test_text_typed_into_any_field_comes_back_escaped_on_every_page_that_shows_it(
    db: Session, cast: Cast, pages: Pages
) -> None:
    a = pages.client(cast.cadre_a)
    form = {
        "id": str(uuid.uuid4()),
        "woman_id": str(uuid.uuid4()),
        "name": SCRIPT,
        "birth_date": "1990-01-01",
        "village_code": VILLAGE_A,
        "address": IMG,
        "registered_on": TODAY.isoformat(),
        "lmp": (TODAY - 60 * DAY).isoformat(),
        "gravidity": "1",
        "parity": "0",
    }
    assert a.post("/register", form).status_code == 303
    pid = form["id"]
    visit = {
        "id": str(uuid.uuid4()),
        "visited_on": TODAY.isoformat(),
        "kind": "check",
        "check_no": "1",
        "facility": IMG,
        "danger_signs": SCRIPT,
        "advice": IMG,
    }
    assert a.post(f"/p/{pid}/visit", visit).status_code == 303
    assert (
        a.post(
            f"/p/{pid}/risk", {"assessed_on": TODAY.isoformat(), "colour": "red", "factors": IMG}
        ).status_code
        == 303
    )
    amend = {"kind": "amend", "new-advice": SCRIPT, "new-facility": "x" + IMG[:20], "reason": IMG}
    assert a.post(f"/correct/prenatal_visit/{visit['id']}", amend).status_code == 303
    refused = a.post(f"/p/{pid}/visit", {**visit, "id": str(uuid.uuid4()), "bp_systolic": SCRIPT})
    assert refused.status_code == 422
    pages_shown = [
        a.get("/").text,
        a.get("/women").text,
        a.post("/women", {"q": SCRIPT}).text,
        a.get(f"/women/{form['woman_id']}").text,
        a.get(f"/p/{pid}/visit").text,
        a.get(f"/correct/prenatal_visit/{visit['id']}").text,
        refused.text,
        a.post(
            "/register", {**form, "id": str(uuid.uuid4()), "woman_id": str(uuid.uuid4())}
        ).text,  # duplicate
        pages.client(cast.sup_t).get(f"/women/{form['woman_id']}").text,
    ]
    for body in pages_shown:
        assert SCRIPT not in body and "<img src=x" not in body
    case = pages_shown[3]
    assert html.escape(SCRIPT) in case and "onerror=alert(1)&gt;" in case
    assert html.escape(SCRIPT, quote=False) in pages_shown[0]  # her name on Today


# --- personal data out of URLs -----------------------------------------------------------------------------


def test_no_link_or_form_action_on_any_page_carries_a_name_an_id_number_or_a_phone(
    db: Session, cast: Cast, pages: Pages
) -> None:
    number = woman_id_number()
    ctx = cast.ctx(cast.cadre_a, db, TODAY)
    p = make_registration(
        db,
        ctx,
        VILLAGE_A,
        name="隐私测试",
        id_number=number,
        phone="13912345678",
        registered_on=TODAY - 240 * DAY,
        lmp=TODAY - 296 * DAY,
    )
    make_outcome(db, ctx, p, TODAY - 9 * DAY)
    db.commit()
    baby = infants_of(db, p)[0]
    a = pages.client(cast.cadre_a)
    bodies = [
        a.get(path).text
        for path in (
            "/",
            "/women",
            f"/women/{p.woman_id}",
            f"/p/{p.id}/postnatal",
            f"/p/{p.id}/close?infant={baby.id}",
        )
    ]
    bodies.append(a.post("/women", {"q": "隐私"}).text)
    for body in bodies:
        for url in re.findall(r'(?:href|action|src)="([^"]*)"', body):
            assert not any(secret in html.unescape(url) for secret in ("隐私", number, "13912345678", "5678"))
    assert 'method="get"' not in "".join(bodies).lower()  # no form would put what was typed in a URL


def test_the_woman_row_holds_no_id_number_in_clear(db: Session, cast: Cast) -> None:
    number = woman_id_number()
    make_registration(db, cast.ctx(cast.cadre_a, db, TODAY), VILLAGE_A, id_number=number)
    woman = db.exec(select(Woman)).one()
    stored = " ".join(str(v) for v in woman.model_dump().values())
    assert number not in stored and number[-4:] in (woman.id_masked or "")
    assert db.exec(select(PrenatalVisit)).first() is None


def test_signed_in_pages_are_never_cached_by_the_browser(cast: Cast, pages: Pages) -> None:
    a: SignedIn = pages.client(cast.cadre_a)
    for path in ("/", "/women", "/settings"):
        assert a.get(path).headers.get("cache-control") == "no-store"


BOOM = {
    "sqlite": [
        "CREATE TRIGGER boom BEFORE INSERT ON woman BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END",
    ],
    "postgres": [
        "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk I/O error'; END $$"
        " LANGUAGE plpgsql",
        "CREATE TRIGGER boom BEFORE INSERT ON woman FOR EACH ROW EXECUTE FUNCTION boom()",
    ],
}


def test_a_database_fault_is_logged_without_what_the_user_typed(
    db: Session, db_kind: str, cast: Cast, pages: Pages, caplog: pytest.LogCaptureFixture
) -> None:
    """DOMAIN §7: no name, ID number or phone in logs, even when the database refuses a write (its error
    quotes the statement's parameters) and the page answers 500."""
    for statement in BOOM[db_kind]:
        db.exec(text(statement))  # type: ignore[call-overload]
    db.commit()
    today = local_today("Asia/Shanghai")
    form = registration_form(
        VILLAGE_A, today, name="陈晓红", phone="13912345678", id_number=woman_id_number(), address="3组12号"
    )
    with caplog.at_level(logging.DEBUG):
        answer = pages.client(cast.cadre_a).post("/register", form)
    assert answer.status_code == 500
    logged = caplog.text
    assert "unhandled error on POST /register" in logged  # the fault is told …
    for typed in ("陈晓红", "13912345678", woman_id_number(), "3组12号"):
        assert typed not in logged  # … never what was typed
