"""`jitc policy make`: a tlog-policy built offline from keys alone, which `jitc verify`
then trusts; it works in an install of the verifier alone."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from custody.policy import Policy
from server.cli import policy as policy_cli
from server.cli import verify as verify_cli
from tests.custody.golden.generator import LOG_KEY, LOG_NAME, ORIGIN, WITNESSES
from tests.server.test_commands import VERIFIER_ONLY, _run

GOLDEN = Path(__file__).resolve().parents[1] / "custody" / "data" / "golden"
NL = WITNESSES["NL-1"].vkey()
BE = WITNESSES["BE-1"].vkey()


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    policy_cli.register(commands)
    verify_cli.register(commands)
    args = parser.parse_args(list(argv))
    code: int = args.func(args)
    return code


def make(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert run("policy", "make", *argv) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def test_a_policy_from_the_log_key_and_two_witnesses(capsys: pytest.CaptureFixture[str]) -> None:
    text = make(capsys, "--log", LOG_KEY.vkey(), "--witness", NL, "--witness", BE)
    # spec 5: a witness line per witness, named by its key name; all must cosign.
    assert text == (
        f"log {LOG_KEY.vkey()}\n"
        f"witness witness.nl.example {NL}\n"
        f"witness witness.be.example {BE}\n"
        "group witnesses all witness.nl.example witness.be.example\n"
        "quorum witnesses\n"
    )
    Policy.parse(text)


def test_jitc_verify_trusts_a_made_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.txt"
    policy.write_text(make(capsys, "--log", LOG_KEY.vkey(), "--witness", NL, "--witness", BE))
    assert run("verify", str(GOLDEN / "valid-full.zip"), "--policy", str(policy)) == 0
    out = capsys.readouterr().out
    assert "policy: given by the user" in out
    assert not out.startswith("WARNING")
    assert run("verify", str(GOLDEN / "fail-5-swapped-log-key.zip"), "--policy", str(policy)) == 1


def test_the_server_key_is_named_after_the_case_origin(capsys: pytest.CaptureFixture[str]) -> None:
    # GET /api/log-key gives the key under the log name; the policy names it by the origin.
    server_key = LOG_KEY.verifier().for_name(LOG_NAME).vkey()
    text = make(capsys, "--log", server_key, "--origin", ORIGIN, "--witness", NL)
    assert text.splitlines()[0] == f"log {LOG_KEY.vkey()}"


@pytest.mark.parametrize(
    ("quorum", "line"),
    [("1", "group witnesses 1 "), ("any", "group witnesses any "), ("2", "group witnesses 2 ")],
)
def test_the_quorum_is_k_of_the_witnesses(
    quorum: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = make(
        capsys, "--log", LOG_KEY.vkey(), "--witness", NL, "--witness", BE, "--quorum", quorum
    )
    assert any(row.startswith(line) for row in text.splitlines()), text
    assert text.endswith("quorum witnesses\n")


def test_no_witness_is_quorum_none(capsys: pytest.CaptureFixture[str]) -> None:
    assert make(capsys, "--log", LOG_KEY.vkey()).splitlines()[-1] == "quorum none"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--log", "not-a-key"], "--log: vkey must have the form"),
        (["--log", NL], "--log: NoteVerifier needs a vkey of type 0x01"),
        (["--log", LOG_KEY.vkey(), "--witness", LOG_KEY.vkey()], "needs a vkey of type 0x04"),
        (["--log", LOG_KEY.vkey(), "--witness", NL, "--witness", NL], "two keys are named"),
        (["--log", LOG_KEY.vkey(), "--witness", NL, "--quorum", "2"], "--quorum '2' is not"),
        (["--log", LOG_KEY.vkey(), "--witness", NL, "--quorum", "0"], "from 1 to 1"),
        (["--log", LOG_KEY.vkey(), "--witness", NL, "--quorum", "\u0661"], "is not all, any"),
        (["--log", LOG_KEY.vkey(), "--quorum", "1"], "--quorum needs at least one --witness"),
        (["--log", LOG_KEY.vkey(), "--origin", "a b"], "--origin 'a b' is not a valid key"),
    ],
)
def test_bad_keys_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("policy", "make", *argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("jitc policy make: ")
    assert message in captured.err
    assert len(captured.err.splitlines()) == 1


def test_policy_make_works_in_a_verifier_only_install() -> None:
    result = _run("policy", "make", "--log", LOG_KEY.vkey(), "--witness", NL, code=VERIFIER_ONLY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"log {LOG_KEY.vkey()}\n")
    assert "Traceback" not in result.stderr
