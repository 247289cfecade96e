"""What the evidence tests share: the S3 server handle, the store harness, test content."""

from __future__ import annotations

import base64
import hashlib
import io
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minio import Minio

from evidence.fs import FilesystemStore
from evidence.keys import ExhibitKey
from evidence.s3 import MIN_PART_SIZE, S3Store
from evidence.store import BlobStore

ACCESS_KEY = "jitc-test"
SECRET_KEY = "jitc-test-secret"  # moto accepts any credentials
REGION = "us-east-1"
MiB = 1024 * 1024
S3_TEST_OPTIONS: dict[str, Any] = {"part_size": MIN_PART_SIZE}
"""The S3 tests run at S3's smallest part size, so that bodies of a few MiB make several
parts; the memory-bound tests build their stores with the store's defaults."""


@dataclass(frozen=True)
class S3Server:
    """The S3 server the tests run against: moto, or a Ceph RGW (JITC_TEST_S3=rgw)."""

    endpoint: str  # host:port
    kind: str = "moto"
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def is_moto(self) -> bool:
        return self.kind == "moto"

    def client(self) -> Minio:
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
            region=REGION,
        )

    def reset(self) -> None:
        """Forget everything stored (moto). An RGW keeps it: every test has its own buckets,
        and the test session's user takes them all away at the end."""
        if not self.is_moto:
            return
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()


MotoServer = S3Server
"""The name the server tests know the S3 server handle by."""


@dataclass
class Harness:
    """One store under test plus what a test needs to look behind its back."""

    kind: str
    root: Path | None = None
    moto: S3Server | None = None
    """The S3 server (moto or RGW, see tests/conftest.py)."""
    bucket: str = ""
    staging_bucket: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    store: BlobStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = self.make()
        self.store.prepare()

    def make(self, **overrides: Any) -> BlobStore:
        """A new store instance on the same storage (a restarted server)."""
        options = {**self.options, **overrides}
        if self.kind == "fs":
            assert self.root is not None
            return FilesystemStore(self.root, **options)
        assert self.moto is not None
        return S3Store(
            self.moto.endpoint,
            self.moto.access_key,
            self.moto.secret_key,
            self.bucket,
            staging_bucket=self.staging_bucket,
            secure=False,
            region=REGION,
            **{**S3_TEST_OPTIONS, **options},
        )

    def config(self) -> dict[str, Any]:
        """How a child process builds the same store (see tests/evidence/_writer.py)."""
        if self.kind == "fs":
            return {"kind": "fs", "root": str(self.root)}
        assert self.moto is not None
        return {
            "kind": "s3",
            "endpoint": self.moto.endpoint,
            "access_key": self.moto.access_key,
            "secret_key": self.moto.secret_key,
            "bucket": self.bucket,
            "staging_bucket": self.staging_bucket,
        }

    @property
    def client(self) -> Minio:
        assert self.moto is not None
        return self.moto.client()

    def traces(self) -> list[str]:
        """Everything stored anywhere: files, object versions, unfinished multipart uploads."""
        if self.kind == "fs":
            assert self.root is not None
            return sorted(
                str(p.relative_to(self.root)) for p in self.root.rglob("*") if not p.is_dir()
            )
        client = self.client
        found: list[str] = []
        for bucket in (self.bucket, self.staging_bucket):
            found.extend(
                f"{bucket}/{o.object_name}@{o.version_id}"
                for o in client.list_objects(bucket, recursive=True, include_version=True)
            )
            found.extend(
                f"multipart:{bucket}/{u.object_name}"
                for u in client._list_multipart_uploads(bucket).uploads
            )
        return sorted(found)

    def object_traces(self, key: ExhibitKey) -> list[str]:
        return [t for t in self.traces() if key.path in t]

    def tamper(self, key: ExhibitKey, offset: int) -> None:
        """Flip one stored byte behind the store's back."""
        data = bytearray(b"".join(self.store.open_range(key)))
        data[offset] ^= 0x01
        if self.kind == "fs":
            assert self.root is not None
            path = self.root / "objects" / key.path
            path.chmod(0o644)  # stored objects are 0444
            with path.open("r+b") as f:
                f.seek(offset)
                f.write(bytes(data[offset : offset + 1]))
            path.chmod(0o444)
            return
        # Object Lock keeps the first version; a writer with bucket credentials can
        # still add a new version on top, which is what reads then see.
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        self.client._put_object(self.bucket, key.path, bytes(data), {"Content-MD5": md5})


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic, non-repeating-looking test content."""
    out = io.BytesIO()
    block = hashlib.sha256(seed.to_bytes(8, "big")).digest()
    while out.tell() < size:
        block = hashlib.sha256(block).digest()
        out.write(block * 32)
    return out.getvalue()[:size]


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def make_store(
    moto: MotoServer, *, bucket: str | None = None, staging: str | None = None, **options: object
) -> S3Store:
    """A store on new buckets, or (a second server) on the buckets of another."""
    suffix = uuid.uuid4().hex[:12]
    defaults: dict[str, object] = {
        "staging_bucket": staging or f"staging-{suffix}",
        "secure": False,
        "region": REGION,
        **S3_TEST_OPTIONS,
    }
    return S3Store(
        moto.endpoint,
        moto.access_key,
        moto.secret_key,
        bucket or f"evidence-{suffix}",
        **{**defaults, **options},  # type: ignore[arg-type]
    )
