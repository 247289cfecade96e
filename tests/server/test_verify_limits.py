"""POST …/verify re-reads a whole object (possibly many GiB): one at a time per exhibit
(409), JITC_MAX_CONCURRENT_VERIFIES at once across the app servers of the database (503 +
Retry-After). A refused request logs nothing; the gate is free again afterwards, also after
a failed re-read."""

from __future__ import annotations

import dataclasses

import pytest

from evidence import Digests, ExhibitKey, StorageUnavailableError
from server.config import Settings
from server.db import read_transaction
from server.errors import ConfigError
from server.repositories import leases as lease_repo
from server.services import content
from server.services.content import integrity
from server.services.leases import VERIFY_SLOT, DatabaseLeaseBook, verify_lease
from server.services.workspace import Workspace
from tests.evidence.support import pattern
from tests.server.helpers import error_code
from tests.server.test_content import Scene, entries, put, scene, url

__all__ = ["scene"]  # the fixture, used by name


def _verified(scene: Scene) -> int:
    client, world, case_id, _ = scene
    return sum(1 for e in entries(client, world, case_id) if e["type"] == "exhibit.verified")


def test_one_reverification_per_exhibit_and_a_cap_in_all(
    scene: Scene, workspace: Workspace
) -> None:
    client, world, case_id, exhibit_id = scene
    assert put(client, world, case_id, exhibit_id, pattern(5000)).status_code == 201
    headers = world.headers("NL", "prosecutor")
    assert workspace.settings.max_concurrent_verifies == 2
    other = DatabaseLeaseBook(workspace.engine)  # another app server on the database

    # A re-verification of this exhibit is under way (on the other server).
    running = other.acquire(verify_lease(exhibit_id))
    same = client.post(url(case_id, exhibit_id, "/verify"), headers=headers)
    assert same.status_code == 409
    assert error_code(same) == "verification_in_progress"
    running.release()

    # Two others fill the cap.
    slots = [other.take_slot(VERIFY_SLOT, 2) for _ in range(2)]
    busy = client.post(url(case_id, exhibit_id, "/verify"), headers=headers)
    assert busy.status_code == 503
    assert error_code(busy) == "verifications_busy"
    assert busy.headers["Retry-After"] == str(content.VERIFY_RETRY_AFTER)
    for slot in slots:
        assert slot is not None
        slot.release()
    assert _verified(scene) == 0  # refusals log nothing
    assert _verify_leases(workspace) == {}  # and hold nothing

    done = client.post(url(case_id, exhibit_id, "/verify"), headers=headers)
    assert done.status_code == 200, done.text
    assert _verified(scene) == 1
    assert _verify_leases(workspace) == {}


def _verify_leases(workspace: Workspace) -> dict[str, object]:
    with read_transaction(workspace.engine) as conn:
        return dict(lease_repo.held(conn, "verify"))


def test_the_gate_is_freed_after_a_failed_reread(
    scene: Scene, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, world, case_id, exhibit_id = scene
    assert put(client, world, case_id, exhibit_id, pattern(3000)).status_code == 201
    headers = world.headers("NL", "prosecutor")
    real = integrity.rehash

    def store_down(ws: Workspace, key: ExhibitKey) -> Digests | None:
        raise StorageUnavailableError("the evidence store cannot be reached")

    monkeypatch.setattr(integrity, "rehash", store_down)  # a failure path: storage is down
    failed = client.post(url(case_id, exhibit_id, "/verify"), headers=headers)
    assert failed.status_code == 503
    assert error_code(failed) == "storage_unavailable"
    assert _verify_leases(workspace) == {}
    monkeypatch.setattr(integrity, "rehash", real)
    workspace.settings = dataclasses.replace(workspace.settings, max_concurrent_verifies=1)
    for _ in range(3):  # one at a time, each freeing the gate for the next
        again = client.post(url(case_id, exhibit_id, "/verify"), headers=headers)
        assert again.status_code == 200, again.text
    assert _verified(scene) == 3


@pytest.mark.parametrize("raw", ["0", "x", "\u00b2"])
def test_bad_verify_cap_is_a_config_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="JITC_MAX_CONCURRENT_VERIFIES"):
        Settings.from_env({"JITC_MAX_CONCURRENT_VERIFIES": raw})
    assert Settings.from_env({"JITC_MAX_CONCURRENT_VERIFIES": "4"}).max_concurrent_verifies == 4
