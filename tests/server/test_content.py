"""Exhibit content through the API: ingest, download with ranges, verify, hold, disposal.

Every test runs on SQLite and PostgreSQL, and on the filesystem and the moto S3 store.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import blake3
import pytest

from evidence import ExhibitKey, exhibit_key
from server.services import content
from server.services.workspace import Workspace
from tests.evidence.support import Harness, MiB, pattern
from tests.server.helpers import World, create_case, error_code, register_exhibit
from tests.server.testclient import TestClient


def url(case_id: str, exhibit_id: str, tail: str = "/content") -> str:
    return f"/api/cases/{case_id}/exhibits/{exhibit_id}{tail}"


def repr_digest(data: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


def entries(client: TestClient, world: World, case_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/cases/{case_id}/log", headers=world.headers("NL", "prosecutor"))
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def types(client: TestClient, world: World, case_id: str) -> list[str]:
    return [e["type"] for e in entries(client, world, case_id)]


def put(
    client: TestClient,
    world: World,
    case_id: str,
    exhibit_id: str,
    data: bytes,
    *,
    by: str = "NL",
    role: str = "technician",
    **params: str,
) -> Any:
    return client.put(
        url(case_id, exhibit_id),
        content=data,
        params=params,
        headers={**world.headers(by, role), "Content-Type": "application/octet-stream"},
    )


@pytest.fixture
def scene(content_client: TestClient, world: World) -> tuple[TestClient, World, str, str]:
    case_id = create_case(content_client, world)
    exhibit_id = register_exhibit(content_client, world, case_id)
    return content_client, world, case_id, exhibit_id


Scene = tuple[TestClient, World, str, str]


def test_put_streams_hashes_and_logs_one_ingested_entry(scene: Scene, evidence: Harness) -> None:
    client, world, case_id, exhibit_id = scene
    data = pattern(3 * MiB + 17)
    response = client.put(
        url(case_id, exhibit_id),
        content=data,
        params={"filename": "disk.E01"},
        headers={
            **world.headers("NL", "technician"),
            "Content-Type": "application/x-ewf",
            "Repr-Digest": repr_digest(data),
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    sha = hashlib.sha256(data).hexdigest()
    b3 = blake3.blake3(data).hexdigest()
    assert body["sha256"] == sha
    assert body["blake3"] == b3
    assert body["size"] == len(data)
    assert response.headers["etag"] == f'"{sha}"'
    ingested = [e for e in entries(client, world, case_id) if e["type"] == "exhibit.ingested"]
    assert len(ingested) == 1
    assert ingested[0]["data"] == {
        "size": len(data),
        "sha256": sha,
        "blake3": b3,
        "filename": "disk.E01",
        "media_type": "application/x-ewf",
    }
    assert ingested[0]["exhibit"] == exhibit_id
    view = client.get(url(case_id, exhibit_id, ""), headers=world.headers("DE", "investigator"))
    assert view.json()["content"]["sha256"] == sha
    assert evidence.store.rehash(_key(case_id, exhibit_id)).sha256_hex == sha


def _key(case_id: str, exhibit_id: str) -> ExhibitKey:
    return exhibit_key(case_id, exhibit_id)


def test_download_whole_and_ranges_each_logged_with_purpose(scene: Scene) -> None:
    client, world, case_id, exhibit_id = scene
    data = pattern(100_000)
    assert put(client, world, case_id, exhibit_id, data).status_code == 201
    headers = world.headers("NL", "investigator")
    whole = client.get(url(case_id, exhibit_id), headers=headers, params={"purpose": "review"})
    assert whole.status_code == 200
    assert whole.content == data
    sha = hashlib.sha256(data).hexdigest()
    assert whole.headers["etag"] == f'"{sha}"'
    assert whole.headers["accept-ranges"] == "bytes"
    part = client.get(url(case_id, exhibit_id), headers={**headers, "Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    suffix = client.get(url(case_id, exhibit_id), headers={**headers, "Range": "bytes=-5"})
    assert suffix.status_code == 206
    assert suffix.content == data[-5:]
    stale = client.get(
        url(case_id, exhibit_id),
        headers={**headers, "Range": "bytes=0-0", "If-Range": '"' + "0" * 64 + '"'},
    )
    assert stale.status_code == 200  # If-Range does not match: the whole content
    accessed = [e for e in entries(client, world, case_id) if e["type"] == "exhibit.accessed"]
    assert [e["data"] for e in accessed] == [
        {"purpose": "review", "range": None},
        {"purpose": "inspection", "range": [10, 19]},
        {"purpose": "inspection", "range": [len(data) - 5, len(data) - 1]},
        {"purpose": "inspection", "range": None},
    ]


def test_unsatisfiable_range_is_416_and_not_logged(scene: Scene) -> None:
    client, world, case_id, exhibit_id = scene
    assert put(client, world, case_id, exhibit_id, b"abc").status_code == 201
    before = types(client, world, case_id)
    response = client.get(
        url(case_id, exhibit_id),
        headers={**world.headers("NL", "investigator"), "Range": "bytes=3-"},
    )
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */3"
    assert types(client, world, case_id) == before


def test_download_refused_to_a_party_the_exhibit_is_not_shared_with(scene: Scene) -> None:
    client, world, case_id, exhibit_id = scene
    assert put(client, world, case_id, exhibit_id, b"secret").status_code == 201
    before = types(client, world, case_id)
    response = client.get(url(case_id, exhibit_id), headers=world.headers("DE", "investigator"))
    assert response.status_code == 403
    assert error_code(response) == "not_shared"
    assert types(client, world, case_id) == before  # a refusal is not an access


def test_verify_recomputes_and_logs_and_detects_tampering(scene: Scene, evidence: Harness) -> None:
    client, world, case_id, exhibit_id = scene
    data = pattern(10_000)
    assert put(client, world, case_id, exhibit_id, data).status_code == 201
    headers = world.headers("NL", "prosecutor")
    good = client.post(url(case_id, exhibit_id, "/verify"), headers=headers)
    assert good.status_code == 200, good.text
    assert good.json()["ok"] is True
    evidence.tamper(_key(case_id, exhibit_id), 42)
    bad = client.post(url(case_id, exhibit_id, "/verify"), headers=headers)
    assert bad.status_code == 200
    assert bad.json()["ok"] is False
    verified = [e for e in entries(client, world, case_id) if e["type"] == "exhibit.verified"]
    assert [e["data"]["ok"] for e in verified] == [True, False]
    assert verified[1]["data"]["sha256"] != hashlib.sha256(data).hexdigest()


def test_legal_hold_reaches_the_object_and_blocks_disposal(scene: Scene, evidence: Harness) -> None:
    client, world, case_id, exhibit_id = scene
    assert put(client, world, case_id, exhibit_id, b"evidence").status_code == 201
    prosecutor = world.headers("NL", "prosecutor")
    key = _key(case_id, exhibit_id)
    hold = client.post(
        url(case_id, exhibit_id, "/hold"),
        json={"reason": "appeal", "authority": "court order 12"},
        headers=prosecutor,
    )
    assert hold.status_code == 200, hold.text
    assert evidence.store.legal_hold(key) is True
    order = {"reason": "case closed", "authority": "court order 99"}
    refused = client.post(url(case_id, exhibit_id, "/dispose"), json=order, headers=prosecutor)
    assert refused.status_code == 409
    assert error_code(refused) == "exhibit_on_hold"
    assert evidence.store.exists(key)
    release = client.post(
        url(case_id, exhibit_id, "/hold/release"),
        json={"reason": "over", "hold": hold.json()["hold"]},
        headers=prosecutor,
    )
    assert release.status_code == 200
    assert evidence.store.legal_hold(key) is False
    disposed = client.post(url(case_id, exhibit_id, "/dispose"), json=order, headers=prosecutor)
    assert disposed.status_code == 200, disposed.text
    assert disposed.json()["removed"] is True
    assert not evidence.store.exists(key)
    last = entries(client, world, case_id)[-1]
    assert last["type"] == "exhibit.disposed"
    assert last["data"]["reason"] == "case closed"
    assert last["data"]["authority"] == "court order 99"
    # Nothing follows disposal (spec 6.7).
    gone = client.get(url(case_id, exhibit_id), headers=world.headers("NL", "investigator"))
    assert gone.status_code == 404
    assert error_code(gone) == "content_disposed"
    again = client.post(
        url(case_id, exhibit_id, "/hold"),
        json={"reason": "x", "authority": "y"},
        headers=prosecutor,
    )
    assert again.status_code == 409


def test_disposal_under_retention_is_recorded_not_removed(
    content_client: TestClient, world: World, evidence: Harness, workspace: Workspace
) -> None:
    workspace.use_store(evidence.make(retention_days=30))
    case_id = create_case(content_client, world)
    exhibit_id = register_exhibit(content_client, world, case_id)
    assert put(content_client, world, case_id, exhibit_id, b"kept").status_code == 201
    order = {"reason": "closed", "authority": "court order 1"}
    response = content_client.post(
        url(case_id, exhibit_id, "/dispose"), json=order, headers=world.headers("NL", "prosecutor")
    )
    assert response.status_code == 200, response.text
    assert response.json()["removed"] is False
    assert response.json()["retained_until"] is not None
    assert evidence.store.exists(_key(case_id, exhibit_id))
    last = entries(content_client, world, case_id)[-1]
    assert last["type"] == "exhibit.disposed"
    assert last["data"]["removed"] is False


def test_scrub_sets_an_objects_legal_hold_back_to_the_exhibits(
    scene: Scene, evidence: Harness, workspace: Workspace
) -> None:
    client, world, case_id, exhibit_id = scene
    assert put(client, world, case_id, exhibit_id, b"held").status_code == 201
    hold = client.post(
        url(case_id, exhibit_id, "/hold"),
        json={"reason": "appeal", "authority": "court order 12"},
        headers=world.headers("NL", "prosecutor"),
    )
    assert hold.status_code == 200
    key = _key(case_id, exhibit_id)
    evidence.store.set_legal_hold(key, False)  # a store call that failed after the commit
    report = content.scrub(workspace)
    assert (report.checked, report.ok, report.holds_fixed) == (1, 1, 1)
    assert evidence.store.legal_hold(key) is True


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
