"""BodyBridge: a request body received on the event loop, read by a worker thread.

In order and whole; bounded by its read-ahead; a disconnect reaches the worker after the
bytes that came before it; a service that stops early stops the receiving; and however
the receiving task ends (even cancelled before its first step), the worker is never left
waiting.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.to_thread
import pytest
from starlette.requests import ClientDisconnect

from server.api.body_bridge import BodyBridge


class FakeRequest:
    """Yields `parts`, or breaks off like a client that left at part `fail_at`."""

    def __init__(self, parts: list[bytes], *, fail_at: int | None = None) -> None:
        self.parts = parts
        self.fail_at = fail_at
        self.most_ahead = 0
        self.bridge: BodyBridge | None = None

    async def stream(self) -> AsyncIterator[bytes]:
        for i, part in enumerate(self.parts):
            if i == self.fail_at:
                raise ClientDisconnect()
            if i % 50 == 0:
                await asyncio.sleep(0)
            assert self.bridge is not None
            self.most_ahead = max(self.most_ahead, self.bridge._buffered)
            yield part
        yield b""


def _parts(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [bytes([i % 256]) * rng.randint(1, 5000) for i in range(n)]


async def _read(
    request: FakeRequest, *, read_ahead: int, stop_after: int | None = None
) -> tuple[list[bytes], Any]:
    bridge = BodyBridge(request, read_ahead=read_ahead)  # type: ignore[arg-type]
    request.bridge = bridge
    got: list[bytes] = []

    def work() -> str:
        for chunk in bridge.chunks():
            got.append(chunk)
            if stop_after is not None and len(got) >= stop_after:
                raise RuntimeError("the service stopped")
        return "whole"

    outcome: Any
    with anyio.fail_after(30):
        try:
            outcome = await anyio.to_thread.run_sync(work)
        except (ClientDisconnect, RuntimeError) as exc:
            outcome = exc
        finally:
            await bridge.aclose()
    return got, outcome


@pytest.mark.parametrize("read_ahead", [1, 8_000, 10**7])
def test_every_part_arrives_in_order_within_the_read_ahead(read_ahead: int) -> None:
    parts = _parts(2000, seed=read_ahead)
    request = FakeRequest(parts)
    got, outcome = asyncio.run(_read(request, read_ahead=read_ahead))
    assert outcome == "whole"
    assert got == parts
    # At most the read-ahead plus the part that crossed it waits between the threads.
    assert request.most_ahead <= read_ahead + 5000


def test_a_disconnect_comes_after_the_bytes_before_it() -> None:
    parts = _parts(1000, seed=7)
    got, outcome = asyncio.run(_read(FakeRequest(parts, fail_at=600), read_ahead=8_000))
    assert isinstance(outcome, ClientDisconnect)
    assert got == parts[:600]


@pytest.mark.parametrize("stop_after", [1, 100])
def test_a_service_that_stops_early_stops_the_receiving(stop_after: int) -> None:
    parts = _parts(3000, seed=stop_after)
    request = FakeRequest(parts)
    got, outcome = asyncio.run(_read(request, read_ahead=8_000, stop_after=stop_after))
    assert isinstance(outcome, RuntimeError)
    assert got == parts[:stop_after]
    assert request.most_ahead <= 8_000 + 5000  # it stopped at the read-ahead, not the end


def test_a_pump_cancelled_before_its_first_step_still_ends_the_worker() -> None:
    class Endless:
        async def stream(self) -> AsyncIterator[bytes]:
            await asyncio.sleep(3600)
            yield b"never"

    async def scenario() -> Any:
        bridge = BodyBridge(Endless())  # type: ignore[arg-type]
        start = bridge._start

        def start_then_cancel() -> None:
            start()
            assert bridge._task is not None
            bridge._task.cancel()  # e.g. shutdown's cancel-all, before the pump ran

        bridge._start = start_then_cancel  # type: ignore[method-assign]

        def work() -> Any:
            try:
                return list(bridge.chunks())
            except ClientDisconnect as exc:
                return exc

        with anyio.fail_after(10):  # a worker left waiting fails here, not hangs
            return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)

    assert isinstance(asyncio.run(scenario()), ClientDisconnect)
