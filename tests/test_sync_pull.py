"""GET /sync/pull: the cases of the user's scope changed since a cursor, as complete snapshots; cases that
left the scope come back as removed (PROTOCOL.md §6). Runs on SQLite and PostgreSQL."""

import gzip
import uuid
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from backend.accounts.models import User
from backend.settings import Settings
from tests.conftest import VILLAGE_B, VILLAGE_C, Cast
from tests.sync_support import (
    Phone,
    app_client,
    correct_op,
    edit_op,
    op,
    register_op,
    server_today,
    statuses,
    visit_op,
)


def transfer_op(pregnancy_id: str, to_village: str) -> dict[str, object]:
    return op(
        "close",
        {
            "id": str(uuid.uuid4()),
            "pregnancy_id": pregnancy_id,
            "kind": "transferred",
            "closed_on": server_today().isoformat(),
            "to_village_code": to_village,
            "reason": "随夫迁居",
        },
    )


def test_a_pull_returns_what_was_pushed_and_nothing_from_another_village_or_township(
    settings: Settings, cast: Cast, db: Session
) -> None:
    today = server_today()
    mine = register_op()
    pid = mine["data"]["id"]
    visit = visit_op(pid, today - timedelta(days=2), danger_signs="头痛")
    with app_client(settings) as client:
        Phone(client, "13800000002").push([register_op(village=VILLAGE_B)])
        Phone(client, "13800000003").push([register_op(village=VILLAGE_C)])
        phone = Phone(client, "13800000001")
        assert statuses(phone.push([mine, visit])) == ["applied", "applied"]
        cases, removed, _ = phone.pull_all()
    assert list(cases) == [pid] and removed == []
    case = cases[pid]
    assert case["village_code"] == mine["data"]["village_code"]
    assert case["woman"]["id"] == mine["data"]["woman_id"]
    assert case["woman"]["name"] == mine["data"]["name"]
    assert [v["id"] for v in case["visits"]] == [visit["data"]["id"]]
    assert case["visits"][0]["danger_signs"] == "头痛"
    assert case["risks"][0]["colour"] == "green"
    assert {i["kind"] for i in case["items"]} >= {"village", "outcome"}
    assert all(
        i["state"] in ("upcoming", "due", "overdue", "done_on_time", "done_late", "missed", "cancelled")
        for i in case["items"]
    )
    assert any(i.get("done_on") == visit["data"]["visited_on"] for i in case["items"])


def test_a_snapshot_masks_the_id_number_and_gives_the_clear_phone_to_the_cadre_only(
    settings: Settings, cast: Cast, db: Session
) -> None:
    reg = register_op(id_number="990101199001010027", birth_date="", phone="13912345678")
    with app_client(settings) as client:
        cadre = Phone(client, "13800000001")
        body = cadre.push([reg])
        assert statuses(body) == ["applied"], body
        raw = client.get("/sync/pull", params={"cursor": "0"})
        cadre_case = raw.json()["cases"][0]
        supervisor_case = Phone(client, "13800000010").pull()["cases"][0]
    assert "990101199001010027" not in raw.text
    assert cadre_case["woman"]["id_masked"] == "990101********0027"
    assert cadre_case["woman"]["phone"] == "13912345678"
    assert supervisor_case["woman"]["phone_masked"] == "139****5678"
    assert "phone" not in supervisor_case["woman"]


def test_a_case_transferred_to_another_village_is_removed_for_the_old_one_and_appears_for_the_new(
    settings: Settings, cast: Cast, db: Session
) -> None:
    reg = register_op()
    pid = reg["data"]["id"]
    with app_client(settings) as client:
        cadre_a = Phone(client, "13800000001")
        cadre_a.push([reg])
        _, _, cursor_a = cadre_a.pull_all()
        supervisor = Phone(client, "13800000010")
        _, _, cursor_t = supervisor.pull_all()
        cadre_a = Phone(client, "13800000001")
        assert statuses(cadre_a.push([transfer_op(pid, VILLAGE_B)])) == ["applied"]
        cases_a, removed_a, _ = cadre_a.pull_all(cursor_a)
        cases_b, removed_b, _ = Phone(client, "13800000002").pull_all()
        cases_t, removed_t, _ = Phone(client, "13800000010").pull_all(cursor_t)
    assert (cases_a, removed_a) == ({}, [pid])
    assert list(cases_b) == [pid] and cases_b[pid]["village_code"] == VILLAGE_B and removed_b == []
    assert list(cases_t) == [pid] and removed_t == []  # still in the supervisor's township


def test_a_case_transferred_to_another_township_is_removed_for_the_old_supervisor(
    settings: Settings, cast: Cast, db: Session
) -> None:
    reg = register_op()
    pid = reg["data"]["id"]
    with app_client(settings) as client:
        Phone(client, "13800000001").push([reg])
        _, _, cursor_t = Phone(client, "13800000010").pull_all()
        Phone(client, "13800000001").push([transfer_op(pid, VILLAGE_C)])
        cases_t, removed_t, _ = Phone(client, "13800000010").pull_all(cursor_t)
        cases_u, _, _ = Phone(client, "13800000011").pull_all()
    assert (cases_t, removed_t) == ({}, [pid])
    assert list(cases_u) == [pid]


def test_an_incremental_pull_holds_only_cases_changed_since_the_cursor(
    settings: Settings, cast: Cast, db: Session
) -> None:
    first, second = register_op(), register_op()
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        phone.push([first, second])
        _, _, cursor = phone.pull_all()
        nothing, _, same = phone.pull_all(cursor)
        phone.push([visit_op(second["data"]["id"], server_today())])
        changed, _, _ = phone.pull_all(cursor)
    assert nothing == {} and same == cursor
    assert list(changed) == [second["data"]["id"]]
    assert len(changed[second["data"]["id"]]["visits"]) == 1


def test_pages_cover_every_case_once_and_say_when_more_follow(
    settings: Settings, cast: Cast, db: Session
) -> None:
    regs = [register_op() for _ in range(7)]
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        phone.push(regs)
        seen: list[str] = []
        cursor, pages = "0", 0
        while True:
            page = phone.pull(cursor, limit=3)
            seen += [c["id"] for c in page["cases"]]
            cursor, pages = page["cursor"], pages + 1
            if not page["more"]:
                break
    assert sorted(seen) == sorted(r["data"]["id"] for r in regs)
    assert pages == 3


def test_a_woman_edit_reaches_the_next_pull(settings: Settings, cast: Cast, db: Session) -> None:
    reg = register_op()
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        phone.push([reg])
        _, _, cursor = phone.pull_all()
        edit = edit_op("woman", reg["data"]["woman_id"], datetime.now().astimezone(), phone="13700001111")
        assert statuses(phone.push([edit])) == ["applied"]
        cases, _, _ = phone.pull_all(cursor)
    assert cases[reg["data"]["id"]]["woman"]["phone"] == "13700001111"


def test_the_pull_is_gzip_compressed_for_a_client_that_accepts_it(
    settings: Settings, cast: Cast, db: Session
) -> None:
    with app_client(settings) as client:
        phone = Phone(client, "13800000001")
        phone.push([register_op() for _ in range(5)])
        answer = client.get("/sync/pull", headers={"Accept-Encoding": "gzip"})
        plain = client.get("/sync/pull", headers={"Accept-Encoding": "identity"})
    assert answer.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert answer.json() == plain.json() | {"server_time": answer.json()["server_time"]}
    assert len(gzip.compress(plain.content)) < len(plain.content)


def test_a_push_with_a_cursor_brings_the_first_pull_page_in_the_same_round_trip(
    settings: Settings, cast: Cast, db: Session
) -> None:
    reg = register_op()
    with app_client(settings) as client:
        body = Phone(client, "13800000001").push([reg], cursor="0")
    assert [c["id"] for c in body["pull"]["cases"]] == [reg["data"]["id"]]
    assert body["pull"]["more"] is False


def test_a_bad_cursor_is_a_problem_document_and_a_signed_out_pull_a_401(
    settings: Settings, cast: Cast, db: Session
) -> None:
    with app_client(settings) as client:
        Phone(client, "13800000001")
        bad = client.get("/sync/pull", params={"cursor": "abc"})
        bad_limit = client.get("/sync/pull", params={"limit": "many"})
        client.cookies.clear()
        signed_out = client.get("/sync/pull")
    assert (bad.status_code, bad_limit.status_code, signed_out.status_code) == (400, 400, 401)
    assert bad.headers["content-type"].startswith("application/problem+json")


def test_a_complete_pull_counts_as_a_sync_for_the_supervisor(
    settings: Settings, cast: Cast, db: Session
) -> None:
    with app_client(settings) as client:
        Phone(client, "13800000002").pull_all()
    db.rollback()
    db.expire_all()
    user = db.get(User, cast.cadre_b.id)
    assert user is not None and user.last_sync_at is not None


@pytest.mark.parametrize("db_kind", ["postgres"])  # SQLite has one writer at a time: nothing to hold back
def test_on_postgresql_a_transaction_writing_the_change_feed_holds_back_cursors_until_it_ends(
    settings: Settings, cast: Cast, db: Session, db_kind: str
) -> None:
    """A cursor must never pass a change whose transaction is still open (PostgreSQL hands out sequence
    numbers before commit): a writer holds the feed lock shared until it ends; a pull takes it exclusively."""
    assert db_kind == "postgres"
    from sqlalchemy import text

    from backend.cases import forms, services
    from backend.cases.schedule_store import FEED_LOCK

    engine = db.get_bind()
    raw = register_op()["data"]
    with Session(engine) as writer, Session(engine) as reader:
        services.register_pregnancy(writer, cast.ctx(cast.cadre_a, writer), forms.read_registration(raw))
        writer.flush()
        taken = reader.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": FEED_LOCK}).scalar()
        assert taken is False
        writer.commit()
        taken = reader.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": FEED_LOCK}).scalar()
        assert taken is True
        reader.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": FEED_LOCK})


@pytest.mark.parametrize("db_kind", ["postgres"])  # SQLite has one writer at a time: nothing to hold back
def test_on_postgresql_a_sync_batch_writing_the_change_feed_holds_back_cursors_until_it_commits(
    settings: Settings, cast: Cast, db: Session, db_kind: str
) -> None:
    """The same for a pushed batch, whose change-feed rows are written with one statement, not as objects."""
    assert db_kind == "postgres"
    from datetime import UTC, datetime

    from sqlalchemy import text

    from backend.cases.schedule_store import FEED_LOCK
    from backend.lib.fieldcrypt import FieldCipher
    from sync.apply import BatchContext, apply_batch
    from tests.conftest import TEST_SECRET

    engine = db.get_bind()
    reg = register_op()
    with Session(engine) as writer, Session(engine) as reader:
        batch = BatchContext(
            actor=cast.actor(cast.cadre_a, writer),
            cipher=FieldCipher(TEST_SECRET),
            today=server_today(),
            received_at=datetime.now(UTC),
        )
        ops = [reg, visit_op(reg["data"]["id"], server_today())]
        assert [r["status"] for r in apply_batch(writer, batch, ops)] == ["applied", "applied"]
        taken = reader.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": FEED_LOCK}).scalar()
        assert taken is False
        writer.commit()
        taken = reader.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": FEED_LOCK}).scalar()
        assert taken is True
        reader.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": FEED_LOCK})


def test_a_snapshot_tells_the_gestational_ages_and_the_high_risk_newborn_as_the_records_now_read(
    settings: Settings, cast: Cast, db: Session
) -> None:
    """A birth at 38+0 weeks amended to 35+0: the outcome's GA and the baby's high-risk mark follow the
    amendment (they were sent as stored when the outcome was recorded)."""
    today = server_today()
    lmp = today - timedelta(days=300)
    reg = register_op(registered_on=lmp + timedelta(days=56), lmp=lmp.isoformat())
    pid = reg["data"]["id"]
    birth = op(
        "outcome",
        {
            "id": str(uuid.uuid4()),
            "pregnancy_id": pid,
            "outcome_on": (lmp + timedelta(days=38 * 7)).isoformat(),
            "outcome_type": "live_birth",
            "n_babies": "1",
            "babies-0-sex": "2",
            "babies-0-weight_g": "3200",
        },
    )
    amend = correct_op(
        "outcome",
        birth["data"]["id"],
        "amend",
        "日期记错",
        outcome_on=(lmp + timedelta(days=35 * 7)).isoformat(),
    )
    with app_client(settings) as client:
        cadre = Phone(client, "13800000001")
        assert statuses(cadre.push([reg, birth])) == ["applied", "applied"]
        assert cadre.pull()["cases"][0]["infants"][0].get("high_risk") is None  # 38+0, 3200 g: not
        assert statuses(cadre.push([amend])) == ["applied"]
        case = cadre.pull()["cases"][0]
    assert case["outcome"]["ga_days"] == 35 * 7
    assert case["infants"][0]["high_risk"] is True
