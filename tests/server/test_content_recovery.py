"""A crash between storing an object and committing its entry, on both stores and databases.

The crash is staged by running the first two steps of an ingest (record the write, store
the bytes) and stopping there, as a killed process would.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest

from evidence import exhibit_key
from server.auth import Principal
from server.errors import ConflictError
from server.services import content
from server.services.content import ingest
from server.services.workspace import Workspace
from tests.evidence.support import Harness, pattern
from tests.server.helpers import World, create_case, register_exhibit
from tests.server.test_content import Scene, _key, entries, put, scene, url
from tests.server.test_content_bad_input import writes_in_progress
from tests.server.testclient import TestClient

__all__ = ["scene"]  # the fixture, re-used from test_content


def technician() -> Principal:
    return Principal("NL", "technician-nl", "technician", "jti-crash", int(time.time()) + 3600)


def _crash_after_store(ws: Workspace, case_id: str, exhibit_id: str, data: bytes) -> None:
    meta = content.ContentMeta("seized.img", "application/octet-stream", None)
    ingest.begin_write(ws, technician(), case_id, exhibit_id, meta, kind="put", length=None)
    ws.store.put_stream(exhibit_key(case_id, exhibit_id), [data])
    # ... and the process dies before the unit of work commits.


def test_interrupted_ingest_is_completed_by_recovery(
    content_client: TestClient, world: World, workspace: Workspace, evidence: Harness
) -> None:
    case_id = create_case(content_client, world)
    exhibit_id = register_exhibit(content_client, world, case_id)
    data = pattern(5000)
    _crash_after_store(workspace, case_id, exhibit_id, data)
    assert "exhibit.ingested" not in [e["type"] for e in entries(content_client, world, case_id)]
    report = content.sweep(workspace, grace=0)
    assert report.recovered == 1
    last = entries(content_client, world, case_id)[-1]
    assert last["type"] == "exhibit.ingested"
    assert last["actor"]["sub"] == "technician-nl"  # the uploader, as recorded
    assert last["data"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert last["data"]["recovered"] is True
    assert writes_in_progress(workspace) == 0
    assert evidence.store.exists(exhibit_key(case_id, exhibit_id))


def test_recovery_removes_the_object_of_an_exhibit_sealed_meanwhile(
    content_client: TestClient, world: World, workspace: Workspace, evidence: Harness
) -> None:
    case_id = create_case(content_client, world)
    exhibit_id = register_exhibit(content_client, world, case_id)
    _crash_after_store(workspace, case_id, exhibit_id, b"late bytes")
    sealed = content_client.post(
        url(case_id, exhibit_id, "/seal"),
        json={"reason": "done"},
        headers=world.headers("NL", "investigator"),
    )
    assert sealed.status_code == 200
    report = content.sweep(workspace, grace=0)
    assert report.orphans == 1
    assert not evidence.store.exists(exhibit_key(case_id, exhibit_id))
    assert writes_in_progress(workspace) == 0
    assert "exhibit.ingested" not in [e["type"] for e in entries(content_client, world, case_id)]


def test_recent_writes_are_left_alone_within_the_grace_period(
    content_client: TestClient, world: World, workspace: Workspace
) -> None:
    case_id = create_case(content_client, world)
    exhibit_id = register_exhibit(content_client, world, case_id)
    _crash_after_store(workspace, case_id, exhibit_id, b"in flight")
    assert content.sweep(workspace, grace=3600).recovered == 0
    assert writes_in_progress(workspace) == 1


def test_a_commit_that_fails_removes_the_new_object(
    content_client: TestClient,
    world: World,
    workspace: Workspace,
    evidence: Harness,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case_id = create_case(content_client, world)
    exhibit_id = register_exhibit(content_client, world, case_id)
    traces = evidence.traces()
    real_run = workspace.committer.run

    def sealed_meanwhile(case: str, work: object) -> object:
        if getattr(work, "__name__", "") == "work" and "ingest" in repr(work):
            raise ConflictError("sealed meanwhile", code="exhibit_sealed")
        return real_run(case, work)  # type: ignore[arg-type]

    monkeypatch.setattr(workspace.committer, "run", sealed_meanwhile)
    response = content_client.put(
        url(case_id, exhibit_id), content=b"bytes", headers=world.headers("NL", "technician")
    )
    assert response.status_code == 409
    assert evidence.traces() == traces
    assert writes_in_progress(workspace) == 0


def test_an_ingest_commit_that_fails_unexpectedly_keeps_the_object(
    scene: Scene, evidence: Harness, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, world, case_id, exhibit_id = scene
    real_run = workspace.committer.run

    def lost_connection(case: str, work: Any) -> Any:
        if getattr(work, "__qualname__", "").startswith("commit_ingest"):
            raise ConnectionResetError("connection lost during COMMIT")
        return real_run(case, work)

    monkeypatch.setattr(workspace.committer, "run", lost_connection)
    assert put(client, world, case_id, exhibit_id, b"evidence").status_code == 500
    monkeypatch.undo()
    # The object stays for the recovery sweep, which completes the ingest.
    assert evidence.store.exists(_key(case_id, exhibit_id))
    report = content.sweep(workspace, grace=0)
    assert report.recovered == 1
    assert "exhibit.ingested" in [e["type"] for e in entries(client, world, case_id)]
