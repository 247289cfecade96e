"""`jitc verify` on the golden bundles and on a lone tlog-proof (spec 6, command line).

The parser is built from server.cli.verify alone, so these tests need none of the other
server CLI modules.
"""

from __future__ import annotations

import argparse
import json
import re
import zipfile
from pathlib import Path

import pytest

from custody.canonical import canonical_bytes
from server.cli import verify as verify_cli
from tests.custody.golden.generator import EXPECTED, Expected, read_members, write_members

GOLDEN = Path(__file__).parent / "data" / "golden"
TRUSTED = GOLDEN / "trusted-policy.txt"
CHECK_LINE = re.compile(r"^\[(PASS|FAIL|SKIP)\] (\d)\. ([a-z-]+): ")
CHECK_IDS = ["format", "log", "time", "exhibit-chains", "signatures", "content", "replay"]
PROOF_SEQ = 3


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    verify_cli.register(parser.add_subparsers())
    args = parser.parse_args(["verify", *argv])
    code: int = args.func(args)
    return code


def expected_failures(expected: Expected, *, trusted: bool) -> frozenset[str]:
    return expected.trusted_policy if trusted else expected.own_policy


def _warnings(expected: Expected, *, trusted: bool) -> int:
    return expected.trusted_warnings if trusted else expected.own_warnings


# (bundle, with the trusted policy): the bundles that rest on the log operator's key alone.
OPERATOR_ONLY = {
    ("valid-no-witnesses", False),  # quorum none
    ("valid-no-witnesses", True),  # no cosignature
    ("fail-5-policy-not-logged", False),  # its policy.txt says quorum none
    ("fail-5-swapped-log-key", True),  # no cosignature checked once the log key fails
}

CASES = [
    pytest.param(name, trusted, id=f"{name}-{'trusted' if trusted else 'own'}-policy")
    for name in EXPECTED
    for trusted in (False, True)
]


def policy_args(trusted: bool) -> list[str]:
    return ["--policy", str(TRUSTED)] if trusted else []


@pytest.mark.parametrize(("name", "trusted"), CASES)
def test_golden_bundle_text_report(
    name: str, trusted: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = expected_failures(EXPECTED[name], trusted=trusted)
    code = run_cli(str(GOLDEN / f"{name}.zip"), *policy_args(trusted))
    captured = capsys.readouterr()
    assert captured.err == ""
    assert code == (1 if failing else 0)
    lines = captured.out.splitlines()
    # spec 6 warnings: the first line says when the bundle rests on the log operator's key
    # alone, or on the exporter's policy; no headline with a trusted policy and witnesses.
    operator_only = (name, trusted) in OPERATOR_ONLY
    if operator_only or not trusted:
        headline = lines.pop(0)
        assert headline.startswith("WARNING: ")
        assert ("rests on the log operator's key alone" in headline) is operator_only
        assert ("taken from the bundle" in headline) is (not trusted)
    checks = [CHECK_LINE.match(line) for line in lines[:7]]
    assert all(checks), lines[:7]
    assert [match.group(3) for match in checks if match] == CHECK_IDS
    assert [match.group(2) for match in checks if match] == [str(n) for n in range(1, 8)]
    assert not any(CHECK_LINE.match(line) for line in lines[7:])
    shown_failing = {match.group(3) for match in checks if match and match.group(1) == "FAIL"}
    assert shown_failing == failing
    for line in lines[:7]:
        if line.startswith("[FAIL]"):
            assert " -- " in line  # the first finding is shown beside the check
    warnings = [line for line in lines if line.startswith("[WARN] ")]
    in_headline = int(operator_only) + int(not trusted)
    assert len(warnings) == _warnings(EXPECTED[name], trusted=trusted) - in_headline
    source = "policy: given by the user" if trusted else "policy: taken from the bundle"
    assert sum(line.startswith(source) for line in lines) == 1
    assert lines[-1] == f"verdict: {'FAILED' if failing else 'VERIFIED'}"


@pytest.mark.parametrize(("name", "trusted"), CASES)
def test_golden_bundle_json_report(
    name: str, trusted: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = expected_failures(EXPECTED[name], trusted=trusted)
    code = run_cli(str(GOLDEN / f"{name}.zip"), *policy_args(trusted), "--json")
    captured = capsys.readouterr()
    assert code == (1 if failing else 0)
    assert len(captured.out.splitlines()) == 1
    report = json.loads(captured.out)
    assert report["ok"] is (not failing)
    assert report["kind"] == "bundle"
    assert report["policy_source"] == ("user" if trusted else "bundle")
    assert [check["id"] for check in report["checks"]] == CHECK_IDS
    assert {check["id"] for check in report["checks"] if check["status"] == "fail"} == failing
    for check in report["checks"]:
        assert check["status"] in ("pass", "fail", "skip")
        assert (check["status"] == "fail") == bool(check["findings"])
    assert len(report["warnings"]) == _warnings(EXPECTED[name], trusted=trusted)
    assert (report["operator_only"] is not None) is ((name, trusted) in OPERATOR_ONLY)
    assert report["log_size"] >= report["tree_size"]


def test_every_golden_bundle_is_covered() -> None:
    assert {path.stem for path in GOLDEN.glob("*.zip")} == set(EXPECTED)


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("fail-7-self-granted-judge", "holds no unrevoked grant"),
        ("fail-7-grant-for-another-state", "grants access only to its own courts"),
        ("fail-7-defence-outside-disclosure", "does not disclose this exhibit"),
        ("fail-7-hold-released-by-another-state", "only the state that set a hold"),
        ("fail-7-disposal-under-hold", "disposed of while hold(s) 21 are open"),
        ("fail-7-party-removed-by-another", "only a state itself withdraws"),
        ("fail-7-party-added-without-consent", "without the consent of BE, DE"),
    ],
)
def test_each_new_custody_rule_fails_check_7_with_its_reason(
    name: str, rule: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(str(GOLDEN / f"{name}.zip"), "--policy", str(TRUSTED)) == 1
    lines = capsys.readouterr().out.splitlines()
    [failed] = [line for line in lines if line.startswith("[FAIL]")]
    assert failed.startswith("[FAIL] 7. replay: ")
    assert rule in failed
    assert lines[-1] == "verdict: FAILED"


def _rewritten_manifest(tmp_path: Path, change: dict[str, object]) -> Path:
    members = read_members((GOLDEN / "valid-full.zip").read_bytes())
    manifest = json.loads(members["jitc-bundle.json"])
    for key, value in change.items():
        if value is None:
            del manifest[key]
        else:
            manifest[key] = value
    members["jitc-bundle.json"] = canonical_bytes(manifest)
    path = tmp_path / "bundle.zip"
    path.write_bytes(write_members(members))
    return path


def test_a_manifest_without_log_size_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _rewritten_manifest(tmp_path, {"log_size": None})
    assert run_cli(str(path), "--policy", str(TRUSTED)) == 2
    assert "'log_size' is missing" in capsys.readouterr().err


def test_a_log_size_below_tree_size_fails_check_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _rewritten_manifest(tmp_path, {"log_size": 22})
    assert run_cli(str(path), "--policy", str(TRUSTED)) == 1
    out = capsys.readouterr().out
    assert "[FAIL] 1. format: " in out
    assert "log_size 22 is below its tree_size 23" in out


def test_a_bundle_that_stops_early_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _rewritten_manifest(tmp_path, {"log_size": 30})
    assert run_cli(str(path), "--policy", str(TRUSTED)) == 0
    out = capsys.readouterr().out
    assert "[WARN] the bundle stops at entry 23 of 30" in out


# --- a lone .tlog-proof ---------------------------------------------------------------------


@pytest.fixture
def proof(tmp_path: Path) -> Path:
    with zipfile.ZipFile(GOLDEN / "valid-selective.zip") as bundle:
        data = bundle.read(f"proofs/{PROOF_SEQ}.tlog-proof")
    path = tmp_path / f"{PROOF_SEQ}.tlog-proof"
    path.write_bytes(data)
    return path


def entry_line(seq: int) -> bytes:
    with zipfile.ZipFile(GOLDEN / "valid-selective.zip") as bundle:
        lines = bundle.read("entries.jsonl").splitlines()
    return next(line for line in lines if f'"seq":{seq},'.encode() in line)


def test_tlog_proof_verifies_alone_with_a_trusted_policy(
    proof: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(str(proof), "--policy", str(TRUSTED)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == [
        "[PASS] 1. format",
        "[PASS] 2. log",
        "[PASS] 3. signatures",
    ]
    assert "policy: given by the user; cosigned by: BE-1, NL-1" in lines
    assert lines[-1] == "verdict: VERIFIED"


def test_tlog_proof_with_its_true_entry_verifies(
    proof: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = tmp_path / "entry.json"
    entry.write_bytes(entry_line(PROOF_SEQ) + b"\n")
    assert run_cli(str(proof), "--policy", str(TRUSTED), "--entry", str(entry)) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "verdict: VERIFIED"


def test_tlog_proof_with_a_tampered_entry_fails(
    proof: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = entry_line(PROOF_SEQ)
    assert b'"size":16420' in line
    entry = tmp_path / "entry.json"
    entry.write_bytes(line.replace(b'"size":16420', b'"size":16421') + b"\n")
    assert run_cli(str(proof), "--policy", str(TRUSTED), "--entry", str(entry)) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("[FAIL] 2. log: ")
    assert "inclusion proof fails" in lines[1]
    assert lines[-1] == "verdict: FAILED"


def test_tlog_proof_json_report(proof: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(str(proof), "--policy", str(TRUSTED), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "proof"
    assert report["ok"] is True
    assert report["policy_source"] == "user"


def test_tlog_proof_without_a_policy_is_unreadable(
    proof: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(str(proof)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "jitc verify: cannot read input: checking a .tlog-proof alone needs --policy"
    ]


def test_garbage_tlog_proof_is_unreadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "junk.tlog-proof"
    path.write_bytes(b"\x00\xff not a proof\n")
    assert run_cli(str(path), "--policy", str(TRUSTED)) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("jitc verify: cannot read input: not a tlog-proof")


# --- unreadable input: exit 2 and one line ---------------------------------------------------


def test_nonexistent_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.zip"
    assert run_cli(str(missing)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [f"jitc verify: cannot read input: {missing}: no such file"]


def test_nonexistent_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli(str(GOLDEN / "valid-full.zip"), "--policy", str(tmp_path / "none.txt"))
    assert code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("jitc verify: cannot read input: policy ")


def test_non_utf8_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.txt"
    policy.write_bytes(b"log \xff\n")
    assert run_cli(str(GOLDEN / "valid-full.zip"), "--policy", str(policy)) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].endswith("is not UTF-8")


def test_unparseable_policy_fails_the_signatures_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.txt"
    policy.write_text("this is not a tlog-policy\n", encoding="utf-8")
    assert run_cli(str(GOLDEN / "valid-full.zip"), "--policy", str(policy)) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[4].startswith("[FAIL] 5. signatures: ")
    assert "policy (user) cannot be parsed" in lines[4]


def test_directory_given_as_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(str(tmp_path)) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_unreadable_bundle_in_json_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.zip"
    path.write_bytes(b"")
    assert run_cli(str(path), "--json") == 2
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report == {"ok": False, "unreadable": True, "error": report["error"]}
    assert report["error"].startswith("not a ZIP file")
    assert len(captured.err.splitlines()) == 1


def test_bidi_override_in_a_bundle_witness_name_is_shown_visibly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    members = read_members((GOLDEN / "valid-full.zip").read_bytes())
    members["policy.txt"] = members["policy.txt"].replace(b"NL-1", "NL\u202e-1".encode())
    path = tmp_path / "bidi.zip"
    path.write_bytes(write_members(members))
    # The edited policy.txt is no longer the case's recorded policy: check 5 says so.
    assert run_cli(str(path)) == 1
    out = capsys.readouterr().out
    assert "is not the newest case.policy_set" in out
    assert "\u202e" not in out
    assert "cosigned by: BE-1, NL<U+202E>-1" in out
