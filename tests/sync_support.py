"""Helpers for the sync tests: a signed-in phone talking PROTOCOL.md to the app, and operation builders with
the HTML form field names."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

from litestar.testing import TestClient

from backend.app import create_app
from backend.lib.clock import local_today
from backend.settings import Settings
from tests.conftest import PASSWORD, VILLAGE_A


def server_today() -> date:
    return local_today("Asia/Shanghai")


@contextmanager
def app_client(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(settings, run_migrations=False)) as client:
        yield client


class Phone:
    """One device of one signed-in user: pushes batches and pulls, as the PWA does."""

    def __init__(self, client: TestClient[Any], phone_number: str, device_id: str | None = None) -> None:
        self.client = client
        self.device_id = device_id or f"dev-{uuid.uuid4().hex[:8]}"
        self.client.cookies.clear()
        answer = client.post(
            "/login", data={"phone": phone_number, "password": PASSWORD}, follow_redirects=False
        )
        assert answer.status_code == 303, answer.text
        session = client.get("/sync/session").json()
        self.user_id = session["user_id"]
        self.csrf = session["csrf_token"]

    def push_raw(self, body: Any, **headers: str) -> Any:
        return self.client.post("/sync/push", json=body, headers={"X-CSRF-Token": self.csrf, **headers})

    def push(self, ops: list[dict[str, Any]], **envelope: Any) -> dict[str, Any]:
        answer = self.push_raw({"v": 1, "device_id": self.device_id, "ops": ops, **envelope})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        assert len(body["results"]) == len(ops)
        return body

    def pull(self, cursor: str = "0", limit: int = 100) -> dict[str, Any]:
        answer = self.client.get("/sync/pull", params={"cursor": cursor, "limit": limit})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def pull_all(self, cursor: str = "0") -> tuple[dict[str, dict[str, Any]], list[str], str]:
        """Every page from `cursor`: the latest snapshot of each case, the removed ids, the final cursor."""
        cases: dict[str, dict[str, Any]] = {}
        removed: list[str] = []
        while True:
            page = self.pull(cursor)
            for case in page["cases"]:
                cases[case["id"]] = case
            removed += page["removed"]
            cursor = page["cursor"]
            if not page["more"]:
                return cases, removed, cursor


def op(
    kind: str, data: dict[str, Any], *, recorded_at: datetime | None = None, **extra: Any
) -> dict[str, Any]:
    when = recorded_at or datetime.now().astimezone()
    return {"op_id": str(uuid.uuid4()), "kind": kind, "recorded_at": when.isoformat(), "data": data, **extra}


def register_op(
    *, village: str = VILLAGE_A, registered_on: date | None = None, **fields: Any
) -> dict[str, Any]:
    registered = registered_on or server_today() - timedelta(days=20)
    data = {
        "id": str(uuid.uuid4()),
        "woman_id": str(uuid.uuid4()),
        "name": f"测试{uuid.uuid4().hex[:8]}",  # 4 hex digits can repeat: a "duplicate"
        "birth_date": "1995-03-04",
        "phone": "13912345678",
        "village_code": village,
        "lmp": (registered - timedelta(days=70)).isoformat(),
        "gravidity": "2",
        "parity": "1",
        "registered_on": registered.isoformat(),
        "colour": "green",
    }
    data.update(fields)
    return op("register", data)


def visit_op(pregnancy_id: str, visited_on: date, **fields: Any) -> dict[str, Any]:
    data = {
        "id": str(uuid.uuid4()),
        "pregnancy_id": pregnancy_id,
        "visited_on": visited_on.isoformat(),
        "kind": "home",
        "bp_systolic": "118",
        "bp_diastolic": "76",
        "weight_kg": "58.5",
    }
    data.update(fields)
    return op("visit", data)


def risk_op(pregnancy_id: str, assessed_on: date, colour: str = "yellow") -> dict[str, Any]:
    return op(
        "risk",
        {
            "id": str(uuid.uuid4()),
            "pregnancy_id": pregnancy_id,
            "assessed_on": assessed_on.isoformat(),
            "colour": colour,
        },
    )


def edit_op(target_type: str, target_id: str, recorded_at: datetime, **changes: str) -> dict[str, Any]:
    return op(
        "edit_registration",
        {"id": str(uuid.uuid4()), "target_type": target_type, "target_id": target_id, "changes": changes},
        recorded_at=recorded_at,
    )


def correct_op(target_type: str, target_id: str, kind: str, reason: str, **changes: str) -> dict[str, Any]:
    """更正 (kind amend, with `changes`) or 作废 (kind void) of a stored record."""
    data: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "target_type": target_type,
        "target_id": target_id,
        "kind": kind,
        "reason": reason,
    }
    if changes:
        data["changes"] = changes
    return op("correct", data)


def statuses(body: dict[str, Any]) -> list[str]:
    return [r["status"] for r in body["results"]]
