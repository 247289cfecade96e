"""Early writeback: the disk writes a growing file while its next bytes still arrive.

Without it a multi-GiB upload sits in the page cache until the final fsync, which then
waits for all of it: receiving and the disk take turns, and the upload runs at well
under the disk's own speed. Linux's sync_file_range(2) starts writeback of a window
without waiting (SYNC_FILE_RANGE_WRITE); waiting for the window before it keeps the
dirty pages of one upload to about two windows. Written windows are then dropped from
the page cache (POSIX_FADV_DONTNEED): evidence is rarely read again soon, an upload
should not push the database out of memory, and a later re-verification should read
the disk, not a cached copy. RocksDB's `bytes_per_sync` and PostgreSQL's
`*_flush_after` settings do the same.

This is a speed measure only. sync_file_range promises nothing about durability (no
metadata, no device cache flush), so the stores still fsync before an object is
published or an offset acknowledged. Where the call is missing (not Linux) or fails
(a filesystem that refuses it), `Writeback` does nothing and the final fsync does it
all, as before.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
from collections.abc import Callable
from typing import BinaryIO, Final

from evidence.sidethread import SideThread

WINDOW: Final = 8 * 1024 * 1024
"""Bytes per writeback window; 2-32 MiB measured alike here (docs/benchmarks.md)."""

_WAIT_BEFORE: Final = 1
_WRITE: Final = 2
_WAIT_AFTER: Final = 4

SyncFileRange = Callable[[int, int, int, int], int]


def _load_sync_file_range() -> SyncFileRange | None:
    """libc's sync_file_range, or None where there is none."""
    if not hasattr(os, "posix_fadvise"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    call: SyncFileRange = function
    return call


_SYNC_FILE_RANGE: Final = _load_sync_file_range()


class Writeback:
    """Feeds the kernel one file's bytes to write as they are written, `window` at a time.

    Call `wrote(n)` after each write of `n` bytes to `file`, which is flushed before a
    window is handed over; `start` is the file offset the writes begin at.
    """

    __slots__ = ("_fd", "_file", "_flushed", "_function", "_offset", "_waited", "_window")

    def __init__(
        self,
        file: BinaryIO,
        *,
        start: int = 0,
        window: int = WINDOW,
        function: SyncFileRange | None = _SYNC_FILE_RANGE,
    ) -> None:
        if window <= 0:
            raise ValueError("the writeback window must be positive")
        self._file = file
        self._fd = file.fileno()
        self._offset = start
        self._flushed = start  # writeback started up to here
        self._waited = start  # written and dropped from the cache up to here
        self._window = window
        self._function = function

    @property
    def enabled(self) -> bool:
        return self._function is not None

    def wrote(self, n: int) -> bool:
        """Account for `n` more bytes; True when a window was handed to the kernel."""
        self._offset += n
        if self._function is None or self._offset - self._flushed < self._window:
            return False
        self._file.flush()
        if self._function(self._fd, self._flushed, self._offset - self._flushed, _WRITE) != 0:
            self._function = None  # refused here (errno ignored): the final fsync does it all
            return False
        if self._flushed - self._waited >= self._window:
            self._settle(self._waited, self._flushed)
        self._flushed = self._offset
        return True

    def _settle(self, start: int, end: int) -> None:
        """Wait until [start, end) is written, then drop it from the page cache."""
        assert self._function is not None
        flags = _WAIT_BEFORE | _WRITE | _WAIT_AFTER
        if self._function(self._fd, start, end - start, flags) != 0:
            self._function = None
            return
        with contextlib.suppress(OSError):  # only a cache hint
            os.posix_fadvise(self._fd, start, end - start, os.POSIX_FADV_DONTNEED)
        self._waited = end


class FileWriter:
    """Writes a file's chunks in order on a helper thread (`SideThread`), with `Writeback`.

    The thread feeding it goes on receiving and hashing while the bytes are written and
    the disk catches up. `settle()` returns once every chunk is written (raising a write
    failure), `abandon()` drops what is not yet written (the file is being thrown away).
    Flush and fsync the file only after either.
    """

    __slots__ = ("_side",)

    def __init__(self, file: BinaryIO, *, start: int = 0, window: int = WINDOW) -> None:
        writeback = Writeback(file, start=start, window=window)

        def consume(parts: list[bytes]) -> None:
            for part in parts:
                file.write(part)
                writeback.wrote(len(part))

        self._side = SideThread(consume, name="jitc-writer")

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self._side.feed(chunk if isinstance(chunk, bytes) else bytes(chunk))

    def settle(self) -> None:
        self._side.settle()

    def abandon(self) -> None:
        self._side.abandon()
