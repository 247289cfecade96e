"""Commands that serve an existing workspace never create one: with no database or log
key found they say which of JITC_DATA_DIR or JITC_DATABASE_URL to set and exit 2, and
leave nothing behind. `jitc serve` stops at start, in one line, on an evidence bucket
without Object Lock. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from server import migrate
from server.cli import main
from server.config import Settings
from server.services.workspace import Workspace
from tests.conftest import free_port
from tests.evidence.support import REGION, S3Server
from tests.server.conftest import LOG_NAME


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.fixture
def jwk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["authority", "init", "NL", "--out", str(tmp_path / "keys")]) == 0
    capsys.readouterr()
    return tmp_path / "keys" / "NL.jwk.json"


def _commands(jwk: Path) -> list[list[str]]:
    return [
        ["audit", str(uuid.uuid4())],
        ["scrub"],
        ["log-key"],
        ["token", "revoke", "some-jti"],
        ["jurisdiction", "list"],
        ["jurisdiction", "remove-key", "NL", "kid"],
        ["jurisdiction", "add", "NL", "--name", "Netherlands", "--issuer-jwk", str(jwk)],
        ["jurisdiction", "witness", "NL", "--url", "http://w.example", "--vkey", "v"],
    ]


def test_no_workspace_in_the_data_dir_creates_nothing(
    tmp_path: Path,
    jwk: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "not-the-data-dir"
    monkeypatch.delenv("JITC_DATABASE_URL", raising=False)
    monkeypatch.delenv("JITC_LOG_KEY", raising=False)
    monkeypatch.setenv("JITC_DATA_DIR", str(data))
    for argv in _commands(jwk):
        status, err = _run(capsys, *argv)
        assert status == 2, (argv, err)
        assert "JITC_DATA_DIR" in err, (argv, err)
        assert "Traceback" not in err
        assert not data.exists(), argv  # no database, no key, not even the folder


def test_a_database_without_a_workspace_is_not_made_one(
    empty_db_url: str,
    tmp_path: Path,
    jwk: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("JITC_DATABASE_URL", empty_db_url)
    monkeypatch.setenv("JITC_DATA_DIR", str(tmp_path / "data"))
    for argv in _commands(jwk):
        if argv[0] in ("log-key", "scrub", "audit"):
            continue  # they ask for the log key first (the next test)
        status, err = _run(capsys, *argv)
        assert status == 2, (argv, err)
        assert "JITC_DATABASE_URL" in err, (argv, err)
    if empty_db_url.startswith("sqlite"):
        assert not Path(empty_db_url.removeprefix("sqlite:///")).exists()
    engine = create_engine(empty_db_url)
    try:
        assert migrate.current_revision(engine) is None  # no schema was created
    finally:
        engine.dispose()


def test_no_log_key_is_made_for_an_existing_database(
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "elsewhere"
    monkeypatch.setenv("JITC_DATABASE_URL", db_url)
    monkeypatch.setenv("JITC_DATA_DIR", str(data))
    monkeypatch.delenv("JITC_LOG_KEY", raising=False)
    for argv in (["log-key"], ["scrub"], ["audit", str(uuid.uuid4())]):
        status, err = _run(capsys, *argv)
        assert status == 2, (argv, err)
        assert "no log key" in err
        assert "JITC_DATA_DIR" in err
        assert not (data / "log-key.seed").exists()


def test_serve_stops_at_start_on_a_bucket_without_object_lock(
    db_url: str, tmp_path: Path, moto_server: S3Server
) -> None:
    bucket = f"unlocked-{uuid.uuid4().hex[:8]}"
    moto_server.client().make_bucket(bucket)  # no Object Lock
    env = {
        **os.environ,
        "JITC_DATABASE_URL": db_url,
        "JITC_DATA_DIR": str(tmp_path / "data"),
        "JITC_LOG_NAME": LOG_NAME,
        "JITC_STORE_URL": f"s3://{moto_server.endpoint}/{bucket}"
        f"?staging_bucket={bucket}-staging&secure=false&region={REGION}",
        "JITC_S3_ACCESS_KEY": moto_server.access_key,
        "JITC_S3_SECRET_KEY": moto_server.secret_key,
    }
    Workspace.open(Settings.from_env(env)).close()
    # A server that did start would serve until killed: the timeout ends it, and fails.
    done = subprocess.run(
        [sys.executable, "-m", "server", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "without Object Lock" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_scrub_answers_a_bucket_without_object_lock_in_one_line(
    db_url: str,
    tmp_path: Path,
    moto_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = f"unlocked-{uuid.uuid4().hex[:8]}"
    moto_server.client().make_bucket(bucket)  # no Object Lock
    env = {
        "JITC_DATABASE_URL": db_url,
        "JITC_DATA_DIR": str(tmp_path / "data"),
        "JITC_LOG_NAME": LOG_NAME,
        "JITC_STORE_URL": f"s3://{moto_server.endpoint}/{bucket}"
        f"?staging_bucket={bucket}-staging&secure=false&region={REGION}",
        "JITC_S3_ACCESS_KEY": moto_server.access_key,
        "JITC_S3_SECRET_KEY": moto_server.secret_key,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    Workspace.open(Settings.from_env()).close()
    status, err = _run(capsys, "scrub")
    assert status == 2, err
    assert "without Object Lock" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
