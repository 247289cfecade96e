"""Hostile court bundles: bad input never crashes the verifier (spec 5, 6).

One test per attack, built from the golden bundles in tmp_path. Each ends either in a
BundleFormatError (exit 2, one line) when the bundle cannot be read at all, or in a report
whose specific check fails with a finding that names the defect. Nothing is extracted or
written anywhere.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from custody.bundle import MAX_ENTRY_LINE_BYTES
from custody.errors import (
    BundleFormatError,
    ContentMismatchError,
    EntryFormatError,
    RootMismatchError,
    SignatureError,
)
from server.cli import verify as verify_cli
from tests.custody.golden.generator import CASE_ID, DISK, PHONE, write_members
from tests.custody.hostile_support import (
    EM_DASH,
    ENTRIES,
    GOLDEN,
    MANIFEST,
    REPO,
    TRUSTED_POLICY,
    Members,
    RawMember,
    assert_fails,
    build_zip,
    drop,
    edit_line,
    edit_member,
    golden,
    golden_raw,
    mutated,
    patch_member,
    rezipped,
    save,
    stored_member,
    verify,
    zeros_deflated,
)

# --- missing members ------------------------------------------------------------------------


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(BundleFormatError, match=r"jitc-bundle\.json is missing"):
        verify(mutated(tmp_path, drop(MANIFEST)))


def test_missing_entries(tmp_path: Path) -> None:
    report = verify(mutated(tmp_path, drop(ENTRIES)))
    assert_fails(report, "format", r"entries\.jsonl is missing", only=True)
    # Checks over entries never read are skipped, not passed.
    for check_id in ("log", "time", "exhibit-chains", "replay"):
        assert report.check(check_id).status == "skip"


def test_missing_checkpoint(tmp_path: Path) -> None:
    report = verify(mutated(tmp_path, drop("checkpoint")))
    assert_fails(report, "signatures", "checkpoint is missing")
    assert_fails(report, "log", "no valid checkpoint")


def test_missing_policy(tmp_path: Path) -> None:
    path = mutated(tmp_path, drop("policy.txt"))
    assert_fails(verify(path), "signatures", "policy.txt is missing", only=True)
    assert verify(path, policy_text=TRUSTED_POLICY).ok


def test_missing_content_file(tmp_path: Path) -> None:
    def drop_disk(members: Members) -> None:
        for name in [name for name in members if name.startswith(f"exhibits/{DISK}/")]:
            del members[name]

    report = verify(mutated(tmp_path, drop_disk))
    assert_fails(report, "content", rf"exhibit {DISK}: content file .* is missing", only=True)


def test_missing_proof_file(tmp_path: Path) -> None:
    report = verify(mutated(tmp_path, drop("proofs/2.tlog-proof"), base="valid-selective"))
    assert_fails(report, "log", "entry seq 2: no tlog-proof for this entry", only=True)


def test_corrupt_policy_member_is_a_finding_not_unreadable(tmp_path: Path) -> None:
    path = save(tmp_path, patch_member(rezipped(), "policy.txt", crc=0))
    assert_fails(verify(path), "signatures", r"policy\.txt cannot be read: .*Bad CRC", only=True)
    assert verify(path, policy_text=TRUSTED_POLICY).ok


# --- entry lines ----------------------------------------------------------------------------


def test_non_utf8_entry_line(tmp_path: Path) -> None:
    path = mutated(tmp_path, edit_line(4, lambda line: line.replace(b"laptop", b"lap\xfftop")))
    assert_fails(verify(path), "format", r"^line 5: .*UTF-8")


def test_noncanonical_line_with_an_extra_space(tmp_path: Path) -> None:
    path = mutated(tmp_path, edit_line(4, lambda line: line.replace(b'"data":', b'"data": ')))
    assert_fails(verify(path), "format", r"^line 5: .*canonical")


def test_noncanonical_line_with_reordered_keys(tmp_path: Path) -> None:
    def v_first(line: bytes) -> bytes:
        assert line.endswith(b',"v":1}')
        return b'{"v":1,' + line[1 : -len(b',"v":1}')] + b"}"

    report = verify(mutated(tmp_path, edit_line(4, v_first)))
    assert_fails(report, "format", r"^line 5: .*canonical")


def test_entry_nested_10000_levels_deep(tmp_path: Path) -> None:
    deep = b'"data":{"x":' + b"[" * 10_000 + b"]" * 10_000 + b","
    path = mutated(tmp_path, edit_line(4, lambda line: line.replace(b'"data":{', deep)))
    assert_fails(verify(path), "format", r"^line 5: .*(depth|nested)")


def test_whole_entry_line_10000_levels_deep(tmp_path: Path) -> None:
    path = mutated(tmp_path, edit_line(4, lambda _: b"[" * 10_000 + b"]" * 10_000))
    assert_fails(verify(path), "format", r"^line 5: .*(depth|nested)")


def test_integer_2_pow_53_in_entry_data(tmp_path: Path) -> None:
    big = b'"data":{"big":9007199254740992,'
    path = mutated(tmp_path, edit_line(4, lambda line: line.replace(b'"data":{', big)))
    assert_fails(verify(path), "format", r"^line 5: .*(2\^53|safe integer)")


def test_integer_far_beyond_a_double_in_seq(tmp_path: Path) -> None:
    huge = b'"seq":' + b"9" * 5000 + b","
    path = mutated(tmp_path, edit_line(4, lambda line: line.replace(b'"seq":4,', huge)))
    assert_fails(verify(path), "format", r"^line 5: .*(not valid JSON|infinity|2\^53|safe integer)")


def test_duplicate_key_in_an_entry(tmp_path: Path) -> None:
    dup = b'"data":{"label":"forged",'
    path = mutated(tmp_path, edit_line(4, lambda line: line.replace(b'"data":{', dup)))
    assert_fails(verify(path), "format", r"^line 5: .*duplicate .*'label'")


def test_entry_line_of_2_mib(tmp_path: Path) -> None:
    pad = b'"data":{"a":"' + b"x" * (2 << 20) + b'",'
    path = mutated(tmp_path, edit_line(4, lambda line: line.replace(b'"data":{', pad)))
    report = verify(path)
    message = rf"entries\.jsonl: line 5 is longer than {MAX_ENTRY_LINE_BYTES} bytes"
    assert_fails(report, "format", message, only=True)
    assert report.check("log").status == "skip"


def test_entry_line_over_the_cap_but_complete_within_two_chunks(tmp_path: Path) -> None:
    # 1.5 MiB: never an unfinished tail longer than the cap, so only a check of complete
    # lines catches it.
    pad = b'"data":{"a":"' + b"x" * (3 << 19) + b'",'
    path = mutated(tmp_path, edit_line(4, lambda line: line.replace(b'"data":{', pad)))
    message = rf"entries\.jsonl: line 5 is longer than {MAX_ENTRY_LINE_BYTES} bytes"
    assert_fails(verify(path), "format", message, only=True)


def test_entries_without_a_final_newline(tmp_path: Path) -> None:
    path = mutated(tmp_path, edit_member(ENTRIES, lambda data: data.rstrip(b"\n")))
    report = verify(path)
    assert_fails(report, "format", "the last line does not end with a newline", only=True)
    assert report.check("log").status == "skip"


def test_empty_line_in_entries(tmp_path: Path) -> None:
    path = mutated(tmp_path, edit_member(ENTRIES, lambda data: b"\n" + data))
    report = verify(path)
    assert_fails(report, "format", r"^line 1: .*(JSON|empty)")
    assert_fails(report, "log", r"has 24 entries, tree_size is 23")


# --- checkpoint signature lines -------------------------------------------------------------


def signature_line(name: str, raw: bytes) -> bytes:
    return EM_DASH + b" " + name.encode() + b" " + base64.b64encode(raw) + b"\n"


def add_to_checkpoint(line: bytes) -> Callable[[Members], None]:
    return edit_member("checkpoint", lambda note: note + line)


@pytest.mark.parametrize("policy_text", [None, TRUSTED_POLICY], ids=["own-policy", "trusted"])
def test_signature_line_from_an_unknown_key_is_ignored(
    tmp_path: Path, policy_text: str | None
) -> None:
    line = signature_line("witness.unknown.example", b"\x01\x02\x03\x04" + b"\x55" * 64)
    report = verify(mutated(tmp_path, add_to_checkpoint(line)), policy_text=policy_text)
    assert report.ok, report.failures()
    assert report.cosigners == ("BE-1", "NL-1")


def test_signature_line_under_a_witness_name_with_another_key_id_is_ignored(
    tmp_path: Path,
) -> None:
    line = signature_line("witness.nl.example", b"\x01\x02\x03\x04" + b"\x55" * 72)
    report = verify(mutated(tmp_path, add_to_checkpoint(line)))
    assert report.ok, report.failures()


def test_garbled_signature_line(tmp_path: Path) -> None:
    line = EM_DASH + b" witness.nl.example !!not*base64!!\n"
    report = verify(mutated(tmp_path, add_to_checkpoint(line)))
    assert_fails(report, "signatures", r"checkpoint note is malformed: .*not valid base64")


def test_forged_cosignature_of_a_known_witness(tmp_path: Path) -> None:
    def flip(note: bytes) -> bytes:
        lines = note.split(b"\n")
        index = next(i for i, line in enumerate(lines) if b" witness.nl.example " in line)
        head, signature = lines[index].rsplit(b" ", 1)
        raw = bytearray(base64.b64decode(signature))
        raw[20] ^= 0x01
        lines[index] = head + b" " + base64.b64encode(bytes(raw))
        return b"\n".join(lines)

    report = verify(mutated(tmp_path, edit_member("checkpoint", flip)))
    assert_fails(report, "signatures", "cosignature of witness 'NL-1' does not verify", only=True)


# --- the manifest ---------------------------------------------------------------------------


def edit_manifest(old: bytes, new: bytes) -> Callable[[Members], None]:
    def apply(members: Members) -> None:
        assert old in members[MANIFEST]
        members[MANIFEST] = members[MANIFEST].replace(old, new, 1)

    return apply


def tree_size_24(members: Members) -> None:
    # A forger who raises tree_size raises log_size with it (log_size >= tree_size).
    edit_manifest(b'"log_size":23', b'"log_size":24')(members)
    edit_manifest(b'"tree_size":23', b'"tree_size":24')(members)


def test_manifest_of_format_version_2(tmp_path: Path) -> None:
    path = mutated(tmp_path, edit_manifest(b"jitc-bundle/1", b"jitc-bundle/2"))
    with pytest.raises(BundleFormatError, match="format is 'jitc-bundle/2'"):
        verify(path)


def test_duplicate_key_in_the_manifest(tmp_path: Path) -> None:
    path = mutated(tmp_path, edit_manifest(b'{"case":', b'{"case":"forged","case":'))
    with pytest.raises(BundleFormatError, match="duplicate object key 'case'"):
        verify(path)


def test_integer_2_pow_53_in_the_manifest(tmp_path: Path) -> None:
    path = mutated(tmp_path, edit_manifest(b'"tree_size":23', b'"tree_size":9007199254740992'))
    with pytest.raises(BundleFormatError, match=r"2\^53|safe integer"):
        verify(path)


def test_manifest_nested_10000_levels_deep(tmp_path: Path) -> None:
    path = mutated(tmp_path, edit_member(MANIFEST, lambda _: b"[" * 10_000 + b"]" * 10_000))
    with pytest.raises(BundleFormatError, match=r"depth|nested"):
        verify(path)


def test_non_utf8_manifest(tmp_path: Path) -> None:
    path = mutated(tmp_path, edit_manifest(b"Rechtbank", b"Rech\xfftbank"))
    with pytest.raises(BundleFormatError, match="UTF-8"):
        verify(path)


def test_noncanonical_manifest(tmp_path: Path) -> None:
    path = mutated(tmp_path, edit_manifest(b'"tree_size":23', b'"tree_size": 23'))
    assert_fails(verify(path), "format", "jitc-bundle.json is not RFC 8785 canonical", only=True)


def test_manifest_tree_size_not_the_checkpoints(tmp_path: Path) -> None:
    report = verify(mutated(tmp_path, tree_size_24))
    assert_fails(report, "log", "checkpoint size 23 is not the manifest's tree_size 24", only=True)
    assert_fails(report, "log", r"entries\.jsonl has 23 entries, tree_size is 24")


def test_manifest_case_in_upper_case(tmp_path: Path) -> None:
    upper = f'"case":"{CASE_ID.upper()}"'.encode()
    report = verify(mutated(tmp_path, edit_manifest(f'"case":"{CASE_ID}"'.encode(), upper)))
    assert_fails(report, "format", r"entry seq 0: case 6f1c2a4e-\S+ is not the bundle's case 6F1C")
    assert_fails(report, "format", r"origin .* is not '<log name>/case/6F1C")


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(f"exhibits/{DISK}/laptop.E01", id="another-exhibits-folder"),
        pytest.param("policy.txt", id="bundle-metadata"),
        pytest.param("exhibits/", id="exhibits-root"),
    ],
)
def test_manifest_content_path_outside_its_exhibit_folder(tmp_path: Path, target: str) -> None:
    old = f'"content":"exhibits/{PHONE}/handset_gpj.ufd"'.encode()
    path = mutated(tmp_path, edit_manifest(old, f'"content":"{target}"'.encode()))
    message = rf"exhibit {PHONE}: content path '{re.escape(target)}' is outside exhibits/{PHONE}/"
    assert_fails(verify(path), "content", message, only=True)


# --- raising mode -----------------------------------------------------------------------------


RAISING_CASES: list[tuple[str, Callable[[Members], None], type[Exception], str]] = [
    (
        "tree-size",
        tree_size_24,
        RootMismatchError,
        "tree_size 24",
    ),
    (
        "noncanonical-line",
        edit_line(4, lambda line: line.replace(b'"data":', b'"data": ')),
        EntryFormatError,
        r"line 5: .*canonical",
    ),
    (
        "garbled-signature",
        add_to_checkpoint(EM_DASH + b" witness.nl.example !!\n"),
        SignatureError,
        "not valid base64",
    ),
    (
        "content-outside",
        edit_manifest(
            f'"content":"exhibits/{PHONE}/'.encode(), f'"content":"exhibits/{DISK}/'.encode()
        ),
        ContentMismatchError,
        "is outside",
    ),
]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in RAISING_CASES],
)
def test_raising_mode_raises_the_attacks_error(
    tmp_path: Path, change: Callable[[Members], None], error: type[Exception], message: str
) -> None:
    path = mutated(tmp_path, change)
    with pytest.raises(error, match=message):
        verify(path, raise_on_failure=True)


def test_raising_mode_on_an_unreadable_bundle(tmp_path: Path) -> None:
    path = save(tmp_path, build_zip([*golden_raw(), stored_member("../evil", b"x")]))
    with pytest.raises(BundleFormatError, match=r"'\.\.' segment"):
        verify(path, raise_on_failure=True)


def test_raising_mode_ignores_an_unknown_key_signature(tmp_path: Path) -> None:
    line = signature_line("witness.unknown.example", b"\x01\x02\x03\x04" + b"\x55" * 64)
    report = verify(mutated(tmp_path, add_to_checkpoint(line)), raise_on_failure=True)
    assert report.ok


# --- the command line: exit 2 with one line, and nothing written -----------------------------


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    verify_cli.register(parser.add_subparsers())
    args = parser.parse_args(["verify", *argv])
    code: int = args.func(args)
    return code


def hostile_inputs(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    full = rezipped()
    end = full.rfind(b"PK\x05\x06")
    central = struct.unpack_from("<I", full, end + 16)[0]
    bomb = RawMember("bomb", zeros_deflated(64), zipfile.ZIP_DEFLATED, 0, 64 << 20)
    inputs = {
        "empty": b"",
        "truncated": full[:central],
        "bomb": build_zip([*golden_raw(), bomb]),
        "zip-slip": build_zip([*golden_raw(), stored_member("../evil", b"pwned")]),
        "absolute": build_zip([*golden_raw(), stored_member("/tmp/evil", b"pwned")]),
        "no-manifest": write_members(
            {k: v for k, v in golden("valid-full").items() if k != MANIFEST}
        ),
    }
    paths = {}
    for name, data in inputs.items():
        paths[name] = folder / f"{name}.zip"
        paths[name].write_bytes(data)
    return paths


def listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_cli_unreadable_inputs_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = hostile_inputs(tmp_path / "in")
    monkeypatch.chdir(tmp_path / "in")
    before = listing(tmp_path)
    golden_before = listing(GOLDEN)
    for name, path in paths.items():
        assert run_cli(str(path)) == 2, name
        captured = capsys.readouterr()
        assert captured.out == "", name
        lines = captured.err.splitlines()
        assert len(lines) == 1, (name, lines)
        assert lines[0].startswith("jitc verify: cannot read input: "), lines
        assert "Traceback" not in captured.err
    assert listing(tmp_path) == before
    assert listing(GOLDEN) == golden_before
    assert not (tmp_path / "evil").exists()


def test_cli_hostile_bundle_with_findings_exits_1_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = mutated(tmp_path, edit_line(4, lambda _: b"[" * 10_000 + b"]" * 10_000))
    monkeypatch.chdir(tmp_path)
    before = listing(tmp_path)
    assert run_cli(str(path)) == 1
    out = capsys.readouterr().out
    assert re.search(r"^\[FAIL\] 1\. format: .* -- line 5: ", out, re.MULTILINE)
    assert listing(tmp_path) == before


def test_cli_in_a_subprocess_prints_no_traceback_and_writes_nothing(tmp_path: Path) -> None:
    paths = hostile_inputs(tmp_path / "in")
    work = tmp_path / "cwd"
    work.mkdir()
    before = listing(tmp_path)
    code = (
        "import argparse, sys\n"
        "from server.cli import verify\n"
        "p = argparse.ArgumentParser()\n"
        "verify.register(p.add_subparsers())\n"
        "args = p.parse_args(['verify', *sys.argv[1:]])\n"
        "sys.exit(args.func(args))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for name in ("zip-slip", "bomb"):
        result = subprocess.run(
            [sys.executable, "-c", code, str(paths[name])],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.splitlines()) == 1
    result = subprocess.run(
        [sys.executable, "-c", code, str(paths["zip-slip"]), "--json"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert json.loads(result.stdout)["unreadable"] is True
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert listing(tmp_path) == before
