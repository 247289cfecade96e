"""Fixtures for the web workspace: the app with its pages, browsers (test clients that
keep cookies and sign in through the form), and the states of tests/server's World.

The pages run no SQL of their own (they call the services, whose SQL tests/server runs
on SQLite and PostgreSQL), so these tests use SQLite only.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette

from server.app import create_app
from server.services.workspace import Workspace
from server.web import WebConfig, mount_web
from tests.server.conftest import settings, sqlite_template, workspace, world
from tests.server.testclient import TestClient

__all__ = ["settings", "sqlite_template", "workspace", "world"]

SESSION_KEY = bytes(range(32))
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "jitc.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def web_app(ws: Workspace) -> Starlette:
    app = create_app(workspace=ws)
    mount_web(app, ws, config=WebConfig(session_key=SESSION_KEY))
    return app


@pytest.fixture
def app(workspace: Workspace) -> Starlette:
    return web_app(workspace)


class Browser:
    """A test client that keeps cookies like a browser and signs in through the form."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def csrf(self, path: str = "/sign-in") -> str:
        page = self.client.get(path)
        found = CSRF_FIELD.search(page.text)
        assert found is not None, page.text[:500]
        return found[1]

    def sign_in(self, token: str, *, next_path: str = "/cases") -> None:
        answer = self.client.post(
            "/sign-in",
            data={"token": token, "csrf": self.csrf(), "next": next_path},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text[:2000]
        assert answer.headers["location"] == next_path

    def post(self, path: str, data: dict[str, str | list[str]], *, page: str) -> object:
        """Submit a form of `page` (whose CSRF token it carries) to `path`."""
        form = {**data, "csrf": self.csrf(page)}
        return self.client.post(path, data=form, follow_redirects=False)


NewBrowser = Callable[[], Browser]


@pytest.fixture
def new_browser(app: Starlette) -> Iterator[NewBrowser]:
    clients: list[TestClient] = []

    def make() -> Browser:
        client = TestClient(app, base_url="http://testserver")
        client.__enter__()
        clients.append(client)
        return Browser(client)

    yield make
    for client in clients:
        client.__exit__(None, None, None)
