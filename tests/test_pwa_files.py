"""The files that make Suifang an installable PWA, and the list of pages a phone keeps offline: served with
the right types and cache headers, icons of the sizes the manifest claims, caches named by the build, the
offline page carrying nobody's data, and each user's list limited to her scope."""

# ruff: noqa: F811  (test parameters named after the imported `pages` fixture)

import json
import re
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from backend.app import ROOT
from backend.cases import forms, services
from backend.cases.models import PrenatalVisit
from backend.lib.clock import local_today
from backend.pwa_files import CORRECTABLE_DAYS, CORRECTABLE_PER_CASE, PLACEHOLDER, RECORD_FORMS
from backend.pwa_icons import FILES, draw, png_size
from backend.settings import Settings
from tests.case_factories import make_registration, make_visit
from tests.conftest import VILLAGE_A, VILLAGE_B, Cast
from tests.page_client import Pages, pages  # noqa: F401  (pages is a fixture)

BUILD_META = re.compile(r'<meta name="build" content="([^"]+)">')


def today(settings: Settings) -> date:
    return local_today(settings.timezone)


def test_the_manifest_makes_the_app_installable_with_icons_of_the_sizes_it_claims(pages: Pages) -> None:
    client = pages.anonymous()
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(response.content)
    assert manifest["name"] == "随访"
    assert manifest["short_name"] == "随访"
    assert manifest["start_url"] == "/"
    assert manifest["scope"] == "/"
    assert manifest["id"] == "/"
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"] == "#0b5d4b"
    assert manifest["background_color"]
    claimed = {(icon["sizes"], icon.get("purpose", "any")) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= claimed
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/png"
        width, height = icon["sizes"].split("x")
        assert png_size(image.content) == (int(width), int(height))


def test_every_page_links_the_manifest_and_a_180_pixel_apple_touch_icon(pages: Pages) -> None:
    html = pages.anonymous().get("/login").text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    href = re.search(r'<link rel="apple-touch-icon" href="([^"]+)">', html)
    assert href is not None
    assert png_size(pages.anonymous().get(href.group(1)).content) == (180, 180)


def test_the_icons_on_disk_are_the_ones_the_drawing_makes() -> None:
    for name in ("icon-192.png", "apple-touch-icon.png"):
        size, maskable = FILES[name]
        assert (ROOT / "static" / "icons" / name).read_bytes() == draw(size, maskable=maskable)


def test_the_service_worker_is_served_at_root_uncached_with_caches_named_by_the_build(pages: Pages) -> None:
    client = pages.anonymous()
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"
    first_line = response.text.split("\n", 1)[0]
    config = json.loads(first_line.removeprefix("const CONFIG = ").removesuffix(";"))
    build = BUILD_META.search(client.get("/login").text)
    assert build is not None
    assert config["build"] == build.group(1)
    assert "`suifang-static-${CONFIG.build}`" in response.text
    assert "importScripts('/sw-push.js')" in response.text
    for url in config["precache"]:
        assert client.get(url).status_code == 200, url
    assert f"/static/css/app.css?v={config['build']}" in config["precache"]
    assert "/offline" in config["precache"]


def test_an_update_check_costs_no_body_when_the_worker_did_not_change(pages: Pages) -> None:
    client = pages.anonymous()
    etag = client.get("/sw.js").headers["etag"]
    again = client.get("/sw.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_the_service_worker_travels_gzip_compressed(pages: Pages) -> None:
    response = pages.anonymous().get("/sw.js", headers={"Accept-Encoding": "gzip"})
    assert response.headers.get("content-encoding") == "gzip"  # httpx inflated it: the header tells
    assert response.text.startswith("const CONFIG = ")


def test_the_push_handlers_are_served_for_the_worker_to_import(pages: Pages) -> None:
    response = pages.anonymous().get("/sw-push.js")
    if (ROOT / "pwa" / "sw-push.js").is_file():
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/javascript")
    else:
        assert response.status_code == 404


def test_the_offline_page_carries_nobodys_data_even_when_signed_in(pages: Pages, cast: Cast) -> None:
    html = pages.client(cast.cadre_a).get("/offline").text
    assert "没有网络" in html
    assert 'name="csrf-token"' not in html
    assert 'name="user"' not in html
    assert cast.cadre_a.name not in html


def test_a_cadre_keeps_offline_the_pages_of_her_open_cases_and_every_form(
    pages: Pages, cast: Cast, db: Session, settings: Settings
) -> None:
    ctx_a = cast.ctx(cast.cadre_a, db, today(settings))
    mine = make_registration(db, ctx_a, VILLAGE_A, name="陈晓红")
    theirs = make_registration(db, cast.ctx(cast.cadre_b, db, today(settings)), VILLAGE_B, name="李梅")
    db.commit()
    listed = pages.client(cast.cadre_a).get("/api/pwa/pages")
    assert listed.headers["cache-control"] == "no-store"
    body = listed.json()
    assert body["user_id"] == str(cast.cadre_a.id)
    kept = set(body["pages"])
    assert {"/", "/women", "/register", "/pending", "/offline/case"} <= kept
    assert f"/women/{mine.woman_id}" in kept
    assert {f"/p/{mine.id}/{name}" for name in RECORD_FORMS} <= kept
    assert {f"/offline/form/{name}" for name in RECORD_FORMS} <= kept
    assert not any(str(theirs.id) in page or str(theirs.woman_id) in page for page in kept)


def test_a_cadre_keeps_offline_the_edit_pages_and_the_correction_pages_of_recent_records(
    pages: Pages, cast: Cast, db: Session, settings: Settings
) -> None:
    ctx = cast.ctx(cast.cadre_a, db, today(settings))
    case = make_registration(db, ctx, VILLAGE_A, name="陈晓红")
    recent = make_visit(db, ctx, case)
    old = make_visit(db, ctx, case)
    db.commit()
    stored_old = db.get(PrenatalVisit, old.record_id)
    assert stored_old is not None
    stored_old.received_at = datetime.now(UTC) - timedelta(days=CORRECTABLE_DAYS + 1)
    db.add(stored_old)
    db.commit()
    kept = set(pages.client(cast.cadre_a).get("/api/pwa/pages").json()["pages"])
    assert {f"/edit/woman/{case.woman_id}", f"/edit/pregnancy/{case.id}"} <= kept
    assert f"/correct/prenatal_visit/{recent.record_id}" in kept
    assert f"/correct/prenatal_visit/{old.record_id}" not in kept  # received too long ago
    services.correct_record(
        db,
        ctx,
        forms.read_correction(
            {
                "target_type": "prenatal_visit",
                "target_id": str(recent.record_id),
                "kind": "void",
                "reason": "重复录入",
            }
        ),
    )
    db.commit()
    kept = set(pages.client(cast.cadre_a).get("/api/pwa/pages").json()["pages"])
    assert f"/correct/prenatal_visit/{recent.record_id}" not in kept  # voided: nothing left to correct
    for path in [p for p in kept if p.startswith(("/edit/", "/correct/"))]:
        assert pages.client(cast.cadre_a).get(path).status_code == 200, path


def test_only_the_latest_records_of_a_case_keep_their_correction_page(
    pages: Pages, cast: Cast, db: Session, settings: Settings
) -> None:
    ctx = cast.ctx(cast.cadre_a, db, today(settings))
    case = make_registration(db, ctx, VILLAGE_A, name="陈晓红", colour="")
    visits = [make_visit(db, ctx, case) for _ in range(CORRECTABLE_PER_CASE + 2)]
    db.commit()
    for hours, visit in enumerate(reversed(visits)):  # the first made is the oldest
        stored = db.get(PrenatalVisit, visit.record_id)
        assert stored is not None
        stored.received_at = datetime.now(UTC) - timedelta(hours=hours)
        db.add(stored)
    db.commit()
    kept = set(pages.client(cast.cadre_a).get("/api/pwa/pages").json()["pages"])
    corrections = {p for p in kept if p.startswith("/correct/")}
    assert corrections == {f"/correct/prenatal_visit/{v.record_id}" for v in visits[-CORRECTABLE_PER_CASE:]}


def test_a_county_administrator_keeps_no_forms(pages: Pages, cast: Cast) -> None:
    kept = set(pages.client(cast.county).get("/api/pwa/pages").json()["pages"])
    assert "/" in kept
    assert not any(page.startswith(("/p/", "/offline/form/", "/register")) for page in kept)


def test_the_page_list_needs_a_session(pages: Pages) -> None:
    response = pages.anonymous().get("/api/pwa/pages", headers={"Accept": "application/json"})
    assert response.status_code == 401


def test_a_write_to_a_case_changes_the_version_of_its_pages_only(
    pages: Pages, cast: Cast, db: Session, settings: Settings
) -> None:
    ctx = cast.ctx(cast.cadre_a, db, today(settings))
    visited = make_registration(db, ctx, VILLAGE_A, name="陈晓红")
    other = make_registration(db, ctx, VILLAGE_A, name="赵春燕")
    db.commit()
    client = pages.client(cast.cadre_a)
    before = client.get("/api/pwa/pages").json()["pages"]
    make_visit(db, ctx, visited)
    db.commit()
    after = client.get("/api/pwa/pages").json()["pages"]
    assert after[f"/women/{visited.woman_id}"] != before[f"/women/{visited.woman_id}"]
    assert after[f"/p/{visited.id}/visit"] != before[f"/p/{visited.id}/visit"]
    assert after[f"/women/{other.woman_id}"] == before[f"/women/{other.woman_id}"]
    assert after["/"] != before["/"]


def test_each_form_shell_is_the_real_form_around_a_placeholder_pregnancy(pages: Pages, cast: Cast) -> None:
    client = pages.client(cast.cadre_a)
    for name in RECORD_FORMS:
        html = client.get(f"/offline/form/{name}").text
        assert 'class="record-form"' in html, name
        assert f'action="/p/{PLACEHOLDER}/{name}"' in html, name
        assert f'name="pregnancy_id" value="{PLACEHOLDER}"' in html, name


def test_the_pending_list_and_the_case_shell_are_pages_of_the_signed_in_user(
    pages: Pages, cast: Cast
) -> None:
    client = pages.client(cast.cadre_a)
    assert 'id="pending-entries"' in client.get("/pending").text
    assert 'id="export-pending"' in client.get("/pending").text
    assert 'id="pending-case"' in client.get("/offline/case").text
    assert pages.anonymous().get("/pending", follow_redirects=False).status_code in (302, 303)
