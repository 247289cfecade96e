"""Ingests with several app servers on one database (ADR 0036), and the store's failures
the server must read right (ADR 0025): on both databases and both stores.

- A write whose object may be created and logged right now (a PUT, a tus finish) holds
  its ingest lease; recovery on any server leaves it alone, and a live write finding
  recovery at it answers 409 and completes when sent again.
- A PUT whose store failed keeps its record, since the object may exist: recovery
  completes it. Recovery gives the object its retention before logging it.
- A damaged upload answers 500 upload_corrupt; a digest mismatch found by a process that
  did not hash the first bytes names size and SHA-256 only.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from evidence import Digests, ExhibitKey, Lease, StorageUnavailableError, exhibit_key
from server.models import ContentUpload, table
from server.models import Lease as LeaseRow
from server.services import content
from server.services.content import ingest
from server.services.leases import DatabaseLeaseBook, ingest_lease
from server.services.workspace import Workspace
from tests.evidence.support import Harness, MiB, pattern
from tests.server.helpers import error_code, quiet_client
from tests.server.test_content import Scene, _key, entries, put, scene, url
from tests.server.test_content_bad_input import writes_in_progress
from tests.server.test_content_recovery import _crash_after_store, technician
from tests.server.test_tus import create, patch

__all__ = ["scene"]  # the fixture, used by name


def _write_ids(ws: Workspace) -> list[str]:
    with ws.engine.connect() as conn:
        return [str(x) for x in conn.execute(select(table(ContentUpload).c.id)).scalars()]


def _expire(ws: Workspace, name: str) -> None:
    with ws.engine.begin() as conn:
        conn.execute(
            update(table(LeaseRow))
            .where(table(LeaseRow).c.name == name)
            .values(expires_at=datetime.now(UTC) - timedelta(hours=1))
        )


def _types(scene: Scene) -> list[str]:
    client, world, case_id, _ = scene
    return [e["type"] for e in entries(client, world, case_id)]


# --- recovery and live writes on other servers ----------------------------------------------


def test_recovery_leaves_alone_a_write_another_server_is_logging(
    scene: Scene, workspace: Workspace, evidence: Harness
) -> None:
    client, world, case_id, exhibit_id = scene
    data = pattern(5000)
    _crash_after_store(workspace, case_id, exhibit_id, data)  # ... or is it alive elsewhere?
    [write_id] = _write_ids(workspace)
    other_server = DatabaseLeaseBook(workspace.engine)
    live = other_server.acquire(ingest_lease(write_id))  # it is: about to commit
    report = content.sweep(workspace, grace=0)
    assert (report.recovered, report.forgotten, report.orphans) == (0, 0, 0)
    assert writes_in_progress(workspace) == 1
    assert "exhibit.ingested" not in _types(scene)
    # That server died: its lease expires, and then the write is recovered.
    _expire(workspace, ingest_lease(write_id))
    assert content.sweep(workspace, grace=0).recovered == 1
    live.release()  # too late: it no longer frees anything
    last = entries(client, world, case_id)[-1]
    assert last["type"] == "exhibit.ingested"
    assert last["data"]["recovered"] is True
    assert last["data"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert writes_in_progress(workspace) == 0


def test_a_tus_finish_waits_for_recovery_on_another_server_then_completes(
    scene: Scene, workspace: Workspace
) -> None:
    client, world, case_id, exhibit_id = scene
    data = pattern(3000)
    location = create(client, world, case_id, exhibit_id, len(data)).headers["location"]
    write_id = location.rsplit("/", 1)[1]
    recovery = DatabaseLeaseBook(workspace.engine).acquire(ingest_lease(write_id))
    try:
        refused = patch(client, world, location, 0, data)
        assert refused.status_code == 409
        assert error_code(refused) == "upload_locked"
    finally:
        recovery.release()
    assert "exhibit.ingested" not in _types(scene)
    # Every byte is stored; the client sends the last PATCH again, empty, and it finishes.
    done = patch(client, world, location, len(data), b"")
    assert done.status_code == 204, done.text
    assert done.headers["jitc-content-sha256"] == hashlib.sha256(data).hexdigest()
    assert _types(scene).count("exhibit.ingested") == 1
    assert writes_in_progress(workspace) == 0


def test_a_put_renews_its_lease_and_stops_when_another_server_took_it(
    scene: Scene, workspace: Workspace, evidence: Harness
) -> None:
    _client, _world, case_id, exhibit_id = scene
    now = [1000.0]
    workspace.leases.clock = lambda: now[0]
    other_server = DatabaseLeaseBook(workspace.engine)
    takers: list[Lease] = []

    def stalled_body() -> Iterator[bytes]:
        yield b"first part "
        # The request stalls for longer than its lease lives; another server's sweep takes
        # the write over (and would forget it), and only then do the bytes go on.
        [write_id] = _write_ids(workspace)
        _expire(workspace, ingest_lease(write_id))
        takers.append(other_server.acquire(ingest_lease(write_id)))
        now[0] += workspace.leases.ttl.total_seconds()
        yield b"second part"

    traces = evidence.traces()
    meta = content.ContentMeta("disk.img", "application/octet-stream", None)
    with pytest.raises(ingest.WriteTakenOverError, match="send it again"):
        ingest.ingest_stream(workspace, technician(), case_id, exhibit_id, meta, stalled_body())
    assert evidence.traces() == traces  # nothing stored
    assert writes_in_progress(workspace) == 0
    assert "exhibit.ingested" not in _types(scene)
    assert len(takers) == 1
    takers[0].release()


# --- what a failing store leaves --------------------------------------------------------------


def test_a_put_whose_store_failed_keeps_its_write_and_recovery_completes_it(
    scene: Scene, workspace: Workspace, evidence: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, world, case_id, exhibit_id = scene
    store = evidence.store
    real = store.put_stream

    def reply_lost(key: ExhibitKey, chunks: Iterable[bytes], **kwargs: Any) -> Digests:
        real(key, chunks, **kwargs)  # the object was made ...
        raise StorageUnavailableError("... but its reply was lost")  # a failure path

    monkeypatch.setattr(store, "put_stream", reply_lost)
    data = pattern(4000)
    response = put(client, world, case_id, exhibit_id, data)
    assert response.status_code == 503
    assert error_code(response) == "storage_unavailable"
    monkeypatch.undo()
    assert writes_in_progress(workspace) == 1  # kept: the object may exist, and it does
    assert store.exists(_key(case_id, exhibit_id))
    assert content.sweep(workspace, grace=0).recovered == 1
    last = entries(client, world, case_id)[-1]
    assert last["type"] == "exhibit.ingested"
    assert last["data"]["recovered"] is True
    assert last["data"]["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_put_refused_otherwise_forgets_its_write(
    scene: Scene, workspace: Workspace, evidence: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, world, case_id, exhibit_id = scene

    def broken(key: ExhibitKey, chunks: Iterable[bytes], **kwargs: Any) -> Digests:
        raise OSError(5, "Input/output error")  # a failure path: nothing was stored

    monkeypatch.setattr(evidence.store, "put_stream", broken)
    assert put(client, world, case_id, exhibit_id, b"bytes").status_code == 500
    assert writes_in_progress(workspace) == 0


def test_recovery_gives_the_object_its_retention_before_logging_it(
    scene: Scene, workspace: Workspace, evidence: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, world, case_id, exhibit_id = scene
    _crash_after_store(workspace, case_id, exhibit_id, pattern(2000))
    store = evidence.store
    real = store.ensure_retention
    asked: list[tuple[str, list[str]]] = []

    def store_down(key: ExhibitKey) -> datetime | None:
        asked.append((key.path, _types(scene)))
        raise StorageUnavailableError("retention cannot be set now")  # a failure path

    monkeypatch.setattr(store, "ensure_retention", store_down)
    assert content.sweep(workspace, grace=0).recovered == 0
    assert "exhibit.ingested" not in _types(scene)  # not logged without its retention
    assert writes_in_progress(workspace) == 1

    def recorded(key: ExhibitKey) -> datetime | None:
        asked.append((key.path, _types(scene)))
        return real(key)

    monkeypatch.setattr(store, "ensure_retention", recorded)
    assert content.sweep(workspace, grace=0).recovered == 1
    key = exhibit_key(case_id, exhibit_id).path
    assert [path for path, _ in asked] == [key, key]
    assert all("exhibit.ingested" not in seen for _, seen in asked)  # asked before logging
    assert entries(client, world, case_id)[-1]["type"] == "exhibit.ingested"


def test_a_damaged_upload_answers_500_upload_corrupt(scene: Scene, evidence: Harness) -> None:
    client, world, case_id, exhibit_id = scene
    location = create(client, world, case_id, exhibit_id, 100).headers["location"]
    upload_id = location.rsplit("/", 1)[1]
    garbage = b"{not json"  # the upload record, altered underneath the store
    if evidence.kind == "fs":
        assert evidence.root is not None
        record = evidence.root / "uploads" / upload_id / "info.json"
        record.chmod(0o644)
        record.write_bytes(garbage)
    else:
        name = f"uploads/{upload_id}/info.json"
        evidence.client.put_object(evidence.staging_bucket, name, io.BytesIO(garbage), len(garbage))
    response = patch(client, world, location, 0, b"x" * 10)
    assert response.status_code == 500
    assert error_code(response) == "upload_corrupt"
    assert "terminate it and upload again" in response.json()["error"]["message"]


# Only the S3 store resumes an upload without re-reading its first bytes.
@pytest.mark.s3
@pytest.mark.parametrize("evidence", ["s3"], indirect=True)
def test_a_mismatch_found_by_another_process_is_rejected_by_size_and_sha256(
    scene: Scene, workspace: Workspace, evidence: Harness
) -> None:
    client, world, case_id, exhibit_id = scene
    data = pattern(6 * MiB + 1000)
    declared = hashlib.sha256(b"something else").hexdigest()
    location = create(client, world, case_id, exhibit_id, len(data), sha256=declared).headers[
        "location"
    ]
    first = 5 * MiB + 10  # one whole part leaves this process, hashed here only
    assert patch(client, world, location, 0, data[:first]).status_code == 204
    # The rest arrives at another app process: a new store with no hash state.
    other = Workspace.open(workspace.settings)
    other.use_store(evidence.make(leases=other.leases))
    try:
        with quiet_client(other) as there:
            refused = patch(there, world, location, first, data[first:])
    finally:
        other.close()
    assert refused.status_code == 422, refused.text
    assert hashlib.sha256(data).hexdigest() in refused.json()["error"]["message"]
    rejected = entries(client, world, case_id)[-1]
    assert rejected["type"] == "exhibit.ingest_rejected"
    assert rejected["data"] == {
        "reason": "sha256_mismatch",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "expected_sha256": declared,
    }
    assert writes_in_progress(workspace) == 0
    assert not evidence.store.exists(_key(case_id, exhibit_id))
    view = client.get(url(case_id, exhibit_id, ""), headers=world.headers("NL", "technician"))
    assert view.json()["content"] is None
