"""The `jitc` front door: `jitc verify` loads nothing of the server, and in an install of the
verifier alone every other command says which extra it needs, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from server import cli as commands

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "custody" / "data" / "golden"
# What the server extra brings; none of it may load for the verifier.
# The light modules every command passes through: `python -m server` and the table of commands.
FRONT_DOOR = frozenset({"server", "server.__main__", "server.cli"})
SERVER_ONLY = ("sqlalchemy", "alembic", "starlette", "uvicorn", "minio", "jose", "httpx")
# An interpreter where only the verifier's own dependencies are installed: the packages of
# the `server` and `witness` extras cannot be imported (a failure path, made in-process).
VERIFIER_ONLY = """
import importlib.abc, sys
EXTRAS = {"starlette", "uvicorn", "anyio", "sqlalchemy", "alembic", "minio", "urllib3",
          "jose", "psycopg", "httpx"}
class VerifierOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in EXTRAS:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, VerifierOnly())
from server.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run(*argv: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", code, *argv] if code else [sys.executable, *argv]
    return subprocess.run(
        command,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _imported(importtime_log: str) -> set[str]:
    """Module names from `python -X importtime` lines: `import time: self | total | name`."""
    names = set()
    for line in importtime_log.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_jitc_verify_help_imports_nothing_of_the_server() -> None:
    result = _run("-X", "importtime", "-m", "server", "verify", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: jitc verify")
    loaded = _imported(result.stderr)
    assert "custody.verify" in loaded  # the log is read right: the verifier itself is there
    heavy = sorted(n for n in loaded if n.split(".")[0] in {*SERVER_ONLY, "evidence", "witness"})
    assert heavy == []
    # Of the server package, only the front door and the verify command itself.
    assert {n for n in loaded if n.split(".")[0] == "server"} <= FRONT_DOOR | {"server.cli.verify"}


def test_jitc_help_names_every_command_and_imports_none_of_them() -> None:
    result = _run("-X", "importtime", "-m", "server", "--help")
    assert result.returncode == 0, result.stderr
    for area in commands.AREAS:
        for name, summary in area.commands.items():
            assert f"{name}" in result.stdout
            assert summary in " ".join(result.stdout.split())
    loaded = _imported(result.stderr)
    assert not [n for n in loaded if n.split(".")[0] in {"witness", "custody", "evidence"}]
    assert {n for n in loaded if n.split(".")[0] == "server"} <= FRONT_DOOR


def test_a_verifier_only_install_verifies_a_bundle() -> None:
    bundle = GOLDEN / "valid-full.zip"
    result = _run(
        str(bundle), code=VERIFIER_ONLY.replace("sys.argv[1:]", "['verify', *sys.argv[1:]]")
    )
    assert result.returncode == 0, result.stderr
    assert "[PASS] 1. format" in result.stdout


@pytest.mark.parametrize(
    ("argv", "extra"),
    [
        (["serve"], "server"),
        (["db", "current"], "server"),
        (["token", "issue", "--help"], "server"),
        (["upload", "c", "e", "f"], "server"),
        (["download", "--help"], "server"),
        (["scrub"], "server"),
        (["export", "c", "--out", "b.zip", "--recipient", "r"], "server"),
        (["audit", "c"], "server"),
        (["witness", "serve", "--key", "k", "--state", "s", "--log", "v"], "witness"),
    ],
)
def test_a_verifier_only_install_names_the_extra_a_command_needs(
    argv: list[str], extra: str
) -> None:
    result = _run(*argv, code=VERIFIER_ONLY)
    assert result.returncode == commands.EXIT_NOT_INSTALLED
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(
        f"jitc {argv[0]}: this command needs the {extra}: pip install 'jit-custody[{extra}]'"
    )
    assert len(result.stderr.splitlines()) == 1


def test_a_witness_key_needs_no_extra(tmp_path: Path) -> None:
    result = _run("witness", "init", "--name", "NL-1", "--out", str(tmp_path), code=VERIFIER_ONLY)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "witness.vkey").read_text().startswith("NL-1+")


def test_a_missing_module_of_our_own_is_a_bug_and_not_hidden() -> None:
    ours = ModuleNotFoundError("No module named 'server.cli.gone'", name="server.cli.gone")
    theirs = ModuleNotFoundError("No module named 'sqlalchemy'", name="sqlalchemy")
    assert commands._missing_dependency(ours) is None
    assert commands._missing_dependency(theirs) == "sqlalchemy"
