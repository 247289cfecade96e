"""One-shot ingest, reads, re-verification, legal hold and disposal, on both stores.

Every bad input asserts its specific error and that storage holds no trace of it.
"""

from __future__ import annotations

import hashlib
import os
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import timedelta

import blake3
import pytest

from evidence._ingest import utc_now
from evidence.errors import (
    DigestMismatchError,
    InvalidDigestError,
    LegalHoldActiveError,
    ObjectExistsError,
    ObjectNotFoundError,
    RangeNotSatisfiableError,
    RetentionActiveError,
    TooLargeError,
)
from evidence.hashing import Blake3Hex, Digests, Sha256Hex
from evidence.keys import ExhibitKey, exhibit_key
from evidence.s3 import DEFAULT_PART_SIZE, S3Store
from evidence.store import BlobStore
from tests.evidence.support import Harness, MiB, chunked, pattern


class ClientDisconnectError(Exception):
    """What the server's request body iterator raises when the client goes away."""


def expected_digests(data: bytes) -> Digests:
    return Digests(
        size=len(data),
        sha256_hex=Sha256Hex(hashlib.sha256(data).hexdigest()),
        blake3_hex=Blake3Hex(blake3.blake3(data).hexdigest()),
    )


def read_all(store: BlobStore, key: ExhibitKey) -> bytes:
    return b"".join(store.open_range(key))


# -- ingest ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 1000, 6 * MiB + 3])
def test_put_stream_hashes_in_one_pass_and_stores_exact_bytes(
    store: BlobStore, key: ExhibitKey, size: int
) -> None:
    data = pattern(size)
    digests = store.put_stream(key, chunked(data, 64 * 1024))
    assert digests == expected_digests(data)
    assert store.exists(key)
    assert store.stat(key) == size
    assert read_all(store, key) == data
    assert store.rehash(key) == digests


def test_empty_file_is_accepted_with_size_zero(store: BlobStore, key: ExhibitKey) -> None:
    digests = store.put_stream(key, iter([]), expected_sha256=hashlib.sha256().hexdigest())
    assert digests == expected_digests(b"")
    assert store.stat(key) == 0
    assert read_all(store, key) == b""
    assert store.rehash(key) == digests


def test_empty_chunks_are_ignored(store: BlobStore, key: ExhibitKey) -> None:
    assert store.put_stream(key, [b"", b"ab", b"", b"c"]) == expected_digests(b"abc")


def test_declared_digest_accepted_in_either_case(store: BlobStore, key: ExhibitKey) -> None:
    data = pattern(5000)
    declared = hashlib.sha256(data).hexdigest().upper()
    assert store.put_stream(key, [data], expected_sha256=declared) == expected_digests(data)


def test_file_of_exactly_the_limit_is_accepted(store: BlobStore, key: ExhibitKey) -> None:
    data = pattern(4096)
    assert store.put_stream(key, chunked(data, 1000), max_size=4096).size == 4096


def test_file_one_byte_over_the_limit_is_refused_without_trace(
    harness: Harness, key: ExhibitKey
) -> None:
    data = pattern(4097)
    with pytest.raises(TooLargeError, match="limit of 4096 bytes") as caught:
        harness.store.put_stream(key, chunked(data, 1000), max_size=4096)
    assert caught.value.limit == 4096
    assert not harness.store.exists(key)
    assert harness.traces() == []


def test_oversized_body_is_refused_before_it_is_all_read(harness: Harness, key: ExhibitKey) -> None:
    consumed = 0

    def endless() -> Iterator[bytes]:
        nonlocal consumed
        while True:
            consumed += 1
            yield b"x" * MiB

    with pytest.raises(TooLargeError):
        harness.store.put_stream(key, endless(), max_size=7 * MiB)
    assert consumed == 8  # stopped at the first chunk over the limit
    assert harness.traces() == []


def test_declared_digest_wrong_leaves_no_trace(harness: Harness, key: ExhibitKey) -> None:
    data = pattern(7 * MiB)  # more than one S3 part: a multipart upload was under way
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(DigestMismatchError, match="the client declared") as caught:
        harness.store.put_stream(key, chunked(data, MiB), expected_sha256=wrong)
    assert caught.value.computed == expected_digests(data)  # for exhibit.ingest_rejected
    assert caught.value.expected_sha256 == wrong
    assert not harness.store.exists(key)
    assert harness.traces() == []


def test_declared_digest_wrong_small_body_leaves_no_trace(
    harness: Harness, key: ExhibitKey
) -> None:
    with pytest.raises(DigestMismatchError):
        harness.store.put_stream(key, [b"abc"], expected_sha256="0" * 64)
    assert harness.traces() == []


@pytest.mark.parametrize("declared", ["abc", "g" * 64, "0" * 63, "0" * 65, ""])
def test_malformed_declared_digest_is_refused_before_reading(
    harness: Harness, key: ExhibitKey, declared: str
) -> None:
    class Untouchable:
        def __iter__(self) -> Iterator[bytes]:
            raise AssertionError("the body must not be read")

    with pytest.raises(InvalidDigestError):
        harness.store.put_stream(key, Untouchable(), expected_sha256=declared)
    assert harness.traces() == []


@pytest.mark.parametrize("sent", [0, 100, 6 * MiB])
def test_client_disconnect_mid_body_leaves_no_trace(
    harness: Harness, key: ExhibitKey, sent: int
) -> None:
    def body() -> Iterator[bytes]:
        yield from chunked(pattern(sent), MiB)
        raise ClientDisconnectError

    with pytest.raises(ClientDisconnectError):  # the iterator's own error propagates
        harness.store.put_stream(key, body())
    assert not harness.store.exists(key)
    assert harness.traces() == []


def test_existing_object_is_never_overwritten(harness: Harness, key: ExhibitKey) -> None:
    original = pattern(1000, seed=1)
    digests = harness.store.put_stream(key, [original])
    before = harness.traces()
    with pytest.raises(ObjectExistsError):
        harness.store.put_stream(key, [pattern(1000, seed=2)])
    assert read_all(harness.store, key) == original
    assert harness.store.rehash(key) == digests
    assert harness.traces() == before


def test_existing_object_is_not_overwritten_by_a_large_body(
    harness: Harness, key: ExhibitKey
) -> None:
    harness.store.put_stream(key, [b"first"])
    before = harness.traces()
    with pytest.raises(ObjectExistsError):
        harness.store.put_stream(key, chunked(pattern(6 * MiB), MiB))
    assert read_all(harness.store, key) == b"first"
    assert harness.traces() == before


def test_same_bytes_in_two_cases_are_two_objects(store: BlobStore) -> None:
    exhibit = uuid.uuid4()
    a, b = exhibit_key(uuid.uuid4(), exhibit), exhibit_key(uuid.uuid4(), exhibit)
    store.put_stream(a, [b"same"])
    store.put_stream(b, [b"same"])  # no deduplication across cases
    store.dispose(a)
    assert read_all(store, b) == b"same"


def test_missing_object(store: BlobStore, key: ExhibitKey) -> None:
    assert not store.exists(key)
    with pytest.raises(ObjectNotFoundError):
        store.stat(key)
    with pytest.raises(ObjectNotFoundError):
        store.open_range(key)
    with pytest.raises(ObjectNotFoundError):
        store.rehash(key)
    with pytest.raises(ObjectNotFoundError):
        store.set_legal_hold(key, True)
    with pytest.raises(ObjectNotFoundError):
        store.dispose(key)


# -- reads -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (None, None, slice(0, 100)),
        (0, 0, slice(0, 1)),
        (0, 99, slice(0, 100)),
        (10, 19, slice(10, 20)),
        (99, 99, slice(99, 100)),
        (90, 1000, slice(90, 100)),  # last past the end is clamped
        (50, None, slice(50, 100)),
        (None, 1, slice(99, 100)),  # suffix
        (None, 10, slice(90, 100)),
        (None, 100, slice(0, 100)),
        (None, 1000, slice(0, 100)),  # suffix longer than the object
    ],
)
def test_range_reads(
    store: BlobStore, key: ExhibitKey, first: int | None, last: int | None, expected: slice
) -> None:
    data = pattern(100)
    store.put_stream(key, [data])
    assert read_all_range(store, key, first, last) == data[expected]


def read_all_range(store: BlobStore, key: ExhibitKey, first: int | None, last: int | None) -> bytes:
    return b"".join(store.open_range(key, first, last))


@pytest.mark.parametrize(
    ("first", "last"), [(100, None), (100, 200), (20, 10), (-1, 5), (None, 0), (None, -3)]
)
def test_unsatisfiable_ranges_are_refused(
    store: BlobStore, key: ExhibitKey, first: int | None, last: int | None
) -> None:
    store.put_stream(key, [pattern(100)])
    with pytest.raises(RangeNotSatisfiableError):
        store.open_range(key, first, last)


@pytest.mark.parametrize(("first", "last"), [(0, None), (0, 0), (None, 1)])
def test_any_range_of_an_empty_object_is_unsatisfiable(
    store: BlobStore, key: ExhibitKey, first: int | None, last: int | None
) -> None:
    store.put_stream(key, [])
    with pytest.raises(RangeNotSatisfiableError):
        store.open_range(key, first, last)


def test_range_across_a_large_object(store: BlobStore, key: ExhibitKey) -> None:
    data = pattern(6 * MiB + 5)
    store.put_stream(key, chunked(data, MiB))
    first, last = 5 * MiB - 7, 6 * MiB + 2
    assert read_all_range(store, key, first, last) == data[first : last + 1]


# -- re-verification -------------------------------------------------------------------------


def test_rehash_detects_a_changed_byte(harness: Harness, key: ExhibitKey) -> None:
    data = pattern(3000)
    ingested = harness.store.put_stream(key, [data])
    harness.tamper(key, 1234)
    recomputed = harness.store.rehash(key)
    assert recomputed.size == ingested.size
    assert recomputed.sha256_hex != ingested.sha256_hex
    assert recomputed.blake3_hex != ingested.blake3_hex


# -- legal hold and disposal -----------------------------------------------------------------


def test_legal_hold_blocks_disposal(harness: Harness, key: ExhibitKey) -> None:
    store = harness.store
    store.put_stream(key, [b"exhibit"])
    assert not store.legal_hold(key)
    store.set_legal_hold(key, True)
    assert store.legal_hold(key)
    with pytest.raises(LegalHoldActiveError):
        store.dispose(key)
    assert read_all(store, key) == b"exhibit"
    store.set_legal_hold(key, False)
    assert not store.legal_hold(key)
    result = store.dispose(key)
    assert result.removed
    assert result.retained_until is None
    assert not store.exists(key)
    assert harness.traces() == []


def test_dispose_removes_the_content(harness: Harness, key: ExhibitKey) -> None:
    harness.store.put_stream(key, chunked(pattern(6 * MiB), MiB))
    assert harness.store.dispose(key).removed
    assert not harness.store.exists(key)
    assert harness.traces() == []
    # The key is free again (a new exhibit id would be usual, but nothing is left to clash).
    harness.store.put_stream(key, [b"again"])


def test_dispose_under_retention_reports_the_date(harness: Harness, key: ExhibitKey) -> None:
    store = harness.make(retention_days=1)
    store.prepare()
    before = utc_now()
    store.put_stream(key, [b"retained"])
    result = store.dispose(key)
    assert not result.removed
    assert result.retained_until is not None
    assert before + timedelta(days=1) - timedelta(seconds=5) <= result.retained_until
    assert result.retained_until <= utc_now() + timedelta(days=1, seconds=5)
    assert store.exists(key)
    assert read_all(store, key) == b"retained"
    with pytest.raises(RetentionActiveError):
        result.raise_if_retained()


# Filesystem only: COMPLIANCE retention on an S3 server can be neither shortened nor waited
# out in a test, and the store's own clock does not govern it there.
@pytest.mark.parametrize("harness", ["fs"], indirect=True)
def test_dispose_after_retention_expired_removes(harness: Harness, key: ExhibitKey) -> None:
    store = harness.make(retention_days=1)
    store.put_stream(key, [b"old"])
    later = harness.make(retention_days=1, clock=lambda: utc_now() + timedelta(days=2))
    assert later.dispose(key).removed
    assert harness.traces() == []


# -- constant memory --------------------------------------------------------------------------

MEMORY_BOUND = {"fs": 8 * MiB, "s3": 51 * MiB}
"""Per upload with the store's defaults, as docs/operations.md states it."""


def with_store_defaults(harness: Harness) -> BlobStore:
    """The harness runs S3 at 5 MiB parts; the memory bound is that of the defaults:
    three 16 MiB parts (one filling, two being sent) besides the chunks in flight."""
    if harness.kind == "fs":
        return harness.store
    store = harness.make(part_size=DEFAULT_PART_SIZE)
    assert isinstance(store, S3Store)
    assert (store.parallel_parts, store.part_size) == (3, 16 * MiB)
    return store


def test_64_mib_stream_in_constant_memory(harness: Harness, key: ExhibitKey) -> None:
    size = 64 * MiB
    store = with_store_defaults(harness)

    def body() -> Iterator[bytes]:
        for _ in range(size // MiB):
            yield os.urandom(MiB)  # fresh bytes each time, and no more than 1 MiB at once

    tracemalloc.start()
    try:
        digests = store.put_stream(key, body())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digests.size == size
    # fs: two 1 MiB chunks in flight; S3: plus its parts.
    assert peak < MEMORY_BOUND[harness.kind], f"peak {peak / MiB:.1f} MiB"


# -- listing, for audits ------------------------------------------------------------------------


def test_list_objects_names_every_stored_key_by_case(harness: Harness) -> None:
    store = harness.store
    case_a, case_b = uuid.uuid4(), uuid.uuid4()
    keys_a = sorted((exhibit_key(case_a, uuid.uuid4()) for _ in range(2)), key=lambda k: k.path)
    key_b = exhibit_key(case_b, uuid.uuid4())
    for key in [*keys_a, key_b]:
        store.put_stream(key, [key.path.encode()])
    store.set_legal_hold(keys_a[0], True)  # a sidecar or a hold changes nothing
    assert list(store.list_objects(case_a)) == keys_a
    assert list(store.list_objects(case_b)) == [key_b]
    assert list(store.list_objects()) == sorted([*keys_a, key_b], key=lambda k: k.path)
    assert list(store.list_objects(uuid.uuid4())) == []
    store.dispose(key_b)
    assert list(store.list_objects(case_b)) == []


# -- retention after an interrupted write ---------------------------------------------------------


def test_ensure_retention_is_idempotent_and_reports_the_date(
    harness: Harness, key: ExhibitKey
) -> None:
    store = harness.make(retention_days=2)
    store.prepare()
    store.put_stream(key, [b"kept"])
    until = store.ensure_retention(key)
    assert until is not None
    assert until > utc_now() + timedelta(days=1, hours=22)
    assert store.ensure_retention(key) == until
    with pytest.raises(ObjectNotFoundError):
        store.ensure_retention(exhibit_key(uuid.uuid4(), uuid.uuid4()))


@pytest.mark.parametrize("harness", ["fs"], indirect=True)
def test_ensure_retention_restores_a_missing_retention_file(
    harness: Harness, key: ExhibitKey
) -> None:
    store = harness.make(retention_days=2)
    store.put_stream(key, [b"kept"])
    assert harness.root is not None
    sidecar = harness.root / "objects" / f"{key.path}.retain"
    sidecar.unlink()  # the write crashed between the link and its retention file
    assert store.ensure_retention(key) is not None
    assert sidecar.exists()
    assert not store.dispose(key).removed
