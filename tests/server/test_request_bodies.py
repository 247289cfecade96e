"""Request bodies from hostile or broken clients, driven at the ASGI level so that a body
can stall or break off exactly where the test says: a stalled body ends with 408 and frees
its worker thread; a caller without a valid token never makes the server receive its
body; a client that leaves mid-body causes no 500 and no traceback; `/dispose` refuses
unknown fields, NUL and bidi controls like the other endpoints. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette

from server.app import create_app
from server.services.workspace import Workspace
from tests.server.helpers import World, create_case, error_code, register_exhibit
from tests.server.test_content import types, url
from tests.server.test_content_bad_input import writes_in_progress
from tests.server.testclient import TestClient

Receive = Callable[[], Awaitable[dict[str, Any]]]
IDLE = 0.3  # seconds: JITC_BODY_IDLE_TIMEOUT in these tests


@dataclasses.dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    received: int  # how many body messages the app took from the client

    def json(self) -> Any:
        return json.loads(self.body)


class Body:
    """A client's body: `parts`, then `end` ("stall": nothing more, ever; "leave": the
    client disconnects; "done": the body is complete)."""

    def __init__(self, parts: list[bytes], end: str) -> None:
        self.parts, self.end, self.received = list(parts), end, 0

    async def __call__(self) -> dict[str, Any]:
        if self.parts:
            self.received += 1
            part = self.parts.pop(0)
            more = bool(self.parts) or self.end != "done"
            return {"type": "http.request", "body": part, "more_body": more}
        if self.end == "leave":
            return {"type": "http.disconnect"}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


def ask(app: Starlette, method: str, path: str, headers: dict[str, str], body: Body) -> Answer:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    async def run() -> None:
        with anyio.fail_after(30):  # a generous bound: a hang fails instead of blocking
            await app(scope, body, send)

    anyio.run(run)
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    hdrs = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return Answer(start["status"], payload, hdrs, body.received)


@pytest.fixture
def app(workspace: Workspace) -> Starlette:
    workspace.settings = dataclasses.replace(workspace.settings, body_idle_timeout=IDLE)
    return create_app(workspace=workspace)


@pytest.fixture
def scene(app: Starlette, world: World) -> tuple[TestClient, str, str]:
    client = TestClient(app, raise_server_exceptions=False)
    case_id = create_case(client, world)
    return client, case_id, register_exhibit(client, world, case_id)


def _json(headers: dict[str, str], length: int) -> dict[str, str]:
    return {**headers, "content-type": "application/json", "content-length": str(length)}


def _borrowed(app: Starlette) -> tuple[float, float]:
    return app.state.limiter.borrowed_tokens, app.state.upload_limiter.borrowed_tokens


def test_a_stalled_json_body_is_408(
    app: Starlette, world: World, scene: tuple[TestClient, str, str]
) -> None:
    client, case_id, _ = scene
    before = types(client, world, case_id)
    answer = ask(
        app,
        "POST",
        f"/api/cases/{case_id}/notes",
        _json(world.headers("NL", "investigator"), 100),
        Body([b'{"text": "half'], "stall"),
    )
    assert answer.status == 408
    assert answer.json()["error"]["code"] == "body_timeout"
    assert answer.headers["connection"] == "close"
    assert _borrowed(app) == (0, 0)
    assert types(client, world, case_id) == before


def test_a_stalled_upload_is_408_and_frees_its_thread(
    app: Starlette, world: World, workspace: Workspace, scene: tuple[TestClient, str, str]
) -> None:
    client, case_id, exhibit_id = scene
    headers = {
        **world.headers("NL", "technician"),
        "content-type": "application/octet-stream",
        "content-length": "1000",
    }
    answer = ask(app, "PUT", url(case_id, exhibit_id), headers, Body([b"x" * 10], "stall"))
    assert answer.status == 408, answer.body
    assert answer.json()["error"]["code"] == "body_timeout"
    assert _borrowed(app) == (0, 0)
    assert writes_in_progress(workspace) == 0
    view = client.get(url(case_id, exhibit_id, ""), headers=world.headers("NL", "technician"))
    assert view.json()["content"] is None


def test_a_stalled_tus_patch_is_408_and_keeps_what_arrived(
    app: Starlette, world: World, scene: tuple[TestClient, str, str]
) -> None:
    client, case_id, exhibit_id = scene
    tech = {**world.headers("NL", "technician"), "Tus-Resumable": "1.0.0"}
    created = client.post(
        url(case_id, exhibit_id, "/uploads"), headers={**tech, "Upload-Length": "100"}
    )
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    headers = {
        **{k.lower(): v for k, v in tech.items()},
        "content-type": "application/offset+octet-stream",
        "upload-offset": "0",
        "content-length": "100",
    }
    answer = ask(app, "PATCH", location, headers, Body([b"y" * 40], "stall"))
    assert answer.status == 408, answer.body
    assert answer.headers["tus-resumable"] == "1.0.0"
    assert _borrowed(app) == (0, 0)
    head = client.head(location, headers=tech)
    assert head.headers["upload-offset"] == "40"


@pytest.mark.parametrize("token", ["none", "forged"])
def test_the_token_is_checked_before_a_json_body_is_received(
    app: Starlette, world: World, scene: tuple[TestClient, str, str], token: str
) -> None:
    _, case_id, _ = scene
    headers = {} if token == "none" else {"Authorization": "Bearer " + "e30.e30.AAAA"}
    body = Body([b" " * 65536] * 16 + [b"{}"], "done")
    answer = ask(app, "POST", f"/api/cases/{case_id}/notes", _json(headers, 16 * 65536 + 2), body)
    assert answer.status == 401
    assert answer.received == 0  # not one byte of the body was taken in


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_client_leaving_mid_body_causes_no_500_and_no_traceback(
    app: Starlette,
    world: World,
    workspace: Workspace,
    scene: tuple[TestClient, str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, case_id, exhibit_id = scene
    before = types(client, world, case_id)
    caplog.set_level(logging.INFO)
    note = ask(
        app,
        "POST",
        f"/api/cases/{case_id}/notes",
        _json(world.headers("NL", "investigator"), 100),
        Body([b'{"text": "a'], "leave"),
    )
    content = ask(
        app,
        "PUT",
        url(case_id, exhibit_id),
        {
            **world.headers("NL", "technician"),
            "content-type": "application/octet-stream",
            "content-length": "1000",
        },
        Body([b"z" * 100], "leave"),
    )
    for answer in (note, content):
        assert answer.status < 500
    _no_traceback(caplog)
    assert _borrowed(app) == (0, 0)
    assert writes_in_progress(workspace) == 0
    assert types(client, world, case_id) == before


@pytest.mark.parametrize(
    "order",
    [
        {"reason": "closed", "authority": "court order 7", "removed": True},
        {"reason": "clo\x00sed", "authority": "court order 7"},
        {"reason": "closed", "authority": "court \u202eorder 7"},
        {"reason": "closed\u2066", "authority": "court order 7"},
        {"reason": "closed"},
        {"reason": "", "authority": "court order 7"},
    ],
)
def test_dispose_validates_its_body(
    world: World, scene: tuple[TestClient, str, str], order: dict[str, Any]
) -> None:
    client, case_id, exhibit_id = scene
    put = client.put(
        url(case_id, exhibit_id),
        content=b"evidence",
        headers={**world.headers("NL", "technician"), "Content-Type": "text/plain"},
    )
    assert put.status_code == 201, put.text
    before = types(client, world, case_id)
    refused = client.post(
        url(case_id, exhibit_id, "/dispose"), json=order, headers=world.headers("NL", "prosecutor")
    )
    assert refused.status_code == 400, refused.text
    assert error_code(refused) == "invalid_request"
    assert types(client, world, case_id) == before
    # Without a token the answer is 401, whatever the body holds.
    anonymous = client.post(url(case_id, exhibit_id, "/dispose"), json=order)
    assert anonymous.status_code == 401
    # Another party's prosecutor may not dispose of NL's exhibit: told so (403) before
    # anything about the body, and nothing is logged.
    foreign = client.post(
        url(case_id, exhibit_id, "/dispose"), json=order, headers=world.headers("DE", "prosecutor")
    )
    assert foreign.status_code == 403, foreign.text
    assert types(client, world, case_id) == before
