"""S3 evidence store through the minio SDK, for MinIO with Object Lock in production.

Two buckets (docs/adr/0010-resumable-uploads-on-object-storage.md):

- `bucket` holds the evidence: Object Lock enabled at creation, default retention
  in COMPLIANCE mode, and an explicit COMPLIANCE retention on every object we
  write. Nothing is ever written there before its bytes are verified: a body in
  transit is an incomplete multipart upload, which is not an object and can be
  aborted; the object appears only when CompleteMultipartUpload (or a single
  PutObject of an already-verified body) succeeds, with `If-None-Match: *` so
  an existing key is never overwritten.
- `staging_bucket` (no Object Lock: a bucket with default retention locks every
  object in it) holds resumable uploads as readable segments:

      uploads/<upload id>/info.json          the upload record
      uploads/<upload id>/lease              who is writing (S3LeaseLock)
      uploads/<upload id>/seg/<start offset> the bytes, in segments of `segment_size`

  Every segment but the last is exactly `segment_size` (>= 5 MiB) bytes; a short
  last segment is read back and rewritten longer by the next append. `finish`
  composes the segments server-side (UploadPartCopy) into the locked bucket.

Never trust an S3 ETag as integrity: SHA-256 and BLAKE3 are computed here, as
the bytes pass. Content-MD5 is sent with every body because S3 requires it for
Object Lock buckets and it catches corruption in transit.

NOTE: this module calls a few private methods of minio 7.2 (`_put_object`,
`_create_multipart_upload`, `_upload_part`, `_upload_part_copy`,
`_abort_multipart_upload`, `_list_multipart_uploads`, `_execute`): the public
API cannot send `If-None-Match`/`If-Match`, Content-MD5 over plain HTTP, or
stream parts we buffer ourselves. Pin `minio>=7.2,<8`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import math
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast
from urllib.parse import quote
from uuid import UUID
from xml.sax.saxutils import escape

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.datatypes import CompleteMultipartUploadResult, Part
from minio.error import MinioException, S3Error
from minio.helpers import DictType
from minio.objectlockconfig import DAYS, ObjectLockConfig
from minio.retention import Retention
from minio.time import from_iso8601utc, to_iso8601utc

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
    StorageUnavailableError,
    StoreConfigError,
    TooLargeError,
    UploadCorruptError,
    UploadExistsError,
    UploadIncompleteError,
    UploadLockedError,
    UploadNotFoundError,
)
from evidence.hashing import CHUNK_SIZE, Digests, StreamHasher
from evidence.keys import ExhibitKey, parse_id
from evidence.locking import Lease, UploadLock
from evidence.store import DisposalResult, UploadState, resolve_range

log = logging.getLogger(__name__)

MIN_PART_SIZE: Final = 5 * 1024 * 1024
"""S3: every part of a multipart upload but the last is at least this big."""
MAX_PART_SIZE: Final = 5 * 1024 * 1024 * 1024
MAX_PARTS: Final = 10_000
PARTS_PER_SIZE_STEP: Final = 1000
"""put_stream doubles its part size every this many parts, so 5 MiB parts reach 5 TiB."""

_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchVersion", "ResourceNotFound"})
_PRECONDITION_FAILED = 412
_UPLOADS = "uploads/"
_OCTETS = "application/octet-stream"


def _md5_b64(data: bytes | memoryview) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def _precondition_failed(exc: S3Error) -> bool:
    return exc.code == "PreconditionFailed" or exc.response.status == _PRECONDITION_FAILED


@contextlib.contextmanager
def _unavailable() -> Iterator[None]:
    """Turn transport and unexpected S3 failures into StorageUnavailableError."""
    try:
        yield
    except S3Error as exc:
        raise StorageUnavailableError(f"S3 {exc.code}: {exc.message}") from exc
    except (MinioException, urllib3.exceptions.HTTPError) as exc:
        raise StorageUnavailableError(f"S3 unreachable or failing: {exc}") from exc


def _split(size: int) -> list[tuple[int, int]]:
    """(offset, length) ranges of at most MAX_PART_SIZE, near-equal, covering `size` bytes."""
    pieces = max(1, math.ceil(size / MAX_PART_SIZE))
    step = math.ceil(size / pieces)
    return [(start, min(step, size - start)) for start in range(0, size, step)] or [(0, 0)]


@dataclass(frozen=True, slots=True)
class _Segment:
    start: int
    size: int
    name: str
    last_modified: datetime | None

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(frozen=True, slots=True)
class _Source:
    bucket: str
    name: str
    size: int


class _ResponseChunks(Iterator[bytes]):
    """Chunks of one GET; closes the response when exhausted, failed or closed."""

    def __init__(self, response: urllib3.BaseHTTPResponse, expected: int) -> None:
        self._response: urllib3.BaseHTTPResponse | None = response
        self._chunks = response.stream(CHUNK_SIZE)
        self._remaining = expected

    def __next__(self) -> bytes:
        if self._response is None:
            raise StopIteration
        try:
            with _unavailable():
                chunk = next(self._chunks, b"")
        except BaseException:
            self.close()
            raise
        if not chunk:
            self.close()
            if self._remaining != 0:
                raise StorageUnavailableError("S3 response ended early")
            raise StopIteration
        self._remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        if self._response is not None:
            response, self._response = self._response, None
            response.close()
            response.release_conn()

    def __del__(self) -> None:
        self.close()


class S3Lease:
    """The lease object `uploads/<id>/lease`, held until released or lost."""

    def __init__(self, lock: S3LeaseLock, upload_id: UUID, etag: str, renewed: datetime) -> None:
        self._lock = lock
        self._upload_id = upload_id
        self._etag = etag
        self._renewed = renewed

    def renew(self) -> None:
        now = self._lock.clock()
        if now < self._renewed + self._lock.ttl / 3:
            return
        self._etag = self._lock.write(self._upload_id, {"If-Match": self._etag}, now)
        self._renewed = now

    def release(self) -> None:
        lock = self._lock
        with contextlib.suppress(MinioException, urllib3.exceptions.HTTPError):
            lock.client._execute(
                "DELETE", lock.bucket, lock.name(self._upload_id), headers={"If-Match": self._etag}
            )


class S3LeaseLock:
    """Default `UploadLock` of S3Store: a lease object with an expiry, taken by conditional PUT.

    `If-None-Match: *` creates the lease; a lease past its expiry (its holder
    died) is taken over with `If-Match` on its ETag; the holder renews it with
    `If-Match` on its own ETag before each segment it writes once a third of
    `ttl` has passed, and stops with UploadLockedError when that fails.

    NOTE: leases compare their expiry with each server's clock, so clocks must
    agree to well within `ttl`; a holder stalled longer than `ttl` between two
    renewals can lose the lease between its check and its write. A server that
    already serialises requests per upload should pass its own lock.
    """

    def __init__(
        self,
        client: Minio,
        bucket: str,
        *,
        ttl: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.ttl = ttl
        self.clock = clock

    @staticmethod
    def name(upload_id: UUID) -> str:
        return f"{_UPLOADS}{upload_id}/lease"

    def write(self, upload_id: UUID, condition: DictType, now: datetime) -> str:
        """Write a fresh lease under `condition`; its ETag, or UploadLockedError."""
        body = json.dumps(
            {"holder": str(uuid.uuid4()), "expires": (now + self.ttl).isoformat()}
        ).encode()
        headers: DictType = {
            "Content-Type": "application/json",
            "Content-MD5": _md5_b64(body),
            **condition,
        }
        try:
            result = self.client._put_object(self.bucket, self.name(upload_id), body, headers)
        except S3Error as exc:
            if _precondition_failed(exc):
                raise UploadLockedError(upload_id) from None
            raise
        return cast(str, result.etag)

    def acquire(self, upload_id: UUID) -> Lease:
        now = self.clock()
        with _unavailable():
            try:
                return S3Lease(
                    self, upload_id, self.write(upload_id, {"If-None-Match": "*"}, now), now
                )
            except UploadLockedError:
                pass
            try:
                response = self.client.get_object(self.bucket, self.name(upload_id))
                try:
                    doc = json.loads(response.data)
                    etag = response.headers.get("ETag", "")
                finally:
                    response.close()
                    response.release_conn()
            except S3Error as exc:
                if exc.code not in _NOT_FOUND:
                    raise
                # Released meanwhile: one more try.
                return S3Lease(
                    self, upload_id, self.write(upload_id, {"If-None-Match": "*"}, now), now
                )
            try:
                expires = datetime.fromisoformat(doc["expires"])
            except (KeyError, TypeError, ValueError):
                expires = now  # unreadable: treat as expired rather than lock the upload forever
            if expires > now:
                raise UploadLockedError(upload_id)
            # The holder died: take the lease over, unless someone else just did.
            return S3Lease(self, upload_id, self.write(upload_id, {"If-Match": etag}, now), now)


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
        self.client = client or Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region
        )
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
        with _unavailable():
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket, object_lock=True)
            try:
                config = self.client.get_object_lock_config(self.bucket)
            except S3Error as exc:
                if exc.code == "ObjectLockConfigurationNotFoundError":
                    raise StoreConfigError(
                        f"bucket {self.bucket} exists without Object Lock, which can only "
                        "be enabled when a bucket is created"
                    ) from exc
                raise
            if self.retention_days is not None and config.mode is None:
                self.client.set_object_lock_config(
                    self.bucket, ObjectLockConfig(COMPLIANCE, self.retention_days, DAYS)
                )
            if not self.client.bucket_exists(self.staging_bucket):
                self.client.make_bucket(self.staging_bucket)

    # -- low-level writes ---------------------------------------------------------------------

    def _retention_headers(self) -> DictType:
        if self.retention_days is None:
            return {}
        until = self._clock() + timedelta(days=self.retention_days)
        return {
            "x-amz-object-lock-mode": COMPLIANCE,
            "x-amz-object-lock-retain-until-date": cast(str, to_iso8601utc(until)),
        }

    def _put_new(self, key: ExhibitKey, data: bytes | memoryview) -> None:
        """PutObject of a verified body into the locked bucket; never overwrites."""
        headers: DictType = {
            **self._retention_headers(),
            "Content-Type": _OCTETS,
            "Content-MD5": _md5_b64(data),
            "If-None-Match": "*",
        }
        try:
            self.client._put_object(self.bucket, key.path, cast(bytes, data), headers)
        except S3Error as exc:
            if _precondition_failed(exc):
                raise ObjectExistsError(key) from None
            raise

    def _create_mpu(self, bucket: str, name: str, headers: DictType) -> str:
        return self.client._create_multipart_upload(
            bucket, name, {**headers, "Content-Type": _OCTETS}
        )

    def _upload_part(self, bucket: str, name: str, mpu: str, number: int, data: memoryview) -> Part:
        etag = self.client._upload_part(
            bucket, name, cast(bytes, data), {"Content-MD5": _md5_b64(data)}, mpu, number
        )
        return Part(number, etag)

    def _complete(
        self, bucket: str, name: str, mpu: str, parts: list[Part], *, create_only: bool
    ) -> None:
        body = (
            "<CompleteMultipartUpload>"
            + "".join(
                f"<Part><PartNumber>{p.part_number}</PartNumber>"
                f"<ETag>&quot;{escape(p.etag)}&quot;</ETag></Part>"
                for p in parts
            )
            + "</CompleteMultipartUpload>"
        ).encode()
        headers: DictType = {"Content-Type": "application/xml", "Content-MD5": _md5_b64(body)}
        if create_only:
            headers["If-None-Match"] = "*"
        response = self.client._execute(
            "POST", bucket, name, body=body, headers=headers, query_params={"uploadId": mpu}
        )
        # S3 may answer 200 with an error document: only an ETag means it completed.
        if CompleteMultipartUploadResult(response).etag is None:
            raise StorageUnavailableError(f"CompleteMultipartUpload of {name} failed")

    def _abort_quietly(self, bucket: str, name: str, mpu: str) -> None:
        try:
            self.client._abort_multipart_upload(bucket, name, mpu)
        except (MinioException, urllib3.exceptions.HTTPError):
            log.warning("could not abort multipart upload %s of %s; expire() will", mpu, name)

    def _ensure_retention(self, key: ExhibitKey) -> None:
        """Give the new object its COMPLIANCE retention if the server did not apply one.

        S3 applies the retention sent with CreateMultipartUpload; some servers (moto)
        don't. Retention can be extended but never shortened, so only a missing one
        is set.
        """
        if self.retention_days is None:
            return
        stat = self.client.stat_object(self.bucket, key.path)
        if stat.metadata and stat.metadata.get("x-amz-object-lock-retain-until-date"):
            return
        until = self._clock() + timedelta(days=self.retention_days)
        self.client.set_object_retention(
            self.bucket, key.path, Retention(COMPLIANCE, until), version_id=stat.version_id
        )

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
        with _unavailable():
            if self._exists(name):
                raise ObjectExistsError(key)
            hasher = StreamHasher()
            buffer = bytearray(self.part_size)
            fill = 0
            mpu: str | None = None
            parts: list[Part] = []
            try:
                for chunk in metered(chunks, hasher, max_size):
                    with memoryview(chunk) as view:
                        pos = 0
                        while pos < len(view):
                            if fill == len(buffer):
                                # A full part and more to come: only now start a multipart
                                # upload (a body that fits one part is PUT once verified).
                                if mpu is None:
                                    mpu = self._create_mpu(
                                        self.bucket, name, self._retention_headers()
                                    )
                                with memoryview(buffer) as whole:
                                    parts.append(
                                        self._upload_part(
                                            self.bucket, name, mpu, len(parts) + 1, whole
                                        )
                                    )
                                fill = 0
                                if len(parts) % PARTS_PER_SIZE_STEP == 0:
                                    buffer = bytearray(min(2 * len(buffer), MAX_PART_SIZE))
                            n = min(len(view) - pos, len(buffer) - fill)
                            buffer[fill : fill + n] = view[pos : pos + n]
                            fill += n
                            pos += n
                digests = hasher.digests()
                check_expected(digests, expected)  # before any object exists
                with memoryview(buffer) as whole:
                    if mpu is None:
                        self._put_new(key, whole[:fill])
                    else:
                        if fill:
                            parts.append(
                                self._upload_part(
                                    self.bucket, name, mpu, len(parts) + 1, whole[:fill]
                                )
                            )
                        try:
                            self._complete(self.bucket, name, mpu, parts, create_only=True)
                        except S3Error as exc:
                            if _precondition_failed(exc):
                                raise ObjectExistsError(key) from None
                            raise
                        mpu = None
                self._ensure_retention(key)
            except BaseException:
                if mpu is not None:
                    self._abort_quietly(self.bucket, name, mpu)
                raise
        return digests

    # -- resumable uploads -------------------------------------------------------------------

    @staticmethod
    def _prefix(upload_id: UUID) -> str:
        return f"{_UPLOADS}{parse_id(upload_id)}/"

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
        body = info.to_json()
        with _unavailable():
            if self._exists(key.path):
                raise ObjectExistsError(key)
            headers: DictType = {
                "Content-Type": "application/json",
                "Content-MD5": _md5_b64(body),
                "If-None-Match": "*",
            }
            try:
                self.client._put_object(
                    self.staging_bucket, self._prefix(upload_id) + "info.json", body, headers
                )
            except S3Error as exc:
                if _precondition_failed(exc):
                    raise UploadExistsError(upload_id) from None
                raise
        return info.state(upload_id, offset=0, updated=info.created)

    def _read_info(self, upload_id: UUID) -> UploadInfo:
        try:
            response = self.client.get_object(
                self.staging_bucket, self._prefix(upload_id) + "info.json"
            )
        except S3Error as exc:
            if exc.code in _NOT_FOUND:
                raise UploadNotFoundError(upload_id) from None
            raise
        try:
            return UploadInfo.from_json(upload_id, response.data)
        finally:
            response.close()
            response.release_conn()

    def _objects(self, bucket: str, prefix: str) -> list[Any]:
        return list(self.client.list_objects(bucket, prefix=prefix, recursive=True))

    def _segments(self, upload_id: UUID) -> list[_Segment]:
        prefix = self._prefix(upload_id) + "seg/"
        segments = []
        for o in self._objects(self.staging_bucket, prefix):
            suffix = o.object_name[len(prefix) :]
            if not suffix.isdigit():
                raise UploadCorruptError(upload_id, f"unexpected staging object {o.object_name}")
            segments.append(_Segment(int(suffix), o.size, o.object_name, o.last_modified))
        segments.sort(key=lambda s: s.start)
        expected = 0
        for i, segment in enumerate(segments):
            if segment.start != expected:
                raise UploadCorruptError(upload_id, f"staged bytes missing at {expected}")
            if i < len(segments) - 1 and segment.size < MIN_PART_SIZE:
                raise UploadCorruptError(upload_id, f"short segment at {segment.start}")
            expected = segment.end
        return segments

    @staticmethod
    def _stored(segments: list[_Segment]) -> int:
        return segments[-1].end if segments else 0

    def _segment_name(self, upload_id: UUID, start: int) -> str:
        return f"{self._prefix(upload_id)}seg/{start:020d}"

    def _put_segment(self, upload_id: UUID, start: int, data: memoryview) -> None:
        headers: DictType = {"Content-Type": _OCTETS, "Content-MD5": _md5_b64(data)}
        self.client._put_object(
            self.staging_bucket, self._segment_name(upload_id, start), cast(bytes, data), headers
        )

    def _read(self, bucket: str, name: str, offset: int, length: int) -> Iterator[bytes]:
        if length == 0:
            return iter(())
        response = self.client.get_object(bucket, name, offset=offset, length=length)
        return _ResponseChunks(response, length)

    def _read_staged(self, segments: list[_Segment], start: int, end: int) -> Iterator[bytes]:
        for segment in segments:
            lo, hi = max(start, segment.start), min(end, segment.end)
            if lo < hi:
                yield from self._read(
                    self.staging_bucket, segment.name, lo - segment.start, hi - lo
                )

    def _hasher_at(self, upload_id: UUID, segments: list[_Segment]) -> StreamHasher:
        """Hash state over the staged bytes; re-reads what this process hasn't hashed.

        After a restart that is every staged byte: resuming costs one sequential
        read of the staging objects.
        """
        stored = self._stored(segments)
        hasher = self._hashers.take(upload_id)
        if hasher is None or hasher.size > stored:
            hasher = StreamHasher()
        for chunk in self._read_staged(segments, hasher.size, stored):
            hasher.update(chunk)
        return hasher

    def _state(self, upload_id: UUID, info: UploadInfo, segments: list[_Segment]) -> UploadState:
        times = [s.last_modified for s in segments if s.last_modified is not None]
        updated = max([info.created, *times])
        return info.state(upload_id, offset=self._stored(segments), updated=updated)

    def append(self, upload_id: UUID, offset: int, chunks: Iterable[bytes]) -> UploadState:
        with _unavailable():
            lease = self._lock.acquire(upload_id)
            try:
                return self._append(upload_id, offset, chunks, lease)
            finally:
                lease.release()

    def _append(
        self, upload_id: UUID, offset: int, chunks: Iterable[bytes], lease: Lease
    ) -> UploadState:
        info = self._read_info(upload_id)
        segments = self._segments(upload_id)
        stored = self._stored(segments)
        if offset != stored:
            raise OffsetMismatchError(upload_id, expected=stored, got=offset)
        hasher = self._hasher_at(upload_id, segments)
        buffer = bytearray(self.segment_size)
        fill = 0
        start = stored
        if segments and segments[-1].size < self.segment_size:
            # A short last segment: reload it and write it again, longer.
            tail = segments.pop()
            start = tail.start
            for chunk in self._read(self.staging_bucket, tail.name, 0, tail.size):
                buffer[fill : fill + len(chunk)] = chunk
                fill += len(chunk)
        already_stored = fill
        limit = info.limit

        def flush() -> None:
            nonlocal start, fill, already_stored, stored
            if fill > already_stored:
                lease.renew()
                with memoryview(buffer) as whole:
                    self._put_segment(upload_id, start, whole[:fill])
                stored = start + fill
                if fill == len(buffer):
                    start, fill = start + fill, 0
                already_stored = fill

        body = iter(chunks)
        removed = False
        try:
            while True:
                try:
                    chunk = next(body)
                except StopIteration:
                    break
                except BaseException:
                    # The body broke off (a client disconnect): keep what arrived, so the
                    # client resumes from there.
                    flush()
                    raise
                if not chunk:
                    continue
                if limit is not None and hasher.size + len(chunk) > limit:
                    raise TooLargeError(limit)
                with memoryview(chunk) as view:
                    pos = 0
                    while pos < len(view):
                        n = min(len(view) - pos, len(buffer) - fill)
                        buffer[fill : fill + n] = view[pos : pos + n]
                        hasher.update(view[pos : pos + n])
                        fill += n
                        pos += n
                        if fill == len(buffer):
                            flush()
            flush()
        except TooLargeError:
            removed = True
            self._remove_upload(upload_id)
            raise
        finally:
            if removed:
                self._hashers.drop(upload_id)
            else:  # kept only if it covers exactly the bytes stored
                self._hashers.keep(upload_id, hasher, stored)
        return info.state(upload_id, offset=stored, updated=self._clock())

    def status(self, upload_id: UUID) -> UploadState:
        with _unavailable():
            info = self._read_info(upload_id)
            return self._state(upload_id, info, self._segments(upload_id))

    def finish(self, upload_id: UUID, expected_sha256: str | None = None) -> Digests:
        expected = parse_expected(expected_sha256)
        with _unavailable():
            lease = self._lock.acquire(upload_id)
            try:
                info = self._read_info(upload_id)
                segments = self._segments(upload_id)
                stored = self._stored(segments)
                if info.length is not None and stored != info.length:
                    raise UploadIncompleteError(upload_id, offset=stored, length=info.length)
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
                if stored == 0:
                    self._put_new(info.key, b"")
                else:
                    sources = [_Source(self.staging_bucket, s.name, s.size) for s in segments]
                    self._compose(upload_id, self.bucket, info.key, sources)
                self._ensure_retention(info.key)
                self._hashers.drop(upload_id)
                self._remove_upload(upload_id)
            finally:
                lease.release()
        return digests

    def _compose(
        self, upload_id: UUID, bucket: str, target: ExhibitKey | str, sources: list[_Source]
    ) -> None:
        """Server-side copy of `sources`, in order, into one object (UploadPartCopy).

        An ExhibitKey target is the evidence object: created only if absent. When
        the sources need more than `max_parts` parts, runs of them are first
        composed into intermediate objects in the staging bucket.
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
                name = f"{self._prefix(upload_id)}compose/{uuid.uuid4().hex}"
                self._compose(upload_id, self.staging_bucket, name, group)
                intermediates.append(_Source(self.staging_bucket, name, sum(s.size for s in group)))
            self._compose(upload_id, bucket, target, intermediates)
            return
        final = isinstance(target, ExhibitKey)
        name = target.path if isinstance(target, ExhibitKey) else target
        mpu = self._create_mpu(bucket, name, self._retention_headers() if final else {})
        try:
            parts = []
            for number, (src, offset, length) in enumerate(ranges, start=1):
                headers: DictType = {
                    "x-amz-copy-source": quote(f"/{src.bucket}/{src.name}"),
                    "x-amz-copy-source-range": f"bytes={offset}-{offset + length - 1}",
                }
                etag, _ = self.client._upload_part_copy(bucket, name, mpu, number, headers)
                parts.append(Part(number, etag))
            try:
                self._complete(bucket, name, mpu, parts, create_only=final)
            except S3Error as exc:
                if final and _precondition_failed(exc):
                    assert isinstance(target, ExhibitKey)
                    raise ObjectExistsError(target) from None
                raise
        except BaseException:
            self._abort_quietly(bucket, name, mpu)
            raise

    def _remove_upload(self, upload_id: UUID) -> None:
        """Delete the record first (the upload is gone), then its bytes; not the lease."""
        prefix = self._prefix(upload_id)
        with contextlib.suppress(S3Error):
            self.client.remove_object(self.staging_bucket, prefix + "info.json")
        for o in self._objects(self.staging_bucket, prefix):
            if o.object_name != prefix + "lease":
                self.client.remove_object(self.staging_bucket, o.object_name)

    def abort(self, upload_id: UUID) -> None:
        with _unavailable():
            lease = self._lock.acquire(upload_id)
            try:
                self._read_info(upload_id)
                self._hashers.drop(upload_id)
                self._remove_upload(upload_id)
            finally:
                lease.release()

    def expire(self, older_than: datetime) -> list[UUID]:
        removed: list[UUID] = []
        with _unavailable():
            for entry in self.client.list_objects(self.staging_bucket, prefix=_UPLOADS):
                try:
                    upload_id = parse_id(entry.object_name[len(_UPLOADS) :].rstrip("/"))
                except ValueError:
                    continue  # not ours
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
            for bucket, prefix in ((self.bucket, "cases/"), (self.staging_bucket, _UPLOADS)):
                for name, mpu, initiated in self._multipart_uploads(bucket, prefix):
                    if initiated is None or initiated < older_than:
                        self._abort_quietly(bucket, name, mpu)
        return removed

    def _idle_since(self, upload_id: UUID, older_than: datetime, *, ignore_lease: bool) -> bool:
        lease = S3LeaseLock.name(upload_id)
        times = [
            o.last_modified
            for o in self._objects(self.staging_bucket, self._prefix(upload_id))
            if o.last_modified is not None and not (ignore_lease and o.object_name == lease)
        ]
        return not times or max(times) < older_than

    def _multipart_uploads(
        self, bucket: str, prefix: str
    ) -> Iterator[tuple[str, str, datetime | None]]:
        key_marker: str | None = None
        upload_id_marker: str | None = None
        while True:
            result = self.client._list_multipart_uploads(
                bucket, prefix=prefix, key_marker=key_marker, upload_id_marker=upload_id_marker
            )
            for upload in result.uploads:
                if upload.object_name and upload.upload_id:
                    yield upload.object_name, upload.upload_id, upload.initiated_time
            if not result.is_truncated:
                return
            key_marker, upload_id_marker = result.next_key_marker, result.next_upload_id_marker

    # -- reads ----------------------------------------------------------------------------

    def _exists(self, name: str) -> bool:
        try:
            self.client.stat_object(self.bucket, name)
        except S3Error as exc:
            if exc.code in _NOT_FOUND:
                return False
            raise
        return True

    def exists(self, key: ExhibitKey) -> bool:
        with _unavailable():
            return self._exists(key.path)

    def stat(self, key: ExhibitKey) -> int:
        with _unavailable():
            try:
                return cast(int, self.client.stat_object(self.bucket, key.path).size)
            except S3Error as exc:
                if exc.code in _NOT_FOUND:
                    raise ObjectNotFoundError(key) from None
                raise

    def open_range(
        self, key: ExhibitKey, first: int | None = None, last: int | None = None
    ) -> Iterator[bytes]:
        selected = resolve_range(self.stat(key), first, last)
        with _unavailable():
            try:
                return self._read(self.bucket, key.path, selected.first, selected.length)
            except S3Error as exc:
                if exc.code in _NOT_FOUND:
                    raise ObjectNotFoundError(key) from None  # disposed of since stat
                raise

    def rehash(self, key: ExhibitKey) -> Digests:
        hasher = StreamHasher()
        for chunk in self.open_range(key):
            hasher.update(chunk)
        return hasher.digests()

    # -- legal hold and disposal -----------------------------------------------------------

    def set_legal_hold(self, key: ExhibitKey, on: bool) -> None:
        with _unavailable():
            if not self._exists(key.path):
                raise ObjectNotFoundError(key)
            if on:
                self.client.enable_object_legal_hold(self.bucket, key.path)
            else:
                self.client.disable_object_legal_hold(self.bucket, key.path)

    def legal_hold(self, key: ExhibitKey) -> bool:
        with _unavailable():
            if not self._exists(key.path):
                raise ObjectNotFoundError(key)
            return bool(self.client.is_object_legal_hold_enabled(self.bucket, key.path))

    def _retained_until(self, name: str, version_id: str | None) -> datetime | None:
        stat = self.client.stat_object(self.bucket, name, version_id=version_id)
        value = stat.metadata.get("x-amz-object-lock-retain-until-date") if stat.metadata else None
        return from_iso8601utc(value) if value else None

    def dispose(self, key: ExhibitKey) -> DisposalResult:
        name = key.path
        with _unavailable():
            versions = [
                v
                for v in self.client.list_objects(self.bucket, prefix=name, include_version=True)
                if v.object_name == name
            ]
            contents = [v for v in versions if not v.is_delete_marker]
            if not contents:
                raise ObjectNotFoundError(key)
            for v in contents:
                if self.client.is_object_legal_hold_enabled(self.bucket, name, v.version_id):
                    raise LegalHoldActiveError(key)
            now = self._clock()
            until = [u for v in contents if (u := self._retained_until(name, v.version_id))]
            if any(u > now for u in until):
                return DisposalResult(key, removed=False, retained_until=max(until))
            for v in versions:
                try:
                    self.client.remove_object(self.bucket, name, version_id=v.version_id)
                except S3Error as exc:
                    if exc.code != "AccessDenied":
                        raise
                    # COMPLIANCE retention our clock thought over: the server decides.
                    retained = self._retained_until(name, v.version_id)
                    if retained is None:
                        raise
                    return DisposalResult(key, removed=False, retained_until=retained)
        return DisposalResult(key, removed=True)
