"""Shared by the hostile-bundle tests: golden bundles taken apart and put back together,
and a raw ZIP writer for archives that zipfile refuses to write."""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from custody.verify import VerificationReport, verify_bundle
from tests.custody.golden.generator import read_members, write_members

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
