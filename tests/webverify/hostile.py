"""The hostile catalogue: bundles built to break a reader (zip bombs declared and real,
lying sizes, overlapping members, unsafe names, symlinks, missing members, huge and deep
lines, unsafe integers, duplicate keys, non-UTF-8), mirroring tests/custody's hostile
bundles, on a revised-format bundle of bundles.py; and the raw ZIP writer they need.
Written out with the rest by catalogue.py.
"""

from __future__ import annotations

import base64
import io
import json
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tests.webverify import bundles
from tests.webverify.bundles import (
    CASE_ID,
    DISK,
    PHONE,
    SELECTIVE,
    Bundle,
    Members,
    render,
)

MANIFEST = "jitc-bundle.json"
ENTRIES = "entries.jsonl"


# --- a raw ZIP writer, for archives zipfile refuses to write ------------------------------


@dataclass
class RawMember:
    name: bytes
    stored: bytes  # as they sit in the archive (deflated when method is 8)
    method: int
    crc: int
    file_size: int
    flags: int = 0x800
    mode: int = 0o100644
    points_at: int | None = None  # central entry aimed at another local header


def stored_member(name: str | bytes, data: bytes, *, mode: int = 0o100644) -> RawMember:
    raw = name.encode() if isinstance(name, str) else name
    return RawMember(raw, data, 0, zlib.crc32(data), len(data), mode=mode)


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def deflated_member(name: str, data: bytes) -> RawMember:
    return RawMember(name.encode(), deflate(data), 8, zlib.crc32(data), len(data))


def zeros_deflated(mebibytes: int) -> bytes:
    """A raw deflate stream of `mebibytes` MiB of zeros: fully flushed blocks repeat."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * mebibytes + b"\x03\x00"


def build_zip(members: list[RawMember]) -> bytes:
    out = bytearray()
    offsets = []
    for member in members:
        offsets.append(len(out))
        out += struct.pack(
            "<4s5H3I2H",
            b"PK\x03\x04",
            20,
            member.flags,
            member.method,
            0,
            0x21,
            member.crc,
            len(member.stored),
            member.file_size,
            len(member.name),
            0,
        )
        out += member.name + member.stored
    central = len(out)
    for member, offset in zip(members, offsets, strict=True):
        out += struct.pack(
            "<4s6H3I5H2I",
            b"PK\x01\x02",
            0x0314,
            20,
            member.flags,
            member.method,
            0,
            0x21,
            member.crc,
            len(member.stored),
            member.file_size,
            len(member.name),
            0,
            0,
            0,
            0,
            member.mode << 16,
            offset if member.points_at is None else member.points_at,
        )
        out += member.name
    size = len(out) - central
    out += struct.pack(
        "<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members), size, central, 0
    )
    return bytes(out)


def base_raw(*, without: tuple[str, ...] = (), base: Members | None = None) -> list[RawMember]:
    members = base if base is not None else bundles.valid_members()
    return [deflated_member(name, data) for name, data in members.items() if name not in without]


def local_size(member: RawMember) -> int:
    return 30 + len(member.name) + len(member.stored)


def patch_member(data: bytes, name: str, **fields: int) -> bytes:
    """Rewrite one member's size, CRC or flags in its local header and central entry."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local = archive.getinfo(name).header_offset
    end = out.rfind(b"PK\x05\x06")
    central = struct.unpack_from("<I", out, end + 16)[0]
    while out[central + 46 : central + 46 + len(name.encode())] != name.encode():
        name_len, extra_len, comment_len = struct.unpack_from("<3H", out, central + 28)
        central += 46 + name_len + extra_len + comment_len
    for key, (local_at, central_at, fmt) in {
        "crc": (14, 16, "<I"),
        "file_size": (22, 24, "<I"),
        "flag_bits": (6, 8, "<H"),
    }.items():
        if key in fields:
            struct.pack_into(fmt, out, local + local_at, fields[key])
            struct.pack_into(fmt, out, central + central_at, fields[key])
    return bytes(out)


def rezipped() -> bytes:
    return bundles.write_members(bundles.valid_members())


def mutated(change: Callable[[Members], None], *, selective: bool = False) -> bytes:
    members = bundles.read_members(render(Bundle(**SELECTIVE) if selective else Bundle()))  # type: ignore[arg-type]
    change(members)
    return bundles.write_members(members)


def edit_last_line(change: Callable[[bytes], bytes]) -> Callable[[Members], None]:
    def apply(members: Members) -> None:
        lines = members[ENTRIES].split(b"\n")
        lines[-2] = change(lines[-2])
        members[ENTRIES] = b"\n".join(lines)

    return apply


def edit(name: str, change: Callable[[bytes], bytes]) -> Callable[[Members], None]:
    def apply(members: Members) -> None:
        members[name] = change(members[name])

    return apply


def replace_in(name: str, old: bytes, new: bytes) -> Callable[[Members], None]:
    def apply(members: Members) -> None:
        assert old in members[name], (name, old)
        members[name] = members[name].replace(old, new, 1)

    return apply


def drop(*names: str) -> Callable[[Members], None]:
    def apply(members: Members) -> None:
        for name in names:
            del members[name]

    return apply


def sig_line(name: str, raw: bytes) -> bytes:
    return f"\u2014 {name} ".encode() + base64.b64encode(raw) + b"\n"


def _forge_nl(note: bytes) -> bytes:
    lines = note.split(b"\n")
    index = next(i for i, line in enumerate(lines) if b" witness.nl.example " in line)
    head, signature = lines[index].rsplit(b" ", 1)
    raw = bytearray(base64.b64decode(signature))
    raw[20] ^= 0x01
    lines[index] = head + b" " + base64.b64encode(bytes(raw))
    return b"\n".join(lines)


def _two_central_entries_one_local() -> bytes:
    members = base_raw()
    assert members[1].name == ENTRIES.encode()
    alias = RawMember(
        b"copy.jsonl",
        members[1].stored,
        8,
        members[1].crc,
        members[1].file_size,
        points_at=local_size(members[0]),
    )
    return build_zip([*members, alias])


def _nested_member() -> bytes:
    inner = struct.pack(
        "<4s5H3I2H", b"PK\x03\x04", 20, 0x800, 0, 0, 0x21, zlib.crc32(b"nested"), 6, 6, 1, 0
    )
    outer = stored_member(f"exhibits/{PHONE}/{'o' * 80}", inner + b"z" + b"nested")
    members = [*base_raw(), outer]
    at = sum(local_size(member) for member in members) - len(outer.stored)
    return build_zip(
        [*members, RawMember(b"z", b"nested", 0, zlib.crc32(b"nested"), 6, points_at=at)]
    )


def _entries_bomb() -> bytes:
    member = RawMember(ENTRIES.encode(), zeros_deflated(200), 8, zlib.crc32(bytes(1000)), 1000)
    return build_zip([*base_raw(without=(ENTRIES,)), member])


def _entries_prefix_with_its_crc() -> bytes:
    entries = bundles.valid_members()[ENTRIES]
    return patch_member(rezipped(), ENTRIES, file_size=1000, crc=zlib.crc32(entries[:1000]))


def _stored_checkpoint_claiming_50_mib() -> bytes:
    note = bundles.valid_members()["checkpoint"]
    member = RawMember(b"checkpoint", note, 0, zlib.crc32(note), 50 << 20)
    return build_zip([*base_raw(without=("checkpoint",)), member])


def _without_disk_content(members: Members) -> None:
    del members[bundles.content_path(DISK)]


UNSAFE_NAMES = {
    "parent-escape": "../evil",
    "parent-escape-inside": "a/../../b",
    "dot-segment": "./a",
    "empty-segment": "a//b",
    "absolute-path": "/abs",
    "windows-drive": "C:/x",
    "backslash": "a\\..\\..\\b",
    "control-char": "a\x01b",
    "newline": "a\nb",
    "bidi-override": "a\u202egpj.exe",
    "nul-truncation": "checkpoint\x00.txt",
    "empty-name": "",
    "parent-directory-entry": "../",
}


def hostile() -> Iterator[tuple[str, bytes, str, tuple[str, ...], tuple[str, ...] | None]]:
    """(name, bytes, verdict, failing with own policy, failing with the trusted policy or
    None when only the own policy is run)."""
    full = rezipped()
    end = full.rfind(b"PK\x05\x06")
    central = struct.unpack_from("<I", full, end + 16)[0]
    noise = bytes((i * 7919 + 13) % 256 for i in range(64 * 1024))
    for name, data in {
        "empty-file": b"",
        "random-bytes": noise,
        "cut-in-half": full[: len(full) // 2],
        "cut-at-central-directory": full[:central],
        "cut-inside-end-record": full[: end + 10],
        "deflate-bomb-declared": build_zip(
            [
                *base_raw(),
                RawMember(
                    f"exhibits/{PHONE}/bomb.bin".encode(), zeros_deflated(200), 8, 0, 200 << 20
                ),
            ]
        ),
        "many-small-bombs": build_zip(
            [
                *base_raw(),
                *(
                    RawMember(f"exhibits/{PHONE}/p{i}".encode(), zeros_deflated(1), 8, 0, 1 << 20)
                    for i in range(20)
                ),
            ]
        ),
        "declared-size-far-beyond-compressed": patch_member(full, "checkpoint", file_size=50 << 20),
        "two-central-entries-one-local-member": _two_central_entries_one_local(),
        "member-nested-in-another": _nested_member(),
        "duplicate-member-names": build_zip(
            [*base_raw(), stored_member("checkpoint", b"forged\n")]
        ),
        "symlink-member": build_zip(
            [
                *base_raw(),
                stored_member(f"exhibits/{PHONE}/link", b"/etc/passwd", mode=stat.S_IFLNK | 0o777),
            ]
        ),
        "encrypted-member": patch_member(full, "report.html", flag_bits=0x801),
        "nul-shadows-checkpoint": build_zip(
            [
                *base_raw(without=("checkpoint",)),
                stored_member("checkpoint\x00", b"forged\n"),
            ]
        ),
        "missing-manifest": mutated(drop(MANIFEST)),
        "manifest-format-2": mutated(replace_in(MANIFEST, b"jitc-bundle/1", b"jitc-bundle/2")),
        "manifest-duplicate-key": mutated(
            replace_in(MANIFEST, b'{"case":', b'{"case":"x","case":')
        ),
        "manifest-2-pow-53": mutated(
            replace_in(MANIFEST, b'"tree_size":', b'"tree_size":9007199254740992,"x":')
        ),
        "manifest-10000-deep": mutated(edit(MANIFEST, lambda _: b"[" * 10_000 + b"]" * 10_000)),
        "manifest-not-utf8": mutated(replace_in(MANIFEST, b"Rechtbank", b"Rech\xfftbank")),
        "manifest-float": mutated(replace_in(MANIFEST, b'"log_size":', b'"x":1.5,"log_size":')),
        "manifest-without-log-size": mutated(edit(MANIFEST, _without_log_size)),
    }.items():
        yield name, data, "error", (), None
    for label, unsafe in UNSAFE_NAMES.items():
        yield (
            f"unsafe-name-{label}",
            build_zip([*base_raw(), stored_member(unsafe, b"x")]),
            "error",
            (),
            None,
        )

    entries = bundles.valid_members()[ENTRIES]
    last = len(entries.split(b"\n")) - 1  # the last line's number
    fails: list[tuple[str, bytes, tuple[str, ...], tuple[str, ...] | None]] = [
        ("real-bomb-behind-small-declared-size", _entries_bomb(), ("format",), None),
        ("member-longer-than-patched-size", _entries_prefix_with_its_crc(), ("format",), None),
        (
            "patched-size-with-true-crc",
            patch_member(full, ENTRIES, file_size=1000),
            ("format",),
            None,
        ),
        (
            "member-shorter-than-declared",
            patch_member(full, ENTRIES, file_size=len(entries) + 4096),
            ("format",),
            None,
        ),
        (
            "stored-checkpoint-claims-50-mib",
            _stored_checkpoint_claiming_50_mib(),
            ("signatures", "log"),
            None,
        ),
        ("missing-entries", mutated(drop(ENTRIES)), ("format",), None),
        ("missing-checkpoint", mutated(drop("checkpoint")), ("signatures", "log"), None),
        ("missing-policy", mutated(drop("policy.txt")), ("signatures",), ()),
        ("missing-content-file", mutated(_without_disk_content), ("content",), None),
        (
            "missing-proof-file",
            mutated(drop("proofs/3.tlog-proof"), selective=True),
            ("log",),
            None,
        ),
        ("corrupt-policy-crc", patch_member(full, "policy.txt", crc=0), ("signatures",), ()),
        (
            "entry-not-utf8",
            mutated(edit_last_line(lambda line: line.replace(b"adv-de", b"adv\xffde"))),
            ("format", "log"),
            None,
        ),
        (
            "entry-extra-space",
            mutated(edit_last_line(lambda line: line.replace(b'"data":', b'"data": '))),
            ("format", "log"),
            None,
        ),
        ("entry-keys-reordered", mutated(edit_last_line(_v_first)), ("format", "log"), None),
        (
            "entry-data-10000-deep",
            mutated(
                edit_last_line(
                    lambda line: line.replace(
                        b'"data":{', b'"data":{"x":' + b"[" * 10_000 + b"]" * 10_000 + b","
                    )
                )
            ),
            ("format", "log"),
            None,
        ),
        (
            "entry-line-10000-deep",
            mutated(edit_last_line(lambda _: b"[" * 10_000 + b"]" * 10_000)),
            ("format", "log"),
            None,
        ),
        (
            "entry-2-pow-53",
            mutated(
                edit_last_line(
                    lambda line: line.replace(b'"data":{', b'"data":{"big":9007199254740992,')
                )
            ),
            ("format", "log"),
            None,
        ),
        (
            "entry-seq-5000-digits",
            mutated(
                edit_last_line(
                    lambda line: line.replace(b'"seq":', b'"seq":' + b"9" * 5000 + b',"x":')
                )
            ),
            ("format", "log"),
            None,
        ),
        (
            "entry-float",
            mutated(edit_last_line(lambda line: line.replace(b'"data":{', b'"data":{"f":0.5,'))),
            ("format", "log"),
            None,
        ),
        (
            "entry-duplicate-key",
            mutated(
                edit_last_line(lambda line: line.replace(b'"data":{', b'"data":{"sub":"forged",'))
            ),
            ("format", "log"),
            None,
        ),
        (
            "entry-line-of-2-mib",
            mutated(
                edit_last_line(
                    lambda line: line.replace(
                        b'"data":{', b'"data":{"a":"' + b"x" * (2 << 20) + b'",'
                    )
                )
            ),
            ("format",),
            None,
        ),
        (
            "entry-line-of-1.5-mib",
            mutated(
                edit_last_line(
                    lambda line: line.replace(
                        b'"data":{', b'"data":{"a":"' + b"x" * (3 << 19) + b'",'
                    )
                )
            ),
            ("format",),
            None,
        ),
        (
            "entries-without-final-newline",
            mutated(edit(ENTRIES, lambda d: d.rstrip(b"\n"))),
            ("format",),
            None,
        ),
        ("empty-first-line", mutated(edit(ENTRIES, lambda d: b"\n" + d)), ("format", "log"), None),
        (
            "signature-from-unknown-key",
            mutated(
                edit(
                    "checkpoint",
                    lambda n: (
                        n + sig_line("witness.unknown.example", b"\x01\x02\x03\x04" + b"\x55" * 64)
                    ),
                )
            ),
            (),
            (),
        ),
        (
            "witness-name-with-other-key-id",
            mutated(
                edit(
                    "checkpoint",
                    lambda n: (
                        n + sig_line("witness.nl.example", b"\x01\x02\x03\x04" + b"\x55" * 72)
                    ),
                )
            ),
            (),
            (),
        ),
        (
            "garbled-signature-line",
            mutated(
                edit(
                    "checkpoint",
                    lambda n: n + "\u2014 witness.nl.example !!not*base64!!\n".encode(),
                )
            ),
            ("signatures", "log"),
            None,
        ),
        (
            "forged-cosignature",
            mutated(edit("checkpoint", _forge_nl)),
            ("signatures",),
            ("signatures",),
        ),
        (
            "manifest-noncanonical",
            mutated(replace_in(MANIFEST, b'"tree_size":', b'"tree_size": ')),
            ("format",),
            None,
        ),
        ("manifest-tree-size-16", mutated(_tree_size_plus_one), ("log",), None),
        (
            "manifest-case-upper-case",
            mutated(replace_in(MANIFEST, CASE_ID.encode(), CASE_ID.upper().encode())),
            ("format",),
            None,
        ),
        ("manifest-log-size-below-tree-size", mutated(_log_size_below), ("format",), None),
    ]
    for target in (bundles.content_path(DISK), "policy.txt", "exhibits/"):
        old = f'"content":"{bundles.content_path(PHONE)}"'.encode()
        change = replace_in(MANIFEST, old, f'"content":"{target}"'.encode())
        fails.append(
            (
                f"content-path-outside-{target.split('/')[0].replace('.', '-')}",
                mutated(change),
                ("content",),
                None,
            )
        )
    assert last > 0
    for name, data, own, trusted in fails:
        yield name, data, "fail" if own else "pass", own, trusted


def _v_first(line: bytes) -> bytes:
    assert line.endswith(b',"v":1}')
    return b'{"v":1,' + line[1 : -len(b',"v":1}')] + b"}"


def _manifest_json(members: Members) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(members[MANIFEST])
    return loaded


def _without_log_size(data: bytes) -> bytes:
    manifest = json.loads(data)
    del manifest["log_size"]
    return bundles.canonical(manifest)


def _tree_size_plus_one(members: Members) -> None:
    manifest = _manifest_json(members)
    manifest["tree_size"] += 1
    manifest["log_size"] += 1
    members[MANIFEST] = bundles.canonical(manifest)


def _log_size_below(members: Members) -> None:
    manifest = _manifest_json(members)
    manifest["log_size"] = manifest["tree_size"] - 1
    members[MANIFEST] = bundles.canonical(manifest)
