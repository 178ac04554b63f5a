"""The review pages over HTTP: who may open them, what a supervisor sees (and never sees) of another
township, the exports, and the audited line list."""

import io
import re
from collections.abc import Iterator
from datetime import date
from types import SimpleNamespace

import pytest
from litestar.testing import TestClient
from openpyxl import load_workbook
from sqlmodel import Session, select

from backend.accounts.models import AuditEntry
from backend.app import create_app
from backend.lib.clock import local_today
from backend.review.dashboard import sort_rows
from backend.review.periods import month_of, report_month
from backend.review.reports import township_report
from backend.settings import Settings
from tests.conftest import PASSWORD, TOWNSHIP_T, TOWNSHIP_U, VILLAGE_A, VILLAGE_B, VILLAGE_C, Cast
from tests.review_factory import make_october

OCT = "period=2026-10"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(app=create_app(settings, run_migrations=False)) as c:
        yield c


@pytest.fixture
def october(db: Session, cast: Cast) -> Cast:
    make_october(db, cast)
    return cast


def service_today(client: TestClient) -> date:
    """The app's date (Asia/Shanghai), which the pages use: not the machine's, which may be a day behind."""
    settings: Settings = client.app.state.suifang.settings
    return local_today(settings.timezone)


def sign_in(client: TestClient, phone: str) -> str:
    r = client.post("/login", data={"phone": phone, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/settings").text
    m = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert m
    return m.group(1)


def test_a_cadre_cannot_open_the_dashboard_the_report_or_an_export(client: TestClient, october: Cast) -> None:
    sign_in(client, october.cadre_a.phone)
    for path in (
        "/review",
        f"/review/report?{OCT}",
        f"/review/report.xlsx?{OCT}",
        f"/review/village/{VILLAGE_A}",
        "/review/escalations",
        "/review/county",
        "/review/linelist",
    ):
        assert client.get(path).status_code == 403, path


def test_the_supervisor_of_t_never_sees_a_number_name_or_row_of_u(
    client: TestClient, october: Cast, db: Session
) -> None:
    csrf = sign_in(client, october.sup_t.phone)
    pages = [
        client.get(p)
        for p in (
            f"/review?{OCT}",
            f"/review/report?{OCT}",
            f"/review/escalations?{OCT}",
            f"/review/village/{VILLAGE_A}",
            f"/review/report.csv?{OCT}",
        )
    ]
    assert all(p.status_code == 200 for p in pages)
    text = "".join(p.text for p in pages)
    assert "安娜" in text or "东岭村" in text
    for secret in ("艾拉", "南坪村", "乙镇", "张丽", VILLAGE_C, TOWNSHIP_U):
        assert secret not in text, secret
    wb = load_workbook(io.BytesIO(client.get(f"/review/report.xlsx?{OCT}").content))
    cells = " ".join(str(c.value) for ws in wb for row in ws.iter_rows() for c in row)
    assert "南坪村" not in cells and VILLAGE_C not in cells
    listing = client.post(
        "/review/linelist", data={"csrf": csrf, "period": "2026-10", "reason": "核对十月月报"}
    )
    assert listing.status_code == 200 and "安娜" in listing.text and "艾拉" not in listing.text
    # asking for U's places directly answers "not found"
    for path in (
        f"/review?area={TOWNSHIP_U}",
        f"/review/village/{VILLAGE_C}",
        f"/review/report?area={TOWNSHIP_U}",
        f"/review/report.xlsx?area={TOWNSHIP_U}",
        f"/review/escalations?area={TOWNSHIP_U}",
        "/review/county",
    ):
        assert client.get(path).status_code in (403, 404), path


def test_the_dashboard_lists_villages_and_cadres_and_sorts_by_a_link(
    client: TestClient, october: Cast
) -> None:
    sign_in(client, october.sup_t.phone)
    page = client.get(f"/review?{OCT}&sort=coverage&dir=desc").text
    assert '<svg class="chart"' in page and "王秀英" in page and "李桂兰" in page
    rows = re.findall(r'<tr data-code="(\d{12})"', page)
    assert rows[:2] in ([VILLAGE_A, VILLAGE_B], [VILLAGE_B, VILLAGE_A]) and set(rows) == {
        VILLAGE_A,
        VILLAGE_B,
    }
    by_name = re.findall(r'<tr data-code="(\d{12})"', client.get(f"/review?{OCT}&sort=name&dir=desc").text)
    assert by_name == [VILLAGE_B, VILLAGE_A]


def test_villages_sort_in_the_order_of_their_codes_as_the_report_lists_them() -> None:
    """Not by the code points of their names (北山村 before 东岭村 before 南坪村 means nothing to anyone)."""
    rows = [
        SimpleNamespace(code=code, name=name)
        for code, name in [("3", "北山村"), ("1", "南坪村"), ("2", "东岭村")]
    ]
    assert [r.code for r in sort_rows(rows, "name", "asc")] == ["1", "2", "3"]
    assert [r.code for r in sort_rows(rows, "name", "desc")] == ["3", "2", "1"]


def table_row(page: str, table_id: str, code: str) -> str:
    table = page[page.index(f'id="{table_id}"') :]
    table = table[: table.index("</table>")]
    m = re.search(rf'<tr data-code="{code}"[^>]*>(.*?)</tr>', table, re.S)
    assert m, (table_id, code)
    return m.group(1)


def test_the_xlsx_holds_the_same_numbers_as_the_page(client: TestClient, october: Cast) -> None:
    sign_in(client, october.sup_t.phone)
    page = client.get(f"/review/report?{OCT}").text
    wb = load_workbook(io.BytesIO(client.get(f"/review/report.xlsx?{OCT}").content))
    assert wb.sheetnames[:4] == ["随访覆盖率", "工作指标", "登记与结局", "死亡、转出与失访"]
    assert wb.worksheets[0]["A2"].font.bold  # formatted header row
    coverage, indicators, events, movements = wb.worksheets[:4]
    for row in coverage.iter_rows(min_row=3, values_only=True):
        cells = table_row(page, "t-coverage", str(row[0]))
        shown = [
            int(x)
            for x in re.findall(
                r'data-m="(?:due|on_time|late|overdue|missed|cancelled|pending)">(\d+)<', cells
            )
        ]
        assert shown == list(row[2:9])
    for row in indicators.iter_rows(min_row=3, values_only=True):
        cells = table_row(page, "t-indicators", str(row[0]))
        pairs = [(int(a), int(b)) for a, b in re.findall(r'data-num="(\d+)" data-den="(\d+)"', cells)]
        assert pairs == [(row[i], row[i + 1]) for i in range(2, len(row), 4)]
        starred = ["small-n" in td for td in re.findall(r'<td class="rate"[^>]*>(.*?)</td>', cells, re.S)]
        assert starred == [bool(row[i + 3]) for i in range(2, len(row), 4)]  # flagged as the page stars
    live_births_col = [c.value for c in events[2]].index("活产数")
    for row in events.iter_rows(min_row=3, values_only=True):
        m = re.search(r'data-m="live_births">(\d+)<', table_row(page, "t-events", str(row[0])))
        assert m and int(m[1]) == row[live_births_col]
    for row in movements.iter_rows(min_row=3, values_only=True):
        shown = [
            int(x) for x in re.findall(r'data-m="\w+">(\d+)<', table_row(page, "t-movements", str(row[0])))
        ]
        assert shown == list(row[2:])


def test_a_line_list_needs_a_reason_and_is_audited(client: TestClient, october: Cast, db: Session) -> None:
    csrf = sign_in(client, october.sup_t.phone)
    refused = client.post("/review/linelist", data={"csrf": csrf, "period": "2026-10", "reason": " "})
    assert refused.status_code == 422 and "用途" in refused.text
    assert not db.exec(select(AuditEntry).where(AuditEntry.action == "export_line_list")).all()
    given = client.post(
        "/review/linelist", data={"csrf": csrf, "period": "2026-10", "reason": "电话督促逾期随访"}
    )
    assert given.status_code == 200 and given.headers["content-type"].startswith("text/csv")
    assert "安娜" in given.content.decode("utf-8-sig")
    db.rollback()  # a fresh snapshot: the export was committed by the app's own session
    entry = db.exec(select(AuditEntry).where(AuditEntry.action == "export_line_list")).one()
    assert (
        entry.user_id == october.sup_t.id
        and "电话督促逾期随访" in entry.detail
        and entry.target_id == TOWNSHIP_T
    )
    assert entry.at is not None


def test_aggregate_exports_name_nobody(client: TestClient, october: Cast) -> None:
    sign_in(client, october.sup_t.phone)
    csv_text = client.get(f"/review/report.csv?{OCT}").content.decode("utf-8-sig")
    for name in ("安娜", "贝拉", "可拉", "多拉", "吉娜"):
        assert name not in csv_text


def test_the_county_admin_sees_townships_side_by_side_without_a_sex_ratio_under_1000_births(
    client: TestClient,
    october: Cast,
) -> None:
    sign_in(client, october.county.phone)
    page = client.get(f"/review/county?{OCT}").text
    assert "甲镇" in page and "乙镇" in page
    assert "出生数过少，无法计算" in page
    assert client.get(f"/review?area={TOWNSHIP_T}&{OCT}").status_code == 200


def test_report_numbers_match_the_service(db: Session, october: Cast, client: TestClient) -> None:
    sign_in(client, october.sup_t.phone)
    page = client.get(f"/review/report?{OCT}").text
    report = township_report(db, TOWNSHIP_T, month_of(date(2026, 10, 1)), service_today(client))
    m = re.search(r'data-m="due">(\d+)<', table_row(page, "t-coverage", TOWNSHIP_T))
    assert m and int(m[1]) == report.total.coverage.due


def test_the_escalation_list_names_each_case_and_who_answers_for_it(
    client: TestClient, cast: Cast, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses
    import uuid
    from datetime import UTC, datetime, timedelta

    from backend.cases import services
    from tests import review_factory as f

    today = service_today(client)
    monkeypatch.setattr(f, "WRITTEN_ON", today)
    # Due 20 days ago, no outcome recorded: the outcome item is overdue.
    late = f.make_pregnancy(
        db,
        cast,
        cast.cadre_a,
        village=VILLAGE_A,
        name="迟娟",
        lmp=today - timedelta(days=300),
        registered_on=today - timedelta(days=200),
    )
    # Born 50 days ago, never visited: the 1-month visit is 15 days overdue.
    born = f.make_pregnancy(
        db,
        cast,
        cast.cadre_b,
        village=VILLAGE_B,
        name="满月",
        lmp=today - timedelta(days=330),
        registered_on=today - timedelta(days=250),
    )
    f.make_outcome(db, cast, cast.cadre_b, born, today - timedelta(days=50), babies=[("2", 3100, True)])
    # Two phones edit her phone number: the edit made earlier on its device loses.
    ctx = cast.ctx(cast.cadre_a, db, today)
    t = datetime.now(UTC)
    services.edit_registration(
        db,
        dataclasses.replace(ctx, device_id="phone-2", recorded_at=t),
        "woman",
        late.woman_id,
        {"phone": "13911112222"},
        uuid.uuid4(),
    )
    services.edit_registration(
        db,
        dataclasses.replace(ctx, device_id="phone-1", recorded_at=t - timedelta(hours=1)),
        "woman",
        late.woman_id,
        {"phone": "13933334444"},
        uuid.uuid4(),
    )
    db.commit()
    sign_in(client, cast.sup_t.phone)
    page = client.get("/review/escalations").text

    def section(name: str) -> str:
        return page.split(f'id="{name}"')[1].split("</section>")[0]

    assert "满月" in section("esc-overdue") and "李桂兰" in section("esc-overdue")
    assert "<td>15</td>" in section("esc-overdue")
    assert "迟娟" in section("esc-outcome") and "王秀英" in section("esc-outcome")
    assert "迟娟" in section("esc-conflicts") and "手机号" in section("esc-conflicts")
    assert "满月" not in section("esc-outcome")


def test_a_new_record_shows_on_the_next_view_of_a_report(
    client: TestClient, october: Cast, db: Session
) -> None:
    from tests.review_factory import make_pregnancy

    sign_in(client, october.sup_t.phone)

    def registered() -> int:
        m = re.search(
            r'data-m="registrations">(\d+)<',
            table_row(client.get(f"/review/report?{OCT}").text, "t-events", TOWNSHIP_T),
        )
        assert m
        return int(m[1])

    assert registered() == 1
    db.rollback()  # drop the fixture's read snapshot: the app has written (the sign-in) since
    make_pregnancy(
        db,
        october,
        october.cadre_b,
        village=VILLAGE_B,
        name="新登记",
        lmp=date(2026, 8, 1),
        registered_on=date(2026, 10, 15),
    )
    assert registered() == 2


def test_the_overdue_badge_on_review_pages_matches_the_field_apps_count(
    client: TestClient, october: Cast, db: Session
) -> None:
    from backend.cases.queries import overdue_count

    sign_in(client, october.sup_t.phone)
    page = client.get(f"/review?{OCT}").text
    m = re.search(r'id="overdue-badge">(\d+)<', page)
    assert m and int(m[1]) == overdue_count(db, october.actor(october.sup_t, db).scope, service_today(client))


def test_the_dashboard_counts_a_new_pregnancy_on_the_next_view(
    client: TestClient, october: Cast, db: Session
) -> None:
    from tests.review_factory import make_pregnancy

    sign_in(client, october.sup_t.phone)

    def pregnant_in_b() -> int:
        row = re.search(
            rf'<tr data-code="{VILLAGE_B}"[^>]*>(.*?)</tr>', client.get(f"/review?{OCT}").text, re.S
        )
        assert row
        return int(re.findall(r"<td>(\d+)</td>", row.group(1))[0])

    before = pregnant_in_b()
    db.rollback()
    make_pregnancy(
        db,
        october,
        october.cadre_b,
        village=VILLAGE_B,
        name="新孕",
        lmp=date(2026, 8, 1),
        registered_on=date(2026, 10, 15),
    )
    assert pregnant_in_b() == before + 1


@pytest.mark.parametrize("period", ["0001-01", "0001-Q1", "0001", "9999", "mch0001", "2026-13"])
def test_a_period_out_of_range_shows_the_default_instead_of_failing(
    client: TestClient, october: Cast, period: str
) -> None:
    sign_in(client, october.sup_t.phone)
    paths = ["/review", "/review/report", "/review/report.xlsx", "/review/report.csv", "/review/escalations"]
    for path in paths:
        assert client.get(f"{path}?period={period}").status_code == 200, path
    client.cookies.clear()
    sign_in(client, october.county.phone)
    for path in ("/review", "/review/report", "/review/county"):
        assert client.get(f"{path}?period={period}").status_code == 200, path


def test_the_report_opens_on_the_month_being_filed(client: TestClient, october: Cast) -> None:
    """Until the 10th, when it is due, last month's report; this month's after."""
    sign_in(client, october.sup_t.phone)
    expected = report_month(service_today(client))
    page = client.get("/review/report").text
    assert f'value="{expected.key}" selected' in page


def test_a_conflicting_edit_names_the_field_and_whose_edit_lost_and_whose_won(
    client: TestClient, cast: Cast, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 督办 list of edits that lost a sync conflict names the field in the user's language (手机号, not
    the code "phone"), the value not kept and the value kept, and who made each and when."""
    import dataclasses
    import uuid
    from datetime import UTC, datetime, timedelta

    from backend.cases import services
    from tests import review_factory as f

    today = service_today(client)
    monkeypatch.setattr(f, "WRITTEN_ON", today)
    woman = f.make_pregnancy(
        db,
        cast,
        cast.cadre_a,
        village=VILLAGE_A,
        name="争娟",
        lmp=today - timedelta(days=100),
        registered_on=today - timedelta(days=50),
    )
    t = datetime(2026, 11, 23, 5, 45, tzinfo=UTC)  # 13:45 in Asia/Shanghai
    # The supervisor's edit is the later one and is kept; the cadre's, made an hour earlier, lost.
    services.edit_registration(
        db,
        dataclasses.replace(cast.ctx(cast.sup_t, db, today), device_id="web", recorded_at=t),
        "woman",
        woman.woman_id,
        {"phone": "13700000001"},
        uuid.uuid4(),
    )
    services.edit_registration(
        db,
        dataclasses.replace(
            cast.ctx(cast.cadre_a, db, today), device_id="phone-1", recorded_at=t - timedelta(hours=1)
        ),
        "woman",
        woman.woman_id,
        {"phone": "13700000002"},
        uuid.uuid4(),
    )
    db.commit()

    def section() -> str:
        page = client.get("/review/escalations").text
        return page.split('id="esc-conflicts"')[1].split("</section>")[0]

    sign_in(client, cast.sup_t.phone)
    zh = section()
    assert "争娟" in zh and "手机号" in zh
    assert "phone：" not in zh and ">phone" not in zh
    lost, won = zh.split('class="edit lost"')[1], zh.split('class="edit won"')[1]
    assert "137****0002" in lost and "王秀英" in lost and "12:45" in lost
    assert "137****0001" in won and "周敏" in won and "13:45" in won
    assert "未采用" in lost and "已采用" in won

    client.get("/lang/en")
    en = section()
    assert "Mobile" in en and "手机号" not in en and "phone:" not in en
    assert "Not kept" in en and "Kept" in en


def test_a_village_code_of_no_known_village_is_not_found(client: TestClient, october: Cast) -> None:
    sign_in(client, october.sup_t.phone)
    assert client.get(f"/review/village/{VILLAGE_A}").status_code == 200
    assert client.get(f"/review/village/{TOWNSHIP_T[:9]}099").status_code == 404
