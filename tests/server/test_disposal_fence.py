"""Disposal is decided under the case lock before any byte is destroyed: a judge's hold that
commits between the check and the deletion is seen, and a refused disposal lifts its fence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evidence import StorageUnavailableError
from server.db import write_transaction
from server.repositories import content as content_repo
from server.services.workspace import Workspace
from tests.evidence.support import Harness
from tests.server.helpers import error_code
from tests.server.test_content import Scene, _key, entries, put, scene, url

__all__ = ["scene"]  # the fixture, re-used from test_content

ORDER = {"reason": "case closed", "authority": "court order 7"}
HOLD = {"reason": "appeal", "authority": "court order 8"}


def test_a_hold_after_the_disposal_fence_is_refused(
    scene: Scene, evidence: Harness, workspace: Workspace
) -> None:
    client, world, case_id, exhibit_id = scene
    assert put(client, world, case_id, exhibit_id, b"evidence").status_code == 201
    # The state a disposal is in between its decision and the store deletion.
    with write_transaction(workspace.engine) as conn:
        content_repo.begin_disposal(conn, exhibit_id, now=datetime.now(UTC))
    prosecutor = world.headers("NL", "prosecutor")
    hold = client.post(url(case_id, exhibit_id, "/hold"), json=HOLD, headers=prosecutor)
    assert hold.status_code == 409
    read = client.get(url(case_id, exhibit_id), headers=world.headers("NL", "investigator"))
    assert read.status_code == 404
    assert error_code(read) == "content_disposed"
    # Disposing again completes it: the object goes and one exhibit.disposed is logged.
    done = client.post(url(case_id, exhibit_id, "/dispose"), json=ORDER, headers=prosecutor)
    assert done.status_code == 200, done.text
    assert not evidence.store.exists(_key(case_id, exhibit_id))
    assert [e["type"] for e in entries(client, world, case_id)].count("exhibit.disposed") == 1


def test_a_disposal_whose_store_step_failed_completes_on_retry(
    scene: Scene, evidence: Harness, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, world, case_id, exhibit_id = scene
    assert put(client, world, case_id, exhibit_id, b"evidence").status_code == 201
    prosecutor = world.headers("NL", "prosecutor")

    def unavailable(_key: object) -> object:
        raise StorageUnavailableError("store down")

    with monkeypatch.context() as patch:
        patch.setattr(workspace.store, "dispose", unavailable)
        failed = client.post(url(case_id, exhibit_id, "/dispose"), json=ORDER, headers=prosecutor)
    assert failed.status_code == 503, failed.text
    assert evidence.store.exists(_key(case_id, exhibit_id))
    assert "exhibit.disposed" not in [e["type"] for e in entries(client, world, case_id)]
    retried = client.post(url(case_id, exhibit_id, "/dispose"), json=ORDER, headers=prosecutor)
    assert retried.status_code == 200, retried.text
    assert not evidence.store.exists(_key(case_id, exhibit_id))


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
    hold = client.post(url(case_id, exhibit_id, "/hold"), json=HOLD, headers=prosecutor)
    assert hold.status_code == 200, hold.text
