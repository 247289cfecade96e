"""Bad input to ingest: each refused (or accepted) with its exact status, leaving no trace
in storage, in the custody log or in the writes-in-progress table.

On both databases and both stores.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

import anyio
import pytest
from sqlalchemy import func, select

from server.models import ContentUpload
from server.services.workspace import Workspace
from tests.evidence.support import Harness, MiB, pattern
from tests.server.helpers import World, create_case, error_code, register_exhibit
from tests.server.test_content import entries, put, repr_digest, types, url
from tests.server.testclient import TestClient

Scene = tuple[TestClient, World, str, str]


@pytest.fixture
def scene(content_client: TestClient, world: World) -> Scene:
    case_id = create_case(content_client, world)
    exhibit_id = register_exhibit(content_client, world, case_id)
    return content_client, world, case_id, exhibit_id


def writes_in_progress(ws: Workspace) -> int:
    with ws.engine.connect() as conn:
        count: int = conn.execute(select(func.count()).select_from(ContentUpload)).scalar_one()
    return count


class Snapshot:
    """What storage, the case log and the in-progress table hold, to compare after."""

    def __init__(self, scene: Scene, evidence: Harness, ws: Workspace) -> None:
        self.scene, self.evidence, self.ws = scene, evidence, ws
        client, world, case_id, _ = scene
        self.traces = evidence.traces()
        self.types = types(client, world, case_id)

    def assert_unchanged(self) -> None:
        client, world, case_id, exhibit_id = self.scene
        assert self.evidence.traces() == self.traces
        assert types(client, world, case_id) == self.types
        assert writes_in_progress(self.ws) == 0
        view = client.get(url(case_id, exhibit_id, ""), headers=world.headers("NL", "technician"))
        assert view.json()["content"] is None


def test_empty_file_is_accepted_with_size_zero(scene: Scene) -> None:
    client, world, case_id, exhibit_id = scene
    response = put(client, world, case_id, exhibit_id, b"", filename="empty.bin")
    assert response.status_code == 201, response.text
    assert response.json()["size"] == 0
    assert response.json()["sha256"] == hashlib.sha256(b"").hexdigest()
    download = client.get(url(case_id, exhibit_id), headers=world.headers("NL", "investigator"))
    assert download.status_code == 200
    assert download.content == b""


def test_declared_length_over_the_limit_is_413_before_storing(
    scene: Scene, evidence: Harness, workspace: Workspace
) -> None:
    workspace.settings = dataclasses.replace(workspace.settings, max_upload_bytes=1000)
    snapshot = Snapshot(scene, evidence, workspace)
    client, world, case_id, exhibit_id = scene
    response = put(client, world, case_id, exhibit_id, pattern(1001))
    assert response.status_code == 413
    assert error_code(response) == "content_too_large"
    snapshot.assert_unchanged()


def test_streamed_body_over_the_limit_is_413_and_nothing_stays(
    scene: Scene, evidence: Harness, workspace: Workspace
) -> None:
    workspace.settings = dataclasses.replace(workspace.settings, max_upload_bytes=2 * MiB)
    snapshot = Snapshot(scene, evidence, workspace)
    client, world, case_id, exhibit_id = scene

    def body() -> Iterator[bytes]:  # no Content-Length: chunked, the limit hits mid-body
        for _ in range(5):
            yield pattern(MiB)

    response = client.put(
        url(case_id, exhibit_id),
        content=body(),
        headers={**world.headers("NL", "technician"), "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 413
    assert error_code(response) == "content_too_large"
    snapshot.assert_unchanged()


async def _asgi_put_then_disconnect(
    app: Any, path: str, headers: dict[str, str], chunks: Sequence[bytes]
) -> list[dict[str, Any]]:
    """Send the body's first chunks, then the client goes away (http.disconnect)."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks
    ]
    messages.append({"type": "http.disconnect"})
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await anyio.sleep(3600)  # pragma: no cover - the app never asks again
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    return sent


def test_client_disconnect_mid_body_leaves_nothing(
    scene: Scene, evidence: Harness, workspace: Workspace
) -> None:
    snapshot = Snapshot(scene, evidence, workspace)
    client, world, case_id, exhibit_id = scene
    headers = {
        **world.headers("NL", "technician"),
        "Content-Type": "application/octet-stream",
        "Content-Length": str(8 * MiB),
    }
    sent = anyio.run(
        _asgi_put_then_disconnect,
        client.app,
        url(case_id, exhibit_id),
        headers,
        [pattern(MiB), pattern(MiB, seed=1)],
    )
    assert sent[0]["status"] == 400  # nobody is listening any more
    snapshot.assert_unchanged()


def test_wrong_declared_digest_is_422_logged_as_rejected_and_not_stored(
    scene: Scene, evidence: Harness, workspace: Workspace
) -> None:
    snapshot = Snapshot(scene, evidence, workspace)
    client, world, case_id, exhibit_id = scene
    data = pattern(6 * MiB + 1)  # more than one S3 part
    response = client.put(
        url(case_id, exhibit_id),
        content=data,
        headers={
            **world.headers("NL", "technician"),
            "Content-Type": "application/octet-stream",
            "Repr-Digest": repr_digest(b"something else"),
        },
    )
    assert response.status_code == 422
    assert error_code(response) == "digest_mismatch"
    assert evidence.traces() == snapshot.traces
    assert writes_in_progress(workspace) == 0
    logged = entries(client, world, case_id)
    assert [e["type"] for e in logged] == [*snapshot.types, "exhibit.ingest_rejected"]
    assert logged[-1]["data"] == {
        "reason": "sha256_mismatch",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "expected_sha256": hashlib.sha256(b"something else").hexdigest(),
    }
    # The exhibit still accepts its content.
    assert put(client, world, case_id, exhibit_id, data).status_code == 201


def test_malformed_declared_digest_is_400(scene: Scene, evidence: Harness, ws: Workspace) -> None:
    snapshot = Snapshot(scene, evidence, ws)
    client, world, case_id, exhibit_id = scene
    response = client.put(
        url(case_id, exhibit_id),
        content=b"abc",
        headers={**world.headers("NL", "technician"), "Repr-Digest": "sha-256=:AAAA:"},
    )
    assert response.status_code == 400
    assert error_code(response) == "bad_digest"
    snapshot.assert_unchanged()


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    return workspace


def test_upload_to_a_sealed_exhibit_is_409_and_leaves_nothing(
    scene: Scene, evidence: Harness, workspace: Workspace
) -> None:
    client, world, case_id, exhibit_id = scene
    sealed = client.post(
        url(case_id, exhibit_id, "/seal"),
        json={"reason": "imaging done elsewhere"},
        headers=world.headers("NL", "investigator"),
    )
    assert sealed.status_code == 200
    snapshot = Snapshot(scene, evidence, workspace)
    response = put(client, world, case_id, exhibit_id, pattern(1000))
    assert response.status_code == 409
    assert error_code(response) == "exhibit_sealed"
    snapshot.assert_unchanged()


def test_second_content_for_an_exhibit_is_409(scene: Scene, evidence: Harness) -> None:
    client, world, case_id, exhibit_id = scene
    assert put(client, world, case_id, exhibit_id, b"first").status_code == 201
    traces = evidence.traces()
    response = put(client, world, case_id, exhibit_id, b"second")
    assert response.status_code == 409
    assert error_code(response) == "content_exists"
    assert evidence.traces() == traces
    assert types(client, world, case_id).count("exhibit.ingested") == 1


def test_upload_by_a_state_that_does_not_own_the_exhibit_is_403(
    scene: Scene, evidence: Harness, workspace: Workspace
) -> None:
    snapshot = Snapshot(scene, evidence, workspace)
    client, world, case_id, exhibit_id = scene
    response = put(client, world, case_id, exhibit_id, b"x", by="DE")
    assert response.status_code == 403
    snapshot.assert_unchanged()


HOSTILE_NAMES = {
    "dot-dot": "../../../etc/passwd",
    "absolute": "/var/lib/jitc/objects/cases",
    "backslash": "..\\..\\boot.ini",
    "control": "report\x01\x07\x1b[31m\r\n\x7f.txt",
    "rtl-override": "invoice\u202egpj.exe",
    "long": "A" * 999 + "Z",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_NAMES))
def test_hostile_filename_is_stored_as_given_and_never_used_as_a_path(
    scene: Scene, evidence: Harness, name: str
) -> None:
    client, world, case_id, exhibit_id = scene
    filename = HOSTILE_NAMES[name]
    response = client.put(
        url(case_id, exhibit_id) + "?filename=" + quote(filename, safe=""),
        content=b"payload",
        headers={**world.headers("NL", "technician"), "Content-Type": "text/plain"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == filename
    ingested = entries(client, world, case_id)[-1]
    assert ingested["type"] == "exhibit.ingested"
    assert ingested["data"]["filename"] == filename
    # Stored under ids only: nothing of the name reaches storage.
    for trace in evidence.traces():
        assert "passwd" not in trace
        assert "boot" not in trace
        assert "AAAA" not in trace
        assert "invoice" not in trace
    # Shown safely: no separators, controls or bidi overrides in what is displayed.
    view = client.get(url(case_id, exhibit_id, ""), headers=world.headers("NL", "technician"))
    shown = view.json()["content"]["filename_display"]
    assert view.json()["content"]["filename"] == filename
    assert not any(c in shown for c in "/\\\x00\x01\x07\x1b\r\n\x7f\u202e")
    assert not shown.startswith(".")
    download = client.get(url(case_id, exhibit_id), headers=world.headers("NL", "investigator"))
    disposition = download.headers["content-disposition"]
    assert disposition.isascii()
    assert "\u202e" not in disposition
    assert "/" not in disposition.split("filename=")[1].split(";")[0]


def test_filename_with_nul_or_over_4096_characters_is_400(
    scene: Scene, evidence: Harness, workspace: Workspace
) -> None:
    snapshot = Snapshot(scene, evidence, workspace)
    client, world, case_id, exhibit_id = scene
    for filename in ("a\x00b", "x" * 4097):
        response = put(client, world, case_id, exhibit_id, b"x", filename=filename)
        assert response.status_code == 400
        assert error_code(response) == "bad_filename"
    snapshot.assert_unchanged()


def test_log_entries_stay_canonical_json_with_hostile_names(scene: Scene) -> None:
    client, world, case_id, exhibit_id = scene
    filename = HOSTILE_NAMES["control"]
    assert put(client, world, case_id, exhibit_id, b"x", filename=filename).status_code == 201
    response = client.get(f"/api/cases/{case_id}/log", headers=world.headers("NL", "prosecutor"))
    last = response.text.splitlines()[-1]
    assert "\n" not in last
    assert json.loads(last)["data"]["filename"] == filename
