"""The one re-chunking buffer: a body's chunks, whatever their sizes, become S3 parts.

S3 wants parts of at least 5 MiB (but the last), and the store wants to hold at
most one part in memory: bytes are copied into one preallocated buffer, and each
time it is full and more bytes come, the full part is handed on and the buffer
starts again. What is left at the end (a full or short last part) is the
caller's to write.
"""

from __future__ import annotations

from collections.abc import Callable


class PartBuffer:
    """Collects bytes into parts; `emit` gets each full part that more bytes follow.

    `part_size(n)` is the size of part n (0-based), so a caller can grow its parts as
    they become many. The memoryview given to `emit` is valid only during the call.
    """

    def __init__(self, part_size: Callable[[int], int], emit: Callable[[memoryview], None]) -> None:
        self._part_size = part_size
        self._emit = emit
        self._parts = 0
        self._buffer = bytearray(part_size(0))
        self.fill = 0

    @property
    def parts_emitted(self) -> int:
        return self._parts

    def write(self, data: bytes | bytearray | memoryview) -> None:
        with memoryview(data) as view:
            pos = 0
            while pos < len(view):
                if self.fill == len(self._buffer):
                    self._hand_on()
                n = min(len(view) - pos, len(self._buffer) - self.fill)
                self._buffer[self.fill : self.fill + n] = view[pos : pos + n]
                self.fill += n
                pos += n

    def _hand_on(self) -> None:
        with memoryview(self._buffer) as whole:
            self._emit(whole)
        self._parts += 1
        self.fill = 0
        size = self._part_size(self._parts)
        if size != len(self._buffer):
            self._buffer = bytearray(size)

    def pending(self) -> memoryview:
        """The bytes not handed on (release the view before writing more)."""
        return memoryview(self._buffer)[: self.fill]
