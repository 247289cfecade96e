"""A witness killed with SIGKILL keeps its last size (a real `jitc witness serve`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import httpx
import pytest

from custody.note import parse_signature_lines
from server.cli.witness import STALL_ENV
from server.witness.keys import create_witness_key
from server.witness.protocol import SIZE_CONTENT_TYPE
from server.witness.state import WitnessState
from tests.witness.helpers import CaseLog, log_key

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# Not `python -m server`: that imports every CLI area, some still being written.
ENTRY = (
    "import sys; from server.cli.witness import main_for_tests; "
    "sys.exit(main_for_tests(sys.argv[1:]))"
)
TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class WitnessProcess:
    def __init__(self, key: Path, state: Path, log_dir: Path, *, stall_at: int | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != STALL_ENV}
        if stall_at is not None:
            env[STALL_ENV] = str(stall_at)
        argv = ["witness", "serve", "--key", str(key), "--state", str(state)]
        argv += ["--host", "127.0.0.1", "--port", str(self.port), "--log", log_key().vkey()]
        self.stderr_path = log_dir / f"witness-{self.port}.log"
        with self.stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", ENTRY, *argv],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"witness exited {self.proc.returncode}: {self.stderr()}")
            try:
                if httpx.get(self.url + "/", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        pytest.fail(f"witness did not start: {self.stderr()}")

    def post(self, body: bytes) -> httpx.Response:
        return httpx.post(self.url + "/add-checkpoint", content=body, timeout=TIMEOUT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=TIMEOUT)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-2000:]


class Start(Protocol):
    def __call__(self, *, stall_at: int | None = None, ready: bool = True) -> WitnessProcess: ...


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    create_witness_key(tmp_path / "keys", "NL-1")
    processes: list[WitnessProcess] = []

    def launch(*, stall_at: int | None = None, ready: bool = True) -> WitnessProcess:
        process = WitnessProcess(
            tmp_path / "keys" / "witness.key", tmp_path / "state", tmp_path, stall_at=stall_at
        )
        processes.append(process)
        if ready:
            process.wait_ready()
        return process

    yield launch
    for process in processes:
        process.kill()


def wait_for_recorded_size(state: Path, origin: str, size: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        loaded = WitnessState(state).load(origin)
        if loaded is not None and loaded.size == size:
            return
        time.sleep(0.02)
    pytest.fail(f"witness never recorded size {size}")


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
    wait_for_recorded_size(tmp_path / "state", log.origin, 15)
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
    assert "in use by another witness process" in second.stderr()
    assert httpx.get(first.url + "/", timeout=TIMEOUT).status_code == 200
