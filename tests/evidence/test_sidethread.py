"""SideThread and FileWriter: order, bounded memory, failures, no thread left behind."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import threading
import time
import uuid
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.fs import FilesystemStore
from evidence.keys import exhibit_key
from evidence.sidethread import SideThread
from evidence.writeback import FileWriter

KiB = 1024


def helper_threads(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


class Collector:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.threads: set[int] = set()

    def __call__(self, parts: list[bytes]) -> None:
        self.threads.add(threading.get_ident())
        self.parts.extend(parts)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=3 * KiB), max_size=40), st.integers(1, 8 * KiB))
def test_every_byte_arrives_once_in_order(chunks: list[bytes], batch: int) -> None:
    collector = Collector()
    side = SideThread(collector, name="t-order", batch=batch, depth=1)
    for chunk in chunks:
        side.feed(chunk)
    side.settle()
    assert b"".join(collector.parts) == b"".join(chunks)
    assert not side.threaded
    assert helper_threads("t-order") == []


def test_a_short_stream_never_starts_a_thread() -> None:
    collector = Collector()
    side = SideThread(collector, name="t-short", batch=64 * KiB)
    side.feed(b"a" * KiB)
    side.feed(b"b" * KiB)
    assert not side.threaded
    assert collector.parts == []  # nothing consumed before settle
    side.settle()
    assert collector.parts == [b"a" * KiB, b"b" * KiB]
    assert collector.threads == {threading.get_ident()}


def test_a_long_stream_runs_beside_the_caller_and_the_thread_ends() -> None:
    collector = Collector()
    side = SideThread(collector, name="t-long", batch=4 * KiB)
    for _ in range(20):
        side.feed(os.urandom(KiB))
    assert side.threaded
    assert helper_threads("t-long")
    side.settle()
    assert len(collector.threads - {threading.get_ident()}) == 1  # one helper did the work
    assert sum(map(len, collector.parts)) == 20 * KiB
    assert helper_threads("t-long") == []


def test_the_producer_waits_when_depth_batches_are_pending() -> None:
    started, release = threading.Event(), threading.Event()

    def slow(parts: list[bytes]) -> None:
        started.set()
        release.wait(30)

    side = SideThread(slow, name="t-depth", batch=KiB, depth=2)
    fed = 0

    def produce() -> None:
        nonlocal fed
        for _ in range(10):
            side.feed(b"x" * KiB)
            fed += 1

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        assert started.wait(30)
        time.sleep(0.3)  # room for a broken bound to show; never a timing assertion
        # one batch being consumed, `depth` waiting, and the producer stuck on the next
        assert fed <= 3
    finally:
        release.set()
        producer.join(30)
    side.settle()
    assert fed == 10


def test_a_failure_stops_the_stream_and_is_raised_once() -> None:
    consumed: list[bytes] = []

    def fails_on_second(parts: list[bytes]) -> None:
        if len(consumed) == 1:
            raise OSError(28, "No space left on device")
        consumed.extend(parts)

    side = SideThread(fails_on_second, name="t-fail", batch=KiB, depth=1)
    with pytest.raises(OSError, match="No space") as raised:  # noqa: PT012 - where it surfaces varies
        for i in range(50):
            side.feed(bytes([i]) * KiB)
        side.settle()
    assert consumed == [bytes([0]) * KiB]  # nothing after the failed batch
    with pytest.raises(OSError, match="No space"):
        side.feed(b"more")  # a broken stream refuses more
    side.settle()  # already raised: quiet now
    assert raised.value.errno == 28
    assert helper_threads("t-fail") == []


def test_abandon_drops_what_is_not_consumed_and_raises_nothing() -> None:
    gate = threading.Event()
    consumed: list[bytes] = []

    def gated(parts: list[bytes]) -> None:
        gate.wait(30)
        consumed.extend(parts)

    side = SideThread(gated, name="t-abandon", batch=KiB, depth=5)
    for i in range(4):
        side.feed(bytes([i]) * KiB)
    side.feed(b"tail")  # still in the caller's batch
    opener = threading.Timer(0.2, gate.set)  # lets the running batch end during abandon
    opener.start()
    side.abandon()
    opener.join()
    # At most the batch already running when abandon came; never the tail.
    assert b"tail" not in b"".join(consumed)
    assert len(consumed) <= 1
    assert helper_threads("t-abandon") == []


def test_abandon_after_a_failure_is_quiet() -> None:
    def fails(parts: list[bytes]) -> None:
        raise ValueError("broken")

    side = SideThread(fails, name="t-quiet", batch=KiB, depth=1)
    with contextlib.suppress(ValueError):  # raised here if the helper was quick
        side.feed(b"x" * KiB)
    side.abandon()
    side.abandon()  # twice: still quiet
    assert helper_threads("t-quiet") == []


@pytest.mark.parametrize(("batch", "depth"), [(0, 1), (1, 0), (-1, 2)])
def test_batch_and_depth_must_be_positive(batch: int, depth: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        SideThread(Collector(), name="t-bad", batch=batch, depth=depth)


# --- FileWriter ---------------------------------------------------------------------------


def test_file_writer_writes_every_byte_in_order(tmp_path: Path) -> None:
    chunks = [os.urandom(n) for n in (1, 5000, 1024 * KiB + 3, 0, 17, 3 * 1024 * KiB)]
    path = tmp_path / "f"
    with path.open("wb") as f:
        writer = FileWriter(f, window=64 * KiB)
        for chunk in chunks:
            writer.write(chunk)
        writer.write(bytearray(b"from a bytearray"))
        writer.settle()
    assert path.read_bytes() == b"".join(chunks) + b"from a bytearray"
    assert helper_threads("jitc-writer") == []


def test_file_writer_appends_at_its_start(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"head")
    with path.open("r+b") as f:
        f.seek(4)
        writer = FileWriter(f, start=4, window=4 * KiB)
        for _ in range(3):
            writer.write(b"t" * 1024 * KiB)
        writer.settle()
    assert path.read_bytes() == b"head" + b"t" * 3 * 1024 * KiB


class FullDisk(io.BytesIO):
    """A file that takes `room` bytes, then fails like a full disk (a failure path)."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, data: object) -> int:
        assert isinstance(data, bytes)
        if self.tell() + len(data) > self.room:
            raise OSError(28, "No space left on device")
        return super().write(data)

    def fileno(self) -> int:
        return -1


def test_file_writer_raises_a_write_failure_and_writes_nothing_after_it() -> None:
    disk = FullDisk(room=2 * 1024 * KiB)
    writer = FileWriter(disk)
    with pytest.raises(OSError, match="No space"):  # noqa: PT012 - from write or settle
        for _ in range(8):
            writer.write(b"z" * 1024 * KiB)
        writer.settle()
    assert disk.getvalue() == b"z" * 2 * 1024 * KiB
    assert helper_threads("jitc-writer") == []


# --- the filesystem store when a write fails mid-append (a failure path: the file fails) ---


class FailingFile:
    """The real upload file, refusing writes once `budget` bytes went through."""

    def __init__(self, real: BinaryIO, budget: int) -> None:
        self.real = real
        self.budget = budget

    def write(self, data: bytes) -> int:
        if len(data) > self.budget:
            raise OSError(28, "No space left on device")
        self.budget -= len(data)
        return self.real.write(data)

    def flush(self) -> None:
        self.real.flush()

    def fileno(self) -> int:
        return self.real.fileno()


def test_a_failed_append_write_keeps_what_is_stored_and_a_right_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evidence.fs

    store = FilesystemStore(tmp_path / "store")
    store.prepare()
    key = exhibit_key(uuid.uuid4(), uuid.uuid4())
    upload_id = uuid.uuid4()
    content = os.urandom(6 * 1024 * KiB)
    store.begin_upload(upload_id, key, len(content))

    def failing_writer(file: BinaryIO, *, start: int = 0) -> FileWriter:
        return FileWriter(FailingFile(file, 2 * 1024 * KiB + 5), start=start)  # type: ignore[arg-type]

    monkeypatch.setattr(evidence.fs, "FileWriter", failing_writer)
    pieces = [content[i : i + 512 * KiB] for i in range(0, len(content), 512 * KiB)]
    with pytest.raises(OSError, match="No space"):
        store.append(upload_id, 0, iter(pieces))
    monkeypatch.undo()

    stored = store.status(upload_id).offset
    assert stored == 2 * 1024 * KiB  # whole pieces before the failure, nothing after
    store.append(upload_id, stored, iter([content[stored:]]))
    digests = store.finish(upload_id)
    assert digests.sha256_hex == hashlib.sha256(content).hexdigest()
    assert b"".join(store.open_range(key)) == content
