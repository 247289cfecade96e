"""tus 1.0 uploads (core, creation, termination, expiration) through the API.

On both databases and both stores. A restarted server is a new workspace and a new store
instance over the same database and storage: it rebuilds the hash state from the bytes.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import blake3
import pytest
from sqlalchemy import update

from server.api.content import parse_upload_metadata
from server.app import create_app
from server.errors import InvalidRequestError
from server.models import ContentUpload
from server.services import content
from server.services.workspace import Workspace
from tests.evidence.support import Harness, MiB, pattern
from tests.server.helpers import World, create_case, error_code, register_exhibit
from tests.server.test_content import _key, entries, types, url
from tests.server.test_content_bad_input import writes_in_progress
from tests.server.testclient import TestClient

TUS = {"Tus-Resumable": "1.0.0"}
Scene = tuple[TestClient, World, str, str]


@pytest.fixture
def scene(content_client: TestClient, world: World) -> Scene:
    case_id = create_case(content_client, world)
    exhibit_id = register_exhibit(content_client, world, case_id)
    return content_client, world, case_id, exhibit_id


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(
    client: TestClient,
    world: World,
    case_id: str,
    exhibit_id: str,
    length: int,
    **meta: str,
) -> Any:
    headers = {**world.headers("NL", "technician"), **TUS, "Upload-Length": str(length)}
    if meta:
        headers["Upload-Metadata"] = metadata(**meta)
    return client.post(url(case_id, exhibit_id, "/uploads"), headers=headers)


def patch(client: TestClient, world: World, location: str, offset: int, data: bytes) -> Any:
    return client.patch(
        location,
        content=data,
        headers={
            **world.headers("NL", "technician"),
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        },
    )


def head(client: TestClient, world: World, location: str) -> Any:
    return client.head(location, headers={**world.headers("NL", "technician"), **TUS})


def test_options_announce_version_extensions_and_max_size(scene: Scene) -> None:
    client, _world, case_id, exhibit_id = scene
    response = client.options(url(case_id, exhibit_id, "/uploads"))
    assert response.status_code == 204
    assert response.headers["tus-version"] == "1.0.0"
    assert response.headers["tus-resumable"] == "1.0.0"
    assert set(response.headers["tus-extension"].split(",")) == {
        "creation",
        "termination",
        "expiration",
    }
    assert int(response.headers["tus-max-size"]) > 0


def test_upload_in_patches_ingests_with_both_hashes(scene: Scene) -> None:
    client, world, case_id, exhibit_id = scene
    data = pattern(7 * MiB + 123)
    sha = hashlib.sha256(data).hexdigest()
    created = create(
        client, world, case_id, exhibit_id, len(data), filename="phone.zip", sha256=sha
    )
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    assert created.headers["tus-resumable"] == "1.0.0"
    assert "upload-expires" in created.headers
    status = head(client, world, location)
    assert status.status_code == 200
    assert status.headers["upload-offset"] == "0"
    assert status.headers["upload-length"] == str(len(data))
    assert status.headers["cache-control"] == "no-store"
    offset = 0
    for size in (3 * MiB, 3 * MiB, len(data)):
        piece = data[offset : offset + size]
        response = patch(client, world, location, offset, piece)
        assert response.status_code == 204, response.text
        offset += len(piece)
        assert response.headers["upload-offset"] == str(offset)
        if offset == len(data):
            break
        assert "exhibit.ingested" not in types(client, world, case_id)
    assert response.headers["jitc-content-sha256"] == sha
    assert response.headers["jitc-content-blake3"] == blake3.blake3(data).hexdigest()
    ingested = [e for e in entries(client, world, case_id) if e["type"] == "exhibit.ingested"]
    assert len(ingested) == 1
    assert ingested[0]["data"]["filename"] == "phone.zip"
    assert ingested[0]["data"]["sha256"] == sha
    assert ingested[0]["data"]["declared_sha256"] is True
    assert ingested[0]["data"]["upload"] == location.rsplit("/", 1)[1]
    # A finished upload tells its creator it is complete (a client resuming it with a
    # stale record must not create it again) ...
    done = head(client, world, location)
    assert done.status_code == 200
    assert done.headers["upload-offset"] == done.headers["upload-length"] == str(len(data))
    # ... and nobody else anything
    other = client.head(location, headers={**world.headers("NL", "technician", "other"), **TUS})
    assert other.status_code == 404
    download = client.get(url(case_id, exhibit_id), headers=world.headers("NL", "investigator"))
    assert download.content == data


def test_wrong_offset_is_409_and_changes_nothing(scene: Scene, evidence: Harness) -> None:
    client, world, case_id, exhibit_id = scene
    location = create(client, world, case_id, exhibit_id, 100).headers["location"]
    assert patch(client, world, location, 0, b"a" * 40).status_code == 204
    traces = evidence.traces()
    before = types(client, world, case_id)
    for offset in (0, 39, 41, 100):
        response = patch(client, world, location, offset, b"b" * 10)
        assert response.status_code == 409
        assert error_code(response) == "offset_mismatch"
    assert head(client, world, location).headers["upload-offset"] == "40"
    assert evidence.traces() == traces
    assert types(client, world, case_id) == before


def test_concurrent_patch_to_one_upload_is_409(
    scene: Scene, evidence: Harness, workspace: Workspace
) -> None:
    client, world, case_id, exhibit_id = scene
    location = create(client, world, case_id, exhibit_id, 4 * MiB).headers["location"]
    upload_id = uuid.UUID(location.rsplit("/", 1)[1])
    started = threading.Event()
    release = threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield b"x" * 1024
        started.set()
        release.wait(30)

    first_result: list[Any] = []
    store = workspace.store

    def first_writer() -> None:
        try:
            first_result.append(store.append(upload_id, 0, slow_body()))
        except Exception as exc:  # noqa: BLE001 - handed to the test thread
            first_result.append(exc)

    thread = threading.Thread(target=first_writer)
    thread.start()
    try:
        assert started.wait(30)
        response = patch(client, world, location, 0, b"y" * 10)
        assert response.status_code == 409
        assert error_code(response) == "upload_locked"
    finally:
        release.set()
        thread.join(30)
    assert head(client, world, location).headers["upload-offset"] == "1024"


def test_missing_tus_resumable_is_412(scene: Scene) -> None:
    client, world, case_id, exhibit_id = scene
    response = client.post(
        url(case_id, exhibit_id, "/uploads"),
        headers={**world.headers("NL", "technician"), "Upload-Length": "5"},
    )
    assert response.status_code == 412
    assert response.headers["tus-version"] == "1.0.0"


def test_patch_needs_offset_octet_stream(scene: Scene) -> None:
    client, world, case_id, exhibit_id = scene
    location = create(client, world, case_id, exhibit_id, 5).headers["location"]
    response = client.patch(
        location,
        content=b"abcde",
        headers={
            **world.headers("NL", "technician"),
            **TUS,
            "Upload-Offset": "0",
            "Content-Type": "application/octet-stream",
        },
    )
    assert response.status_code == 415


def test_creation_over_the_limit_is_413(
    scene: Scene, evidence: Harness, workspace: Workspace
) -> None:
    client, world, case_id, exhibit_id = scene
    workspace.settings = dataclasses.replace(workspace.settings, max_upload_bytes=1000)
    traces = evidence.traces()
    response = create(client, world, case_id, exhibit_id, 1001)
    assert response.status_code == 413
    assert evidence.traces() == traces
    assert writes_in_progress(workspace) == 0


def test_termination_removes_the_upload(
    scene: Scene, evidence: Harness, workspace: Workspace
) -> None:
    client, world, case_id, exhibit_id = scene
    traces = evidence.traces()
    location = create(client, world, case_id, exhibit_id, 100).headers["location"]
    assert patch(client, world, location, 0, b"z" * 50).status_code == 204
    response = client.delete(location, headers={**world.headers("NL", "technician"), **TUS})
    assert response.status_code == 204
    assert head(client, world, location).status_code == 404
    assert writes_in_progress(workspace) == 0
    assert [t for t in evidence.traces() if "/lease@" not in t] == traces


def test_wrong_declared_sha256_in_metadata_is_422_and_rejected(
    scene: Scene, evidence: Harness, workspace: Workspace
) -> None:
    client, world, case_id, exhibit_id = scene
    data = pattern(1000)
    traces = evidence.traces()
    location = create(
        client, world, case_id, exhibit_id, len(data), sha256=hashlib.sha256(b"other").hexdigest()
    ).headers["location"]
    response = patch(client, world, location, 0, data)
    assert response.status_code == 422
    assert error_code(response) == "digest_mismatch"
    assert types(client, world, case_id)[-1] == "exhibit.ingest_rejected"
    assert "exhibit.ingested" not in types(client, world, case_id)
    assert [t for t in evidence.traces() if "/lease@" not in t] == traces
    assert writes_in_progress(workspace) == 0


def test_zero_length_upload_completes_at_creation(scene: Scene) -> None:
    client, world, case_id, exhibit_id = scene
    response = create(client, world, case_id, exhibit_id, 0, filename="empty")
    assert response.status_code == 201, response.text
    assert response.headers["jitc-content-sha256"] == hashlib.sha256(b"").hexdigest()
    assert types(client, world, case_id)[-1] == "exhibit.ingested"


def test_upload_to_a_sealed_exhibit_is_refused_at_creation(scene: Scene) -> None:
    client, world, case_id, exhibit_id = scene
    seal = client.post(
        url(case_id, exhibit_id, "/seal"),
        json={"reason": "done"},
        headers=world.headers("NL", "investigator"),
    )
    assert seal.status_code == 200
    response = create(client, world, case_id, exhibit_id, 10)
    assert response.status_code == 409
    assert error_code(response) == "exhibit_sealed"


def test_resume_after_disconnect_and_server_restart_rebuilds_hash_state(
    scene: Scene, evidence: Harness, workspace: Workspace
) -> None:
    client, world, case_id, exhibit_id = scene
    data = pattern(12 * MiB + 5)
    location = create(client, world, case_id, exhibit_id, len(data)).headers["location"]
    upload_id = uuid.UUID(location.rsplit("/", 1)[1])

    class GoneError(Exception):
        pass

    def broken() -> Iterator[bytes]:  # the client goes away after 6 MiB + 100
        yield data[: 6 * MiB]
        yield data[6 * MiB : 6 * MiB + 100]
        raise GoneError

    with pytest.raises(GoneError):
        workspace.store.append(upload_id, 0, broken())
    # A new server process: a new workspace, a new store instance, no hash state.
    restarted = Workspace.open(workspace.settings)
    restarted.use_store(evidence.make())
    try:
        with TestClient(create_app(workspace=restarted)) as fresh:
            offset = int(head(fresh, world, location).headers["upload-offset"])
            assert offset == 6 * MiB + 100
            response = patch(fresh, world, location, offset, data[offset:])
            assert response.status_code == 204, response.text
            assert response.headers["jitc-content-sha256"] == hashlib.sha256(data).hexdigest()
            assert response.headers["jitc-content-blake3"] == blake3.blake3(data).hexdigest()
    finally:
        restarted.close()


def test_abandoned_uploads_expire_and_are_cleaned_up(
    scene: Scene, evidence: Harness, workspace: Workspace
) -> None:
    client, world, case_id, exhibit_id = scene
    traces = evidence.traces()
    location = create(client, world, case_id, exhibit_id, 100).headers["location"]
    assert patch(client, world, location, 0, b"q" * 30).status_code == 204
    later = datetime.now(UTC) + timedelta(seconds=workspace.settings.upload_expiry + 60)
    # Expired uploads answer 404 at once, before the sweep removes them.
    with workspace.engine.begin() as conn:
        conn.execute(update(ContentUpload).values(expires_at=datetime.now(UTC) - timedelta(1)))
    assert head(client, world, location).status_code == 404
    report = content.sweep(workspace, now=later)
    assert report.expired + report.forgotten >= 1
    assert writes_in_progress(workspace) == 0
    assert [t for t in evidence.traces() if "/lease@" not in t] == traces


def test_upload_metadata_parsing() -> None:
    assert parse_upload_metadata(metadata(filename="a b", filetype="x/y")) == {
        "filename": "a b",
        "filetype": "x/y",
    }
    assert parse_upload_metadata("is_confidential") == {"is_confidential": ""}
    for bad in ("filename !!!", "a Zg==,a Zg==", "filename " + base64.b64encode(b"\xff").decode()):
        with pytest.raises(InvalidRequestError):
            parse_upload_metadata(bad)


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


def test_uploads_in_progress_per_exhibit_are_bounded(scene: Scene) -> None:
    client, world, case_id, exhibit_id = scene
    for _ in range(content.MAX_WRITES_PER_EXHIBIT):
        created = create(client, world, case_id, exhibit_id, 8)
        assert created.status_code == 201
        assert patch(client, world, created.headers["location"], 0, b"x").status_code == 204
    refused = create(client, world, case_id, exhibit_id, 8)
    assert refused.status_code == 409
    assert error_code(refused) == "too_many_uploads"


def test_creations_that_never_got_a_byte_do_not_use_up_the_cap(scene: Scene) -> None:
    # A client retrying creation (its answers lost) leaves uploads without bytes: at the
    # cap, the creator's own empty uploads make room, oldest first.
    client, world, case_id, exhibit_id = scene
    first = [
        create(client, world, case_id, exhibit_id, 8).headers["location"]
        for _ in range(content.MAX_WRITES_PER_EXHIBIT)
    ]
    again = create(client, world, case_id, exhibit_id, 8)
    assert again.status_code == 201, again.text
    assert head(client, world, first[0]).status_code == 404
    assert head(client, world, again.headers["location"]).status_code == 200
    data = b"12345678"
    assert patch(client, world, again.headers["location"], 0, data).status_code == 204
    download = client.get(url(case_id, exhibit_id), headers=world.headers("NL", "investigator"))
    assert download.content == data


def test_a_colleagues_empty_uploads_are_not_made_room_for(scene: Scene) -> None:
    client, world, case_id, exhibit_id = scene
    for _ in range(content.MAX_WRITES_PER_EXHIBIT):
        assert create(client, world, case_id, exhibit_id, 8).status_code == 201
    colleague = {**world.headers("NL", "technician", "colleague"), **TUS, "Upload-Length": "8"}
    refused = client.post(url(case_id, exhibit_id, "/uploads"), headers=colleague)
    assert refused.status_code == 409
    assert error_code(refused) == "too_many_uploads"
