"""Members whose compressed stream is corrupt part way: a clear verdict, never a
traceback, and the same verdict however the member is read (chunk size)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import custody.bundle
from custody.errors import BundleFormatError
from custody.verify import VerificationReport, verify_bundle
from server.cli import verify as verify_cli
from tests.custody.golden.generator import PHONE
from tests.custody.hostile_support import (
    ENTRIES,
    GOLDEN,
    assert_fails,
    build_zip,
    golden_raw,
    patch_member,
    rezipped,
    save,
)

TRUSTED_POLICY = (GOLDEN / "trusted-policy.txt").read_text(encoding="utf-8")


def _corrupt_deflate(name: str, base: str = "valid-full") -> bytes:
    """The bundle with `name`'s deflate stream broken half way: its first half inflates,
    then a block of the reserved type 3 (RFC 1951 3.2.3), which zlib refuses."""
    members = golden_raw(base)
    assert name in {member.name for member in members}
    for member in members:
        if member.name == name:
            half = len(member.stored) // 2
            member.stored = member.stored[:half] + b"\xff" * (len(member.stored) - half)
    return build_zip(members)


def _run_cli(path: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    verify_cli.register(parser.add_subparsers())
    args = parser.parse_args(["verify", str(path), *argv])
    code: int = args.func(args)
    return code


def test_a_corrupt_deflate_stream_in_the_entries_fails_check_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = save(tmp_path, _corrupt_deflate(ENTRIES))
    report = verify_bundle(path, policy_text=TRUSTED_POLICY)
    assert_fails(report, "format", r"member 'entries\.jsonl' is corrupt: .*", only=True)
    for check_id in ("log", "time", "exhibit-chains", "replay"):
        assert report.check(check_id).status == "skip"
    assert _run_cli(path, "--policy", str(GOLDEN / "trusted-policy.txt")) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert "[FAIL] 1. format: " in captured.out


def test_a_corrupt_deflate_stream_in_content_fails_check_6(tmp_path: Path) -> None:
    content = f"exhibits/{PHONE}/handset_gpj.ufd"  # the safe name of the bidi filename
    path = save(tmp_path, _corrupt_deflate(content))
    report = verify_bundle(path, policy_text=TRUSTED_POLICY)
    assert_fails(report, "content", rf"exhibit {PHONE}: member .* is corrupt", only=True)


@pytest.mark.parametrize("name", ["checkpoint", "policy.txt"])
def test_a_corrupt_deflate_stream_in_a_small_member_fails_check_5(
    tmp_path: Path, name: str
) -> None:
    report = verify_bundle(save(tmp_path, _corrupt_deflate(name)))
    assert report.check("signatures").status == "fail"
    assert any("is corrupt" in f.message for f in report.check("signatures").findings)


def test_a_corrupt_deflate_stream_in_the_manifest_is_unreadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = save(tmp_path, _corrupt_deflate("jitc-bundle.json"))
    with pytest.raises(BundleFormatError, match="is corrupt"):
        verify_bundle(path)
    assert _run_cli(path) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert len(captured.err.splitlines()) == 1


def _outcome(report: VerificationReport) -> object:
    return (
        [(c.id, c.status, [f.message for f in c.findings], c.finding_count) for c in report.checks],
        [w.message for w in report.warnings],
        report.entries,
    )


@pytest.mark.parametrize(
    "archive",
    [
        # A wrong CRC, found only at the member's end, after a custody rule break.
        pytest.param(
            lambda: patch_member(rezipped("fail-7-self-granted-judge"), ENTRIES, crc=0),
            id="bad-crc",
        ),
        # A deflate stream that breaks half way.
        pytest.param(lambda: _corrupt_deflate(ENTRIES, "fail-7-self-granted-judge"), id="deflate"),
    ],
)
def test_the_verdict_does_not_depend_on_the_read_chunk_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, archive: object
) -> None:
    assert callable(archive)
    path = save(tmp_path, archive())
    outcomes = []
    for chunk in (64, 4096, 1 << 20):
        monkeypatch.setattr(custody.bundle, "CHUNK", chunk)
        report = verify_bundle(path, policy_text=TRUSTED_POLICY)
        assert report.check("format").status == "fail"
        assert report.check("replay").status == "skip"
        outcomes.append(_outcome(report))
    assert outcomes[0] == outcomes[1] == outcomes[2]
