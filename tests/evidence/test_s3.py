"""What only the S3 store has: Object Lock, the staging bucket, part sizes, parallel parts."""

from __future__ import annotations

import os
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import urllib3
from minio import Minio
from minio.error import S3Error

from evidence._ingest import utc_now
from evidence.errors import StorageUnavailableError, StoreConfigError
from evidence.keys import ExhibitKey
from evidence.s3 import MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, PARTS_PER_SIZE_STEP, S3Store
from evidence.s3.client import Checksum, S3Client
from evidence.s3.uploads import part_size
from tests.evidence.support import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    MiB,
    MotoServer,
    chunked,
    make_store,
    pattern,
)
from tests.evidence.test_store import expected_digests, read_all

pytestmark = pytest.mark.s3


def test_ensure_bucket_creates_object_lock_with_compliance_default(moto: MotoServer) -> None:
    store = make_store(moto, retention_days=30)
    store.ensure_bucket()
    store.ensure_bucket()  # idempotent
    config = moto.client().get_object_lock_config(store.bucket)
    assert (config.mode, config.duration, config.duration_unit) == ("COMPLIANCE", 30, "Days")
    with pytest.raises(S3Error, match="ObjectLockConfiguration"):
        moto.client().get_object_lock_config(store.staging_bucket)  # staging is unlocked


def test_existing_bucket_without_object_lock_is_refused(moto: MotoServer) -> None:
    store = make_store(moto)
    moto.client().make_bucket(store.bucket)
    with pytest.raises(StoreConfigError, match="without Object Lock"):
        store.ensure_bucket()


def test_staging_in_the_locked_bucket_is_refused(moto: MotoServer) -> None:
    with pytest.raises(StoreConfigError, match="staging bucket"):
        S3Store(moto.endpoint, moto.access_key, moto.secret_key, "same", staging_bucket="same")


@pytest.mark.parametrize("size", [100, 6 * MiB], ids=["single-put", "multipart"])
def test_ingested_object_is_retained_in_compliance_mode(
    moto: MotoServer, key: ExhibitKey, size: int
) -> None:
    store = make_store(moto, retention_days=7)
    store.prepare()
    store.put_stream(key, chunked(pattern(size), MiB))
    client = moto.client()
    stat = client.stat_object(store.bucket, key.path)
    assert stat.metadata is not None
    assert stat.metadata["x-amz-object-lock-mode"] == "COMPLIANCE"
    until = datetime.fromisoformat(stat.metadata["x-amz-object-lock-retain-until-date"])
    assert until > utc_now() + timedelta(days=6)
    with pytest.raises(S3Error) as refused:  # nobody can delete it, not even us
        client.remove_object(store.bucket, key.path, version_id=stat.version_id)
    assert refused.value.code == "AccessDenied"  # servers word the message differently
    assert read_all(store, key) == pattern(size)


def test_resumable_upload_object_is_retained(moto: MotoServer, key: ExhibitKey) -> None:
    store = make_store(moto, retention_days=7)
    store.prepare()
    upload_id = uuid.uuid4()
    data = pattern(11 * MiB)
    store.begin_upload(upload_id, key, len(data))
    store.append(upload_id, 0, chunked(data, MiB))
    store.finish(upload_id)
    assert not store.dispose(key).removed


def test_parts_grow_so_that_10000_of_them_hold_nearly_5_tib() -> None:
    sizes = [part_size(MIN_PART_SIZE, n) for n in range(MAX_PARTS)]
    assert sizes[0] == sizes[PARTS_PER_SIZE_STEP - 1] == 5 * MiB
    assert sizes[PARTS_PER_SIZE_STEP] == 10 * MiB
    assert max(sizes) <= MAX_PART_SIZE  # S3's limit for one part
    assert sum(sizes) > 4.8 * 1024**4  # S3's limit for one object is 5 TiB


def test_unreachable_server_is_storage_unavailable(key: ExhibitKey) -> None:
    client = Minio(
        "127.0.0.1:9",  # discard port: nothing listens
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        secure=False,
        region=REGION,
        http_client=urllib3.PoolManager(retries=False),
    )
    store = S3Store("-", "-", "-", "evidence", staging_bucket="staging", client=client)
    with pytest.raises(StorageUnavailableError):
        store.exists(key)
    with pytest.raises(StorageUnavailableError):
        store.put_stream(key, [b"x"])


def test_parts_sent_side_by_side_arrive_in_order(moto: MotoServer, key: ExhibitKey) -> None:
    store = make_store(moto, parallel_parts=3)
    store.prepare()
    data = pattern(23 * MiB + 7)
    assert store.put_stream(key, chunked(data, 100_000)) == expected_digests(data)
    assert read_all(store, key) == data


def test_parts_sent_side_by_side_hold_parallel_parts_in_memory(
    moto: MotoServer, key: ExhibitKey
) -> None:
    store = make_store(moto, parallel_parts=3)
    store.prepare()

    def body() -> Iterator[bytes]:
        for _ in range(48):
            yield os.urandom(MiB)

    tracemalloc.start()
    try:
        store.put_stream(key, body())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Three 5 MiB parts (one filling, two being sent) and chunks in flight.
    assert peak < 18 * MiB, f"peak {peak / MiB:.1f} MiB"


def test_a_failed_part_among_parallel_ones_leaves_no_trace(
    moto: MotoServer, key: ExhibitKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store(moto, parallel_parts=3)
    store.prepare()
    real = S3Client.upload_part

    def fourth_fails(
        self: S3Client,
        bucket: str,
        name: str,
        upload: str,
        number: int,
        data: memoryview,
        checksum: Checksum,
    ) -> object:
        if number == 4:
            raise StorageUnavailableError("connection reset by peer")
        return real(self, bucket, name, upload, number, data, checksum)

    monkeypatch.setattr(S3Client, "upload_part", fourth_fails)
    with pytest.raises(StorageUnavailableError):
        store.put_stream(key, chunked(pattern(30 * MiB), MiB))
    client = moto.client()
    assert list(client.list_objects(store.bucket, recursive=True, include_version=True)) == []
    assert client._list_multipart_uploads(store.bucket).uploads == []


@pytest.mark.parametrize("restart", [False, True], ids=["same-process", "restarted"])
def test_resumable_upload_with_parts_side_by_side(
    moto: MotoServer, key: ExhibitKey, restart: bool
) -> None:
    store = make_store(moto, parallel_parts=3)
    store.prepare()
    data = pattern(27 * MiB + 11)
    upload_id = uuid.uuid4()
    store.begin_upload(upload_id, key, len(data))
    assert store.append(upload_id, 0, chunked(data[: 13 * MiB + 1], MiB)).offset == 13 * MiB + 1
    if restart:
        store = make_store(
            moto, parallel_parts=3, bucket=store.bucket, staging=store.staging_bucket
        )
    store.append(upload_id, 13 * MiB + 1, chunked(data[13 * MiB + 1 :], 3 * MiB))
    assert store.finish(upload_id) == expected_digests(data)
    assert read_all(store, key) == data


def test_a_part_failing_among_parallel_ones_keeps_what_was_recorded(
    moto: MotoServer, key: ExhibitKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store(moto, parallel_parts=3)
    store.prepare()
    data = pattern(40 * MiB)
    upload_id = uuid.uuid4()
    store.begin_upload(upload_id, key, len(data))
    real = S3Client.upload_part

    def fifth_fails(
        self: S3Client,
        bucket: str,
        name: str,
        upload: str,
        number: int,
        part: memoryview,
        checksum: Checksum,
    ) -> object:
        if number == 5:
            raise StorageUnavailableError("connection reset by peer")
        return real(self, bucket, name, upload, number, part, checksum)

    monkeypatch.setattr(S3Client, "upload_part", fifth_fails)
    with pytest.raises(StorageUnavailableError):
        store.append(upload_id, 0, chunked(data, MiB))
    monkeypatch.undo()
    offset = store.status(upload_id).offset
    assert offset == 4 * 5 * MiB  # parts 1-4 recorded; 5 and what followed are not
    store.append(upload_id, offset, chunked(data[offset:], MiB))
    assert store.finish(upload_id) == expected_digests(data)
    assert read_all(store, key) == data
