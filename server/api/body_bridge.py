"""The request body as a sync iterator for a worker thread (`BodyBridge`): the event loop
receives into a bounded queue that the route's worker thread reads while the store hashes
and writes, so memory stays constant whatever the size (ADR 0002, ADR 0040)."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Final

import anyio.from_thread
from starlette.requests import ClientDisconnect, Request

from server.api.http import body_parts

BRIDGE_READ_AHEAD: Final = 8 * 1024 * 1024


class BodyBridge:
    """The request body as a sync iterator for a worker thread, read ahead on the loop.

    A task on the event loop (started by the worker's first read, so nothing is read
    before the service has authenticated and checked the request) keeps receiving the
    body into a thread-safe queue while the worker thread hashes and stores what came
    before: receiving and storing overlap. The worker takes parts as they came, with no
    hop through the event loop per part; the loop hears from the worker only when the
    read-ahead (`read_ahead` bytes) was full and has drained to half, so memory stays
    bounded. A client that goes away raises `ClientDisconnect` out of the iterator, which
    the stores treat as a broken body (a PUT leaves nothing; a tus upload keeps what
    arrived). A body idle for `idle_timeout` seconds raises RequestTimeoutError the same
    way, and the store drops it alike; the route answers 408."""

    def __init__(
        self,
        request: Request,
        read_ahead: int = BRIDGE_READ_AHEAD,
        *,
        idle_timeout: float | None = None,
    ) -> None:
        self._request = request
        self._read_ahead = read_ahead
        self._idle_timeout = idle_timeout
        self._parts: queue.SimpleQueue[bytes | Exception | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards _buffered and _pump_waits
        self._buffered = 0
        self._pump_waits = False
        self._room = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._end_put = False  # touched on the event loop only

    def _start(self) -> None:
        """On the event loop: start receiving."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._pump())
            self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        """However the pump ended (also cancelled before its first step, or by a
        BaseException), a worker still reading gets an end and never waits forever."""
        if not self._end_put:
            self._parts.put(ClientDisconnect())

    async def _pump(self) -> None:
        end: Exception | None = None
        try:
            async for part in body_parts(self._request, self._idle_timeout):
                if not part:
                    continue
                with self._lock:
                    self._buffered += len(part)
                    full = self._buffered >= self._read_ahead
                    self._pump_waits = full
                self._parts.put(part)
                if full:
                    # Set again by the worker (through the loop, so after this clear)
                    # once half the read-ahead is drained.
                    self._room.clear()
                    await self._room.wait()
        except Exception as exc:  # noqa: BLE001 - handed to the reading thread
            end = exc
        self._end_put = True
        self._parts.put(end)

    def _took(self, size: int) -> None:
        with self._lock:
            self._buffered -= size
            wake = self._pump_waits and self._buffered <= self._read_ahead // 2
            if wake:
                self._pump_waits = False
        if wake and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self._loop.call_soon_threadsafe(self._room.set)

    def chunks(self) -> Iterator[bytes]:
        if self._task is None:
            anyio.from_thread.run_sync(self._start)
        while True:
            part = self._parts.get()
            if part is None:
                return
            if isinstance(part, Exception):
                raise part
            self._took(len(part))
            yield part

    async def aclose(self) -> None:
        """Stop reading (the service stopped early: refused, too large, failed)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
