"""Every route of the app, taken from the app's own route list (so a new route is walked without anyone
adding it here), with every role of the cast: anonymous callers are sent to sign in (or get 401 on the API),
each role gets what DOMAIN.md §1–2 allow, a cadre can never reach another village's record however she
guesses its UUID, and no state-changing request passes without the session's CSRF token or from another
origin."""

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from sqlalchemy import func, select
from sqlmodel import Session, SQLModel

from backend.cases.models import PostnatalVisit, Pregnancy, PrenatalVisit
from backend.lib.clock import local_today
from tests.case_factories import (
    infants_of,
    make_outcome,
    make_postnatal,
    make_registration,
    make_visit,
)
from tests.conftest import VILLAGE_A, VILLAGE_B, Cast
from tests.page_client import *  # noqa: F403  (the `pages` fixture)
from tests.page_client import Pages, SignedIn

TODAY = local_today("Asia/Shanghai")
DAY = timedelta(days=1)
ROLES = ("cadre_a", "cadre_b", "cadre_c", "sup_t", "sup_u", "county")
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Routes anyone may call signed out: sign-in, language, health, the app shell and its files.
PUBLIC = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/lang/{locale:str}"),
    ("GET", "/healthz"),
    ("GET", "/static/{file_path:path}"),
    ("GET", "/js/{file_path:path}"),
    ("GET", "/sw.js"),
    ("GET", "/sw-push.js"),
    ("GET", "/manifest.webmanifest"),
    ("GET", "/offline"),
    ("GET", "/api/push/key"),
}
PUBLIC_PREFIXES = ("/schema",)  # Litestar's OpenAPI document: no personal data


@dataclass
class World:
    """Village A's twins case (with a visit, the outcome and a postnatal visit) and a case of village B."""

    woman_a: uuid.UUID
    pregnancy_a: uuid.UUID
    visit_a: uuid.UUID
    outcome_a: uuid.UUID
    postnatal_a: uuid.UUID
    infant_a: uuid.UUID
    name_a: str
    pregnancy_b: uuid.UUID


@pytest.fixture
def world(db: Session, cast: Cast) -> World:
    ctx = cast.ctx(cast.cadre_a, db, TODAY)
    p = make_registration(
        db, ctx, VILLAGE_A, registered_on=TODAY - 240 * DAY, lmp=TODAY - 296 * DAY, name="欧阳秀芳"
    )
    visit = make_visit(db, ctx, p, visited_on=(TODAY - 200 * DAY).isoformat())
    outcome = make_outcome(db, ctx, p, TODAY - 9 * DAY, [("1", "3000"), ("2", "2900")])
    baby = infants_of(db, p)[0]
    postnatal = make_postnatal(db, ctx, p, "1w", baby)
    q = make_registration(db, cast.ctx(cast.cadre_b, db, TODAY), VILLAGE_B, name="上官婉")
    db.commit()
    return World(
        p.woman_id, p.id, visit.record_id, outcome.record_id, postnatal.record_id, baby.id, "欧阳秀芳", q.id
    )


def routes(app: Litestar) -> list[tuple[str, str]]:
    """(method, path template) of every handler the app serves, HEAD and OPTIONS aside."""
    out = []
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            out += [(m, route.path) for m in sorted(route.methods) if m not in ("HEAD", "OPTIONS")]
    return out


def is_public(method: str, template: str) -> bool:
    return (method, template) in PUBLIC or template.startswith(PUBLIC_PREFIXES)


def fill(template: str, world: World, **choices: str) -> str:
    """A concrete path: UUID parameters name village A's records, other parameters get a sensible value."""
    values = {
        "woman_id": str(world.woman_a),
        "pregnancy_id": str(world.pregnancy_a),
        "target_id": str(world.visit_a),
        "target_type": "prenatal_visit",
        "name": "visit",
        "locale": "en",
        "file_path": "css/app.css",
        "code": VILLAGE_A,
        **choices,
    }

    def value(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        if name in values:
            return values[name]
        return {"uuid": str(world.pregnancy_a), "int": "1", "path": "x"}.get(kind, "x")

    return re.sub(r"\{(\w+):(\w+)\}", value, template)


def call(
    client: SignedIn,
    method: str,
    path: str,
    *,
    csrf: bool = True,
    headers: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
) -> Any:
    headers = dict(headers or {})
    if method in UNSAFE:
        form = dict(data or {})
        if csrf:
            form["csrf"] = client.csrf
        return client.http.request(method, path, data=form, headers=headers, follow_redirects=False)
    return client.http.request(method, path, headers=headers, follow_redirects=False)


def row_counts(db: Session) -> dict[str, int]:
    db.rollback()
    return {
        t.name: db.execute(select(func.count()).select_from(t)).scalar_one()
        for t in SQLModel.metadata.sorted_tables
    }


def is_sign_in_redirect(response: Any) -> bool:
    return response.status_code in (302, 303) and response.headers.get("location", "").startswith("/login")


# --- what each role may do on the cadre's routes ------------------------------------------------------------

EVERYONE = dict.fromkeys(ROLES, 200)
FIELD_FORM = {"cadre_a": 200, "cadre_b": 404, "cadre_c": 404, "sup_t": 200, "sup_u": 404, "county": 403}
FIELD_POST = {"cadre_a": 422, "cadre_b": 404, "cadre_c": 404, "sup_t": 422, "sup_u": 404, "county": 403}
EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/"): EVERYONE,
    ("GET", "/women"): EVERYONE,
    ("POST", "/women"): EVERYONE,
    ("GET", "/women/{woman_id:uuid}"): {
        "cadre_a": 200,
        "cadre_b": 404,
        "cadre_c": 404,
        "sup_t": 200,
        "sup_u": 404,
        "county": 200,
    },
    ("GET", "/register"): {**dict.fromkeys(ROLES, 200), "county": 403},
    ("POST", "/register"): {**dict.fromkeys(ROLES, 422), "county": 403},
    ("GET", "/p/{pregnancy_id:uuid}/{name:str}"): FIELD_FORM,
    ("POST", "/p/{pregnancy_id:uuid}/{name:str}"): FIELD_POST,
    ("GET", "/correct/{target_type:str}/{target_id:uuid}"): FIELD_FORM,
    ("POST", "/correct/{target_type:str}/{target_id:uuid}"): FIELD_POST,
    ("GET", "/edit/{target_type:str}/{target_id:uuid}"): FIELD_FORM,
    ("POST", "/edit/{target_type:str}/{target_id:uuid}"): FIELD_POST,
    ("POST", "/assign/{pregnancy_id:uuid}"): {  # no cadre chosen: refused with a message
        **dict.fromkeys(ROLES, 403),
        "sup_t": 422,
        "sup_u": 404,
    },
    ("GET", "/review/village/{code:str}/cadres"): {**dict.fromkeys(ROLES, 403), "sup_t": 200, "sup_u": 404},
    ("POST", "/review/village/{code:str}/cadres"): {  # nothing chosen: nothing changes
        **dict.fromkeys(ROLES, 403),
        "sup_t": 303,
        "sup_u": 404,
    },
    ("GET", "/settings"): EVERYONE,
    ("POST", "/settings/password"): dict.fromkeys(ROLES, 422),
    ("GET", "/login"): dict.fromkeys(ROLES, 303),  # already signed in: on to Today
    ("POST", "/login"): dict.fromkeys(ROLES, 422),  # no phone, no password
    ("GET", "/lang/{locale:str}"): dict.fromkeys(ROLES, 303),
    ("GET", "/healthz"): EVERYONE,
    ("GET", "/static/{file_path:path}"): EVERYONE,
    ("GET", "/js/{file_path:path}"): EVERYONE,
}
# Variants walked for the routes that take a record kind.
VARIANTS: dict[str, list[dict[str, str]]] = {
    "/p/{pregnancy_id:uuid}/{name:str}": [
        {"name": n} for n in ("visit", "risk", "outcome", "postnatal", "close")
    ],
    "/correct/{target_type:str}/{target_id:uuid}": [
        {"target_type": "prenatal_visit", "target_id": "visit_a"},
        {"target_type": "outcome", "target_id": "outcome_a"},
        {"target_type": "postnatal_visit", "target_id": "postnatal_a"},
    ],
    "/js/{file_path:path}": [{"file_path": "forms.js"}],
    "/edit/{target_type:str}/{target_id:uuid}": [
        {"target_type": "woman", "target_id": "woman_a"},
        {"target_type": "pregnancy", "target_id": "pregnancy_a"},
    ],
}


@pytest.fixture
def signed_in(pages: Pages, cast: Cast) -> dict[str, SignedIn]:
    return {role: pages.client(getattr(cast, role)) for role in ROLES}


def variants(template: str, world: World) -> Iterator[str]:
    for choice in VARIANTS.get(template, [{}]):
        resolved = {k: str(getattr(world, v)) if hasattr(world, v) else v for k, v in choice.items()}
        yield fill(template, world, **resolved)


def test_signed_out_every_route_but_the_public_ones_sends_to_sign_in_or_answers_401(
    pages: Pages, world: World
) -> None:
    anonymous = pages.anonymous()
    walked = routes(pages.app)
    assert len(walked) > 20
    for method, template in walked:
        for path in variants(template, world):
            r = call(anonymous, method, path, csrf=False)
            if is_public(method, template):
                assert r.status_code < 500 and r.status_code not in (401, 403), (method, path, r.status_code)
            elif path.startswith(("/api/", "/sync/")):
                assert r.status_code == 401, (method, path, r.status_code)
            else:
                assert is_sign_in_redirect(r), (method, path, r.status_code)
            assert world.name_a not in r.text


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_its_role_and_area_allow_on_every_route(
    signed_in: dict[str, SignedIn], pages: Pages, world: World, role: str
) -> None:
    client = signed_in[role]
    for method, template in routes(pages.app):
        if (method, template) == ("POST", "/logout"):
            continue  # walked last, below
        for path in variants(template, world):
            r = call(client, method, path)
            assert r.status_code < 500, (role, method, path, r.status_code, r.text[:300])
            assert not is_sign_in_redirect(r) and r.status_code != 401, (role, method, path)
            expected = EXPECTED.get((method, template))
            if expected is not None:
                assert r.status_code == expected[role], (role, method, path, r.status_code)
            elif template.startswith(("/review", "/admin")) and role.startswith("cadre"):
                assert r.status_code == 403, (role, method, path, r.status_code)  # supervisors' pages
            if r.status_code in (403, 404):
                assert world.name_a not in r.text, (role, method, path)
    r = call(client, "POST", "/logout")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert is_sign_in_redirect(call(client, "GET", "/"))


def test_the_county_reads_every_case_but_is_offered_no_way_to_write(
    signed_in: dict[str, SignedIn], world: World
) -> None:
    page = signed_in["county"].get(f"/women/{world.woman_a}").text
    assert world.name_a in page
    assert "/p/" not in page and "/correct/" not in page and "/register" not in page


def test_cadre_b_guessing_village_a_uuids_gets_404_learns_nothing_and_writes_nothing(
    db: Session, signed_in: dict[str, SignedIn], world: World
) -> None:
    b = signed_in["cadre_b"]
    before = row_counts(db)
    ids = [
        world.woman_a,
        world.pregnancy_a,
        world.visit_a,
        world.outcome_a,
        world.postnatal_a,
        world.infant_a,
    ]
    for guess in ids:
        for path in (
            f"/women/{guess}",
            f"/edit/woman/{guess}",
            f"/edit/pregnancy/{guess}",
            f"/p/{guess}/visit",
            f"/p/{guess}/postnatal",
            f"/correct/prenatal_visit/{guess}",
            f"/correct/outcome/{guess}",
            f"/correct/postnatal_visit/{guess}",
        ):
            for method in ("GET",) if path.startswith("/women") else ("GET", "POST"):
                r = call(
                    b, method, path, data={"kind": "void", "reason": "x", "visited_on": TODAY.isoformat()}
                )
                assert r.status_code == 404, (method, path, r.status_code)
                assert world.name_a not in r.text and str(guess) not in r.text
    # her own case's forms, carrying village A's UUIDs as the new record's id
    own = world.pregnancy_b
    for form, guess in (
        ("visit", world.visit_a),
        ("postnatal", world.postnatal_a),
        ("outcome", world.outcome_a),
    ):
        data = {
            "id": str(guess),
            "visited_on": TODAY.isoformat(),
            "kind": "home",
            "milestone": "1w",
            "covers_mother": "1",
            "outcome_on": TODAY.isoformat(),
            "outcome_type": "spontaneous_abortion",
        }
        r = call(b, "POST", f"/p/{own}/{form}", data=data)
        assert r.status_code == 404, (form, r.status_code)
    r = call(
        b,
        "POST",
        "/register",
        data={
            "woman_id": str(world.woman_a),
            "existing_woman": "1",
            "name": "x",
            "birth_date": "1990-01-01",
            "village_code": VILLAGE_B,
            "registered_on": TODAY.isoformat(),
            "lmp": (TODAY - 50 * DAY).isoformat(),
            "gravidity": "1",
            "parity": "0",
            "confirm_duplicate": "1",
        },
    )
    assert r.status_code == 404 and world.name_a not in r.text
    r = call(b, "GET", f"/register?woman={world.woman_a}")
    assert r.status_code == 200 and world.name_a not in r.text
    assert row_counts(db) == before


def test_a_search_by_cadre_b_never_finds_village_a(signed_in: dict[str, SignedIn], world: World) -> None:
    for q in ("欧阳", "秀芳", ""):
        assert world.name_a not in call(signed_in["cadre_b"], "POST", "/women", data={"q": q}).text
    assert world.name_a not in signed_in["cadre_b"].get("/").text
    assert world.name_a not in signed_in["sup_u"].get("/").text
    assert world.name_a in call(signed_in["sup_t"], "POST", "/women", data={"q": "欧阳"}).text


# --- CSRF and origin ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["cadre_a", "sup_t", "county"])
def test_no_state_changing_request_passes_without_the_csrf_token_or_from_another_origin(
    db: Session, signed_in: dict[str, SignedIn], pages: Pages, world: World, role: str
) -> None:
    client = signed_in[role]
    before = row_counts(db)
    unsafe = [(m, t) for m, t in routes(pages.app) if m in UNSAFE and (m, t) != ("POST", "/login")]
    assert ("POST", "/p/{pregnancy_id:uuid}/{name:str}") in unsafe
    valid_visit = {"id": str(uuid.uuid4()), "visited_on": TODAY.isoformat(), "kind": "home"}
    for method, template in unsafe:
        for path in variants(template, world):
            r = call(client, method, path, csrf=False, data=valid_visit)
            assert r.status_code == 403, ("no token", method, path, r.status_code)
            r = call(client, method, path, data={**valid_visit, "csrf": "forged"}, csrf=False)
            assert r.status_code == 403, ("wrong token", method, path, r.status_code)
            r = call(client, method, path, data=valid_visit, headers={"origin": "https://evil.example"})
            assert r.status_code == 403, ("cross-origin", method, path, r.status_code)
    assert row_counts(db) == before
    assert not is_sign_in_redirect(
        call(client, "GET", "/")
    )  # still signed in: the refused logout did nothing


def test_the_token_in_a_header_works_like_the_form_field(
    db: Session, signed_in: dict[str, SignedIn], world: World
) -> None:
    a = signed_in["cadre_a"]
    form = {"id": str(uuid.uuid4()), "visited_on": TODAY.isoformat(), "kind": "home"}
    assert call(a, "POST", f"/p/{world.pregnancy_b}/visit", data=form).status_code == 404
    r = a.http.post(
        f"/p/{world.pregnancy_a}/postnatal",
        data={**form, "milestone": "1w", "covers_mother": "1"},
        headers={"x-csrf-token": a.csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    db.rollback()
    assert db.get(PostnatalVisit, uuid.UUID(form["id"])) is not None


def test_signing_in_from_another_origin_is_refused(pages: Pages, cast: Cast) -> None:
    r = pages.anonymous().http.post(
        "/login",
        data={"phone": cast.cadre_a.phone, "password": "x"},
        headers={"origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403


def test_a_record_written_by_the_walk_would_show_in_the_counts(db: Session, world: World) -> None:
    """The row counts the CSRF test compares do see a write (so an equal count means nothing was written)."""
    before = row_counts(db)
    db.add(
        PrenatalVisit(
            pregnancy_id=world.pregnancy_a,
            visited_on=TODAY,
            kind="home",
            author_id=db.get(Pregnancy, world.pregnancy_a).author_id,
        )
    )  # type: ignore[union-attr]
    db.commit()
    assert row_counts(db)["prenatal_visit"] == before["prenatal_visit"] + 1
