"""Hostile ZIP archives: not a ZIP, zip bombs and lying sizes, unsafe member names.

Each ends in a BundleFormatError (exit 2, one line) or a finding that names the defect;
nothing is extracted or written anywhere. Hostile members of a readable bundle:
test_hostile_bundles.py.
"""

from __future__ import annotations

import stat
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from custody.bundle import BundleReader, check_member_name, safe_content_name
from custody.errors import (
    BundleFormatError,
)
from tests.custody.golden.generator import PHONE
from tests.custody.hostile_support import (
    ENTRIES,
    GOLDEN,
    RawMember,
    assert_fails,
    build_zip,
    golden,
    golden_raw,
    local_size,
    patch_member,
    rezipped,
    save,
    stored_member,
    verify,
    zeros_deflated,
)

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
        # Windows: a trailing dot or space is dropped; a device name opens the device.
        pytest.param("exhibits/x/report.pdf.", "ending in", id="windows-trailing-dot"),
        pytest.param("exhibits/x/report.pdf ", "ending in", id="windows-trailing-space"),
        pytest.param("exhibits/x. /a", "ending in", id="windows-trailing-space-folder"),
        pytest.param("exhibits/x/CON", "Windows device", id="windows-con"),
        pytest.param("exhibits/x/nul.txt", "Windows device", id="windows-nul-extension"),
        pytest.param("exhibits/x/Com1.tar.gz", "Windows device", id="windows-com1"),
        pytest.param("exhibits/x/lpt9", "Windows device", id="windows-lpt9"),
        pytest.param("exhibits/x/aux .log", "Windows device", id="windows-aux-space"),
        pytest.param("prn/a", "Windows device", id="windows-prn-folder"),
        pytest.param("exhibits/x/COM\u00b9", "Windows device", id="windows-com-superscript"),
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


@pytest.mark.parametrize(
    ("filename", "member"),
    [
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("Com1.tar.gz", "_Com1.tar.gz"),
        ("lpt9", "_lpt9"),
        ("aux .log", "_aux .log"),
        ("report.pdf.", "report.pdf"),
        ("report.pdf . ", "report.pdf"),
        ("a" * 119 + " b", "a" * 119),
        ("console.txt", "console.txt"),
        ("COM10", "COM10"),
    ],
)
def test_content_names_are_safe_on_windows(filename: str, member: str) -> None:
    name = safe_content_name("3f0c8a52-9d1e-4b7a-8c2f-6e5d4a3b2c1d", filename)
    assert name == f"exhibits/3f0c8a52-9d1e-4b7a-8c2f-6e5d4a3b2c1d/{member}"
    check_member_name(name)  # what the writer makes, the reader accepts
