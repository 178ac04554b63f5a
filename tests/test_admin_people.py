"""People and places: a supervisor manages the cadres of her villages, a county administrator her
supervisors and the area list; nobody reaches a person or place outside their scope."""

import re
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient
from sqlmodel import Session, col, select

from backend.accounts.models import AuditEntry, User, UserArea
from backend.app import create_app
from backend.areas.models import Area
from backend.settings import Settings
from tests.conftest import PASSWORD, TOWNSHIP_T, VILLAGE_A, VILLAGE_B, VILLAGE_C, Cast

NEW_PASSWORD = "another-long-password"


@pytest.fixture
def app(settings: Settings):
    return create_app(settings, run_migrations=False)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app=app) as c:
        yield c


def sign_in(client: TestClient, phone: str, password: str = PASSWORD) -> str:
    r = client.post("/login", data={"phone": phone, "password": password}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    m = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/settings").text)
    assert m
    return m.group(1)


def test_a_supervisor_creates_a_cadre_for_her_village_who_can_then_sign_in(
    client: TestClient,
    cast: Cast,
    db: Session,
    app,
) -> None:
    csrf = sign_in(client, cast.sup_t.phone)
    r = client.post(
        "/admin/people",
        data={
            "csrf": csrf,
            "name": "赵小红",
            "phone": "13800000099",
            "password": "first-password-1",
            "areas": [VILLAGE_B],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    user = db.exec(select(User).where(User.phone == "13800000099")).one()
    assert user.role == "village" and user.active
    assert db.exec(select(UserArea.area_code).where(UserArea.user_id == user.id)).all() == [VILLAGE_B]
    assert db.exec(select(AuditEntry).where(AuditEntry.action == "user_created")).one().target_id == str(
        user.id
    )
    with TestClient(app=app) as other:
        sign_in(other, "13800000099", "first-password-1")


def test_a_supervisor_cannot_create_a_cadre_outside_her_township_or_reuse_a_phone(
    client: TestClient,
    cast: Cast,
    db: Session,
) -> None:
    csrf = sign_in(client, cast.sup_t.phone)
    outside = client.post(
        "/admin/people",
        data={
            "csrf": csrf,
            "name": "钱",
            "phone": "13800000098",
            "password": "first-password-1",
            "areas": [VILLAGE_C],
        },
    )
    assert outside.status_code == 422
    taken = client.post(
        "/admin/people",
        data={
            "csrf": csrf,
            "name": "孙",
            "phone": cast.cadre_c.phone,
            "password": "first-password-1",
            "areas": [VILLAGE_A],
        },
    )
    assert taken.status_code == 422 and "已有账号" in taken.text
    short = client.post(
        "/admin/people",
        data={"csrf": csrf, "name": "李", "phone": "13800000097", "password": "short", "areas": [VILLAGE_A]},
    )
    assert short.status_code == 422
    db.rollback()
    assert db.exec(select(User).where(col(User.phone).in_(["13800000098", "13800000097"]))).all() == []


@pytest.mark.parametrize("phone", ["", "1234", "hello<b>x", "23800000096", "１３８０００００"])
def test_a_new_account_needs_a_mobile_number(client: TestClient, cast: Cast, db: Session, phone: str) -> None:
    csrf = sign_in(client, cast.sup_t.phone)
    form = {"csrf": csrf, "name": "钱", "phone": phone, "password": "first-password-1", "areas": [VILLAGE_A]}
    r = client.post("/admin/people", data=form)
    assert r.status_code == 422 and "请输入11位手机号" in r.text
    assert 'value="钱"' in r.text  # what was typed is kept
    db.rollback()
    assert db.exec(select(User).where(User.name == "钱")).all() == []


def test_a_password_reset_signs_the_cadre_out_everywhere(client: TestClient, cast: Cast, app) -> None:
    with TestClient(app=app) as phone:
        sign_in(phone, cast.cadre_a.phone)
        assert phone.get("/", follow_redirects=False).status_code == 200
        csrf = sign_in(client, cast.sup_t.phone)
        r = client.post(
            f"/admin/people/{cast.cadre_a.id}/password",
            data={"csrf": csrf, "password": NEW_PASSWORD},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert phone.get("/", follow_redirects=False).status_code in (302, 303, 401)
        bad = phone.post(
            "/login", data={"phone": cast.cadre_a.phone, "password": PASSWORD}, follow_redirects=False
        )
        assert bad.status_code == 422
        sign_in(phone, cast.cadre_a.phone, NEW_PASSWORD)


def test_a_deactivated_cadre_is_signed_out_and_her_village_shows_as_the_townships(
    client: TestClient,
    cast: Cast,
    app,
) -> None:
    with TestClient(app=app) as phone:
        sign_in(phone, cast.cadre_b.phone)
        csrf = sign_in(client, cast.sup_t.phone)
        client.post(
            f"/admin/people/{cast.cadre_b.id}/active", data={"csrf": csrf, "active": "0", "confirm": "1"}
        )
        assert phone.get("/", follow_redirects=False).status_code in (302, 303, 401)
        refused = phone.post(
            "/login", data={"phone": cast.cadre_b.phone, "password": PASSWORD}, follow_redirects=False
        )
        assert refused.status_code == 422
    board = client.get("/review").text
    assert 'id="unassigned"' in board and "西河村" in board.split('id="unassigned"')[1]
    assert "西河村" in client.get("/admin/people").text.split('id="uncovered"')[1].split("</div>")[0]


def test_reassigning_villages_moves_them_between_cadres(client: TestClient, cast: Cast, db: Session) -> None:
    csrf = sign_in(client, cast.sup_t.phone)
    r = client.post(
        f"/admin/people/{cast.cadre_a.id}/areas",
        data={"csrf": csrf, "areas": [VILLAGE_A, VILLAGE_B]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    db.rollback()
    assert sorted(db.exec(select(UserArea.area_code).where(UserArea.user_id == cast.cadre_a.id)).all()) == [
        VILLAGE_A,
        VILLAGE_B,
    ]
    assert (
        client.post(
            f"/admin/people/{cast.cadre_a.id}/areas", data={"csrf": csrf, "areas": [VILLAGE_C]}
        ).status_code
        == 422
    )


def test_a_supervisor_never_reaches_a_person_of_another_township(client: TestClient, cast: Cast) -> None:
    csrf = sign_in(client, cast.sup_t.phone)
    listing = client.get("/admin/people").text
    assert "王秀英" in listing and "张丽" not in listing and "吴静" not in listing
    assert client.get(f"/admin/people/{cast.cadre_c.id}").status_code == 404
    assert client.get(f"/admin/people/{cast.sup_u.id}").status_code == 404
    assert (
        client.post(f"/admin/people/{cast.cadre_c.id}/active", data={"csrf": csrf, "active": "0"}).status_code
        == 404
    )
    assert client.get("/admin/areas").status_code == 403


def test_a_cadre_cannot_manage_people(client: TestClient, cast: Cast) -> None:
    sign_in(client, cast.cadre_a.phone)
    assert client.get("/admin/people").status_code == 403
    assert client.get(f"/admin/people/{cast.cadre_b.id}").status_code == 403


def test_the_county_admin_manages_supervisors(client: TestClient, cast: Cast, db: Session) -> None:
    csrf = sign_in(client, cast.county.phone)
    listing = client.get("/admin/people").text
    assert "周敏" in listing and "吴静" in listing and "王秀英" not in listing
    r = client.post(
        "/admin/people",
        data={
            "csrf": csrf,
            "name": "郑",
            "phone": "13800000096",
            "password": "first-password-1",
            "areas": [TOWNSHIP_T],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    db.rollback()
    assert db.exec(select(User.role).where(User.phone == "13800000096")).one() == "township"
    assert client.get(f"/admin/people/{cast.cadre_a.id}").status_code == 404


def test_an_area_file_with_bad_lines_imports_nothing_and_names_each_line(
    client: TestClient, cast: Cast, db: Session
) -> None:
    csrf = sign_in(client, cast.county.phone)
    bad = (
        "代码,名称\n990101100003,新村\n99010110000X,坏代码\n990101100004,\n"
        "990201100001,外县村\n990101100003,重复\n"
    )
    r = client.post("/admin/areas", data={"csrf": csrf, "text": bad})
    assert r.status_code == 422
    problems = r.text.split('id="import-problems"')[1].split("</div>")[0]
    for line in (3, 4, 5, 6):
        assert f"第 {line} 行" in problems
    assert "第 2 行" not in problems
    db.rollback()
    assert db.get(Area, "990101100003") is None


def test_an_area_file_in_gbk_imports_and_updates(client: TestClient, cast: Cast, db: Session) -> None:
    csrf = sign_in(client, cast.county.phone)
    content = "990101100003,新村\n990101100001,东岭新村\n".encode("gb18030")
    r = client.post("/admin/areas", data={"csrf": csrf}, files={"file": ("areas.csv", content, "text/csv")})
    assert r.status_code == 200 and 'id="import-result"' in r.text
    db.rollback()
    assert db.get(Area, "990101100003").name == "新村"
    assert db.get(Area, VILLAGE_A).name == "东岭新村"


def test_deactivating_needs_a_tick_and_a_supervisor_is_told_what_happens_to_her_township(
    client: TestClient, cast: Cast, db: Session
) -> None:
    csrf = sign_in(client, cast.county.phone)
    page = client.get(f"/admin/people/{cast.sup_t.id}").text
    assert "该乡镇的统计和督办由县级查看" in page and "其负责村的待办事项" not in page
    untick = client.post(f"/admin/people/{cast.sup_t.id}/active", data={"csrf": csrf, "active": "0"})
    assert untick.status_code == 422 and "请先勾选确认" in untick.text
    db.rollback()
    assert db.get(User, cast.sup_t.id).active  # type: ignore[union-attr]
    done = client.post(
        f"/admin/people/{cast.sup_t.id}/active",
        data={"csrf": csrf, "active": "0", "confirm": "1"},
        follow_redirects=True,
    )
    assert "已停用并退出登录。" in done.text and "其村的待办事项" not in done.text


def test_people_are_listed_in_the_order_of_their_villages_codes(client: TestClient, cast: Cast) -> None:
    sign_in(client, cast.sup_t.phone)
    listing = client.get("/admin/people").text
    assert listing.index("王秀英") < listing.index("李桂兰")  # village A's cadre, then B's (not 李 before 王)
