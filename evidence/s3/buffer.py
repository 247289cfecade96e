"""Turning a body into S3 parts: the one re-chunking buffer, and parts sent side by side.

S3 wants parts of at least 5 MiB (but the last), and the store holds a bounded number
of parts in memory: bytes are copied into a preallocated buffer, and each time it is
full and more bytes come, the full part is handed on and filling goes on in a buffer
given back (the same one once it is sent, or a spare while it is being sent). What is
left at the end (a full or short last part) is the caller's to write.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class PartBuffer:
    """Collects bytes into parts; `emit` gets each full part that more bytes follow.

    `part_size(n)` is the size of part n (0-based), so a caller can grow its parts as
    they become many. `emit` owns the part it is given and returns a buffer to fill
    next (None: allocate one).
    """

    def __init__(
        self, part_size: Callable[[int], int], emit: Callable[[bytearray], bytearray | None]
    ) -> None:
        self._part_size = part_size
        self._emit = emit
        self._parts = 0
        self._buffer = bytearray(part_size(0))
        self.fill = 0

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
        full, self._buffer = self._buffer, bytearray()
        self.fill = 0
        given = self._emit(full)
        self._parts += 1
        size = self._part_size(self._parts)
        self._buffer = given if given is not None and len(given) == size else bytearray(size)

    def pending(self) -> memoryview:
        """The bytes not handed on (release the view before writing more)."""
        return memoryview(self._buffer)[: self.fill]


class PartSender:
    """Sends parts on helper threads while the next one fills: `parallel` parts in memory.

    With `parallel` 1 a part is sent before filling goes on (no thread). With more,
    `parallel - 1` parts are sent side by side while one fills; `send(number, part)`
    returns a sent part's buffer for reuse. The first failure is raised by the next
    `send` or by `drain`; `close` waits for what is in flight and drops it.

    `on_sent(number)` is called once part `number` and every part sent before it are on
    the server, in the parts' order, one call at a time, on the thread that sent the
    last of them: progress is recorded as soon as it is true, even while the body
    pauses. Its failure counts as that part's.
    """

    def __init__(
        self,
        upload: Callable[[int, memoryview], None],
        parallel: int,
        *,
        on_sent: Callable[[int], None] | None = None,
    ) -> None:
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        self._upload = upload
        self._parallel = parallel
        self._on_sent = on_sent
        self._pool = ThreadPoolExecutor(parallel, "s3-part") if parallel > 1 else None
        self._flight: collections.deque[tuple[int, Future[None], bytearray]] = collections.deque()
        self._lock = threading.Lock()  # guards the three below; held while on_sent runs
        self._order: collections.deque[int] = collections.deque()  # sent, not yet reported
        self._done: set[int] = set()
        self._broken = False

    def _send(self, number: int, part: bytearray) -> None:
        with memoryview(part) as view:
            self._upload(number, view)
        self._sent(number)

    def _sent(self, number: int) -> None:
        """Report every part that is on the server with all parts before it."""
        with self._lock:
            self._done.add(number)
            while self._order and self._order[0] in self._done and not self._broken:
                first = self._order[0]
                if self._on_sent is not None:
                    try:
                        self._on_sent(first)
                    except BaseException:
                        self._broken = True  # nothing after a failed report is reported
                        raise
                self._order.popleft()
                self._done.discard(first)

    def send(self, number: int, part: bytearray) -> bytearray | None:
        """Send part `number` (numbers rise); a buffer to fill next, or None."""
        with self._lock:
            self._order.append(number)
        if self._pool is None:
            self._send(number, part)
            return part
        self._flight.append((number, self._pool.submit(self._send, number, part), part))
        if len(self._flight) < self._parallel:
            return None
        return self._collect()

    def _collect(self) -> bytearray:
        _, future, done = self._flight[0]
        future.result()  # a failure stays in flight: close() waits for the others
        self._flight.popleft()
        return done

    def drain(self) -> None:
        """Wait until every part is sent; the first failure is raised."""
        while self._flight:
            self._collect()

    def close(self) -> None:
        for _, future, _ in self._flight:
            future.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._flight.clear()
