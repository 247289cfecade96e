"""`jitc witness init` and `jitc witness serve` (argument handling; serving is in
test_crash.py, as a real process)."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path

import pytest

from custody.cosignature import COSIGNATURE_KEY_TYPE, CosignatureVerifier
from custody.note import parse_vkey
from tests.witness.helpers import log_key
from witness import cli as witness_cli
from witness.errors import WitnessKeyError
from witness.keys import create_witness_key, load_witness_key


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="jitc")
    witness_cli.register(root.add_subparsers(dest="command", required=True))
    return root


def test_init_writes_a_private_key_and_prints_its_vkey(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "keys"
    assert witness_cli.main_for_tests(["witness", "init", "--name", "NL-1", "--out", str(out)]) == 0
    vkey = capsys.readouterr().out.strip()
    name, _, key_type, _ = parse_vkey(vkey)
    assert (name, key_type) == ("NL-1", COSIGNATURE_KEY_TYPE)
    assert (out / "witness.vkey").read_text() == vkey + "\n"
    assert stat.S_IMODE((out / "witness.key").stat().st_mode) == 0o600
    assert (out / "witness.key").read_text().startswith("PRIVATE+KEY+NL-1+")
    signer = load_witness_key(out / "witness.key")
    assert signer.vkey() == vkey
    assert CosignatureVerifier.from_vkey(vkey).key_id == signer.key_id


def test_init_never_overwrites_a_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["witness", "init", "--name", "NL-1", "--out", str(tmp_path)]
    assert witness_cli.main_for_tests(argv) == 0
    before = (tmp_path / "witness.key").read_bytes()
    assert witness_cli.main_for_tests(argv) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (tmp_path / "witness.key").read_bytes() == before


@pytest.mark.parametrize("name", ["NL 1", "NL+1", ""])
def test_init_refuses_an_invalid_name(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        witness_cli.main_for_tests(["witness", "init", "--name", name, "--out", str(tmp_path)]) == 1
    )
    assert "invalid witness name" in capsys.readouterr().err
    assert not (tmp_path / "witness.key").exists()


def test_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    create_witness_key(tmp_path, "NL-1")
    (tmp_path / "witness.key").chmod(0o644)
    with pytest.raises(WitnessKeyError, match="make it 0600"):
        load_witness_key(tmp_path / "witness.key")


@pytest.mark.parametrize(
    "content",
    [
        "",
        "not a key\n",
        # A log (type 0x01) key is not a witness key.
        "PRIVATE+KEY+NL-1+00000000+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
    ],
)
def test_malformed_key_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "witness.key"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(WitnessKeyError, match="not a witness key"):
        load_witness_key(path)


def test_key_with_a_wrong_key_id_is_refused(tmp_path: Path) -> None:
    create_witness_key(tmp_path, "NL-1")
    path = tmp_path / "witness.key"
    parts = path.read_text().split("+")
    parts[3] = "00000000"
    path.write_text("+".join(parts))
    with pytest.raises(WitnessKeyError, match="key ID"):
        load_witness_key(path)


def test_serve_arguments_parse() -> None:
    second = log_key(bytes([3]) * 32, "jitc.other").vkey()
    args = parser().parse_args(
        [
            "witness", "serve", "--key", "k/witness.key", "--state", "st",
            "--host", "0.0.0.0", "--port", "9000", "--log", log_key().vkey(), "--log", second,
        ]
    )  # fmt: skip
    assert args.key == Path("k/witness.key")
    assert args.state == Path("st")
    assert (args.host, args.port) == ("0.0.0.0", 9000)
    assert args.logs == [log_key().vkey(), second]
    assert callable(args.func)


def test_serve_defaults_to_loopback() -> None:
    args = parser().parse_args(
        ["witness", "serve", "--key", "k", "--state", "s", "--log", log_key().vkey()]
    )
    assert (args.host, args.port) == ("127.0.0.1", witness_cli.DEFAULT_PORT)


@pytest.mark.parametrize("missing", ["--key", "--state", "--log"])
def test_serve_requires_key_state_and_a_log(missing: str) -> None:
    argv = {"--key": "k", "--state": "s", "--log": log_key().vkey()}
    del argv[missing]
    flat = [item for pair in argv.items() for item in pair]
    with pytest.raises(SystemExit):
        parser().parse_args(["witness", "serve", *flat])


def test_serve_refuses_a_log_vkey_that_is_not_a_log_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create_witness_key(tmp_path, "NL-1")
    witness_vkey = (tmp_path / "witness.vkey").read_text().strip()  # type 0x04, not 0x01
    argv = ["witness", "serve", "--key", str(tmp_path / "witness.key")]
    argv += ["--state", str(tmp_path / "state"), "--log", witness_vkey]
    assert witness_cli.main_for_tests(argv) == 2
    assert "--log is not an Ed25519 log vkey" in capsys.readouterr().err


def test_serve_refuses_a_missing_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["witness", "serve", "--key", str(tmp_path / "nope"), "--state", str(tmp_path)]
    assert witness_cli.main_for_tests([*argv, "--log", log_key().vkey()]) == 1
    assert "cannot read witness key file" in capsys.readouterr().err
