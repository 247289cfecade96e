"""Hostile court bundles: bad input never crashes the verifier (spec 5, 6).

One test per attack, built from the golden bundles in tmp_path. Each ends either in a
BundleFormatError (exit 2, one line) when the bundle cannot be read at all, or in a report
whose specific check fails with a finding that names the defect. Nothing is extracted or
written anywhere.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import stat
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from custody.bundle import MAX_ENTRY_LINE_BYTES, BundleReader
from custody.errors import (
    BundleFormatError,
    ContentMismatchError,
    EntryFormatError,
    RootMismatchError,
    SignatureError,
)
from custody.verify import VerificationReport, verify_bundle
from server.cli import verify as verify_cli
from tests.custody.golden.generator import CASE_ID, DISK, PHONE, read_members, write_members

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "data" / "golden"
TRUSTED_POLICY = (GOLDEN / "trusted-policy.txt").read_text(encoding="utf-8")
MANIFEST = "jitc-bundle.json"
ENTRIES = "entries.jsonl"
EM_DASH = "\u2014".encode()

Members = dict[str, bytes]


def golden(name: str) -> Members:
    return read_members((GOLDEN / f"{name}.zip").read_bytes())


def save(tmp_path: Path, data: bytes, name: str = "hostile.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def mutated(tmp_path: Path, change: Callable[[Members], None], base: str = "valid-full") -> Path:
    members = golden(base)
    change(members)
    return save(tmp_path, write_members(members))


def verify(
    path: Path, *, policy_text: str | None = None, raise_on_failure: bool = False
) -> VerificationReport:
    return verify_bundle(path, policy_text=policy_text, raise_on_failure=raise_on_failure)


def assert_fails(
    report: VerificationReport, check_id: str, pattern: str, *, only: bool = False
) -> None:
    """The report fails, `check_id` among its failures, with a finding matching `pattern`."""
    failing = {check.id for check in report.checks if check.status == "fail"}
    assert not report.ok
    assert check_id in failing, failing
    if only:
        assert failing == {check_id}
    messages = [finding.message for finding in report.check(check_id).findings]
    assert any(re.search(pattern, message) for message in messages), messages


def edit_line(index: int, change: Callable[[bytes], bytes]) -> Callable[[Members], None]:
    def apply(members: Members) -> None:
        lines = members[ENTRIES].split(b"\n")
        lines[index] = change(lines[index])
        members[ENTRIES] = b"\n".join(lines)

    return apply


def edit_member(name: str, change: Callable[[bytes], bytes]) -> Callable[[Members], None]:
    def apply(members: Members) -> None:
        members[name] = change(members[name])

    return apply


def drop(*names: str) -> Callable[[Members], None]:
    def apply(members: Members) -> None:
        for name in names:
            del members[name]

    return apply


# --- a raw ZIP writer, for archives zipfile refuses to write -------------------------------


@dataclass
class RawMember:
    name: str
    stored: bytes  # the bytes as they sit in the archive (deflated when method is 8)
    method: int
    crc: int
    file_size: int
    flags: int = 0
    mode: int = 0o100644
    points_at: int | None = None  # central entry aimed at another local header offset


def stored_member(name: str, data: bytes, *, mode: int = 0o100644) -> RawMember:
    return RawMember(name, data, zipfile.ZIP_STORED, zlib.crc32(data), len(data), mode=mode)


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def deflated_member(name: str, data: bytes) -> RawMember:
    return RawMember(name, deflate(data), zipfile.ZIP_DEFLATED, zlib.crc32(data), len(data))


def zeros_deflated(mebibytes: int) -> bytes:
    """A raw deflate stream of `mebibytes` MiB of zeros, built in a millisecond: a fully
    flushed block does not refer back, so one block repeated is a valid stream."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * mebibytes + b"\x03\x00"  # an empty final block


def build_zip(members: list[RawMember]) -> bytes:
    """Local headers, data, central directory and end record, exactly as given."""
    out = bytearray()
    offsets = []
    for member in members:
        offsets.append(len(out))
        name = member.name.encode("utf-8")
        out += struct.pack(
            "<4s5H3I2H",
            b"PK\x03\x04",
            20,
            member.flags | 0x800,
            member.method,
            0,
            0x21,
            member.crc,
            len(member.stored),
            member.file_size,
            len(name),
            0,
        )
        out += name + member.stored
    central_start = len(out)
    for member, offset in zip(members, offsets, strict=True):
        name = member.name.encode("utf-8")
        out += struct.pack(
            "<4s6H3I5H2I",
            b"PK\x01\x02",
            0x0314,
            20,
            member.flags | 0x800,
            member.method,
            0,
            0x21,
            member.crc,
            len(member.stored),
            member.file_size,
            len(name),
            0,
            0,
            0,
            0,
            member.mode << 16,
            offset if member.points_at is None else member.points_at,
        )
        out += name
    size = len(out) - central_start
    count = len(members)
    out += struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, count, count, size, central_start, 0)
    return bytes(out)


def golden_raw(base: str = "valid-full", *, without: tuple[str, ...] = ()) -> list[RawMember]:
    return [
        deflated_member(name, data) for name, data in golden(base).items() if name not in without
    ]


def local_size(member: RawMember) -> int:
    return 30 + len(member.name.encode("utf-8")) + len(member.stored)


def patch_member(
    data: bytes,
    name: str,
    *,
    file_size: int | None = None,
    crc: int | None = None,
    flag_bits: int | None = None,
) -> bytes:
    """Rewrite one member's size, CRC or flags in both its local header and its central
    directory entry, as a hand-edited archive would."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local = archive.getinfo(name).header_offset
    assert out[local : local + 4] == b"PK\x03\x04"
    end = out.rfind(b"PK\x05\x06")
    central = struct.unpack_from("<I", out, end + 16)[0]
    while out[central + 46 : central + 46 + len(name.encode())] != name.encode():
        name_len, extra_len, comment_len = struct.unpack_from("<3H", out, central + 28)
        central += 46 + name_len + extra_len + comment_len
    if crc is not None:
        struct.pack_into("<I", out, local + 14, crc)
        struct.pack_into("<I", out, central + 16, crc)
    if file_size is not None:
        struct.pack_into("<I", out, local + 22, file_size)
        struct.pack_into("<I", out, central + 24, file_size)
    if flag_bits is not None:
        struct.pack_into("<H", out, local + 6, flag_bits)
        struct.pack_into("<H", out, central + 8, flag_bits)
    return bytes(out)


def rezipped(base: str = "valid-full") -> bytes:
    """A golden bundle rewritten by zipfile: plain local headers, easy to patch."""
    return write_members(golden(base))


# --- not a ZIP at all ----------------------------------------------------------------------


def test_empty_file_is_not_a_zip(tmp_path: Path) -> None:
    with pytest.raises(BundleFormatError, match="not a ZIP file"):
        verify(save(tmp_path, b""))


def test_random_bytes_are_not_a_zip(tmp_path: Path) -> None:
    noise = bytes((i * 7919 + 13) % 256 for i in range(64 * 1024))
    with pytest.raises(BundleFormatError, match="not a ZIP file"):
        verify(save(tmp_path, noise))


def test_zip_cut_in_half(tmp_path: Path) -> None:
    data = (GOLDEN / "valid-full.zip").read_bytes()
    with pytest.raises(BundleFormatError, match="not a ZIP file"):
        verify(save(tmp_path, data[: len(data) // 2]))


def test_zip_cut_at_its_central_directory(tmp_path: Path) -> None:
    data = rezipped()
    end = data.rfind(b"PK\x05\x06")
    central = struct.unpack_from("<I", data, end + 16)[0]
    with pytest.raises(BundleFormatError, match="not a ZIP file"):
        verify(save(tmp_path, data[:central]))


def test_zip_cut_inside_its_end_record(tmp_path: Path) -> None:
    data = rezipped()
    with pytest.raises(BundleFormatError, match="not a ZIP file"):
        verify(save(tmp_path, data[: data.rfind(b"PK\x05\x06") + 10]))


# --- zip bombs and lying sizes --------------------------------------------------------------


def test_deflate_bomb_refused_on_its_declared_ratio(tmp_path: Path) -> None:
    bomb = zeros_deflated(200)  # 200 MiB of zeros in about 200 KiB
    member = RawMember(f"exhibits/{PHONE}/bomb.bin", bomb, zipfile.ZIP_DEFLATED, 0, 200 << 20)
    path = save(tmp_path, build_zip([*golden_raw(), member]))
    with pytest.raises(BundleFormatError, match=r"claims 209715200 bytes .* refused as a zip bomb"):
        verify(path)


def test_many_small_bombs_refused_on_their_total_ratio(tmp_path: Path) -> None:
    # Each 1 MiB of zeros stays under the per-member floor; twenty of them do not.
    block = zeros_deflated(1)
    bombs = [
        RawMember(f"exhibits/{PHONE}/part{i}", block, zipfile.ZIP_DEFLATED, 0, 1 << 20)
        for i in range(20)
    ]
    path = save(tmp_path, build_zip([*golden_raw(), *bombs]))
    with pytest.raises(BundleFormatError, match=r"claim \d+ bytes .* in total: refused as a zip"):
        verify(path)


def test_real_bomb_behind_a_small_declared_size_is_read_only_to_that_size(
    tmp_path: Path,
) -> None:
    # entries.jsonl declares 1000 bytes (with their CRC) but inflates to 200 MiB.
    declared = 1000
    member = RawMember(
        ENTRIES, zeros_deflated(200), zipfile.ZIP_DEFLATED, zlib.crc32(bytes(declared)), declared
    )
    path = save(tmp_path, build_zip([*golden_raw(without=(ENTRIES,)), member]))
    with BundleReader(path) as reader:
        assert sum(len(chunk) for chunk in reader.stream(ENTRIES)) == declared
    assert_fails(verify(path), "format", "the last line does not end with a newline")


def test_member_longer_than_its_patched_size_stops_at_the_declared_size(
    tmp_path: Path,
) -> None:
    entries = golden("valid-full")[ENTRIES]
    data = patch_member(rezipped(), ENTRIES, file_size=1000, crc=zlib.crc32(entries[:1000]))
    path = save(tmp_path, data)
    with BundleReader(path) as reader:
        assert b"".join(reader.stream(ENTRIES)) == entries[:1000]
    assert_fails(verify(path), "format", "the last line does not end with a newline")


def test_member_longer_than_its_patched_size_with_its_true_crc_is_corrupt(
    tmp_path: Path,
) -> None:
    path = save(tmp_path, patch_member(rezipped(), ENTRIES, file_size=1000))
    assert_fails(verify(path), "format", r"'entries\.jsonl' is corrupt: Bad CRC-32", only=True)


def test_member_shorter_than_its_patched_size(tmp_path: Path) -> None:
    size = len(golden("valid-full")[ENTRIES])
    path = save(tmp_path, patch_member(rezipped(), ENTRIES, file_size=size + 4096))
    assert_fails(verify(path), "format", r"'entries\.jsonl' is shorter than it declares")


def test_patched_declared_size_far_beyond_the_compressed_bytes(tmp_path: Path) -> None:
    path = save(tmp_path, patch_member(rezipped(), "checkpoint", file_size=50 << 20))
    with pytest.raises(BundleFormatError, match=r"'checkpoint' claims 52428800 bytes from \d+"):
        verify(path)


def test_stored_checkpoint_declaring_more_than_the_small_member_cap(tmp_path: Path) -> None:
    note = golden("valid-full")["checkpoint"]
    member = RawMember("checkpoint", note, zipfile.ZIP_STORED, zlib.crc32(note), 50 << 20)
    path = save(tmp_path, build_zip([*golden_raw(without=("checkpoint",)), member]))
    assert_fails(verify(path), "signatures", r"'checkpoint' is larger than 1048576 bytes")


def test_two_central_entries_share_one_local_member(tmp_path: Path) -> None:
    members = golden_raw()
    entries_at = sum(local_size(member) for member in members[:1])
    assert members[1].name == ENTRIES
    alias = RawMember(
        "copy.jsonl",
        members[1].stored,
        zipfile.ZIP_DEFLATED,
        members[1].crc,
        members[1].file_size,
        points_at=entries_at,
    )
    with pytest.raises(BundleFormatError, match=r"members .* overlap"):
        verify(save(tmp_path, build_zip([*members, alias])))


def test_member_nested_inside_another_members_data(tmp_path: Path) -> None:
    # A stored member whose data is a whole second member: the second's central entry
    # points inside the first, past the end of its compressed size as counted alone.
    inner_data = b"nested"
    inner_name = b"z"
    inner_local = struct.pack(
        "<4s5H3I2H", b"PK\x03\x04", 20, 0x800, 0, 0, 0x21, zlib.crc32(inner_data), 6, 6, 1, 0
    )
    outer = stored_member(f"exhibits/{PHONE}/{'o' * 80}", inner_local + inner_name + inner_data)
    members = [*golden_raw(), outer]
    inner_at = sum(local_size(member) for member in members) - len(outer.stored)
    inner = RawMember("z", inner_data, 0, zlib.crc32(inner_data), 6, points_at=inner_at)
    with pytest.raises(BundleFormatError, match=r"members .*'z' overlap"):
        verify(save(tmp_path, build_zip([*members, inner])))


# --- member names (zip-slip and friends) ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("../evil", r"'\.\.' segment", id="parent-escape"),
        pytest.param("a/../../b", r"'\.\.' segment", id="parent-escape-inside"),
        pytest.param("./a", r"'\.' or", id="dot-segment"),
        pytest.param("a//b", "empty", id="empty-segment"),
        pytest.param("/abs", "absolute", id="absolute-path"),
        pytest.param("C:/x", "absolute", id="windows-drive"),
        pytest.param("a\\..\\..\\b", "backslashes", id="backslash"),
        pytest.param("a\x01b", "control characters", id="control-char"),
        pytest.param("a\nb", "control characters", id="newline"),
        pytest.param("a\u202egpj.exe", "control characters", id="bidi-override"),
        pytest.param("checkpoint\x00.txt", "control characters", id="nul-truncation"),
        pytest.param("", "empty", id="empty-name"),
        pytest.param("../", r"'\.\.' segment", id="parent-directory-entry"),
    ],
)
def test_unsafe_member_name(tmp_path: Path, name: str, message: str) -> None:
    path = save(tmp_path, build_zip([*golden_raw(), stored_member(name, b"x")]))
    with pytest.raises(BundleFormatError, match=message):
        verify(path)


def test_nul_in_a_name_cannot_shadow_a_member(tmp_path: Path) -> None:
    # zipfile cuts names at NUL: "checkpoint\0" would otherwise be read as the checkpoint.
    forged = stored_member("checkpoint\x00", b"forged\n")
    path = save(tmp_path, build_zip([*golden_raw(without=("checkpoint",)), forged]))
    with pytest.raises(BundleFormatError, match="control characters"):
        verify(path)


def test_duplicate_member_names(tmp_path: Path) -> None:
    forged = stored_member("checkpoint", b"forged\n")
    with pytest.raises(BundleFormatError, match="'checkpoint' appears twice"):
        verify(save(tmp_path, build_zip([*golden_raw(), forged])))


def test_symlink_member(tmp_path: Path) -> None:
    link = stored_member(f"exhibits/{PHONE}/link", b"/etc/passwd", mode=stat.S_IFLNK | 0o777)
    with pytest.raises(BundleFormatError, match="is a symbolic link"):
        verify(save(tmp_path, build_zip([*golden_raw(), link])))


def test_encrypted_member(tmp_path: Path) -> None:
    path = save(tmp_path, patch_member(rezipped(), "report.html", flag_bits=0x1))
    with pytest.raises(BundleFormatError, match=r"'report\.html' is encrypted"):
        verify(path)


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
    path = mutated(tmp_path, edit_line(3, lambda line: line.replace(b"laptop", b"lap\xfftop")))
    assert_fails(verify(path), "format", r"^line 4: .*UTF-8")


def test_noncanonical_line_with_an_extra_space(tmp_path: Path) -> None:
    path = mutated(tmp_path, edit_line(3, lambda line: line.replace(b'"data":', b'"data": ')))
    assert_fails(verify(path), "format", r"^line 4: .*canonical")


def test_noncanonical_line_with_reordered_keys(tmp_path: Path) -> None:
    def v_first(line: bytes) -> bytes:
        assert line.endswith(b',"v":1}')
        return b'{"v":1,' + line[1 : -len(b',"v":1}')] + b"}"

    report = verify(mutated(tmp_path, edit_line(3, v_first)))
    assert_fails(report, "format", r"^line 4: .*canonical")


def test_entry_nested_10000_levels_deep(tmp_path: Path) -> None:
    deep = b'"data":{"x":' + b"[" * 10_000 + b"]" * 10_000 + b","
    path = mutated(tmp_path, edit_line(3, lambda line: line.replace(b'"data":{', deep)))
    assert_fails(verify(path), "format", r"^line 4: .*(depth|nested)")


def test_whole_entry_line_10000_levels_deep(tmp_path: Path) -> None:
    path = mutated(tmp_path, edit_line(3, lambda _: b"[" * 10_000 + b"]" * 10_000))
    assert_fails(verify(path), "format", r"^line 4: .*(depth|nested)")


def test_integer_2_pow_53_in_entry_data(tmp_path: Path) -> None:
    big = b'"data":{"big":9007199254740992,'
    path = mutated(tmp_path, edit_line(3, lambda line: line.replace(b'"data":{', big)))
    assert_fails(verify(path), "format", r"^line 4: .*(2\^53|safe integer)")


def test_integer_far_beyond_a_double_in_seq(tmp_path: Path) -> None:
    huge = b'"seq":' + b"9" * 5000 + b","
    path = mutated(tmp_path, edit_line(3, lambda line: line.replace(b'"seq":3,', huge)))
    assert_fails(verify(path), "format", r"^line 4: .*(not valid JSON|infinity|2\^53|safe integer)")


def test_duplicate_key_in_an_entry(tmp_path: Path) -> None:
    dup = b'"data":{"label":"forged",'
    path = mutated(tmp_path, edit_line(3, lambda line: line.replace(b'"data":{', dup)))
    assert_fails(verify(path), "format", r"^line 4: .*duplicate .*'label'")


def test_entry_line_of_2_mib(tmp_path: Path) -> None:
    pad = b'"data":{"a":"' + b"x" * (2 << 20) + b'",'
    path = mutated(tmp_path, edit_line(3, lambda line: line.replace(b'"data":{', pad)))
    report = verify(path)
    message = rf"entries\.jsonl: line 4 is longer than {MAX_ENTRY_LINE_BYTES} bytes"
    assert_fails(report, "format", message, only=True)
    assert report.check("log").status == "skip"


def test_entry_line_over_the_cap_but_complete_within_two_chunks(tmp_path: Path) -> None:
    # 1.5 MiB: never an unfinished tail longer than the cap, so only a check of complete
    # lines catches it.
    pad = b'"data":{"a":"' + b"x" * (3 << 19) + b'",'
    path = mutated(tmp_path, edit_line(3, lambda line: line.replace(b'"data":{', pad)))
    message = rf"entries\.jsonl: line 4 is longer than {MAX_ENTRY_LINE_BYTES} bytes"
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
    assert_fails(report, "log", r"has 16 entries, tree_size is 15")


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


def test_manifest_of_format_version_2(tmp_path: Path) -> None:
    path = mutated(tmp_path, edit_manifest(b"jitc-bundle/1", b"jitc-bundle/2"))
    with pytest.raises(BundleFormatError, match="format is 'jitc-bundle/2'"):
        verify(path)


def test_duplicate_key_in_the_manifest(tmp_path: Path) -> None:
    path = mutated(tmp_path, edit_manifest(b'{"case":', b'{"case":"forged","case":'))
    with pytest.raises(BundleFormatError, match="duplicate object key 'case'"):
        verify(path)


def test_integer_2_pow_53_in_the_manifest(tmp_path: Path) -> None:
    path = mutated(tmp_path, edit_manifest(b'"tree_size":15', b'"tree_size":9007199254740992'))
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
    path = mutated(tmp_path, edit_manifest(b'"tree_size":15', b'"tree_size": 15'))
    assert_fails(verify(path), "format", "jitc-bundle.json is not RFC 8785 canonical", only=True)


def test_manifest_tree_size_not_the_checkpoints(tmp_path: Path) -> None:
    report = verify(mutated(tmp_path, edit_manifest(b'"tree_size":15', b'"tree_size":16')))
    assert_fails(report, "log", "checkpoint size 15 is not the manifest's tree_size 16", only=True)
    assert_fails(report, "log", r"entries\.jsonl has 15 entries, tree_size is 16")


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
        edit_manifest(b'"tree_size":15', b'"tree_size":16'),
        RootMismatchError,
        "tree_size 16",
    ),
    (
        "noncanonical-line",
        edit_line(3, lambda line: line.replace(b'"data":', b'"data": ')),
        EntryFormatError,
        r"line 4: .*canonical",
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
    path = mutated(tmp_path, edit_line(3, lambda _: b"[" * 10_000 + b"]" * 10_000))
    monkeypatch.chdir(tmp_path)
    before = listing(tmp_path)
    assert run_cli(str(path)) == 1
    out = capsys.readouterr().out
    assert re.search(r"^\[FAIL\] 1\. format: .* -- line 4: ", out, re.MULTILINE)
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
