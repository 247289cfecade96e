"""SIGKILL the server during 20 concurrent tus uploads, restart it, and check that nothing
is half-done: no exhibit is ingested without its complete object, no object lacks its
exhibit.ingested entry, the uploads resume and finish, and every case log verifies.

A real server process (`python -m server serve`) on loopback, the filesystem store, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from evidence import exhibit_key
from evidence.fs import FilesystemStore
from server.config import Settings
from server.services import content
from server.services.workspace import Workspace
from tests.conftest import free_port
from tests.evidence.support import MiB, pattern
from tests.server.conftest import LOG_NAME
from tests.server.helpers import ACQUISITION, World
from tests.server.logcheck import fetch_and_verify
from tests.server.testclient import TestClient

TUS = {"Tus-Resumable": "1.0.0"}
PIECE = 64 * 1024


@dataclass
class LiveServer:
    """`python -m server serve` in its own process, on a free loopback port."""

    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/api/log-key", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {self.log.read_text()}")
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, Workspace, World]]:
    data = tmp_path / "data"
    env = {
        **os.environ,
        "JITC_DATABASE_URL": db_url,
        "JITC_DATA_DIR": str(data),
        "JITC_LOG_NAME": LOG_NAME,
        "JITC_REVOCATION_REFRESH": "0",
        "JITC_RECOVERY_GRACE": "0",
    }
    settings = Settings.from_env(env)
    ws = Workspace.open(settings)
    world = World.create(ws.engine, audience=LOG_NAME, codes=("NL", "DE"))
    server = LiveServer(env, tmp_path / "server.log")
    try:
        yield server, ws, world
    finally:
        server.stop()
        ws.close()


@dataclass
class Upload:
    case_id: str
    exhibit_id: str
    data: bytes
    pause_at: int | None
    location: str = ""
    reached: threading.Event = field(default_factory=threading.Event)
    result: Any = None


def _client(server: LiveServer, world: World, role: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=world.headers("NL", role), timeout=60)


def _body(upload: Upload, gate: threading.Event) -> Iterator[bytes]:
    for start in range(0, len(upload.data), PIECE):
        if upload.pause_at is not None and start >= upload.pause_at:
            upload.reached.set()
            gate.wait(60)  # the server is killed while we wait here
        yield upload.data[start : start + PIECE]


def _patch(client: httpx.Client, upload: Upload, offset: int, body: Any) -> httpx.Response:
    return client.patch(
        upload.location,
        content=body,
        headers={
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        },
    )


def _objects(root: Path) -> set[tuple[str, str]]:
    found = set()
    for path in (root / "objects" / "cases").glob("*/exhibits/*"):
        if "." not in path.name:  # not a .hold or .retain sidecar
            found.add((path.parent.parent.name, path.name))
    return found


def _check_invariants(ws: Workspace, server: LiveServer, world: World, cases: list[str]) -> None:
    store = FilesystemStore(ws.settings.data_dir / "evidence")
    with _client(server, world, "prosecutor") as client:
        ingested: dict[tuple[str, str], dict[str, Any]] = {}
        for case_id in cases:
            for entry in fetch_and_verify(cast(TestClient, client), {}, case_id):
                if entry.type == "exhibit.ingested":
                    assert entry.exhibit is not None
                    assert (case_id, entry.exhibit) not in ingested, "ingested twice"
                    ingested[(case_id, entry.exhibit)] = dict(entry.data)
            exhibits = client.get(f"/api/cases/{case_id}/exhibits").json()["items"]
            for exhibit in exhibits:
                marked = exhibit["content"] is not None
                assert marked == ((case_id, exhibit["id"]) in ingested)
    # Every ingested exhibit has its complete object, with the hashes its entry records.
    for (case_id, exhibit_id), data in ingested.items():
        digests = store.rehash(exhibit_key(case_id, exhibit_id))
        assert (digests.size, digests.sha256_hex, digests.blake3_hex) == (
            data["size"],
            data["sha256"],
            data["blake3"],
        )
    # No object without its entry.
    assert _objects(store.root) <= set(ingested)


def test_sigkill_during_20_concurrent_uploads(
    live: tuple[LiveServer, Workspace, World],
) -> None:
    server, ws, world = live
    server.start()
    uploads: list[Upload] = []
    cases: list[str] = []
    with _client(server, world, "prosecutor") as prosecutor:
        for n in range(4):
            response = prosecutor.post(
                "/api/cases", json={"title": f"case {n}", "parties": ["NL", "DE"]}
            )
            assert response.status_code == 201, response.text
            cases.append(response.json()["id"])
    with _client(server, world, "investigator") as investigator:
        for n in range(20):
            case_id = cases[n % 4]
            response = investigator.post(
                f"/api/cases/{case_id}/exhibits",
                json={"label": f"item {n}", "description": "", "acquisition": dict(ACQUISITION)},
            )
            assert response.status_code == 201, response.text
            small = n % 5 == 0  # four finish before the kill
            data = pattern(100_000 if small else 6 * MiB, seed=n)
            uploads.append(Upload(case_id, response.json()["id"], data, None if small else 3 * MiB))
    technician = _client(server, world, "technician")
    for upload in uploads:
        sha = hashlib.sha256(upload.data).hexdigest()
        response = technician.post(
            f"/api/cases/{upload.case_id}/exhibits/{upload.exhibit_id}/uploads",
            headers={
                **TUS,
                "Upload-Length": str(len(upload.data)),
                "Upload-Metadata": "sha256 " + _b64(sha),
            },
        )
        assert response.status_code == 201, response.text
        upload.location = response.headers["location"]

    gate = threading.Event()

    def send(upload: Upload) -> None:
        with _client(server, world, "technician") as client:
            try:
                upload.result = _patch(client, upload, 0, _body(upload, gate))
            except httpx.HTTPError as exc:
                upload.result = exc

    threads = [threading.Thread(target=send, args=(u,)) for u in uploads]
    for thread in threads:
        thread.start()
    paused = [u for u in uploads if u.pause_at is not None]
    for upload in paused:
        assert upload.reached.wait(60)
    for thread, upload in zip(threads, uploads, strict=True):
        if upload.pause_at is None:
            thread.join(60)
            assert upload.result.status_code == 204, upload.result
    # Wait until the server has stored part of every paused body, then kill it.
    deadline = time.monotonic() + 60
    for upload in paused:
        while int(technician.head(upload.location, headers=TUS).headers["upload-offset"]) < MiB:
            assert time.monotonic() < deadline, "the server never stored the bodies"
            time.sleep(0.05)
    server.kill()
    gate.set()
    for thread in threads:
        thread.join(60)
    technician.close()

    server.start()
    content.sweep(ws, grace=0)  # what the restarted server does at start, made certain here
    _check_invariants(ws, server, world, cases)

    with _client(server, world, "technician") as client:
        for upload in paused:
            status = client.head(upload.location, headers=TUS)
            assert status.status_code == 200, status.text
            offset = int(status.headers["upload-offset"])
            assert 0 < offset < len(upload.data)
            response = _patch(client, upload, offset, upload.data[offset:])
            assert response.status_code == 204, response.text
            assert (
                response.headers["jitc-content-sha256"] == hashlib.sha256(upload.data).hexdigest()
            )

    _check_invariants(ws, server, world, cases)
    with _client(server, world, "prosecutor") as client:
        for upload in uploads:
            view = client.get(f"/api/cases/{upload.case_id}/exhibits/{upload.exhibit_id}")
            assert view.json()["content"]["sha256"] == hashlib.sha256(upload.data).hexdigest()


def _b64(hex_digest: str) -> str:
    import base64

    return base64.b64encode(hex_digest.encode()).decode()
