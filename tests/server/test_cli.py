"""`jitc` administration commands, run through server.cli.main against both databases."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from jose import jwt
from sqlalchemy import create_engine

from server import migrate
from server.app import create_app
from server.cli import main
from server.config import Settings
from server.services.workspace import Workspace
from server.tokens import new_jti
from tests.server.helpers import error_code
from tests.server.testclient import TestClient

LOG_NAME = "jitc.cli-test"


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("JITC_DATABASE_URL", db_url)
    monkeypatch.setenv("JITC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JITC_LOG_NAME", LOG_NAME)
    monkeypatch.setenv("JITC_REVOCATION_REFRESH", "0")
    return Settings.from_env()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _authority(tmp_path: Path, capsys: pytest.CaptureFixture[str], code: str) -> Path:
    status, out, _ = _run(capsys, "authority", "init", code, "--out", str(tmp_path / "keys"))
    assert status == 0, out
    return tmp_path / "keys"


def test_authority_init_writes_private_key_and_public_jwk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = _authority(tmp_path, capsys, "NL")
    private = keys / "NL.es256.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    jwk = json.loads((keys / "NL.jwk.json").read_text())
    assert jwk["kty"] == "EC"
    assert jwk["crv"] == "P-256"
    assert "d" not in jwk
    assert jwk["kid"]
    # A second init refuses to overwrite the key.
    status, _, err = _run(capsys, "authority", "init", "NL", "--out", str(keys))
    assert status == 1
    assert "not overwritten" in err


def test_register_issue_use_revoke(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = _authority(tmp_path, capsys, "NL")
    status, out, err = _run(
        capsys,
        "jurisdiction",
        "add",
        "NL",
        "--name",
        "Netherlands",
        "--issuer-jwk",
        str(keys / "NL.jwk.json"),
    )
    assert status == 0, err
    status, out, _ = _run(
        capsys,
        "token",
        "issue",
        "--key",
        str(keys / "NL.es256.pem"),
        "--iss",
        "NL",
        "--sub",
        "p.devries",
        "--role",
        "prosecutor",
        "--ttl",
        "2h",
        "--json",
    )
    assert status == 0
    issued = json.loads(out)
    token = issued["token"]
    claims = jwt.get_unverified_claims(token)
    assert issued["jti"] == claims["jti"]
    assert issued["exp"] == claims["exp"]
    assert claims["aud"] == LOG_NAME
    assert claims["exp"] - claims["iat"] == 7200
    assert jwt.get_unverified_header(token)["alg"] == "ES256"

    ws = Workspace.open(env)
    try:
        with TestClient(create_app(workspace=ws)) as client:
            headers = {"Authorization": f"Bearer {token}"}
            assert client.get("/api/cases", headers=headers).status_code == 200
            # --jti=JTI takes any jti, also one an older server gave with a leading '-'.
            status, out, _ = _run(capsys, "token", "revoke", f"--jti={claims['jti']}")
            assert status == 0
            assert "revoked" in out
            response = client.get("/api/cases", headers=headers)
            assert response.status_code == 401
            assert error_code(response) == "token_revoked"
    finally:
        ws.close()
    status, out, _ = _run(capsys, "token", "revoke", "--", claims["jti"])
    assert "already revoked" in out


def test_revoke_takes_a_jti_that_begins_with_a_dash(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # Tokens issued before jtis were kept dash-free may still need revoking.
    status, out, err = _run(capsys, "token", "revoke", "--", "-dashed_jti_from_before")
    assert status == 0, err
    assert "token -dashed_jti_from_before revoked" in out
    status, out, err = _run(capsys, "token", "revoke", "--jti=-dashed_jti_from_before")
    assert status == 0, err
    assert "already revoked" in out
    status, _, err = _run(capsys, "token", "revoke")
    assert status == 2
    assert "--jti" in err


def test_a_fresh_jti_never_begins_with_a_dash() -> None:
    # One random base64url jti in 64 began with '-' (and then read as an option).
    jtis = [new_jti() for _ in range(3000)]
    assert not [jti for jti in jtis if jti.startswith("-")]
    assert len(set(jtis)) == len(jtis)


def test_key_rotation_adds_a_second_key(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _authority(tmp_path / "a", capsys, "NL")
    second = _authority(tmp_path / "b", capsys, "NL")
    for keys in (first, second):
        status, _, err = _run(
            capsys,
            "jurisdiction",
            "add",
            "NL",
            "--name",
            "Netherlands",
            "--issuer-jwk",
            str(keys / "NL.jwk.json"),
        )
        assert status == 0, err
    status, out, _ = _run(capsys, "jurisdiction", "list")
    assert status == 0
    code, name, kids, witness = out.strip().split("\t")
    assert (code, name, len(kids.split()), witness) == ("NL", "Netherlands", 2, "-")
    # The same key twice, or another name for the state, is refused.
    status, _, err = _run(
        capsys,
        "jurisdiction",
        "add",
        "NL",
        "--name",
        "Netherlands",
        "--issuer-jwk",
        str(first / "NL.jwk.json"),
    )
    assert status == 1
    assert "already has a key" in err
    status, _, err = _run(
        capsys,
        "jurisdiction",
        "add",
        "NL",
        "--name",
        "Holland",
        "--issuer-jwk",
        str(second / "NL.jwk.json"),
    )
    assert status == 1


def test_jurisdiction_list_names_each_states_witness(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for code, name in (("NL", "Netherlands"), ("BE", "Belgium")):
        keys = _authority(tmp_path / code, capsys, code)
        argv = ["jurisdiction", "add", code, "--name", name]
        assert _run(capsys, *argv, "--issuer-jwk", str(keys / f"{code}.jwk.json"))[0] == 0
    status, _, err = _run(capsys, "witness", "init", "--name", "NL-1", "--out", str(tmp_path / "w"))
    assert status == 0, err
    vkey = (tmp_path / "w" / "witness.vkey").read_text().strip()
    argv = ["jurisdiction", "witness", "NL", "--url", "http://127.0.0.1:7380/", "--vkey", vkey]
    assert _run(capsys, *argv)[0] == 0
    status, out, _ = _run(capsys, "jurisdiction", "list")
    assert status == 0
    lines = {line.split("\t")[0]: line.split("\t") for line in out.splitlines()}
    assert lines["NL"][3] == "NL-1 http://127.0.0.1:7380"
    assert lines["BE"][3] == "-"  # no witness registered for BE


def test_jurisdiction_add_refuses_a_private_jwk(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = _authority(tmp_path, capsys, "NL")
    jwk = json.loads((keys / "NL.jwk.json").read_text())
    leaked = tmp_path / "private.jwk.json"
    leaked.write_text(json.dumps({**jwk, "d": jwk["x"]}))
    status, _, err = _run(
        capsys, "jurisdiction", "add", "NL", "--name", "N", "--issuer-jwk", str(leaked)
    )
    assert status == 1
    assert "private key" in err


def test_token_issue_refuses_more_than_12_hours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = _authority(tmp_path, capsys, "NL")
    status, _, err = _run(
        capsys,
        "token",
        "issue",
        "--key",
        str(keys / "NL.es256.pem"),
        "--iss",
        "NL",
        "--sub",
        "x",
        "--role",
        "judge",
        "--ttl",
        "13h",
    )
    assert status == 1
    assert "12 hours" in err


def test_db_upgrade_and_current(
    empty_db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("JITC_DATABASE_URL", empty_db_url)
    monkeypatch.setenv("JITC_DATA_DIR", str(tmp_path))
    status, out, _ = _run(capsys, "db", "current")
    assert status == 1
    assert "jitc db upgrade" in out
    status, out, _ = _run(capsys, "db", "upgrade")
    assert status == 0
    assert migrate.head_revision() in out
    status, out, _ = _run(capsys, "db", "current")
    assert status == 0
    status, out, _ = _run(capsys, "db", "downgrade", "base")
    assert status == 0
    engine = create_engine(empty_db_url)
    try:
        assert migrate.current_revision(engine) is None
    finally:
        engine.dispose()


def test_serve_refuses_a_database_behind(
    empty_db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("JITC_DATABASE_URL", empty_db_url)
    monkeypatch.setenv("JITC_DATA_DIR", str(tmp_path))
    status, _, err = _run(capsys, "serve", "--port", "1")
    assert status == 1
    assert "run `jitc db upgrade`" in err


def test_log_key_matches_the_api(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    ws = Workspace.open(env)  # the server creates the key; log-key only reads it
    try:
        status, out, _ = _run(capsys, "log-key")
        assert status == 0
        vkey = out.strip()
        assert vkey.startswith(LOG_NAME + "+")
        with TestClient(create_app(workspace=ws)) as client:
            assert client.get("/api/log-key").json() == {"name": LOG_NAME, "vkey": vkey}
    finally:
        ws.close()


def test_the_start_up_line_names_the_store_without_its_credentials() -> None:
    from server.cli.admin import shown_store

    assert shown_store("s3://AK:SK@minio:9000/evidence?staging_bucket=s") == (
        "s3://minio:9000/evidence?staging_bucket=s"
    )
    assert shown_store("/var/lib/jitc/evidence") == "/var/lib/jitc/evidence"
    assert shown_store("s3://minio:9000/evidence") == "s3://minio:9000/evidence"
