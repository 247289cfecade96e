"""The background work of one app process, started and stopped in one place (ADR 0031).

    sweep       at start, then every `sweep_interval` seconds: expire idle uploads and
                recover interrupted ingests (content.sweep, ADR 0012); end the exports a
                stopped server left pending, remove half-written bundles
                (exports.sweep_partial_exports)
    witnessing  at start, after each commit, and on a tick: send each case's newest
                checkpoint to its witnesses (WitnessSubmitter, ADR 0021)
    exports     the bundles of asynchronous exports (Prefer: respond-async, ADR 0022)

The work runs on the executor the caller passes in; the runtime only decides when. The
app passes a thread pool it owns; a test passes one it shuts down itself. Whoever submits
work gets its future; `drain()` waits for all work submitted so far; `witnessing_settled()`
for the witnessing that the commits so far asked for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from concurrent.futures import wait as wait_for_futures
from typing import Any, Final, TypeVar

from server.services import content, exports
from server.services.witnessing import WitnessSubmitter
from server.services.workspace import Workspace

log = logging.getLogger("jitc.runtime")
T = TypeVar("T")

MAX_SWEEP_INTERVAL: Final = 300.0
WITNESS_ROUND_GAP: Final = 0.05
"""Seconds between the starts of two witnessing rounds, at the least. Under a stream of
commits, rounds would run back to back and take CPU from the appends themselves (~20% of
append throughput on 2 cores); each round sends the newest checkpoint, so coalescing
wake-ups loses nothing."""
STOP_TIMEOUT: Final = 60.0


def default_sweep_interval(ws: Workspace) -> float:
    """Often enough that an upload outlives its expiry by a tenth at most."""
    return max(1.0, min(MAX_SWEEP_INTERVAL, ws.settings.upload_expiry / 10))


class Runtime:
    """Starts, schedules and stops the background work of one app over `ws`; once: after
    `stop` it starts no round again."""

    def __init__(
        self,
        ws: Workspace,
        executor: Executor,
        *,
        submitter: WitnessSubmitter | None = None,
        sweep_interval: float | None = None,
    ) -> None:
        self._ws = ws
        self._executor = executor
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._pending: set[Future[Any]] = set()
        interval = default_sweep_interval(ws) if sweep_interval is None else sweep_interval
        self._submitter = submitter or WitnessSubmitter(ws)
        self._sweep = _Rounds("sweep", self._sweep_once, interval=lambda: interval)
        self._witnessing = _Rounds(
            "witnessing",
            self._submitter.run_round,
            interval=self._submitter.next_wait,
            min_gap=WITNESS_ROUND_GAP,
        )

    @property
    def stopping(self) -> threading.Event:
        """Set by `stop`: long work (an export being written) ends early."""
        return self._stopping

    def submit(self, work: Callable[[], T]) -> Future[T]:
        """Run `work` on the executor; `drain` waits for it."""
        future = self._executor.submit(work)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[T]) -> None:
        with self._lock:
            self._pending.discard(future)

    def drain(self, timeout: float | None = None) -> None:
        """Wait until the work submitted so far (and any it submitted) has ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                pending = set(self._pending)
            if not pending:
                return
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            _done, not_done = wait_for_futures(pending, timeout=left)
            if not_done and deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"{len(not_done)} background job(s) still running")

    def start(self) -> None:
        """Sweep and submit to witnesses now and from now on; wake the witnessing after
        each commit."""
        self._sweep.start(self.submit)
        self._witnessing.start(self.submit)
        self._ws.committer.after_commit = self._witnessing.wake

    def witnessing_settled(self) -> Future[None]:
        """Ends with the first witnessing round that begins after every wake so far (each
        commit wakes the witnessing): the checkpoints committed until now were sent."""
        return self._witnessing.settled()

    def sweep_now(self) -> Future[None]:
        """Sweep again now; the future ends with that sweep."""
        self._sweep.wake()
        return self._sweep.settled()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """End the exports being written (they are refused: the server stopped), stop the
        rounds, and wait for the work still running."""
        self._ws.committer.after_commit = None
        # Refused first, then told to stop: each says why it ended (the server stopped).
        exports.interrupt_running_exports(self._ws)
        self._stopping.set()
        self._witnessing.stop(timeout)
        self._sweep.stop(timeout)
        try:
            self.drain(timeout)
        except TimeoutError:
            log.warning("background work still running at stop", exc_info=True)

    def _sweep_once(self) -> None:
        exports.sweep_partial_exports(self._ws)
        report = content.sweep(self._ws)
        if report.recovered or report.orphans or report.expired:
            log.warning(
                "content sweep: %d uploads expired, %d ingests recovered, %d orphans",
                report.expired,
                report.recovered,
                report.orphans,
            )


Submit = Callable[[Callable[[], None]], "Future[None]"]


class _Rounds:
    """One kind of round, run on the executor: at start, when woken, and `interval()`
    seconds after the last one ended; one at a time, starts at least `min_gap` apart. A
    thread of its own only waits for the time to come and for each round to end.

    Wakes are counted: `settled()` is the future of the first round that begins after
    every wake so far, so a caller waits for the work a wake asked for, no longer."""

    def __init__(
        self,
        name: str,
        work: Callable[[], None],
        *,
        interval: Callable[[], float],
        min_gap: float = 0.0,
    ) -> None:
        self._name = name
        self._work = work
        self._interval = interval
        self._min_gap = min_gap
        self._woken = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._wakes = 0
        self._covered = -1  # the wakes the last round to end began after (-1: none yet)
        self._waiters: list[tuple[int, Future[None]]] = []
        self._thread: threading.Thread | None = None

    def start(self, submit: Submit) -> None:
        self._thread = threading.Thread(
            target=self._loop, args=(submit,), name=f"jitc-{self._name}", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        with self._lock:
            self._wakes += 1
        self._woken.set()

    def settled(self) -> Future[None]:
        """Ends with the first round that begins after every wake so far (at once if one
        has ended already); cancelled if the rounds stop first."""
        waiter: Future[None] = Future()
        with self._lock:
            if self._covered >= self._wakes:
                waiter.set_result(None)
            elif self._stopped.is_set():
                waiter.cancel()
            else:
                self._waiters.append((self._wakes, waiter))
        return waiter

    def stop(self, timeout: float) -> None:
        self._stopped.set()
        self._woken.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            waiters, self._waiters = self._waiters, []
        for _wakes, waiter in waiters:
            waiter.cancel()

    def _loop(self, submit: Submit) -> None:
        while not self._stopped.is_set():
            with self._lock:
                self._woken.clear()
                begun = self._wakes
            started = time.monotonic()
            try:
                submit(self._work).result()
            except Exception:  # the next round tries again
                log.exception("%s round failed", self._name)
            with self._lock:
                self._covered = begun
                ready = [w for wakes, w in self._waiters if wakes <= begun]
                self._waiters = [(n, w) for n, w in self._waiters if n > begun]
            for waiter in ready:
                waiter.set_result(None)
            self._woken.wait(self._interval())
            pause = self._min_gap - (time.monotonic() - started)
            if pause > 0:
                self._stopped.wait(pause)
