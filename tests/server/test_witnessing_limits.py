"""A hostile or slow witness cannot stall witnessing or exhaust memory (ADR 0021).

The hostile witnesses are real HTTP servers on 127.0.0.1 (a free port), so the bytes go
through sockets and httpx's own reading, as they would in production; the good witness
runs in-process.
"""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from custody.cosignature import CosignatureSigner
from custody.note import Note
from server.services.witnessing import WitnessSubmitter, register_witness
from server.services.workspace import Workspace
from tests.server.helpers import World, create_case, quiet_client
from tests.server.witnesses import Witnesses, submit

DEADLINE = 1.0
DRIP_BYTES = 40
DRIP_EVERY = 0.25  # 40 bytes take 10 s: far past the deadline, well inside a read timeout
FLOOD_BYTES = 64 * 1024 * 1024
FLOOD_CHUNK = 64 * 1024


class _HostileWitness(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = mode
        self.stop = threading.Event()
        self.sent = 0
        self.finished = False  # the whole answer went out: the client read it all

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(socketserver.StreamRequestHandler):
    server: _HostileWitness

    def handle(self) -> None:
        length = 0
        while (line := self.rfile.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        self.rfile.read(length)
        try:
            if self.server.mode == "drip":
                self._drip()
            else:
                self._flood()
        except OSError:
            return  # the log hung up on us, as it should

    def _drip(self) -> None:
        # 200 at once, then a byte every DRIP_EVERY seconds: no single read ever times out.
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + f"Content-Length: {DRIP_BYTES}\r\n\r\n".encode()
        )
        for _ in range(DRIP_BYTES):
            if self.server.stop.wait(DRIP_EVERY):
                return
            self.wfile.write(b"x")
            self.wfile.flush()
        self.server.finished = True

    def _flood(self) -> None:
        # No Content-Length (close-delimited): only counting what arrives can stop it.
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Connection: close\r\n\r\n"
        )
        chunk = b"\xff" * FLOOD_CHUNK
        while self.server.sent < FLOOD_BYTES and not self.server.stop.is_set():
            self.wfile.write(chunk)
            self.server.sent += len(chunk)
        self.server.finished = self.server.sent >= FLOOD_BYTES


@contextmanager
def hostile_witness(mode: str) -> Iterator[_HostileWitness]:
    server = _HostileWitness(mode)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


def _cosigners(client: object, world: World, case_id: str) -> set[str]:
    response = client.get(  # type: ignore[attr-defined]
        f"/api/cases/{case_id}/checkpoint", headers=world.headers("DE", "investigator")
    )
    assert response.status_code == 200, response.text
    return {sig.name for sig in Note.parse(response.content).signatures}


@pytest.mark.parametrize(
    ("mode", "error"),
    [("drip", f"no answer within {DEADLINE:g} s"), ("flood", "oversized answer")],
)
def test_a_hostile_witness_stalls_no_round_and_no_other_witness(
    workspace: Workspace, world: World, tmp_path: Path, mode: str, error: str
) -> None:
    witnesses = Witnesses(workspace)
    witnesses.add("NL", tmp_path / "nl-witness")  # in-process, honest
    with hostile_witness(mode) as hostile:
        register_witness(
            workspace.engine,
            "DE",
            url=hostile.url,
            vkey=CosignatureSigner.generate("DE-1").vkey(),
            signer=workspace.signer,
        )

        def http() -> httpx.AsyncClient:
            good = httpx.ASGITransport(app=witnesses.apps["NL"])
            # The production per-read timeout: the drip passes it, only the deadline stops it.
            return httpx.AsyncClient(
                mounts={"http://nl-witness": good}, timeout=10, trust_env=False
            )

        submitter = WitnessSubmitter(
            workspace, http_factory=http, clock=witnesses.clock, deadline=DEADLINE
        )
        with quiet_client(workspace) as client:
            case_id = create_case(client, world, parties=("NL", "DE"))
            started = time.monotonic()
            outcomes = {o.witness: o for o in submit(submitter)}
            elapsed = time.monotonic() - started
            assert elapsed < DRIP_BYTES * DRIP_EVERY / 2  # generous: the drip lasts 10 s
            assert outcomes["NL-1"].error is None
            assert outcomes["DE-1"].error is not None
            assert error in outcomes["DE-1"].error
            assert _cosigners(client, world, case_id) >= {"NL-1"}
            assert "DE-1" not in _cosigners(client, world, case_id)
            # The hostile witness backs off: the next round does not ask it again yet.
            assert submit(submitter) == []
        # The log hung up: it neither waited out the drip nor read the 64 MiB flood.
        assert not hostile.finished
