"""The app in-process (Litestar's TestClient) on the test database, with a signed-in client per cast member:
`pages.client(cast.cadre_a)` signs in through the real login form and knows the session's CSRF token."""

import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from backend.accounts.models import User
from backend.app import create_app
from backend.settings import Settings
from tests.conftest import PASSWORD

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class SignedIn:
    """A TestClient with a session cookie, posting forms with the CSRF token the page carries."""

    def __init__(self, client: TestClient[Litestar]) -> None:
        self.http = client
        self.csrf = ""

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.http.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any) -> Any:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf", self.csrf)
        return self.http.post(path, data=form, follow_redirects=False, **kwargs)


@dataclass
class Pages:
    """Hands out one signed-in client per user (and anonymous ones), all closed at the end of the test."""

    app: Litestar
    stack: ExitStack
    clients: dict[str, SignedIn] = field(default_factory=dict)

    def anonymous(self) -> SignedIn:
        return SignedIn(
            self.stack.enter_context(TestClient(app=self.app, base_url="http://testserver.local"))
        )

    def client(self, user: User, password: str = PASSWORD) -> SignedIn:
        if user.phone in self.clients:
            return self.clients[user.phone]
        signed = self.anonymous()
        response = signed.http.post(
            "/login", data={"phone": user.phone, "password": password}, follow_redirects=False
        )
        assert response.status_code == 303, response.text
        match = CSRF_META.search(signed.get("/settings").text)
        assert match is not None
        signed.csrf = match.group(1)
        self.clients[user.phone] = signed
        return signed


@pytest.fixture
def pages(settings: Settings, cast: Any) -> Iterator[Pages]:
    """The app on the test database (with the cast) served in-process."""
    app = create_app(settings, run_migrations=False)
    with ExitStack() as stack:
        yield Pages(app, stack)


__all__ = ["Pages", "SignedIn", "pages"]
