"""A real `jitc serve` process attacked over raw sockets, as the outside test did:

- 64 uploads that send their headers and then no bytes must not keep another state's read
  from being answered; each stalled upload ends with 408.
- 150 unauthenticated requests with 1 MiB JSON bodies must not grow the server's memory
  by 50 MB or more (the token is checked before a body is received).

On SQLite and PostgreSQL, the filesystem store.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from server.config import Settings
from server.models import ContentUpload
from server.services.workspace import Workspace
from tests.server.conftest import LOG_NAME
from tests.server.helpers import ACQUISITION, World
from tests.server.test_fault_kill import LiveServer

IDLE_TIMEOUT = 5  # JITC_BODY_IDLE_TIMEOUT for the server under attack
STALLED = 64
MiB = 1024 * 1024


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, Workspace, World]]:
    env = {
        **os.environ,
        "JITC_DATABASE_URL": db_url,
        "JITC_DATA_DIR": str(tmp_path / "data"),
        "JITC_LOG_NAME": LOG_NAME,
        "JITC_BODY_IDLE_TIMEOUT": str(IDLE_TIMEOUT),
    }
    ws = Workspace.open(Settings.from_env(env))
    world = World.create(ws.engine, audience=LOG_NAME, codes=("NL", "DE"))
    server = LiveServer(env, tmp_path / "server.log")
    server.start()
    try:
        yield server, ws, world
    finally:
        server.stop()
        ws.close()


def _connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=120)


def _request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def _status_of(sock: socket.socket) -> int:
    """The status of the answer on `sock` (waits for it: the socket's timeout bounds it)."""
    data = b""
    while b"\r\n" not in data:
        part = sock.recv(4096)
        if not part:
            raise ConnectionError(f"closed without an answer: {data!r}")
        data += part
    return int(data.split(b" ", 2)[1])


def _writes_in_progress(ws: Workspace) -> int:
    with ws.engine.connect() as conn:
        count: int = conn.execute(select(func.count()).select_from(ContentUpload)).scalar_one()
    return count


def test_64_stalled_uploads_do_not_block_another_states_read(
    live: tuple[LiveServer, Workspace, World],
) -> None:
    server, ws, world = live
    with httpx.Client(base_url=server.url, timeout=60) as http:
        created = http.post(
            "/api/cases",
            json={"title": "Tulip", "parties": ["NL", "DE"]},
            headers=world.headers("NL", "prosecutor"),
        )
        assert created.status_code == 201, created.text
        case_id = created.json()["id"]
        exhibits = []
        for n in range(STALLED):
            made = http.post(
                f"/api/cases/{case_id}/exhibits",
                json={"label": f"phone {n}", "description": "", "acquisition": dict(ACQUISITION)},
                headers=world.headers("NL", "investigator"),
            )
            assert made.status_code == 201, made.text
            exhibits.append(made.json()["id"])
    token = world.headers("NL", "technician")["Authorization"]
    stalled = []
    for exhibit_id in exhibits:
        sock = _connect(server)
        sock.sendall(
            _request_head(
                "PUT",
                f"/api/cases/{case_id}/exhibits/{exhibit_id}/content",
                {
                    "Authorization": token,
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(MiB),
                },
            )
            + b"first bytes, then nothing"
        )
        stalled.append(sock)
    try:
        # The uploads hold their threads once each has begun its write.
        deadline = time.monotonic() + 60
        while _writes_in_progress(ws) < 16 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _writes_in_progress(ws) >= 16
        # Another state reads while every upload thread is stalled. The bound is below the
        # idle timeout: the read must not wait for a stalled upload to be cut off.
        with httpx.Client(base_url=server.url, timeout=IDLE_TIMEOUT - 2) as http:
            read = http.get(f"/api/cases/{case_id}", headers=world.headers("DE", "prosecutor"))
        assert read.status_code == 200, read.text
        # Every stalled upload ends with 408, once idle for the timeout.
        with ThreadPoolExecutor(max_workers=STALLED) as pool:
            statuses = list(pool.map(_status_of, stalled))
        assert statuses == [408] * STALLED
    finally:
        for sock in stalled:
            sock.close()
    assert _writes_in_progress(ws) == 0
    assert "Traceback" not in server.log.read_text(errors="replace")


def _peak_rss_bytes(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM): memory taken and given back
    while the bodies arrived counts too."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _unauthenticated_body(server: LiveServer, path: str) -> int:
    sock = _connect(server)
    try:
        head = _request_head(
            "POST", path, {"Content-Type": "application/json", "Content-Length": str(MiB)}
        )
        # The server may answer and close before taking the whole body: as it should.
        with contextlib.suppress(OSError):
            sock.sendall(head + b'{"text": "' + b"a" * (MiB - 12) + b'"}')
        try:
            return _status_of(sock)
        except OSError:
            return 0  # reset after the answer: the body was refused unread
    finally:
        sock.close()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_150_unauthenticated_1_mib_bodies_grow_memory_by_less_than_50_mb(
    live: tuple[LiveServer, Workspace, World],
) -> None:
    server, _ws, world = live
    assert server.process is not None
    with httpx.Client(base_url=server.url, timeout=60) as http:
        created = http.post(
            "/api/cases",
            json={"title": "Tulip", "parties": ["NL", "DE"]},
            headers=world.headers("NL", "prosecutor"),
        )
        assert created.status_code == 201
        path = f"/api/cases/{created.json()['id']}/notes"
        # Warm up: the first requests load code and fill caches.
        for _ in range(3):
            assert http.post(path, json={"text": "x"}).status_code == 401
    before = _peak_rss_bytes(server.process.pid)
    with ThreadPoolExecutor(max_workers=150) as pool:
        statuses = list(pool.map(lambda _: _unauthenticated_body(server, path), range(150)))
    after = _peak_rss_bytes(server.process.pid)
    assert set(statuses) <= {401, 0}
    assert 401 in statuses
    grown = after - before
    print(f"peak RSS grew by {grown / MiB:.1f} MiB over 150 unauthenticated 1 MiB bodies")
    assert grown < 50 * 1000 * 1000
