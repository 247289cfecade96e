"""What only the S3 store has: Object Lock, the staging bucket, leases, compose limits."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import urllib3
from minio import Minio
from minio.error import S3Error

from evidence._ingest import utc_now
from evidence.errors import StorageUnavailableError, StoreConfigError, UploadLockedError
from evidence.keys import ExhibitKey
from evidence.s3 import S3LeaseLock, S3Store
from evidence.s3.client import S3Client
from tests.evidence.support import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    MiB,
    MotoServer,
    chunked,
    pattern,
)
from tests.evidence.test_store import expected_digests, read_all

pytestmark = pytest.mark.s3


@pytest.fixture
def moto(moto_server: MotoServer) -> Iterator[MotoServer]:
    try:
        yield moto_server
    finally:
        moto_server.reset()


def make_store(moto: MotoServer, **options: object) -> S3Store:
    suffix = uuid.uuid4().hex[:12]
    defaults: dict[str, object] = {
        "staging_bucket": f"staging-{suffix}",
        "secure": False,
        "region": REGION,
    }
    return S3Store(
        moto.endpoint,
        moto.access_key,
        moto.secret_key,
        f"evidence-{suffix}",
        **{**defaults, **options},  # type: ignore[arg-type]
    )


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
    with pytest.raises(S3Error, match="Access Denied"):  # nobody can delete it, not even us
        client.remove_object(store.bucket, key.path, version_id=stat.version_id)
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


def test_compose_beyond_the_part_count_limit_goes_through_intermediates(
    moto: MotoServer, key: ExhibitKey
) -> None:
    store = make_store(moto, max_parts=2)
    store.prepare()
    upload_id = uuid.uuid4()
    data = pattern(16 * MiB + 9)  # four segments: more parts than max_parts
    store.begin_upload(upload_id, key, len(data))
    store.append(upload_id, 0, chunked(data, MiB))
    assert store.finish(upload_id) == expected_digests(data)
    assert read_all(store, key) == data
    staging = list(moto.client().list_objects(store.staging_bucket, recursive=True))
    assert staging == []  # intermediates went with the upload


def test_a_dead_holders_lease_is_taken_over_and_the_holder_stops(moto: MotoServer) -> None:
    store = make_store(moto)
    store.prepare()
    now = [utc_now()]
    client = S3Client(moto.client())
    first = S3LeaseLock(
        client, store.staging_bucket, ttl=timedelta(minutes=1), clock=lambda: now[0]
    )
    second = S3LeaseLock(
        client, store.staging_bucket, ttl=timedelta(minutes=1), clock=lambda: now[0]
    )
    upload_id = uuid.uuid4()
    lease = first.acquire(upload_id)
    with pytest.raises(UploadLockedError):
        second.acquire(upload_id)
    now[0] += timedelta(minutes=2)  # the holder stalled past its lease
    taken = second.acquire(upload_id)
    with pytest.raises(UploadLockedError):
        lease.renew()  # it must stop writing
    lease.release()  # a lost lease is not released from under the new holder
    with pytest.raises(UploadLockedError):
        first.acquire(upload_id)
    taken.release()
    first.acquire(upload_id).release()


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
