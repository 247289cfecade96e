"""S3Store: evidence in an Object Lock bucket, resumable uploads through a staging bucket.

- `bucket` holds the evidence: Object Lock enabled at creation, default retention in
  COMPLIANCE mode, and an explicit COMPLIANCE retention set on every object we create
  and read back (`evidence.s3.objects`). Nothing is ever written there before its
  bytes are verified: a body in transit is an incomplete multipart upload, which is
  not an object and can be aborted.
- `staging_bucket` (no Object Lock) holds what a resumable upload must keep readable:
  its record, progress and a tail of less than one part (`evidence.s3.staging`).
- Exclusion comes from the LeaseBook the store is given (`evidence.locking`), never
  from conditional requests, which some S3 servers ignore.

Never trust an S3 ETag as integrity: SHA-256 and BLAKE3 are computed here, as the
bytes pass; and never trust a reply as proof that a write happened or not: the
store looks at the object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Final
from uuid import UUID

from minio import Minio

from evidence._ingest import check_expected, check_size, metered, parse_expected, utc_now
from evidence.errors import ObjectExistsError, ObjectNotFoundError, StoreConfigError
from evidence.hashing import Digests, StreamHasher
from evidence.keys import BundleKey, ExhibitKey
from evidence.locking import PROCESS_LEASES, LeaseBook
from evidence.s3.buffer import PartBuffer, PartSender
from evidence.s3.bundles import S3Bundles
from evidence.s3.client import Checksum, S3Client, S3RequestError, new_minio, valid_bucket_name
from evidence.s3.objects import EXHIBITS, EvidenceBucket
from evidence.s3.staging import UPLOADS, Staging
from evidence.s3.uploads import MAX_PART_SIZE, Uploads, part_size
from evidence.store import DisposalResult, UploadState, resolve_range

MIN_PART_SIZE: Final = 5 * 1024 * 1024
"""S3: every part of a multipart upload but the last is at least this big."""
DEFAULT_PART_SIZE: Final = 16 * 1024 * 1024
"""Parts of a body at first (they grow, `uploads.part_size`): 64 requests per GiB, not
205 at 5 MiB, and a third less CPU here, in the store and in Ceph RGW alike."""
DEFAULT_PARALLEL_PARTS: Final = 3
"""Parts of a body in memory: one filling while two are sent (docs/operations.md)."""
MAX_PARTS: Final = 10_000
MAX_PARALLEL_PARTS: Final = 16
BUNDLE_PART_SIZE: Final = 16 * 1024 * 1024
"""Parts of a bundle upload: minio holds one in memory at a time."""


class S3Store:
    """Evidence in an Object Lock bucket; resumable uploads staged in a second bucket.

    `leases` must be shared by every process writing the buckets (ADR 0025): the
    default, `PROCESS_LEASES`, is correct for one process only. `parallel_parts` parts
    of a body (put_stream or append) are held in memory, all but one being sent side by
    side: memory per upload (`parallel_parts` times the part size, which is `part_size`
    for the first 1,000 parts and doubles every 1,000 after) against throughput
    (docs/operations.md). `checksum`: how each body tells the server its digest.
    """

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        staging_bucket: str,
        secure: bool = True,
        region: str | None = None,
        retention_days: int | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        parallel_parts: int = DEFAULT_PARALLEL_PARTS,
        checksum: Checksum = Checksum.SHA256,
        leases: LeaseBook = PROCESS_LEASES,
        key_wait: float = 30.0,
        clock: Callable[[], datetime] = utc_now,
        client: Minio | None = None,
    ) -> None:
        if staging_bucket == bucket:
            raise StoreConfigError("the staging bucket must not be the Object Lock bucket")
        for name in (bucket, staging_bucket):
            if not valid_bucket_name(name):
                raise StoreConfigError(f"{name!r} is not a valid S3 bucket name")
        if retention_days is not None and retention_days < 1:
            raise StoreConfigError("retention_days must be at least 1 (or None)")
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE or part_size % 64:
            raise StoreConfigError("part_size must be between 5 MiB and 5 GiB, in 64-byte blocks")
        self.bucket = bucket
        self.staging_bucket = staging_bucket
        self.retention_days = retention_days
        if not 1 <= parallel_parts <= MAX_PARALLEL_PARTS:
            raise StoreConfigError(f"parallel_parts must be between 1 and {MAX_PARALLEL_PARTS}")
        self.part_size = part_size
        self.parallel_parts = parallel_parts
        self._clock = clock
        self.checksum = checksum
        self.client = S3Client(
            client or new_minio(endpoint, access_key, secret_key, secure=secure, region=region),
            checksum,
        )
        self._evidence = EvidenceBucket(
            self.client,
            bucket,
            leases=leases,
            retention_days=retention_days,
            clock=clock,
            key_wait=key_wait,
        )
        self._bundles = S3Bundles(self.client, staging_bucket, BUNDLE_PART_SIZE)
        self._uploads = Uploads(
            self._evidence,
            Staging(self.client, staging_bucket),
            leases=leases,
            part_size=part_size,
            parallel=parallel_parts,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r}, staging_bucket={self.staging_bucket!r})"

    # -- buckets ----------------------------------------------------------------------------

    def prepare(self) -> None:
        self.ensure_bucket()

    def ensure_bucket(self) -> None:
        """Create the Object Lock bucket (and default retention) and the staging bucket."""
        client = self.client
        if not client.bucket_exists(self.bucket):
            client.make_bucket(self.bucket, object_lock=True)
        try:
            mode = client.default_retention_mode(self.bucket)
        except S3RequestError as exc:
            if exc.code == "ObjectLockConfigurationNotFoundError":
                raise StoreConfigError(
                    f"bucket {self.bucket} exists without Object Lock, which can only "
                    "be enabled when a bucket is created"
                ) from exc
            raise
        if self.retention_days is not None and mode is None:
            client.set_default_retention(self.bucket, self.retention_days)
        if not client.bucket_exists(self.staging_bucket):
            client.make_bucket(self.staging_bucket, object_lock=False)

    # -- one-shot ingest -------------------------------------------------------------------

    def put_stream(
        self,
        key: ExhibitKey,
        chunks: Iterable[bytes],
        *,
        expected_sha256: str | None = None,
        max_size: int | None = None,
    ) -> Digests:
        expected = parse_expected(expected_sha256)
        check_size(max_size)
        evidence = self._evidence
        if evidence.occupied(key):
            raise ObjectExistsError(key)  # early, before reading the body; checked again
        hasher = StreamHasher()
        multipart: str | None = None
        parts = 0

        def upload(number: int, part: memoryview) -> None:
            assert multipart is not None
            evidence.upload_part(key, multipart, number, part, evidence.checksum)

        sender = PartSender(upload, self.parallel_parts)

        def emit(part: bytearray) -> bytearray | None:
            # A full part and more to come: only now start a multipart upload (a body
            # that fits one part is PUT once verified).
            nonlocal multipart, parts
            if multipart is None:
                multipart = evidence.start_multipart(key)
            parts += 1
            return sender.send(parts, part)

        buffer = PartBuffer(lambda n: part_size(self.part_size, n), emit)
        try:
            for chunk in metered(chunks, hasher, max_size):
                buffer.write(chunk)
            sender.drain()
            digests = hasher.digests()
            check_expected(digests, expected)  # before any object exists
            with evidence.key_lock(key):
                if evidence.occupied(key):
                    raise ObjectExistsError(key)
                with buffer.pending() as rest:
                    if multipart is None:
                        evidence.put_small(key, rest)
                    else:
                        if len(rest):
                            parts += 1
                            upload(parts, rest)
                        evidence.complete(key, multipart, parts, digests.size)
                        multipart = None
                evidence.seal(key, digests.size)
        except BaseException:
            sender.close()
            if multipart is not None:
                self.client.abort_quietly(self.bucket, key.path, multipart)
            raise
        finally:
            sender.close()
        return digests

    # -- resumable uploads -------------------------------------------------------------------

    def begin_upload(
        self,
        upload_id: UUID,
        key: ExhibitKey,
        length: int | None,
        metadata: Mapping[str, str] | None = None,
        *,
        max_size: int | None = None,
    ) -> UploadState:
        return self._uploads.begin(upload_id, key, length, dict(metadata or {}), max_size)

    def append(self, upload_id: UUID, offset: int, chunks: Iterable[bytes]) -> UploadState:
        return self._uploads.append(upload_id, offset, chunks)

    def status(self, upload_id: UUID) -> UploadState:
        return self._uploads.status(upload_id)

    def finish(self, upload_id: UUID, expected_sha256: str | None = None) -> Digests:
        return self._uploads.finish(upload_id, expected_sha256)

    def abort(self, upload_id: UUID) -> None:
        self._uploads.abort(upload_id)

    def expire(self, older_than: datetime) -> list[UUID]:
        removed, live = self._uploads.expire(older_than)
        # Multipart uploads no upload records (put_stream bodies, writers that died
        # before recording theirs): not objects, but they hold storage until aborted.
        for bucket, prefix in ((self.bucket, EXHIBITS), (self.staging_bucket, UPLOADS)):
            for pending in self.client.pending_uploads(bucket, prefix):
                if pending.upload_id in live:
                    continue
                if pending.initiated is None or pending.initiated < older_than:
                    self.client.abort_quietly(bucket, pending.name, pending.upload_id)
        return removed

    # -- reads ----------------------------------------------------------------------------

    def exists(self, key: ExhibitKey) -> bool:
        return self.client.head(self.bucket, key.path) is not None

    def stat(self, key: ExhibitKey) -> int:
        head = self.client.head(self.bucket, key.path)
        if head is None:
            raise ObjectNotFoundError(key)
        return head.size

    def open_range(
        self, key: ExhibitKey, first: int | None = None, last: int | None = None
    ) -> Iterator[bytes]:
        selected = resolve_range(self.stat(key), first, last)
        try:
            return self.client.read(self.bucket, key.path, selected.first, selected.length)
        except S3RequestError as exc:
            if exc.not_found:
                raise ObjectNotFoundError(key) from None  # disposed of since stat
            raise

    def rehash(self, key: ExhibitKey) -> Digests:
        hasher = StreamHasher()
        for chunk in self.open_range(key):
            hasher.update(chunk)
        return hasher.digests()

    def list_objects(self, case_id: UUID | None = None) -> Iterator[ExhibitKey]:
        prefix = EXHIBITS if case_id is None else f"{EXHIBITS}{case_id}/"
        return self._evidence.keys(prefix)

    # -- court bundles, in the staging bucket (evidence.s3.bundles) --------------------------

    def put_bundle(self, key: BundleKey, source: Path) -> int:
        return self._bundles.put(key, source)

    def bundle_size(self, key: BundleKey) -> int:
        return self._bundles.size(key)

    def open_bundle(
        self, key: BundleKey, first: int | None = None, last: int | None = None
    ) -> Iterator[bytes]:
        return self._bundles.open(key, first, last)

    def remove_bundle(self, key: BundleKey) -> None:
        self._bundles.remove(key)

    def list_bundles(self, case_id: UUID | None = None) -> Iterator[BundleKey]:
        return self._bundles.keys(case_id)

    # -- retention, legal hold and disposal ------------------------------------------------

    def ensure_retention(self, key: ExhibitKey) -> datetime | None:
        return self._evidence.seal(key)

    def set_legal_hold(self, key: ExhibitKey, on: bool) -> None:
        self._evidence.set_legal_hold(key, on)

    def legal_hold(self, key: ExhibitKey) -> bool:
        return self._evidence.legal_hold(key)

    def dispose(self, key: ExhibitKey) -> DisposalResult:
        return self._evidence.dispose(key)
