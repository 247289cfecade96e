"""docs/operations.md works as written: its `sh test` blocks run, in order, against a
server that the image's own start script (docker/start.sh) started, on SQLite and on a
fresh PostgreSQL database.

No Docker here: a command the doc runs in the container (`docker compose exec -T app
CMD`) runs on the host with the app's environment, which is what the prefix does there.
The blocks name the server as 127.0.0.1:8000 (the compose port); here it is a free port.
"""

from __future__ import annotations

import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ops.conftest import ROOT, clean_env, free_port
from tests.ops.operations_doc import doc_text, documented_variables, runnable_blocks

EXEC_PREFIX = "docker compose exec -T app "
DOC_SERVER = "127.0.0.1:8000"
START_SCRIPT = ROOT / "docker" / "start.sh"
# Files an operator handles by name: the authority's key pair and the log key file.
NAMED_FILE = re.compile(r"[\w.-]+\.(?:pem|jwk\.json|seed)\b")
# Where the code and the setup read environment variables (tests and scripts included:
# every JITC_ variable anyone has to set has a row in the doc).
SOURCES = (
    "custody",
    "evidence",
    "server",
    "witness",
    "migrations",
    "bench",
    "tests",
    "scripts",
    "docker",
    ".ci",
)
VARIABLE_IN_CODE = re.compile(r"\bJITC_[A-Z0-9]+(?:_[A-Z0-9]+)*\b")


class Server:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log

    def answers(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/api/log-key"
            with urllib.request.urlopen(url, timeout=5) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError):
            return False


@pytest.fixture
def env(database_url: str, tmp_path: Path, jitc_bin: Path) -> dict[str, str]:
    """The app's environment as the compose file sets it, on this machine's paths."""
    home = tmp_path / "home"
    home.mkdir()
    return clean_env(
        PATH=f"{jitc_bin}:{clean_env()['PATH']}",
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        JITC_DATABASE_URL=database_url,
        JITC_DATA_DIR=str(tmp_path / "data"),
        JITC_WORKERS="1",
    )


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    """`jitc db upgrade` and `jitc serve`, by the app container's own command."""
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["/bin/sh", str(START_SCRIPT), "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = Server(process, port, log)
    try:
        deadline = time.monotonic() + 120  # a bound on start-up, not a speed check
        while not running.answers():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"docker/start.sh did not serve: {log.read_text()}")
            time.sleep(0.2)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _on_this_machine(text: str, port: int) -> str:
    script = text.replace(EXEC_PREFIX, "").replace(DOC_SERVER, f"127.0.0.1:{port}")
    assert not re.search(r"\bdocker(-compose| compose)\b", script), (
        f"a `sh test` block needs Docker beyond `{EXEC_PREFIX.strip()}`:\n{text}"
    )
    assert ":8000" not in script, f"a `sh test` block names the server otherwise:\n{text}"
    return script


def test_the_doc_has_runnable_blocks_for_each_operator_step() -> None:
    commands = "\n".join(block.text for block in runnable_blocks())
    for step in (
        "jitc authority init",
        "jitc jurisdiction add",
        "jitc token issue",
        "jitc log-key",
        "JITC_LOG_KEY=",
        "jitc db upgrade",
        "/api/log-key",
    ):
        assert step in commands, f"no `sh test` block shows {step!r}"


def test_the_doc_runs_as_written(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    workdir = tmp_path / "operator"
    workdir.mkdir()
    blocks = runnable_blocks()
    for block in blocks:
        script = _on_this_machine(block.text, server.port)
        done = subprocess.run(
            ["bash", "-c", f"set -euo pipefail\n{script}"],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, (
            f"docs/operations.md block at line {block.line} failed ({done.returncode}):\n"
            f"{block.text}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}\n"
            f"--- server\n{server.log.read_text()}"
        )
    assert server.answers()

    # Every key or key file the doc names by file name is one these commands made.
    named = set(NAMED_FILE.findall(doc_text()))
    assert {"NL.es256.pem", "NL.jwk.json", "log-key.seed"} <= named
    made = {path.name for path in tmp_path.rglob("*") if path.is_file()}
    assert named - made == set(), "docs/operations.md names files that nothing writes"

    # The shared-key recipe: its JITC_LOG_KEY is the seed the server signs with.
    shared = (workdir / "log-key.env").read_text().strip()
    seed = (Path(env["JITC_DATA_DIR"]) / "log-key.seed").read_text().strip()
    assert shared == f"JITC_LOG_KEY={seed}"
    fresh = (workdir / "new-log-key.env").read_text().strip().removeprefix("JITC_LOG_KEY=")
    assert len(fresh) == 44  # base64 of 32 bytes
    assert fresh != seed
    assert (workdir / "log-key.env").stat().st_mode & 0o077 == 0
    assert (workdir / "nl" / "NL.es256.pem").stat().st_mode & 0o077 == 0


def _variables_in_code() -> dict[str, Path]:
    found: dict[str, Path] = {}
    files = [ROOT / "docker-compose.yml"]
    for folder in SOURCES:
        if (ROOT / folder).is_dir():
            files.extend(path for path in (ROOT / folder).rglob("*") if path.is_file())
    for path in files:
        if "__pycache__" in path.parts or path.suffix not in {"", ".py", ".sh", ".yml"}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for name in VARIABLE_IN_CODE.findall(text):
            found.setdefault(name, path.relative_to(ROOT))
    return found


def test_every_variable_the_code_reads_has_a_row() -> None:
    in_code = _variables_in_code()
    assert {"JITC_DATABASE_URL", "JITC_STORE_URL", "JITC_LOG_KEY"} <= set(in_code)
    documented = documented_variables()
    missing = {name: str(path) for name, path in in_code.items() if name not in documented}
    assert missing == {}, "variables without a row in docs/operations.md"
    assert documented - set(in_code) == set(), "rows for variables nothing reads"
