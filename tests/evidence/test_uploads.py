"""Resumable uploads (the storage side of tus 1.0), on both stores."""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest

from evidence._ingest import utc_now
from evidence.errors import (
    DigestMismatchError,
    EvidenceError,
    ObjectExistsError,
    OffsetMismatchError,
    TooLargeError,
    UploadExistsError,
    UploadIncompleteError,
    UploadLockedError,
    UploadNotFoundError,
)
from evidence.keys import ExhibitKey
from evidence.store import BlobStore
from tests.evidence.support import Harness, MiB, chunked, pattern
from tests.evidence.test_store import (
    MEMORY_BOUND,
    ClientDisconnectError,
    expected_digests,
    read_all,
    with_store_defaults,
)


@pytest.fixture
def upload_id() -> UUID:
    return uuid.uuid4()


def test_append_in_pieces_then_finish(harness: Harness, key: ExhibitKey, upload_id: UUID) -> None:
    store = harness.store
    data = pattern(3000)
    state = store.begin_upload(upload_id, key, len(data), {"filename": "phone.bin"})
    assert (state.offset, state.length, state.complete) == (0, 3000, False)
    assert state.metadata == {"filename": "phone.bin"}
    for start in range(0, 3000, 700):
        state = store.append(upload_id, start, [data[start : start + 700]])
        assert state.offset == min(start + 700, 3000)
    assert state.complete
    assert store.status(upload_id).offset == 3000
    digests = store.finish(upload_id, hashlib.sha256(data).hexdigest())
    assert digests == expected_digests(data)
    assert read_all(store, key) == data
    with pytest.raises(UploadNotFoundError):
        store.status(upload_id)
    assert harness.traces() == harness.object_traces(key)  # nothing left but the object


def test_multi_segment_upload_with_uneven_pieces(
    harness: Harness, key: ExhibitKey, upload_id: UUID
) -> None:
    """More than two 5 MiB S3 segments, with short appends that rewrite the last one."""
    store = harness.store
    data = pattern(13 * MiB + 11)
    store.begin_upload(upload_id, key, len(data))
    cuts = [0, 10, 3 * MiB, 3 * MiB + 1, 5 * MiB - 1, 5 * MiB + 7, 12 * MiB, len(data)]
    for lo, hi in itertools.pairwise(cuts):
        assert store.append(upload_id, lo, chunked(data[lo:hi], 700_000)).offset == hi
    assert store.finish(upload_id) == expected_digests(data)
    assert read_all(store, key) == data


def test_upload_of_deferred_length(harness: Harness, key: ExhibitKey, upload_id: UUID) -> None:
    store = harness.store
    assert store.begin_upload(upload_id, key, None).length is None
    store.append(upload_id, 0, [b"abc"])
    store.append(upload_id, 3, [b"def"])
    assert store.finish(upload_id) == expected_digests(b"abcdef")


def test_empty_upload(harness: Harness, key: ExhibitKey, upload_id: UUID) -> None:
    harness.store.begin_upload(upload_id, key, 0)
    assert harness.store.finish(upload_id) == expected_digests(b"")
    assert harness.store.stat(key) == 0


def test_wrong_offset_is_refused(harness: Harness, key: ExhibitKey, upload_id: UUID) -> None:
    store = harness.store
    store.begin_upload(upload_id, key, 100)
    store.append(upload_id, 0, [b"x" * 40])
    before = harness.traces()
    for wrong in (0, 39, 41, 100):
        with pytest.raises(OffsetMismatchError) as caught:
            store.append(upload_id, wrong, [b"y" * 10])
        assert (caught.value.expected, caught.value.got) == (40, wrong)
    assert store.status(upload_id).offset == 40
    assert harness.traces() == before


def test_concurrent_append_to_one_upload_is_refused(
    harness: Harness, key: ExhibitKey, upload_id: UUID
) -> None:
    store = harness.store
    store.begin_upload(upload_id, key, 20)
    inside, release = threading.Event(), threading.Event()
    outcome: list[object] = []

    def slow_body() -> Iterator[bytes]:
        yield b"a" * 10
        inside.set()
        release.wait(30)
        yield b"b" * 10

    def first_writer() -> None:
        try:
            outcome.append(store.append(upload_id, 0, slow_body()))
        except EvidenceError as exc:  # reported to the main thread
            outcome.append(exc)

    writer = threading.Thread(target=first_writer)
    writer.start()
    try:
        assert inside.wait(30)
        with pytest.raises(UploadLockedError):
            store.append(upload_id, 0, [b"c" * 10])
        with pytest.raises(UploadLockedError):
            harness.make().append(upload_id, 0, [b"c" * 10])  # another server process
        with pytest.raises(UploadLockedError):
            store.finish(upload_id)
        with pytest.raises(UploadLockedError):
            store.abort(upload_id)
    finally:
        release.set()
        writer.join(30)
    assert [getattr(o, "offset", o) for o in outcome] == [20]
    assert store.finish(upload_id) == expected_digests(b"a" * 10 + b"b" * 10)


def test_disconnect_mid_append_keeps_what_arrived(
    harness: Harness, key: ExhibitKey, upload_id: UUID
) -> None:
    store = harness.store
    data = pattern(7 * MiB)
    store.begin_upload(upload_id, key, len(data))

    def broken_body() -> Iterator[bytes]:
        yield data[: 6 * MiB]
        raise ClientDisconnectError

    with pytest.raises(ClientDisconnectError):
        store.append(upload_id, 0, broken_body())
    offset = store.status(upload_id).offset
    assert offset == 6 * MiB
    store.append(upload_id, offset, [data[offset:]])
    assert store.finish(upload_id) == expected_digests(data)


def test_resume_after_restart_rebuilds_hash_state(
    harness: Harness, key: ExhibitKey, upload_id: UUID
) -> None:
    data = pattern(11 * MiB + 5)
    harness.store.begin_upload(upload_id, key, len(data))
    harness.store.append(upload_id, 0, chunked(data[: 7 * MiB + 3], MiB))
    restarted = harness.make()  # empty hash cache: must re-read the stored bytes
    state = restarted.status(upload_id)
    assert state.offset == 7 * MiB + 3
    restarted.append(upload_id, state.offset, chunked(data[state.offset :], MiB))
    assert restarted.finish(upload_id, hashlib.sha256(data).hexdigest()) == expected_digests(data)
    assert read_all(restarted, key) == data


def test_finish_after_restart_rebuilds_hash_state(
    harness: Harness, key: ExhibitKey, upload_id: UUID
) -> None:
    data = pattern(6 * MiB + 1)
    harness.store.begin_upload(upload_id, key, len(data))
    harness.store.append(upload_id, 0, chunked(data, MiB))
    assert harness.make().finish(upload_id) == expected_digests(data)


def test_append_after_another_process_appended(
    harness: Harness, key: ExhibitKey, upload_id: UUID
) -> None:
    """Two server processes share an upload in turns: each catches its hash state up."""
    first, second = harness.store, harness.make()
    data = pattern(3000)
    first.begin_upload(upload_id, key, 3000)
    first.append(upload_id, 0, [data[:1000]])
    second.append(upload_id, 1000, [data[1000:2000]])
    first.append(upload_id, 2000, [data[2000:]])
    assert first.finish(upload_id) == expected_digests(data)


def test_finish_with_wrong_digest_removes_the_bytes(
    harness: Harness, key: ExhibitKey, upload_id: UUID
) -> None:
    data = pattern(6 * MiB)
    harness.store.begin_upload(upload_id, key, len(data))
    harness.store.append(upload_id, 0, chunked(data, MiB))
    wrong = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(DigestMismatchError) as caught:
        harness.store.finish(upload_id, wrong)
    assert caught.value.computed == expected_digests(data)
    assert not harness.store.exists(key)
    with pytest.raises(UploadNotFoundError):
        harness.store.status(upload_id)
    assert harness.traces() == []


def test_finish_before_all_bytes_arrived_is_refused(
    harness: Harness, key: ExhibitKey, upload_id: UUID
) -> None:
    harness.store.begin_upload(upload_id, key, 10)
    harness.store.append(upload_id, 0, [b"12345"])
    with pytest.raises(UploadIncompleteError) as caught:
        harness.store.finish(upload_id)
    assert (caught.value.offset, caught.value.length) == (5, 10)
    assert not harness.store.exists(key)
    assert harness.store.status(upload_id).offset == 5


def test_append_beyond_declared_length_removes_the_upload(
    harness: Harness, key: ExhibitKey, upload_id: UUID
) -> None:
    harness.store.begin_upload(upload_id, key, 10)
    harness.store.append(upload_id, 0, [b"12345"])
    with pytest.raises(TooLargeError):
        harness.store.append(upload_id, 5, [b"123456"])
    with pytest.raises(UploadNotFoundError):
        harness.store.status(upload_id)
    assert harness.traces() == []


def test_append_beyond_max_size_removes_the_upload(
    harness: Harness, key: ExhibitKey, upload_id: UUID
) -> None:
    harness.store.begin_upload(upload_id, key, None, max_size=6 * MiB)
    with pytest.raises(TooLargeError, match=f"limit of {6 * MiB} bytes"):
        harness.store.append(upload_id, 0, chunked(pattern(7 * MiB), MiB))
    assert harness.traces() == []


def test_declared_length_over_the_limit_is_refused_at_once(
    harness: Harness, key: ExhibitKey, upload_id: UUID
) -> None:
    with pytest.raises(TooLargeError):
        harness.store.begin_upload(upload_id, key, 1001, max_size=1000)
    assert harness.traces() == []


def test_upload_id_cannot_be_begun_twice(
    harness: Harness, key: ExhibitKey, upload_id: UUID
) -> None:
    harness.store.begin_upload(upload_id, key, 10, {"filename": "a"})
    with pytest.raises(UploadExistsError):
        harness.store.begin_upload(upload_id, key, 20, {"filename": "b"})
    assert harness.store.status(upload_id).length == 10


def test_upload_to_an_existing_object_is_refused(
    harness: Harness, key: ExhibitKey, upload_id: UUID
) -> None:
    harness.store.put_stream(key, [b"first"])
    with pytest.raises(ObjectExistsError):
        harness.store.begin_upload(upload_id, key, 6)


def test_finish_onto_an_object_created_meanwhile_keeps_both(
    harness: Harness, key: ExhibitKey, upload_id: UUID
) -> None:
    harness.store.begin_upload(upload_id, key, 6)
    harness.store.append(upload_id, 0, [b"second"])
    harness.store.put_stream(key, [b"first"])
    with pytest.raises(ObjectExistsError):
        harness.store.finish(upload_id)
    assert read_all(harness.store, key) == b"first"
    assert harness.store.status(upload_id).offset == 6  # the caller decides what to do


def test_unknown_upload(harness: Harness, upload_id: UUID) -> None:
    store: BlobStore = harness.store
    with pytest.raises(UploadNotFoundError):
        store.status(upload_id)
    with pytest.raises(UploadNotFoundError):
        store.append(upload_id, 0, [b"x"])
    with pytest.raises(UploadNotFoundError):
        store.finish(upload_id)
    with pytest.raises(UploadNotFoundError):
        store.abort(upload_id)
    assert harness.traces() == []


def test_abort_removes_every_byte(harness: Harness, key: ExhibitKey, upload_id: UUID) -> None:
    harness.store.begin_upload(upload_id, key, 7 * MiB)
    harness.store.append(upload_id, 0, chunked(pattern(6 * MiB), MiB))
    harness.store.abort(upload_id)
    with pytest.raises(UploadNotFoundError):
        harness.store.status(upload_id)
    assert harness.traces() == []


def test_expire_removes_uploads_idle_since_the_cutoff(harness: Harness, key: ExhibitKey) -> None:
    store = harness.store
    first, second = uuid.uuid4(), uuid.uuid4()
    store.begin_upload(first, key, 100)
    store.append(first, 0, [b"x" * 10])
    store.begin_upload(second, key, None)
    assert store.expire(store.status(first).created - timedelta(hours=1)) == []
    assert store.status(first).offset == 10
    assert sorted(store.expire(utc_now() + timedelta(minutes=1))) == sorted([first, second])
    with pytest.raises(UploadNotFoundError):
        store.status(first)
    assert harness.traces() == []


def test_expire_skips_an_upload_being_written(
    harness: Harness, key: ExhibitKey, upload_id: UUID
) -> None:
    store = harness.store
    store.begin_upload(upload_id, key, 20)
    inside, release = threading.Event(), threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield b"a" * 10
        inside.set()
        release.wait(30)

    writer = threading.Thread(target=lambda: store.append(upload_id, 0, slow_body()))
    writer.start()
    try:
        assert inside.wait(30)
        assert store.expire(utc_now() + timedelta(days=1)) == []
    finally:
        release.set()
        writer.join(30)
    assert store.status(upload_id).offset == 10


def test_64_mib_upload_in_constant_memory(
    harness: Harness, key: ExhibitKey, upload_id: UUID
) -> None:
    size = 64 * MiB
    store = with_store_defaults(harness)
    store.begin_upload(upload_id, key, size)

    def body() -> Iterator[bytes]:
        for _ in range(size // MiB):
            yield os.urandom(MiB)

    tracemalloc.start()
    try:
        store.append(upload_id, 0, body())
        digests = harness.make().finish(upload_id)  # and a restart: re-hash the staged bytes
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digests.size == size
    # fs: chunks in flight; S3: plus its parts.
    assert peak < MEMORY_BOUND[harness.kind], f"peak {peak / MiB:.1f} MiB"
