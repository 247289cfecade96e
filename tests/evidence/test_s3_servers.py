"""What real S3 servers do that moto does not: one test per difference found on Ceph RGW 16.2.

Run on moto by default and on RGW with JITC_TEST_S3=rgw (tests/conftest.py). Each
failed on RGW with the store before ADR 0025; those that inject a failure (a reply
lost, a server answer minio cannot parse) fail there on moto too.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from evidence._ingest import utc_now
from evidence.errors import (
    DigestMismatchError,
    LeaseHeldError,
    LeaseLostError,
    ObjectExistsError,
    StorageUnavailableError,
    UploadLockedError,
)
from evidence.hashing import Sha256Hex, Sha256Only
from evidence.keys import ExhibitKey
from evidence.locking import LocalLeaseBook
from evidence.s3 import S3Store
from evidence.s3.client import S3Client, parse_time
from tests.evidence.support import MiB, MotoServer, chunked, make_store, pattern
from tests.evidence.test_store import expected_digests, read_all

pytestmark = pytest.mark.s3


def versions(moto: MotoServer, store: S3Store, key: ExhibitKey) -> list[str]:
    listed = moto.client().list_objects(store.bucket, key.path, include_version=True)
    return [f"{o.object_name}@{o.version_id}" for o in listed if o.object_name == key.path]


def leftovers(moto: MotoServer, store: S3Store, key: ExhibitKey) -> list[str]:
    """Anything stored but the object's one version: staged bytes, multipart uploads."""
    client = moto.client()
    found = [o.object_name for o in client.list_objects(store.staging_bucket, recursive=True)]
    for bucket in (store.bucket, store.staging_bucket):
        found += [u.object_name for u in client._list_multipart_uploads(bucket).uploads]
    return found + versions(moto, store, key)[1:]


# -- success is decided by the object, not by a reply's ETag --------------------------------


def test_multipart_ingest_and_tus_finish_succeed_whatever_the_reply_etag(
    moto: MotoServer, key: ExhibitKey
) -> None:
    """RGW answers CompleteMultipartUpload with an empty ETag: it was taken as failure."""
    store = make_store(moto, retention_days=1)
    store.prepare()
    data = pattern(11 * MiB + 3)
    assert store.put_stream(key, chunked(data, MiB)) == expected_digests(data)
    assert read_all(store, key) == data
    assert leftovers(moto, store, key) == []
    other = ExhibitKey(key.case_id, uuid.uuid4())
    upload_id = uuid.uuid4()
    store.begin_upload(upload_id, other, len(data))
    store.append(upload_id, 0, chunked(data, MiB))
    assert store.finish(upload_id) == expected_digests(data)
    assert read_all(store, other) == data
    assert leftovers(moto, store, other) == []


def test_a_complete_whose_reply_is_lost_still_counts(
    moto: MotoServer, key: ExhibitKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store(moto, retention_days=1)
    store.prepare()
    real = S3Client.complete_multipart_upload

    def lost(self: S3Client, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        raise StorageUnavailableError("connection reset by peer")

    monkeypatch.setattr(S3Client, "complete_multipart_upload", lost)
    data = pattern(6 * MiB + 1)
    assert store.put_stream(key, chunked(data, MiB)) == expected_digests(data)
    assert read_all(store, key) == data
    assert leftovers(moto, store, key) == []


def test_a_finish_that_failed_after_creating_the_object_completes_on_retry(
    moto: MotoServer, key: ExhibitKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry found the object, answered 409, and the server dropped the upload: the
    exhibit could never get content, and a locked orphan remained."""
    store = make_store(moto, retention_days=1)
    store.prepare()
    data = pattern(7 * MiB)
    upload_id = uuid.uuid4()
    store.begin_upload(upload_id, key, len(data))
    store.append(upload_id, 0, chunked(data, MiB))
    real = S3Client.set_retention
    monkeypatch.setattr(S3Client, "set_retention", _failing("retention request lost"))
    monkeypatch.setattr(S3Client, "head", _without_retention(S3Client.head))
    with pytest.raises(StorageUnavailableError):
        store.finish(upload_id)
    monkeypatch.undo()
    assert S3Client.set_retention is real
    restarted = make_store(
        moto, retention_days=1, bucket=store.bucket, staging=store.staging_bucket
    )
    assert restarted.finish(upload_id) == expected_digests(data)
    assert read_all(restarted, key) == data
    assert leftovers(moto, store, key) == []


def _failing(message: str) -> Any:
    def fail(*_: Any, **__: Any) -> None:
        raise StorageUnavailableError(message)

    return fail


def _without_retention(real: Any) -> Any:
    """HEAD as a server that applied no retention would answer it."""

    def head(self: S3Client, *args: Any, **kwargs: Any) -> Any:
        found = real(self, *args, **kwargs)
        if found is None:
            return None
        metadata = {k: v for k, v in found.metadata.items() if "object-lock" not in k}
        return type(found)(size=found.size, version_id=found.version_id, metadata=metadata)

    return head


# -- legal hold of an object never held -------------------------------------------------------


def test_an_object_never_held_has_no_hold_and_can_be_disposed_of(
    moto: MotoServer, key: ExhibitKey
) -> None:
    """RGW answers 404 ObjectLockConfigurationNotFoundError for it: scrub, disposal and
    orphan removal failed."""
    store = make_store(moto)
    store.prepare()
    store.put_stream(key, [b"never held"])
    assert store.legal_hold(key) is False
    assert store.dispose(key).removed
    assert versions(moto, store, key) == []


def test_a_hold_is_set_lifted_and_read_back(moto: MotoServer, key: ExhibitKey) -> None:
    store = make_store(moto)
    store.prepare()
    store.put_stream(key, [b"held"])
    store.set_legal_hold(key, True)
    assert store.legal_hold(key) is True
    store.set_legal_hold(key, False)
    assert store.legal_hold(key) is False


# -- dates and answers minio cannot parse ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("2036-12-05T10:14:22.111655868Z", 111655),  # RGW: nine digits
        ("2036-12-05T10:14:22.123Z", 123000),  # AWS: three
        ("2036-12-05T10:14:22Z", 0),
    ],
)
def test_retain_until_dates_with_any_number_of_fractional_digits(text: str, micros: int) -> None:
    assert parse_time(text) == datetime(2036, 12, 5, 10, 14, 22, micros, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "2036-12-05", "2036-13-05T10:14:22Z", "yesterday"])
def test_an_unreadable_date_is_a_storage_error(text: str) -> None:
    with pytest.raises(StorageUnavailableError):
        parse_time(text)


def test_dispose_under_retention_reports_the_servers_date(
    moto: MotoServer, key: ExhibitKey
) -> None:
    """minio's parser raised ValueError on RGW's date, which escaped as a 500."""
    store = make_store(moto, retention_days=1)
    store.prepare()
    store.put_stream(key, chunked(pattern(6 * MiB), MiB))
    result = store.dispose(key)
    assert not result.removed
    assert result.retained_until is not None
    assert result.retained_until > utc_now() + timedelta(hours=23)


def test_an_answer_minio_cannot_parse_is_a_storage_error(
    moto: MotoServer, key: ExhibitKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store(moto)
    store.prepare()
    store.put_stream(key, [b"x"])

    def unparsable(*_: Any, **__: Any) -> bool:
        raise ValueError("time data '2036-12-05T10:14:22.111655868Z' does not match format")

    monkeypatch.setattr(store.client.minio, "is_object_legal_hold_enabled", unparsable)
    with pytest.raises(StorageUnavailableError, match="unreadable"):
        store.legal_hold(key)


# -- exclusion without conditional requests ----------------------------------------------------


def test_a_stale_lease_holder_can_neither_renew_nor_release_the_new_holders_lease() -> None:
    """RGW ignores If-Match on DELETE (and compares If-Match ETags unquoted)."""
    now = [utc_now()]
    book = LocalLeaseBook(ttl=timedelta(minutes=1), clock=lambda: now[0])
    stale = book.acquire("upload:x")
    with pytest.raises(LeaseHeldError):
        book.acquire("upload:x")
    now[0] += timedelta(minutes=2)  # the holder stalled past its lease
    taken = book.acquire("upload:x")
    with pytest.raises(LeaseLostError):
        stale.renew()
    stale.release()  # a lost lease is not released from under the new holder
    with pytest.raises(LeaseHeldError):
        book.acquire("upload:x")
    taken.renew()
    taken.release()
    book.acquire("upload:x").release()


def test_a_stalled_writer_loses_its_upload_to_a_new_one_and_stops(
    moto: MotoServer, key: ExhibitKey
) -> None:
    now = [utc_now()]
    book = LocalLeaseBook(ttl=timedelta(minutes=15), clock=lambda: now[0])
    first = make_store(moto, leases=book)
    first.prepare()
    second = make_store(moto, leases=book, bucket=first.bucket, staging=first.staging_bucket)
    data = pattern(12 * MiB)
    upload_id = uuid.uuid4()
    first.begin_upload(upload_id, key, len(data))

    def stalled() -> Iterator[bytes]:
        yield data[: 3 * MiB]
        now[0] += timedelta(minutes=20)  # the first writer hangs; its lease runs out
        assert second.append(upload_id, 0, chunked(data, MiB)).offset == len(data)
        yield pattern(4 * MiB, seed=7)  # then it wakes up with bytes of its own

    with pytest.raises(UploadLockedError):
        first.append(upload_id, 0, stalled())
    assert second.finish(upload_id, hashlib.sha256(data).hexdigest()) == expected_digests(data)
    assert read_all(second, key) == data


def test_an_object_created_while_a_body_streamed_is_never_stacked_on(
    moto: MotoServer, key: ExhibitKey
) -> None:
    """RGW ignores If-None-Match on PutObject and CompleteMultipartUpload: a second write
    added a newer version over the evidence."""
    store = make_store(moto)
    store.prepare()
    for size in (100, 6 * MiB):
        target = ExhibitKey(key.case_id, uuid.uuid4())

        def body(size: int = size, target: ExhibitKey = target) -> Iterator[bytes]:
            yield pattern(size // 2)
            store.put_stream(target, [b"first"])  # another writer gets there first
            yield pattern(size - size // 2, seed=1)

        with pytest.raises(ObjectExistsError):
            store.put_stream(target, body())
        assert read_all(store, target) == b"first"
        assert len(versions(moto, store, target)) == 1
        assert leftovers(moto, store, target) == []


def test_a_second_finish_for_the_same_exhibit_never_stacks_a_version(
    moto: MotoServer, key: ExhibitKey
) -> None:
    store = make_store(moto)
    store.prepare()
    first, second = uuid.uuid4(), uuid.uuid4()
    one, two = pattern(6 * MiB, seed=1), pattern(6 * MiB, seed=2)
    for upload_id, data in ((first, one), (second, two)):
        store.begin_upload(upload_id, key, len(data))
        store.append(upload_id, 0, chunked(data, MiB))
    store.finish(first)
    with pytest.raises(ObjectExistsError):
        store.finish(second)
    assert read_all(store, key) == one
    assert len(versions(moto, store, key)) == 1
    store.abort(second)
    assert leftovers(moto, store, key) == []


# -- retention is set explicitly and read back -------------------------------------------------


@pytest.mark.parametrize("how", ["put", "tus"])
def test_retention_days_hold_whatever_the_bucket_default(
    moto: MotoServer, key: ExhibitKey, how: str
) -> None:
    """RGW ignores retention headers on CreateMultipartUpload: objects got the bucket's
    default (here 1 day) instead of the store's retention_days."""
    short = make_store(moto, retention_days=1)
    short.prepare()  # the bucket's default retention: 1 day
    store = make_store(moto, retention_days=7, bucket=short.bucket, staging=short.staging_bucket)
    data = pattern(6 * MiB + 5)
    if how == "put":
        store.put_stream(key, chunked(data, MiB))
    else:
        upload_id = uuid.uuid4()
        store.begin_upload(upload_id, key, len(data))
        store.append(upload_id, 0, chunked(data, MiB))
        store.finish(upload_id)
    result = store.dispose(key)
    assert not result.removed
    assert result.retained_until is not None
    assert result.retained_until > utc_now() + timedelta(days=6, hours=22)


def test_ensure_retention_gives_an_unprotected_object_its_retention(
    moto: MotoServer, key: ExhibitKey
) -> None:
    """What recovery calls when a write failed after creating the object."""
    plain = make_store(moto)
    plain.prepare()
    plain.put_stream(key, [b"created, then the write failed"])
    store = make_store(moto, retention_days=3, bucket=plain.bucket, staging=plain.staging_bucket)
    until = store.ensure_retention(key)
    assert until is not None
    assert until > utc_now() + timedelta(days=2, hours=22)
    assert store.ensure_retention(key) == until  # idempotent


# -- a failed step leaves nothing half-done ---------------------------------------------------


def test_a_disposal_that_failed_half_way_is_completed_by_the_next(
    moto: MotoServer, key: ExhibitKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store(moto)
    store.prepare()
    store.put_stream(key, [b"version one"])
    client = moto.client()
    md5 = _md5(b"version two")
    client._put_object(store.bucket, key.path, b"version two", {"Content-MD5": md5})
    assert len(versions(moto, store, key)) == 2
    real = S3Client.remove
    calls = [0]

    def flaky(self: S3Client, *args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        if calls[0] == 2:
            raise StorageUnavailableError("connection reset by peer")
        real(self, *args, **kwargs)

    monkeypatch.setattr(S3Client, "remove", flaky)
    with pytest.raises(StorageUnavailableError):
        store.dispose(key)
    assert len(versions(moto, store, key)) == 1  # half-done
    assert store.dispose(key).removed
    assert versions(moto, store, key) == []
    assert list(store.list_objects(key.case_id)) == []


def test_a_digest_mismatch_after_a_restart_names_size_and_sha256(
    moto: MotoServer, key: ExhibitKey
) -> None:
    """A process that did not see the first bytes has no BLAKE3 for them."""
    store = make_store(moto)
    store.prepare()
    data = pattern(6 * MiB + 9)
    upload_id = uuid.uuid4()
    store.begin_upload(upload_id, key, len(data))
    store.append(upload_id, 0, chunked(data, MiB))
    restarted = make_store(moto, bucket=store.bucket, staging=store.staging_bucket)
    with pytest.raises(DigestMismatchError) as caught:
        restarted.finish(upload_id, "0" * 64)
    assert caught.value.computed == Sha256Only(
        len(data), Sha256Hex(hashlib.sha256(data).hexdigest())
    )
    assert leftovers(moto, store, key) == []


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()
