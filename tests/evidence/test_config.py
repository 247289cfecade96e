"""Choosing the store from configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence.config import ACCESS_KEY_ENV, SECRET_KEY_ENV, open_store
from evidence.errors import StoreConfigError
from evidence.fs import FilesystemStore
from evidence.s3 import Checksum, S3Store
from evidence.store import BlobStore

CREDENTIALS = {ACCESS_KEY_ENV: "key", SECRET_KEY_ENV: "secret"}


def test_file_url(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}/evidence?retention_days=30", env={})
    assert isinstance(store, FilesystemStore)
    assert store.root == tmp_path / "evidence"
    assert store.retention_days == 30
    assert isinstance(store, BlobStore)


def test_bare_path_is_the_filesystem_store(tmp_path: Path) -> None:
    for location in (str(tmp_path), tmp_path):
        store = open_store(location, env={})
        assert isinstance(store, FilesystemStore)
        assert store.root == tmp_path


def test_s3_url() -> None:
    store = open_store(
        "s3://minio.internal:9000/jitc-evidence?staging_bucket=jitc-staging"
        "&secure=false&region=eu-west-1&retention_days=3650&parallel_parts=3&checksum=md5",
        env=CREDENTIALS,
    )
    assert isinstance(store, S3Store)
    assert store.parallel_parts == 3
    assert store.checksum is Checksum.MD5
    assert (store.bucket, store.staging_bucket, store.retention_days) == (
        "jitc-evidence",
        "jitc-staging",
        3650,
    )
    assert isinstance(store, BlobStore)


def test_s3_url_defaults_and_part_size() -> None:
    store = open_store("s3://minio:9000/evidence?staging_bucket=staging", env=CREDENTIALS)
    assert isinstance(store, S3Store)
    assert (store.parallel_parts, store.part_size, store.checksum) == (
        3,
        16 * 1024 * 1024,
        Checksum.SHA256,
    )
    store = open_store(
        "s3://minio:9000/evidence?staging_bucket=staging&part_mib=5&parallel_parts=1",
        env=CREDENTIALS,
    )
    assert isinstance(store, S3Store)
    assert (store.parallel_parts, store.part_size) == (1, 5 * 1024 * 1024)


@pytest.mark.parametrize(
    ("url", "env", "message"),
    [
        ("s3://minio:9000/evidence?staging_bucket=s", {}, ACCESS_KEY_ENV),
        ("s3://minio:9000/evidence", CREDENTIALS, "staging_bucket"),
        ("s3://minio:9000/?staging_bucket=s", CREDENTIALS, "BUCKET"),
        ("s3://key:secret@minio:9000/evidence?staging_bucket=s", CREDENTIALS, "credentials"),
        ("s3://minio:9000/evidence?staging_bucket=evidence", CREDENTIALS, "staging bucket"),
        ("s3://minio:9000/e?staging_bucket=s&secure=maybe", CREDENTIALS, "true or false"),
        ("s3://minio:9000/e?staging_bucket=s&retention_days=0", CREDENTIALS, "positive"),
        ("s3://minio:9000/e?staging_bucket=s&colour=red", CREDENTIALS, "unknown store option"),
        ("s3://minio:9000/e?staging_bucket=s&parallel_parts=0", CREDENTIALS, "positive"),
        ("s3://minio:9000/a..b?staging_bucket=staging", CREDENTIALS, "bucket name"),
        ("s3://minio:9000/evidence?staging_bucket=s", CREDENTIALS, "bucket name"),
        ("s3://m:9000/evidence?staging_bucket=staging&parallel_parts=99", CREDENTIALS, "1 and"),
        (
            "s3://m:9000/evidence?staging_bucket=staging&checksum=crc32",
            CREDENTIALS,
            "sha256 or md5",
        ),
        ("s3://m:9000/evidence?staging_bucket=staging&part_mib=4", CREDENTIALS, "between 5 MiB"),
        ("s3://m:9000/evidence?staging_bucket=staging&part_mib=8.5", CREDENTIALS, "whole number"),
        ("file://server/share", {}, "local path"),
        ("gopher://x/y", {}, "unknown evidence store scheme"),
    ],
)
def test_bad_configuration(url: str, env: dict[str, str], message: str) -> None:
    with pytest.raises(StoreConfigError, match=message):
        open_store(url, env=env)
