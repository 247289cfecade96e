"""Early writeback (evidence.writeback): the bytes stay right, the kernel is asked in order."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from evidence.fs import FilesystemStore
from evidence.keys import ExhibitKey
from evidence.writeback import _SYNC_FILE_RANGE, SyncFileRange, Writeback

KiB = 1024
WRITE = 2
WAIT_ALL = 1 | 2 | 4

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="sync_file_range(2) is Linux's"
)


class Recorder:
    """Passes every call to the real sync_file_range and remembers it."""

    def __init__(self) -> None:
        assert _SYNC_FILE_RANGE is not None
        self.real = _SYNC_FILE_RANGE
        self.calls: list[tuple[int, int, int]] = []

    def __call__(self, fd: int, offset: int, nbytes: int, flags: int) -> int:
        self.calls.append((offset, nbytes, flags))
        return self.real(fd, offset, nbytes, flags)


def write_pieces(
    path: Path,
    pieces: list[bytes],
    *,
    window: int,
    function: SyncFileRange | None,
    start: int = 0,
) -> list[bool]:
    with path.open("r+b" if start else "wb") as f:
        f.seek(start)
        writeback = Writeback(f, start=start, window=window, function=function)
        handed = []
        for piece in pieces:
            f.write(piece)
            handed.append(writeback.wrote(len(piece)))
        f.flush()
        os.fsync(f.fileno())
    return handed


@linux_only
def test_the_loaded_function_is_there_on_linux() -> None:
    assert _SYNC_FILE_RANGE is not None


@linux_only
def test_windows_are_started_in_order_and_waited_for_one_behind(tmp_path: Path) -> None:
    pieces = [os.urandom(3 * KiB + i) for i in range(40)]  # uneven sizes cross windows
    recorder = Recorder()
    path = tmp_path / "f"
    handed = write_pieces(path, pieces, window=16 * KiB, function=recorder)

    assert path.read_bytes() == b"".join(pieces)
    assert sum(handed) == sum(1 for _, _, flags in recorder.calls if flags == WRITE)
    started = [(o, n) for o, n, flags in recorder.calls if flags == WRITE]
    waited = [(o, n) for o, n, flags in recorder.calls if flags == WAIT_ALL]
    # Writeback starts cover the file from 0 without gap or overlap, each >= one window.
    position = 0
    for offset, nbytes in started:
        assert offset == position
        assert nbytes >= 16 * KiB
        position += nbytes
    assert position <= sum(map(len, pieces))
    # Waits cover a prefix of what was started, one window behind, also without gaps.
    position = 0
    for offset, nbytes in waited:
        assert offset == position
        position += nbytes
    assert waited
    assert position == sum(n for _, n in started[:-1])
    # Dirty bytes of this file never exceed two windows and a piece: after each start,
    # everything but the last two started ranges has been waited for.
    assert len(waited) == len(started) - 1


@linux_only
def test_an_append_starts_at_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "f"
    head = os.urandom(10 * KiB)
    path.write_bytes(head)
    recorder = Recorder()
    tail = [os.urandom(4 * KiB) for _ in range(12)]
    write_pieces(path, tail, window=8 * KiB, function=recorder, start=len(head))
    assert path.read_bytes() == head + b"".join(tail)
    assert recorder.calls[0][0] == len(head)


def test_without_the_call_nothing_is_handed_over(tmp_path: Path) -> None:
    path = tmp_path / "f"
    pieces = [os.urandom(8 * KiB) for _ in range(10)]
    with path.open("wb") as f:
        writeback = Writeback(f, window=4 * KiB, function=None)
        assert not writeback.enabled
        for piece in pieces:
            f.write(piece)
            assert writeback.wrote(len(piece)) is False
    assert path.read_bytes() == b"".join(pieces)


def test_a_refusing_kernel_turns_it_off_and_the_bytes_stay_right(tmp_path: Path) -> None:
    calls: list[int] = []

    def refuses(fd: int, offset: int, nbytes: int, flags: int) -> int:
        calls.append(flags)
        return -1  # e.g. a filesystem that does not support it

    path = tmp_path / "f"
    pieces = [os.urandom(8 * KiB) for _ in range(10)]
    handed = write_pieces(path, pieces, window=4 * KiB, function=refuses)
    assert calls == [WRITE]  # asked once, then never again
    assert not any(handed)
    assert path.read_bytes() == b"".join(pieces)


def test_a_refused_wait_turns_it_off_too(tmp_path: Path) -> None:
    flags_seen: list[int] = []

    def refuses_waits(fd: int, offset: int, nbytes: int, flags: int) -> int:
        flags_seen.append(flags)
        return -1 if flags == WAIT_ALL else 0

    path = tmp_path / "f"
    pieces = [os.urandom(8 * KiB) for _ in range(10)]
    write_pieces(path, pieces, window=4 * KiB, function=refuses_waits)
    assert flags_seen.count(WAIT_ALL) == 1
    assert path.read_bytes() == b"".join(pieces)


def test_the_window_must_be_positive(tmp_path: Path) -> None:
    with (tmp_path / "f").open("wb") as f, pytest.raises(ValueError, match="positive"):
        Writeback(f, window=0)


def test_a_store_object_larger_than_many_windows_is_exact(tmp_path: Path) -> None:
    """Through the filesystem store: 40 MiB (five default windows) in uneven chunks."""
    store = FilesystemStore(tmp_path / "store")
    store.prepare()
    key = ExhibitKey.parse(
        "cases/0b3f7b5e-6a53-4a8e-9f1c-0d6f3b1e9a01/exhibits/5d2c1f0a-7e4b-4c3d-8a9b-1f2e3d4c5b6a"
    )
    block = os.urandom(1024 * KiB + 7)
    chunks = [block] * 40
    digests = store.put_stream(key, iter(chunks))
    assert digests.size == 40 * len(block)
    assert b"".join(store.open_range(key)) == block * 40
    assert store.rehash(key) == digests
