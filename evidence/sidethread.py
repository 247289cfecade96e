"""One helper thread that consumes a byte stream in order, beside the thread producing it.

Ingest does slow things to every byte: hash it (SHA-256, BLAKE3) and write it to disk,
where the write may also wait for the disk. On one thread they take turns; `SideThread`
moves one of them to a helper so they overlap (hashlib, blake3 and file writes release
the GIL). The producer feeds chunks; they are passed on in batches of about `batch` bytes
(one thread hop per batch, not per chunk) and at most `depth` batches wait, so memory
stays bounded and a producer faster than the helper is slowed to its pace. A stream
shorter than one batch never starts a thread: what is left when it settles is consumed
on the caller's thread.

The first failure of `consume` breaks the stream: later batches are not consumed (a write
must never land after a failed one), and the error is raised on the producer's thread,
from the next `feed` or from `settle`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final, NoReturn

BATCH: Final = 1024 * 1024
DEPTH: Final = 2

Consume = Callable[[list[bytes]], None]


class SideThread:
    """Feeds `consume` every chunk, in order, on a helper thread; see the module text."""

    __slots__ = (
        "_batch",
        "_batch_size",
        "_batched",
        "_consume",
        "_depth",
        "_error",
        "_executor",
        "_name",
        "_pending",
        "_reported",
    )

    def __init__(
        self, consume: Consume, *, name: str, batch: int = BATCH, depth: int = DEPTH
    ) -> None:
        if batch <= 0 or depth <= 0:
            raise ValueError("batch and depth must be positive")
        self._consume = consume
        self._name = name
        self._batch_size = batch
        self._depth = depth
        self._batch: list[bytes] = []
        self._batched = 0
        self._pending: deque[Future[None]] = deque()
        self._executor: ThreadPoolExecutor | None = None
        self._error: BaseException | None = None
        self._reported = False

    @property
    def threaded(self) -> bool:
        """Whether a helper thread is running (tests)."""
        return self._executor is not None

    def feed(self, chunk: bytes) -> None:
        """Queue `chunk` (immutable: the helper reads it later); a broken stream refuses."""
        if self._error is not None:
            self._fail()
        if not chunk:
            return
        self._batch.append(chunk)
        self._batched += len(chunk)
        if self._batched >= self._batch_size:
            self._submit()

    def settle(self) -> None:
        """Consume everything fed, stop the helper, and raise a failure not yet raised."""
        self._stop_helper()
        parts, self._batch, self._batched = self._batch, [], 0
        if parts:
            self._run(parts)
        if self._error is not None and not self._reported:
            self._reported = True
            raise self._error

    def abandon(self) -> None:
        """Stop: nothing fed and not yet consumed ever is; raises nothing (error paths)."""
        if self._error is None:
            self._error = _AbandonedError()
        self._reported = True
        self.settle()

    def _submit(self) -> None:
        parts, self._batch, self._batched = self._batch, [], 0
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=self._name)
        self._pending.append(self._executor.submit(self._run, parts))
        while len(self._pending) > self._depth:
            self._pending.popleft().result()
        if self._error is not None:
            self._fail()

    def _stop_helper(self) -> None:
        """Wait for the batches handed over (after a failure they are skipped), end the thread."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def _fail(self) -> NoReturn:
        """Raise the failure on the producer's thread; no helper thread outlives it."""
        assert self._error is not None
        self._reported = True
        self._stop_helper()
        raise self._error

    def _run(self, parts: list[bytes]) -> None:
        if self._error is not None:
            return  # broken: nothing after a failure is consumed
        try:
            self._consume(parts)
        except BaseException as exc:  # noqa: BLE001 - raised on the producer's thread
            self._error = exc


class _AbandonedError(Exception):
    """Marks a stream its producer gave up on; never raised to a caller."""
