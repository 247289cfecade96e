"""The tus clients people use, against a real `jitc serve`: tus-js-client under Node and
tuspy, with an abort and an immediate resume, and a resume of an upload already finished
(a stale record must not make the client create it again and fail on content_exists).
tuspy runs with its default `retries=0` and tus-js-client without retry delays: each answer
has to be right the first time."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
import pytest
from tusclient.client import TusClient
from tusclient.storage.interface import Storage

from tests.server.cli_support import LiveServer, live_server
from tests.server.helpers import ACQUISITION

HERE: Final = Path(__file__).resolve().parent
MiB: Final = 1024 * 1024

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("tus-clients")) as live:
        yield live


def _exhibit(server: LiveServer) -> str:
    """A new case and exhibit; the exhibit's tus creation URL."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        case = http.post(
            "/api/cases",
            json={"title": "Op Tus", "parties": ["NL", "BE"], "agreement": "JIT-2026-009"},
            headers={"Authorization": f"Bearer {server.token('NL', 'prosecutor')}"},
        )
        assert case.status_code == 201, case.text
        case_id = case.json()["id"]
        exhibit = http.post(
            f"/api/cases/{case_id}/exhibits",
            json={"label": "Disk", "description": "seized", "acquisition": dict(ACQUISITION)},
            headers={"Authorization": f"Bearer {server.token('NL', 'investigator')}"},
        )
        assert exhibit.status_code == 201, exhibit.text
    return f"{server.url}/api/cases/{case_id}/exhibits/{exhibit.json()['id']}/uploads"


def _content(server: LiveServer, uploads: str) -> tuple[bytes, list[dict[str, Any]]]:
    """The exhibit's stored content and its case's exhibit.ingested entries."""
    base = uploads.removesuffix("/uploads")
    case_path = base.split("/exhibits/")[0]
    auth = {"Authorization": f"Bearer {server.token('NL', 'investigator')}"}
    with httpx.Client(timeout=60) as http:
        stored = http.get(base + "/content", headers=auth)
        assert stored.status_code == 200, stored.text
        log = http.get(
            case_path + "/log",
            headers={"Authorization": f"Bearer {server.token('NL', 'prosecutor')}"},
        )
        assert log.status_code == 200, log.text
    entries = [json.loads(line) for line in log.text.splitlines()]
    ingested = [e for e in entries if e["type"] == "exhibit.ingested"]
    return stored.content, ingested


def _data(size: int) -> bytes:
    return hashlib.shake_256(b"tus clients").digest(size)


# --- tus-js-client ------------------------------------------------------------------------


def _node() -> list[str]:
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "tus-js-client").is_dir():
        if os.environ.get("CI") == "true":
            raise AssertionError("node and tests/tus/node_modules are needed (scripts/test)")
        pytest.skip("node or tests/tus/node_modules missing (bash scripts/test installs them)")
    return [node, str(HERE / "client.mjs")]


def _tus_js(mode: str, uploads: str, token: str, file: Path, store: Path) -> dict[str, Any]:
    sha = hashlib.sha256(file.read_bytes()).hexdigest()
    done = subprocess.run(
        [*_node(), mode, uploads, token, str(file), str(store), sha],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_tus_js_client_resumes_right_after_an_abort_and_after_completion(
    server: LiveServer, tmp_path: Path
) -> None:
    uploads = _exhibit(server)
    data = _data(24 * MiB + 17)
    file = tmp_path / "disk.img"
    file.write_bytes(data)
    store = tmp_path / "tus-urls.json"
    token = server.token("NL", "technician")

    first = _tus_js("abort-resume", uploads, token, file, store)
    assert first["ok"], first
    assert first["requests"][0] == "POST"
    assert first["requests"].count("POST") == 1  # resumed, not created again
    assert "HEAD" in first["requests"]
    stored, ingested = _content(server, uploads)
    assert stored == data
    assert len(ingested) == 1
    assert ingested[0]["data"]["declared_sha256"] is True

    # The record of the finished upload is still there: the client asks, hears "complete"
    again = _tus_js("again", uploads, token, file, store)
    assert again["ok"], again
    assert again["requests"] == ["HEAD"]
    assert again["url"] == first["url"]
    assert len(_content(server, uploads)[1]) == 1


# --- tuspy --------------------------------------------------------------------------------


class Reopenable(io.BytesIO):
    """The file for tuspy, which closes the stream it fingerprints and reads it again."""

    def close(self) -> None:
        self.seek(0)


class Records(Storage):
    """tuspy's record of upload URLs by fingerprint, in memory (its FileStorage leaves
    files open)."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}

    def get_item(self, key: str) -> str | None:
        return self.urls.get(key)

    def set_item(self, key: str, value: str) -> None:
        self.urls[key] = value

    def remove_item(self, key: str) -> None:
        self.urls.pop(key, None)


def _abort_patch_part_way(location: str, token: str, data: bytes, sent: int) -> None:
    """Send a PATCH of all of `data` from offset 0, but only its first `sent` bytes, then
    drop the connection (as a client that loses its network does)."""
    parts = urlsplit(location)
    head = (
        f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
        "Content-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80)) as sock:
        sock.sendall(head + data[:sent])


def test_tuspy_resumes_right_after_an_abort_and_after_completion(
    server: LiveServer, tmp_path: Path
) -> None:
    uploads = _exhibit(server)
    data = _data(20 * MiB + 5)
    token = server.token("NL", "technician")
    client = TusClient(uploads, headers={"Authorization": f"Bearer {token}"})
    storage = Records()
    metadata = {"filename": "disk.img", "sha256": hashlib.sha256(data).hexdigest()}

    creator = client.uploader(
        file_stream=Reopenable(data), metadata=metadata, store_url=True, url_storage=storage
    )
    location: str = creator.create_url()
    creator.set_url(location)
    _abort_patch_part_way(location, token, data, 9 * MiB)

    # At once, from the stored record, with tuspy's default retries=0
    resumed = client.uploader(
        file_stream=Reopenable(data), metadata=metadata, store_url=True, url_storage=storage
    )
    assert str(resumed.url) == location  # (tuspy types its url as None)
    resumed.upload()
    stored, ingested = _content(server, uploads)
    assert stored == data
    assert len(ingested) == 1

    # Again with the record of the finished upload: complete at once, nothing created
    again = client.uploader(
        file_stream=Reopenable(data), metadata=metadata, store_url=True, url_storage=storage
    )
    assert again.offset == len(data)
    again.upload()
    assert len(_content(server, uploads)[1]) == 1
