"""For the client command tests: a real `jitc serve` (uvicorn, SQLite and the filesystem
store under a temporary folder, on a free loopback port) and `server.cli.main` run in
this process against it, its output captured."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from sqlalchemy import create_engine

from server import migrate
from server.cli import main
from tests.server.conftest import LOG_NAME
from tests.server.helpers import World

REPO: Final = Path(__file__).resolve().parents[2]
ENTRY: Final = "import sys; from server.cli import main; sys.exit(main(sys.argv[1:]))"
START_TIMEOUT: Final = 60.0

# Commands that need the API of the revised rules (party consent, holds by seq): their
# tests are in test_cli_jit_rules.py.
RULES_COMMANDS: Final = frozenset(
    {"case propose-party", "case approve", "exhibit hold", "exhibit release"}
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_environment() -> dict[str, str]:
    """This process's environment without any JITC_ setting (the defaults apply)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("JITC_")}


@contextmanager
def serve(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> Iterator[str]:
    """`jitc serve ARGV...` as a subprocess until the block ends; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                ENTRY,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *argv,
            ],
            cwd=cwd,
            env={**env, "PYTHONPATH": str(REPO)},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"jitc serve exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(url + "/api/log-key", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"jitc serve did not answer: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class LiveServer:
    url: str
    world: World
    data_dir: Path

    def token(self, code: str, role: str, sub: str | None = None) -> str:
        return self.world.token(code, role, sub)


@contextmanager
def live_server(folder: Path, codes: tuple[str, ...] = ("NL", "BE", "FR")) -> Iterator[LiveServer]:
    """A migrated SQLite workspace with `codes` registered (one authority key each), and
    `jitc serve` on it."""
    data_dir = folder / "server"
    data_dir.mkdir(parents=True)
    engine = create_engine(f"sqlite:///{data_dir / 'jitc.sqlite3'}")
    try:
        migrate.upgrade(engine)
        world = World.create(engine, audience=LOG_NAME, codes=codes)
        env = {
            **clean_environment(),
            "JITC_DATA_DIR": str(data_dir),
            "JITC_LOG_NAME": LOG_NAME,
            "JITC_REVOCATION_REFRESH": "0",
        }
        with serve([], env, folder, folder / "server.log") as url:
            yield LiveServer(url, world, data_dir)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def lines(self) -> list[str]:
        return self.out.splitlines()


def run_jitc(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """`jitc ARGV...` in this process; a usage error's SystemExit is its exit status."""
    capsys.readouterr()  # nothing of earlier calls
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def one_line_failure(result: Result, code: int = 1) -> str:
    """The failure's one line on stderr (asserted: the exit status, one line, no
    traceback)."""
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    return lines[0]
