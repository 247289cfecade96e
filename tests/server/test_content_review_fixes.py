"""Regression tests for the review of the evidence-content code, one per attack."""

from __future__ import annotations

from typing import Any

import pytest

from server.services import content
from server.services.workspace import Workspace
from tests.evidence.support import Harness
from tests.server.helpers import error_code
from tests.server.test_content import _key, entries, put, url
from tests.server.test_tus import TUS, Scene, create, patch, scene

__all__ = ["scene"]  # the fixture, re-used from test_tus


def test_a_colleague_cannot_append_to_or_end_someone_elses_upload(scene: Scene) -> None:
    client, world, case_id, exhibit_id = scene
    created = create(client, world, case_id, exhibit_id, 8)
    location = created.headers["location"]
    mallory = {**world.headers("NL", "investigator", sub="mallory"), **TUS}
    hijack = client.patch(
        location,
        content=b"evil!!!!",
        headers={
            **mallory,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert hijack.status_code == 404
    assert client.delete(location, headers=mallory).status_code == 404
    assert patch(client, world, location, 0, b"evidence").status_code == 204
    assert "exhibit.ingested" in [e["type"] for e in entries(client, world, case_id)]


def test_sealing_stops_an_upload_under_way(scene: Scene, evidence: Harness) -> None:
    client, world, case_id, exhibit_id = scene
    location = create(client, world, case_id, exhibit_id, 8).headers["location"]
    assert patch(client, world, location, 0, b"evid").status_code == 204
    sealed = client.post(
        url(case_id, exhibit_id, "/seal"),
        json={"reason": "done"},
        headers=world.headers("NL", "technician"),
    )
    assert sealed.status_code == 200, sealed.text
    refused = patch(client, world, location, 4, b"ence")
    assert refused.status_code == 409
    assert error_code(refused) == "exhibit_sealed"
    assert not evidence.store.exists(_key(case_id, exhibit_id))
    assert "exhibit.ingested" not in [e["type"] for e in entries(client, world, case_id)]


def test_a_huge_range_header_is_ignored_not_a_500(scene: Scene) -> None:
    client, world, case_id, exhibit_id = scene
    assert put(client, world, case_id, exhibit_id, b"evidence").status_code == 201
    response = client.get(
        url(case_id, exhibit_id),
        headers={**world.headers("NL", "investigator"), "Range": "bytes=" + "9" * 5000 + "-"},
    )
    # RFC 9110 14.2: a server MAY ignore a Range it cannot use; the whole content is sent
    # and the access logged as whole.
    assert response.status_code == 200
    assert response.content == b"evidence"
    assert entries(client, world, case_id)[-1]["data"]["range"] is None


def test_a_refused_store_disposal_lifts_its_fence(
    scene: Scene, evidence: Harness, workspace: Workspace
) -> None:
    client, world, case_id, exhibit_id = scene
    assert put(client, world, case_id, exhibit_id, b"evidence").status_code == 201
    # The database says no hold, but the object is still held (a release whose mirroring
    # onto the object failed): the store refuses, nothing is removed.
    evidence.store.set_legal_hold(_key(case_id, exhibit_id), True)
    prosecutor = world.headers("NL", "prosecutor")
    order = {"reason": "closed", "authority": "order 1"}
    refused = client.post(url(case_id, exhibit_id, "/dispose"), json=order, headers=prosecutor)
    assert refused.status_code == 409
    read = client.get(url(case_id, exhibit_id), headers=world.headers("NL", "investigator"))
    assert read.status_code == 200  # not "disposed": the fence was lifted
    hold = client.post(url(case_id, exhibit_id, "/hold"), json={"reason": "x"}, headers=prosecutor)
    assert hold.status_code == 200, hold.text


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


def test_uploads_in_progress_per_exhibit_are_bounded(scene: Scene) -> None:
    client, world, case_id, exhibit_id = scene
    for _ in range(content.MAX_WRITES_PER_EXHIBIT):
        assert create(client, world, case_id, exhibit_id, 8).status_code == 201
    refused = create(client, world, case_id, exhibit_id, 8)
    assert refused.status_code == 409
    assert error_code(refused) == "too_many_uploads"
