"""A witness killed with SIGKILL keeps its last size (a real `jitc witness serve`)."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import httpx
import pytest

from custody.note import parse_signature_lines
from tests.witness.helpers import CaseLog, log_key
from witness.cli import STALL_ENV
from witness.keys import create_witness_key
from witness.protocol import SIZE_CONTENT_TYPE
from witness.state import WitnessState

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# The witness's commands alone, with the test hook of STALL_ENV.
ENTRY = "import sys; from witness.cli import main_for_tests; sys.exit(main_for_tests(sys.argv[1:]))"
TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class WitnessProcess:
    """`jitc witness serve` in its own process; its stdout and stderr in one pipe, read
    only when a test waits for a line (uvicorn's "running on", the stall hook's)."""

    def __init__(self, key: Path, state: Path, *, stall_at: int | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != STALL_ENV}
        if stall_at is not None:
            env[STALL_ENV] = str(stall_at)
        argv = ["witness", "serve", "--key", str(key), "--state", str(state)]
        argv += ["--host", "127.0.0.1", "--port", str(self.port), "--log", log_key().vkey()]
        self.output = b""
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ENTRY, *argv],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def wait_for(self, line: bytes, what: str) -> None:
        """Read the witness's output until `line` appears (or fail after TIMEOUT)."""
        out = self.proc.stdout
        assert out is not None
        with selectors.DefaultSelector() as selector:
            selector.register(out, selectors.EVENT_READ)
            while line not in self.output:
                if not selector.select(TIMEOUT):
                    pytest.fail(f"witness never {what}: {self.stderr()}")
                chunk = os.read(out.fileno(), 4096)  # unbuffered: select sees all that waits
                if not chunk:
                    self.proc.wait(timeout=TIMEOUT)
                    pytest.fail(f"witness exited {self.proc.returncode}: {self.stderr()}")
                self.output += chunk

    def wait_ready(self) -> None:
        self.wait_for(f"Uvicorn running on {self.url}".encode(), "started")

    def wait_persisted(self, size: int) -> None:
        """The stall hook's line: the checkpoint is durable and the witness hangs before
        answering."""
        self.wait_for(f"persisted {size}\n".encode(), f"persisted size {size}")

    def post(self, body: bytes) -> httpx.Response:
        return httpx.post(self.url + "/add-checkpoint", content=body, timeout=TIMEOUT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=TIMEOUT)
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self.output += self.proc.stdout.read()
            self.proc.stdout.close()

    def stderr(self) -> str:
        return self.output.decode(errors="replace")[-2000:]


class Start(Protocol):
    def __call__(self, *, stall_at: int | None = None, ready: bool = True) -> WitnessProcess: ...


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    create_witness_key(tmp_path / "keys", "NL-1")
    processes: list[WitnessProcess] = []

    def launch(*, stall_at: int | None = None, ready: bool = True) -> WitnessProcess:
        process = WitnessProcess(
            tmp_path / "keys" / "witness.key", tmp_path / "state", stall_at=stall_at
        )
        processes.append(process)
        if ready:
            process.wait_ready()
        return process

    yield launch
    for process in processes:
        process.kill()


def assert_conflict(response: httpx.Response, size: int) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == SIZE_CONTENT_TYPE
    assert response.content == f"{size}\n".encode()


def test_sigkill_after_persisting_and_before_answering_keeps_the_size(
    start: Start, tmp_path: Path
) -> None:
    log = CaseLog().grow_to(20)
    witness = start(stall_at=15)
    assert witness.post(log.request(0, 10)).status_code == 200

    outcome: list[object] = []

    def send() -> None:
        try:
            outcome.append(witness.post(log.request(10, 15)))
        except httpx.TransportError as exc:
            outcome.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    # Size 15 is durable; the witness hangs before answering. Kill it there.
    witness.wait_persisted(15)
    loaded = WitnessState(tmp_path / "state").load(log.origin)
    assert loaded is not None
    assert loaded.size == 15
    witness.kill()
    sender.join(TIMEOUT)
    assert not sender.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], httpx.TransportError)  # no cosignature went out

    restarted = start()
    # A rollback to the size the log did get a cosignature for, or below: refused.
    assert_conflict(restarted.post(log.request(10, 10)), 15)
    assert_conflict(restarted.post(log.request(0, 12)), 15)
    # The consistent extension of the remembered size is cosigned.
    response = restarted.post(log.request(15, 20))
    assert response.status_code == 200, response.text
    (line,) = parse_signature_lines(response.content)
    assert line.name == "NL-1"
    assert_conflict(restarted.post(log.request(0)), 20)


def test_sigkill_right_after_sending_never_loses_a_cosigned_size(
    start: Start, tmp_path: Path
) -> None:
    log = CaseLog().grow_to(30)
    witness = start()
    assert witness.post(log.request(0, 10)).status_code == 200
    with socket.create_connection(("127.0.0.1", witness.port), timeout=TIMEOUT) as sock:
        body = log.request(10, 17)
        head = (
            f"POST /add-checkpoint HTTP/1.1\r\nHost: witness\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        sock.sendall(head + body)
        witness.kill()

    restarted = start()
    loaded = WitnessState(tmp_path / "state").load(log.origin)
    assert loaded is not None
    kept = loaded.size
    assert kept in (10, 17)
    assert_conflict(restarted.post(log.request(8, 8)), kept)
    assert restarted.post(log.request(kept, 30)).status_code == 200


def test_a_second_witness_process_on_the_same_state_is_refused(start: Start) -> None:
    first = start()
    second = start(ready=False)
    assert second.proc.wait(timeout=TIMEOUT) == 1
    second.kill()  # reads what it wrote
    assert "in use by another witness process" in second.stderr()
    assert httpx.get(first.url + "/", timeout=TIMEOUT).status_code == 200
