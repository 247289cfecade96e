"""tus 1.0 as the real clients expect it: what HEAD gives back, X-HTTP-Method-Override,
OPTIONS and 405 on an upload URL, PATCHes past Upload-Length, and what exhibit.ingested
says about a declared digest. (The clients themselves run in tests/tus.)"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from tests.server.helpers import error_code
from tests.server.test_content import entries, url
from tests.server.test_tus import TUS, Scene, create, head, metadata, patch, scene

__all__ = ["scene"]


def _loc(scene: Scene, length: int, **meta: str) -> str:
    client, world, case_id, exhibit_id = scene
    created = create(client, world, case_id, exhibit_id, length, **meta)
    assert created.status_code == 201, created.text
    return str(created.headers["location"])


def test_head_gives_back_the_metadata_as_sent(scene: Scene) -> None:
    client, world, _, _ = scene
    location = _loc(scene, 10, filename="a b.txt", filetype="text/plain", extra="ü")
    answer = head(client, world, location)
    assert answer.headers["upload-metadata"] == metadata(
        filename="a b.txt", filetype="text/plain", extra="ü"
    )


def test_method_override_turns_a_post_into_patch_head_and_delete(scene: Scene) -> None:
    client, world, _, _ = scene
    location = _loc(scene, 10)
    auth = {**world.headers("NL", "technician"), **TUS}
    patched = client.post(
        location,
        content=b"12345",
        headers={
            **auth,
            "X-HTTP-Method-Override": "PATCH",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert patched.status_code == 204, patched.text
    assert patched.headers["upload-offset"] == "5"
    status = client.post(location, headers={**auth, "X-HTTP-Method-Override": "HEAD"})
    assert status.headers["upload-offset"] == "5"
    ended = client.post(location, headers={**auth, "X-HTTP-Method-Override": "DELETE"})
    assert ended.status_code == 204
    assert head(client, world, location).status_code == 404


def test_options_on_an_upload_url_answers_per_tus(scene: Scene) -> None:
    client, world, _, _ = scene
    location = _loc(scene, 10)
    answer = client.options(location)
    assert answer.status_code == 204
    assert answer.headers["tus-version"] == "1.0.0"
    assert "creation" in answer.headers["tus-extension"]
    assert set(answer.headers["allow"].split(", ")) == {"OPTIONS", "HEAD", "PATCH", "DELETE"}
    wrong = client.get(location, headers={**world.headers("NL", "technician"), **TUS})
    assert wrong.status_code == 405
    assert set(wrong.headers["allow"].split(", ")) == {"OPTIONS", "HEAD", "PATCH", "DELETE"}
    creation = client.options(location.rsplit("/", 1)[0])
    assert set(creation.headers["allow"].split(", ")) == {"OPTIONS", "POST"}


def test_a_patch_past_upload_length_is_refused_and_the_upload_stays(scene: Scene) -> None:
    client, world, case_id, exhibit_id = scene
    location = _loc(scene, 10)
    assert patch(client, world, location, 0, b"1234").status_code == 204
    too_long = patch(client, world, location, 4, b"567890XYZ")
    assert too_long.status_code == 413
    assert error_code(too_long) == "upload_length_exceeded"
    assert head(client, world, location).headers["upload-offset"] == "4"
    done = patch(client, world, location, 4, b"567890")
    assert done.status_code == 204, done.text
    download = client.get(url(case_id, exhibit_id), headers=world.headers("NL", "investigator"))
    assert download.content == b"1234567890"


def test_a_streamed_patch_past_upload_length_keeps_what_came_before(scene: Scene) -> None:
    # Without Content-Length the server finds out only when the bytes cross the end.
    client, world, case_id, exhibit_id = scene
    location = _loc(scene, 10)

    def body() -> Iterator[bytes]:
        yield b"123"
        yield b"45"
        yield b"67890XYZ"

    refused = client.patch(
        location,
        content=body(),
        headers={
            **world.headers("NL", "technician"),
            **TUS,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert refused.status_code == 413
    offset = int(head(client, world, location).headers["upload-offset"])
    assert 0 <= offset < 10
    rest = b"1234567890"[offset:]
    assert patch(client, world, location, offset, rest).status_code == 204
    download = client.get(url(case_id, exhibit_id), headers=world.headers("NL", "investigator"))
    assert download.content == b"1234567890"


@pytest.mark.parametrize("declared", [True, False])
def test_ingested_says_whether_a_digest_was_declared(scene: Scene, declared: bool) -> None:
    client, world, case_id, _ = scene
    data = b"evidence"
    meta = {"sha256": hashlib.sha256(data).hexdigest()} if declared else {}
    location = _loc(scene, len(data), **meta)
    assert patch(client, world, location, 0, data).status_code == 204
    (ingested,) = [e for e in entries(client, world, case_id) if e["type"] == "exhibit.ingested"]
    assert ingested["data"]["declared_sha256"] is declared


def test_a_finished_upload_gives_back_its_declared_digest(scene: Scene) -> None:
    """HEAD of an upload whose content is stored: the metadata as created, the declared
    SHA-256 included (a client checks it against its file before trusting the upload)."""
    client, world, _, _ = scene
    data = b"evidence"
    digest = hashlib.sha256(data).hexdigest()
    kind = "application/octet-stream"
    location = _loc(scene, len(data), filename="phone.bin", filetype=kind, sha256=digest)
    assert patch(client, world, location, 0, data).status_code == 204
    answer = head(client, world, location)
    assert answer.status_code == 200
    assert answer.headers["upload-offset"] == str(len(data))
    assert answer.headers["upload-metadata"] == metadata(
        filename="phone.bin", filetype=kind, sha256=digest
    )
