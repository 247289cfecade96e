"""S3Store: evidence in an Object Lock bucket, resumable uploads staged in a second bucket.

- `bucket` holds the evidence: Object Lock enabled at creation, default retention
  in COMPLIANCE mode, and an explicit COMPLIANCE retention on every object we
  write. Nothing is ever written there before its bytes are verified: a body in
  transit is an incomplete multipart upload, which is not an object and can be
  aborted; the object appears only when CompleteMultipartUpload (or a single
  PutObject of an already-verified body) succeeds, with `If-None-Match: *` so
  an existing key is never overwritten.
- `staging_bucket` (no Object Lock) holds resumable uploads as readable segments
  (`evidence.s3.staging`); `finish` composes them server-side (UploadPartCopy)
  into the locked bucket.

Never trust an S3 ETag as integrity: SHA-256 and BLAKE3 are computed here, as
the bytes pass.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from minio import Minio
from minio.datatypes import Part

from evidence._ingest import (
    HasherCache,
    UploadInfo,
    check_expected,
    check_size,
    metered,
    parse_expected,
    utc_now,
)
from evidence.errors import (
    DigestMismatchError,
    LegalHoldActiveError,
    ObjectExistsError,
    ObjectNotFoundError,
    OffsetMismatchError,
    StoreConfigError,
    TooLargeError,
    UploadIncompleteError,
    UploadLockedError,
)
from evidence.hashing import Digests, StreamHasher
from evidence.keys import ExhibitKey
from evidence.locking import Lease, UploadLock
from evidence.s3.buffer import PartBuffer
from evidence.s3.client import (
    S3Client,
    S3RequestError,
    retained_until,
    retention_headers,
)
from evidence.s3.lease import S3LeaseLock
from evidence.s3.staging import MIN_PART_SIZE, Segment, Staging, stored
from evidence.store import DisposalResult, UploadState, resolve_range

MAX_PART_SIZE: Final = 5 * 1024 * 1024 * 1024
MAX_PARTS: Final = 10_000
PARTS_PER_SIZE_STEP: Final = 1000
"""put_stream doubles its part size every this many parts, so 5 MiB parts reach 5 TiB."""


def _split(size: int) -> list[tuple[int, int]]:
    """(offset, length) ranges of at most MAX_PART_SIZE, near-equal, covering `size` bytes."""
    pieces = max(1, math.ceil(size / MAX_PART_SIZE))
    step = math.ceil(size / pieces)
    return [(start, min(step, size - start)) for start in range(0, size, step)] or [(0, 0)]


@dataclass(frozen=True, slots=True)
class _Source:
    bucket: str
    name: str
    size: int


class S3Store:
    """Evidence in an Object Lock bucket; resumable uploads staged in a second bucket."""

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
        part_size: int = MIN_PART_SIZE,
        segment_size: int = MIN_PART_SIZE,
        lease_ttl: timedelta = timedelta(minutes=15),
        upload_lock: UploadLock | None = None,
        clock: Callable[[], datetime] = utc_now,
        max_parts: int = MAX_PARTS,
        client: Minio | None = None,
    ) -> None:
        if staging_bucket == bucket:
            raise StoreConfigError("the staging bucket must not be the Object Lock bucket")
        if retention_days is not None and retention_days < 1:
            raise StoreConfigError("retention_days must be at least 1 (or None)")
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise StoreConfigError("part_size must be between 5 MiB and 5 GiB")
        if not MIN_PART_SIZE <= segment_size <= MAX_PART_SIZE:
            raise StoreConfigError("segment_size must be between 5 MiB and 5 GiB")
        if not 2 <= max_parts <= MAX_PARTS:
            raise StoreConfigError("max_parts must be between 2 and 10000")
        self.bucket = bucket
        self.staging_bucket = staging_bucket
        self.retention_days = retention_days
        self.part_size = part_size
        self.segment_size = segment_size
        self.max_parts = max_parts
        self._clock = clock
        self.client = S3Client(
            client
            or Minio(
                endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region
            )
        )
        self._staging = Staging(self.client, staging_bucket)
        self._lock = upload_lock or S3LeaseLock(
            self.client, staging_bucket, ttl=lease_ttl, clock=clock
        )
        self._hashers = HasherCache()

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

    # -- writes into the locked bucket ---------------------------------------------------------

    def _retention_headers(self) -> dict[str, str]:
        if self.retention_days is None:
            return {}
        return retention_headers(self._clock() + timedelta(days=self.retention_days))

    def _put_new(self, key: ExhibitKey, data: bytes | memoryview) -> None:
        """PutObject of a verified body into the locked bucket; never overwrites."""
        headers = {**self._retention_headers(), "If-None-Match": "*"}
        try:
            self.client.put(self.bucket, key.path, data, headers)
        except S3RequestError as exc:
            if exc.precondition_failed:
                raise ObjectExistsError(key) from None
            raise

    def _complete_new(self, key: ExhibitKey, mpu: str, parts: list[Part]) -> None:
        try:
            self.client.complete_multipart_upload(
                self.bucket, key.path, mpu, parts, create_only=True
            )
        except S3RequestError as exc:
            if exc.precondition_failed:
                raise ObjectExistsError(key) from None
            raise

    def _ensure_retention(self, key: ExhibitKey) -> None:
        """Give the new object its COMPLIANCE retention if the server did not apply one.

        S3 applies the retention sent with CreateMultipartUpload; some servers (moto)
        don't. Retention can be extended but never shortened, so only a missing one
        is set.
        """
        if self.retention_days is None:
            return
        head = self.client.head(self.bucket, key.path)
        if head is None:
            raise ObjectNotFoundError(key)
        if retained_until(head) is not None:
            return
        until = self._clock() + timedelta(days=self.retention_days)
        self.client.set_retention(self.bucket, key.path, until, version_id=head.version_id)

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
        name = key.path
        if self._exists(name):
            raise ObjectExistsError(key)
        hasher = StreamHasher()
        mpu: str | None = None
        parts: list[Part] = []

        def upload(part: memoryview) -> None:
            # A full part and more to come: only now start a multipart upload (a body
            # that fits one part is PUT once verified).
            nonlocal mpu
            if mpu is None:
                mpu = self.client.create_multipart_upload(
                    self.bucket, name, self._retention_headers()
                )
            parts.append(self.client.upload_part(self.bucket, name, mpu, len(parts) + 1, part))

        def part_size(n: int) -> int:
            return min(self.part_size << (n // PARTS_PER_SIZE_STEP), MAX_PART_SIZE)

        buffer = PartBuffer(part_size, upload)
        try:
            for chunk in metered(chunks, hasher, max_size):
                buffer.write(chunk)
            digests = hasher.digests()
            check_expected(digests, expected)  # before any object exists
            with buffer.pending() as rest:
                if mpu is None:
                    self._put_new(key, rest)
                else:
                    if len(rest):
                        upload(rest)
                    self._complete_new(key, mpu, parts)
                    mpu = None
            self._ensure_retention(key)
        except BaseException:
            if mpu is not None:
                self.client.abort_quietly(self.bucket, name, mpu)
            raise
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
        check_size(length)
        check_size(max_size)
        if length is not None and max_size is not None and length > max_size:
            raise TooLargeError(max_size)
        info = UploadInfo(
            key=key,
            length=length,
            max_size=max_size,
            metadata=dict(metadata or {}),
            created=self._clock(),
        )
        if self._exists(key.path):
            raise ObjectExistsError(key)
        self._staging.write_info(upload_id, info)
        return info.state(upload_id, offset=0, updated=info.created)

    def _hasher_at(self, upload_id: UUID, segments: list[Segment]) -> StreamHasher:
        """Hash state over the staged bytes; re-reads what this process hasn't hashed.

        After a restart that is every staged byte: resuming costs one sequential
        read of the staging objects.
        """
        end = stored(segments)
        hasher = self._hashers.take(upload_id)
        if hasher is None or hasher.size > end:
            hasher = StreamHasher()
        for chunk in self._staging.read(segments, hasher.size, end):
            hasher.update(chunk)
        return hasher

    def _state(self, upload_id: UUID, info: UploadInfo, segments: list[Segment]) -> UploadState:
        times = [s.last_modified for s in segments if s.last_modified is not None]
        updated = max([info.created, *times])
        return info.state(upload_id, offset=stored(segments), updated=updated)

    def append(self, upload_id: UUID, offset: int, chunks: Iterable[bytes]) -> UploadState:
        lease = self._lock.acquire(upload_id)
        try:
            return self._append(upload_id, offset, chunks, lease)
        finally:
            lease.release()

    def _append(
        self, upload_id: UUID, offset: int, chunks: Iterable[bytes], lease: Lease
    ) -> UploadState:
        info = self._staging.read_info(upload_id)
        segments = self._staging.segments(upload_id)
        end = stored(segments)
        if offset != end:
            raise OffsetMismatchError(upload_id, expected=end, got=offset)
        hasher = self._hasher_at(upload_id, segments)
        start = end  # where the segment in the buffer begins
        written = 0  # bytes of that segment already staged

        def stage(segment: memoryview) -> None:
            nonlocal start, written, end
            lease.renew()
            self._staging.put_segment(upload_id, start, segment)
            end = start + len(segment)
            start, written = end, 0

        buffer = PartBuffer(lambda _: self.segment_size, stage)

        def flush() -> None:
            nonlocal end, written
            if buffer.fill > written:
                lease.renew()
                with buffer.pending() as rest:
                    self._staging.put_segment(upload_id, start, rest)
                end = start + buffer.fill
                written = buffer.fill

        if segments and segments[-1].size < self.segment_size:
            # A short last segment: reload it and write it again, longer.
            tail = segments[-1]
            start = tail.start
            for chunk in self._staging.read([tail], tail.start, tail.end):
                buffer.write(chunk)
            written = buffer.fill
        body = metered(chunks, hasher, info.limit)
        removed = False
        try:
            while True:
                try:
                    chunk = next(body)
                except StopIteration:
                    break
                except TooLargeError:
                    raise
                except BaseException:
                    # The body broke off (a client disconnect): keep what arrived, so the
                    # client resumes from there.
                    flush()
                    raise
                buffer.write(chunk)
            flush()
        except TooLargeError:
            removed = True
            self._staging.remove(upload_id, keep=S3LeaseLock.name(upload_id))
            raise
        finally:
            if removed:
                self._hashers.drop(upload_id)
            else:  # kept only if it covers exactly the bytes stored
                self._hashers.keep(upload_id, hasher, end)
        return info.state(upload_id, offset=end, updated=self._clock())

    def status(self, upload_id: UUID) -> UploadState:
        info = self._staging.read_info(upload_id)
        return self._state(upload_id, info, self._staging.segments(upload_id))

    def finish(self, upload_id: UUID, expected_sha256: str | None = None) -> Digests:
        expected = parse_expected(expected_sha256)
        lease = self._lock.acquire(upload_id)
        try:
            info = self._staging.read_info(upload_id)
            segments = self._staging.segments(upload_id)
            end = stored(segments)
            if info.length is not None and end != info.length:
                raise UploadIncompleteError(upload_id, offset=end, length=info.length)
            digests = self._hasher_at(upload_id, segments).digests()
            try:
                check_expected(digests, expected)
            except DigestMismatchError:
                self._hashers.drop(upload_id)
                self._remove_upload(upload_id)
                raise
            if self._exists(info.key.path):
                raise ObjectExistsError(info.key)
            lease.renew()
            if end == 0:
                self._put_new(info.key, b"")
            else:
                sources = [_Source(self.staging_bucket, s.name, s.size) for s in segments]
                self._compose(upload_id, info.key, sources)
            self._ensure_retention(info.key)
            self._hashers.drop(upload_id)
            self._remove_upload(upload_id)
        finally:
            lease.release()
        return digests

    def _compose(self, upload_id: UUID, target: ExhibitKey | str, sources: list[_Source]) -> None:
        """Server-side copy of `sources`, in order, into one object (UploadPartCopy).

        An ExhibitKey target is the evidence object: created only if absent; a str is
        an intermediate object in the staging bucket. When the sources need more than
        `max_parts` parts, runs of them are first composed into intermediates.
        """
        ranges = [(src, offset, length) for src in sources for offset, length in _split(src.size)]
        if len(ranges) > self.max_parts:
            groups: list[list[_Source]] = [[]]
            count = 0
            for src in sources:
                n = len(_split(src.size))
                if count + n > self.max_parts and groups[-1]:
                    groups.append([])
                    count = 0
                groups[-1].append(src)
                count += n
            intermediates = []
            for group in groups:
                name = f"{self._staging.prefix(upload_id)}compose/{uuid.uuid4().hex}"
                self._compose(upload_id, name, group)
                intermediates.append(_Source(self.staging_bucket, name, sum(s.size for s in group)))
            self._compose(upload_id, target, intermediates)
            return
        final = isinstance(target, ExhibitKey)
        bucket = self.bucket if final else self.staging_bucket
        name = target.path if isinstance(target, ExhibitKey) else target
        mpu = self.client.create_multipart_upload(
            bucket, name, self._retention_headers() if final else {}
        )
        try:
            parts = [
                self.client.upload_part_copy(
                    bucket, name, mpu, number, (src.bucket, src.name), offset, length
                )
                for number, (src, offset, length) in enumerate(ranges, start=1)
            ]
            if isinstance(target, ExhibitKey):
                self._complete_new(target, mpu, parts)
            else:
                self.client.complete_multipart_upload(bucket, name, mpu, parts, create_only=False)
        except BaseException:
            self.client.abort_quietly(bucket, name, mpu)
            raise

    def _remove_upload(self, upload_id: UUID) -> None:
        self._staging.remove(upload_id, keep=S3LeaseLock.name(upload_id))

    def abort(self, upload_id: UUID) -> None:
        lease = self._lock.acquire(upload_id)
        try:
            self._staging.read_info(upload_id)
            self._hashers.drop(upload_id)
            self._remove_upload(upload_id)
        finally:
            lease.release()

    def expire(self, older_than: datetime) -> list[UUID]:
        removed: list[UUID] = []
        for upload_id in self._staging.upload_ids():
            if not self._idle_since(upload_id, older_than, ignore_lease=False):
                continue
            try:
                lease = self._lock.acquire(upload_id)
            except UploadLockedError:
                continue  # someone is writing to it right now
            try:
                # Look again, holding the lease: an append may have ended just now.
                if not self._idle_since(upload_id, older_than, ignore_lease=True):
                    continue
                self._hashers.drop(upload_id)
                self._remove_upload(upload_id)
            finally:
                lease.release()
            removed.append(upload_id)
        # Multipart uploads of writers that died (put_stream, finish): not objects,
        # but they hold storage until aborted.
        for bucket, prefix in ((self.bucket, "cases/"), (self.staging_bucket, "uploads/")):
            for pending in self.client.pending_uploads(bucket, prefix):
                if pending.initiated is None or pending.initiated < older_than:
                    self.client.abort_quietly(bucket, pending.name, pending.upload_id)
        return removed

    def _idle_since(self, upload_id: UUID, older_than: datetime, *, ignore_lease: bool) -> bool:
        ignore = S3LeaseLock.name(upload_id) if ignore_lease else None
        last = self._staging.last_written(upload_id, ignore=ignore)
        return last is None or last < older_than

    # -- reads ----------------------------------------------------------------------------

    def _exists(self, name: str) -> bool:
        return self.client.head(self.bucket, name) is not None

    def exists(self, key: ExhibitKey) -> bool:
        return self._exists(key.path)

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

    # -- legal hold and disposal -----------------------------------------------------------

    def set_legal_hold(self, key: ExhibitKey, on: bool) -> None:
        if not self._exists(key.path):
            raise ObjectNotFoundError(key)
        self.client.set_legal_hold(self.bucket, key.path, on)

    def legal_hold(self, key: ExhibitKey) -> bool:
        if not self._exists(key.path):
            raise ObjectNotFoundError(key)
        return self.client.legal_hold(self.bucket, key.path)

    def _retained_until(self, name: str, version_id: str | None) -> datetime | None:
        head = self.client.head(self.bucket, name, version_id)
        return None if head is None else retained_until(head)

    def dispose(self, key: ExhibitKey) -> DisposalResult:
        name = key.path
        listed = self.client.list_objects(self.bucket, name, versions=True)
        versions = [v for v in listed if v.name == name]
        contents = [v for v in versions if not v.is_delete_marker]
        if not contents:
            raise ObjectNotFoundError(key)
        for v in contents:
            if self.client.legal_hold(self.bucket, name, v.version_id):
                raise LegalHoldActiveError(key)
        now = self._clock()
        until = [u for v in contents if (u := self._retained_until(name, v.version_id))]
        if any(u > now for u in until):
            return DisposalResult(key, removed=False, retained_until=max(until))
        for v in versions:
            try:
                self.client.remove(self.bucket, name, version_id=v.version_id)
            except S3RequestError as exc:
                if not exc.access_denied:
                    raise
                # COMPLIANCE retention our clock thought over: the server decides.
                retained = self._retained_until(name, v.version_id)
                if retained is None:
                    raise
                return DisposalResult(key, removed=False, retained_until=retained)
        return DisposalResult(key, removed=True)
