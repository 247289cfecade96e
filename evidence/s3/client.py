"""The S3 requests of the store, and the only module that calls minio.

minio's public API cannot send `If-None-Match`, a checksum of our own, or parts we
buffer ourselves, so a few requests go through private methods of minio 7.2
(`_put_object`, `_create_multipart_upload`, `_upload_part`, `_abort_multipart_upload`,
`_list_multipart_uploads`, `_execute`), and `_build_headers` is overridden so that a
payload hash we computed is signed as it is, not computed again. They are all here,
so a minio upgrade is checked in one file; pin `minio>=7.2,<8`.

Every body we upload carries its digest, which the server checks before it keeps the
bytes (`Checksum`): by default one SHA-256 per body, signed as the SigV4 payload hash
and sent again as `x-amz-checksum-sha256`.

Every failure leaves this module as a `StorageUnavailableError`: an
`S3RequestError` when the server answered with an error (its code and status say
which, for the callers that expect it), the plain error for transport failures and
for answers minio cannot parse.

Nothing here decides that a write succeeded from a field of the server's reply:
Ceph RGW 16.2 answers CompleteMultipartUpload with an empty ETag. The store looks
at the object itself afterwards (`head`, `list_parts`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final, cast
from xml.etree import ElementTree as ET
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import escape

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.credentials.credentials import Credentials
from minio.error import MinioException, S3Error
from minio.helpers import DictType, check_bucket_name
from minio.objectlockconfig import DAYS, ObjectLockConfig
from minio.retention import Retention
from minio.time import to_iso8601utc
from minio.xml import findall, findtext

from evidence.errors import StorageUnavailableError
from evidence.hashing import CHUNK_SIZE

log = logging.getLogger(__name__)

OCTETS: Final = "application/octet-stream"
ZIP: Final = "application/zip"
PAYLOAD_SHA256: Final = "x-amz-content-sha256"
CHECKSUM_SHA256: Final = "x-amz-checksum-sha256"
_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchVersion", "ResourceNotFound"})
_PRECONDITION_FAILED = 412
# How S3 servers say "this object was never given a legal hold" (RGW: 404).
_NO_LOCK_CONFIG = frozenset(
    {"ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration"}
)
# RFC 3339 as S3 servers send it: RGW gives nine fractional digits, AWS three, some none.
_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:Z|[+-]00:?00)")


class S3RequestError(StorageUnavailableError):
    """The S3 server refused a request; `code` and `status` are its answer."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(f"S3 {code}: {message}")
        self.code = code
        self.status = status

    @property
    def not_found(self) -> bool:
        return self.code in _NOT_FOUND

    @property
    def precondition_failed(self) -> bool:
        return self.code == "PreconditionFailed" or self.status == _PRECONDITION_FAILED

    @property
    def access_denied(self) -> bool:
        return self.code == "AccessDenied"


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    """Turn minio's and urllib3's failures into the evidence package's own."""
    try:
        yield
    except S3Error as exc:
        raise S3RequestError(exc.code or "", exc.response.status, exc.message or "") from exc
    except (MinioException, urllib3.exceptions.HTTPError) as exc:
        raise StorageUnavailableError(f"S3 unreachable or failing: {exc}") from exc
    except (ParseError, ValueError, KeyError, AttributeError, TypeError) as exc:
        # minio parsing an answer it did not expect (a date, an XML document).
        raise StorageUnavailableError(f"S3 answered something unreadable: {exc!r}") from exc


def parse_time(value: str) -> datetime:
    """An S3 timestamp, whatever its number of fractional digits (RGW sends nine)."""
    match = _TIME.fullmatch(value.strip())
    if match is None:
        raise StorageUnavailableError(f"S3 answered an unreadable time {value!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    micros = int((match[7] or "0")[:6].ljust(6, "0"))
    try:
        return datetime(year, month, day, hour, minute, second, micros, tzinfo=UTC)
    except ValueError:
        raise StorageUnavailableError(f"S3 answered an impossible time {value!r}") from None


def valid_bucket_name(name: str) -> bool:
    """S3's bucket naming rules, as minio checks them before any request."""
    try:
        check_bucket_name(name)
    except ValueError:
        return False
    return True


def md5_b64(data: bytes | bytearray | memoryview) -> str:
    """Content-MD5 of `data`: the server refuses the request if the bytes differ."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


class Checksum(StrEnum):
    """How each body we upload tells the server its digest, for the server to check.

    AWS wants one of Content-MD5 or `x-amz-checksum-*` on every upload with Object Lock
    parameters; docs/operations.md says which server checks what."""

    SHA256 = "sha256"
    """One SHA-256 of the body, signed as its SigV4 payload hash (`x-amz-content-sha256`:
    AWS, MinIO and Ceph RGW hash the body they receive and refuse it if it differs, on
    any transport) and sent again as `x-amz-checksum-sha256` (checked and kept by AWS
    and MinIO; Ceph RGW 16.2 ignores it). Multipart uploads declare the algorithm."""
    MD5 = "md5"
    """Content-MD5, and the payload hash minio chooses (a second hash over plain HTTP,
    UNSIGNED-PAYLOAD over TLS): for a server that refuses checksum headers. MD5 costs
    more CPU than SHA-256 with SHA-NI (580 against 1,330 MB/s here)."""


def body_headers(data: bytes | bytearray | memoryview, checksum: Checksum) -> DictType:
    """The headers by which the server checks that it received `data`."""
    if checksum is Checksum.MD5:
        return {"Content-MD5": md5_b64(data)}
    digest = hashlib.sha256(data).digest()
    return {
        PAYLOAD_SHA256: digest.hex(),
        CHECKSUM_SHA256: base64.b64encode(digest).decode(),
        # As AWS's SDKs send it; moto wants it (or Content-MD5) on Object Lock PUTs.
        "x-amz-sdk-checksum-algorithm": "SHA256",
    }


class _Minio(Minio):
    """minio, but a payload hash given with a request is signed as given, not computed
    again over the body (the caller computed it once, for the checksum header too)."""

    def _build_headers(
        self,
        host: str,
        headers: DictType | None = None,
        body: bytes | None = None,
        creds: Credentials | None = None,
    ) -> tuple[DictType, datetime]:
        given = headers.get(PAYLOAD_SHA256) if headers else None
        if given is None or creds is None:
            return super()._build_headers(host, headers, body, creds)
        built, date = super()._build_headers(host, headers, None, creds)  # no hashing
        built[PAYLOAD_SHA256] = given
        if body:
            built["Content-Length"] = str(len(body))
        return built, date


def new_minio(
    endpoint: str, access_key: str, secret_key: str, *, secure: bool, region: str | None
) -> Minio:
    """The minio client the store uses (a plain `Minio` works too, hashing bodies twice)."""
    return _Minio(
        endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region
    )


@dataclass(frozen=True, slots=True)
class Listed:
    """One object (or object version, or delete marker) of a listing."""

    name: str
    size: int
    last_modified: datetime | None
    version_id: str | None = None
    is_delete_marker: bool = False


@dataclass(frozen=True, slots=True)
class Head:
    """What HEAD tells about one object version."""

    size: int
    version_id: str | None
    metadata: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class UploadedPart:
    """One part as ListParts tells it; `sha256` (base64) where the server keeps checksums."""

    number: int
    etag: str
    size: int
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class PendingUpload:
    """A multipart upload not completed nor aborted."""

    name: str
    upload_id: str
    initiated: datetime | None


class ResponseChunks(Iterator[bytes]):
    """Chunks of one GET; closes the response when exhausted, failed or closed."""

    def __init__(self, response: urllib3.BaseHTTPResponse, expected: int) -> None:
        self._response: urllib3.BaseHTTPResponse | None = response
        self._chunks = response.stream(CHUNK_SIZE)
        self._remaining = expected

    def __next__(self) -> bytes:
        if self._response is None:
            raise StopIteration
        try:
            with _mapped():
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


class S3Client:
    """The S3 requests the store makes, each one mapped to evidence errors."""

    def __init__(self, minio: Minio, checksum: Checksum = Checksum.SHA256) -> None:
        self.minio = minio
        self.checksum = checksum
        """For single PUTs; a multipart upload's own is given with each of its requests."""

    # -- buckets ----------------------------------------------------------------------------

    def bucket_exists(self, bucket: str) -> bool:
        with _mapped():
            return bool(self.minio.bucket_exists(bucket))

    def make_bucket(self, bucket: str, *, object_lock: bool) -> None:
        with _mapped():
            self.minio.make_bucket(bucket, object_lock=object_lock)

    def default_retention_mode(self, bucket: str) -> str | None:
        """The bucket's default retention mode (None: Object Lock without a default)."""
        with _mapped():
            return self.minio.get_object_lock_config(bucket).mode

    def set_default_retention(self, bucket: str, days: int) -> None:
        with _mapped():
            self.minio.set_object_lock_config(bucket, ObjectLockConfig(COMPLIANCE, days, DAYS))

    # -- objects --------------------------------------------------------------------------------

    def put(
        self,
        bucket: str,
        name: str,
        data: bytes | bytearray | memoryview,
        headers: Mapping[str, str],
    ) -> str:
        """PutObject of `data` with its digest and `headers` (conditions, retention); its ETag."""
        all_headers: DictType = {**body_headers(data, self.checksum), **headers}
        all_headers.setdefault("Content-Type", OCTETS)
        with _mapped():
            result = self.minio._put_object(bucket, name, cast(bytes, data), all_headers)
        return cast(str, result.etag)

    def put_file(self, bucket: str, name: str, path: str, part_size: int) -> None:
        """Upload a whole file (multipart beyond `part_size`), for a bucket without
        Object Lock: minio's own way (over plain HTTP, it signs each part's SHA-256)."""
        with _mapped():
            self.minio.fput_object(bucket, name, path, content_type=ZIP, part_size=part_size)

    def head(self, bucket: str, name: str, version_id: str | None = None) -> Head | None:
        """The object's size, version and headers; None if there is no such object."""
        try:
            with _mapped():
                stat = self.minio.stat_object(bucket, name, version_id=version_id)
        except S3RequestError as exc:
            if exc.not_found:
                return None
            raise
        return Head(
            size=cast(int, stat.size),
            version_id=stat.version_id,
            # Header names are case-insensitive; servers differ in how they spell them.
            metadata={k.lower(): v for k, v in (stat.metadata or {}).items()},
        )

    def read(self, bucket: str, name: str, offset: int, length: int) -> Iterator[bytes]:
        """`length` bytes from `offset`; `S3RequestError` (not_found) if the object is gone."""
        if length == 0:
            return iter(())
        with _mapped():
            response = self.minio.get_object(bucket, name, offset=offset, length=length)
        return ResponseChunks(response, length)

    def read_small(self, bucket: str, name: str) -> bytes:
        """A small object's bytes, in one request."""
        with _mapped():
            response = self.minio.get_object(bucket, name)
            try:
                return response.data
            finally:
                response.close()
                response.release_conn()

    def list_objects(
        self, bucket: str, prefix: str, *, versions: bool = False, recursive: bool = True
    ) -> list[Listed]:
        with _mapped():
            return [
                Listed(
                    name=o.object_name,
                    size=o.size or 0,
                    last_modified=o.last_modified,
                    version_id=o.version_id,
                    is_delete_marker=bool(o.is_delete_marker),
                )
                for o in self.minio.list_objects(
                    bucket, prefix=prefix, recursive=recursive, include_version=versions
                )
            ]

    def remove(self, bucket: str, name: str, version_id: str | None = None) -> None:
        with _mapped():
            self.minio.remove_object(bucket, name, version_id=version_id)

    # -- multipart uploads ----------------------------------------------------------------------

    def create_multipart_upload(
        self, bucket: str, name: str, headers: Mapping[str, str], checksum: Checksum
    ) -> str:
        all_headers: DictType = {**headers, "Content-Type": OCTETS}
        if checksum is Checksum.SHA256:
            # AWS refuses part checksums of an algorithm the upload did not declare.
            all_headers["x-amz-checksum-algorithm"] = "SHA256"
        with _mapped():
            return self.minio._create_multipart_upload(bucket, name, all_headers)

    def upload_part(
        self,
        bucket: str,
        name: str,
        upload_id: str,
        number: int,
        data: memoryview,
        checksum: Checksum,
    ) -> None:
        """Nothing of the reply is kept: `list_parts` says what the server holds."""
        with _mapped():
            self.minio._upload_part(
                bucket, name, cast(bytes, data), body_headers(data, checksum), upload_id, number
            )

    def complete_multipart_upload(
        self,
        bucket: str,
        name: str,
        upload_id: str,
        parts: list[UploadedPart],
        *,
        create_only: bool,
    ) -> None:
        """Ask for the object to be made of `parts`. Whether it was is for the caller to
        find out from the object: the reply may be an error though it was made, or an
        ETag-less 200 (RGW), or a 200 with an error document (S3)."""
        body = complete_body(parts)
        headers: DictType = {"Content-Type": "application/xml", "Content-MD5": md5_b64(body)}
        if create_only:
            headers["If-None-Match"] = "*"
        with _mapped():
            response = self.minio._execute(
                "POST",
                bucket,
                name,
                body=body,
                headers=headers,
                query_params={"uploadId": upload_id},
            )
            response.close()

    def abort_multipart_upload(self, bucket: str, name: str, upload_id: str) -> None:
        with _mapped():
            self.minio._abort_multipart_upload(bucket, name, upload_id)

    def abort_quietly(self, bucket: str, name: str, upload_id: str) -> None:
        """Abort, or leave it to `expire()` if that fails too."""
        try:
            self.abort_multipart_upload(bucket, name, upload_id)
        except StorageUnavailableError:
            log.warning("could not abort multipart upload %s of %s; expire() will", upload_id, name)

    def list_parts(self, bucket: str, name: str, upload_id: str) -> list[UploadedPart] | None:
        """The parts the server holds for an upload, in order; None: no such upload."""
        parts: list[UploadedPart] = []
        marker: str | None = None
        while True:
            query: DictType = {"uploadId": upload_id, "max-parts": "1000"}
            if marker:
                query["part-number-marker"] = marker
            try:
                with _mapped():
                    response = self.minio._execute("GET", bucket, name, query_params=query)
                    page, marker = parse_list_parts(response.data)
            except S3RequestError as exc:
                if exc.code == "NoSuchUpload":
                    return None
                raise
            parts.extend(page)
            if marker is None:
                return sorted(parts, key=lambda p: p.number)

    def pending_uploads(self, bucket: str, prefix: str) -> Iterator[PendingUpload]:
        key_marker: str | None = None
        upload_id_marker: str | None = None
        while True:
            with _mapped():
                result = self.minio._list_multipart_uploads(
                    bucket, prefix=prefix, key_marker=key_marker, upload_id_marker=upload_id_marker
                )
            for upload in result.uploads:
                if upload.object_name and upload.upload_id:
                    yield PendingUpload(upload.object_name, upload.upload_id, upload.initiated_time)
            if not result.is_truncated:
                return
            key_marker, upload_id_marker = result.next_key_marker, result.next_upload_id_marker

    # -- Object Lock ----------------------------------------------------------------------------

    def legal_hold(self, bucket: str, name: str, version_id: str | None = None) -> bool:
        """Whether the version is held; an object never held has no hold (RGW: 404)."""
        try:
            with _mapped():
                return bool(self.minio.is_object_legal_hold_enabled(bucket, name, version_id))
        except S3RequestError as exc:
            if exc.code in _NO_LOCK_CONFIG:
                return False
            raise

    def set_legal_hold(
        self, bucket: str, name: str, on: bool, version_id: str | None = None
    ) -> None:
        with _mapped():
            if on:
                self.minio.enable_object_legal_hold(bucket, name, version_id)
            else:
                self.minio.disable_object_legal_hold(bucket, name, version_id)

    def set_retention(
        self, bucket: str, name: str, until: datetime, version_id: str | None = None
    ) -> None:
        with _mapped():
            self.minio.set_object_retention(
                bucket, name, Retention(COMPLIANCE, until), version_id=version_id
            )


def parse_list_parts(document: bytes) -> tuple[list[UploadedPart], str | None]:
    """One page of a ListParts answer, and the marker of the next (None: the last page).

    Parsed here, not by minio 7.2, which drops the parts' checksums."""
    # The answer of the store's own S3 server, parsed as minio parses every other one.
    root = ET.fromstring(document)  # noqa: S314
    parts = [
        UploadedPart(
            number=int(cast(str, findtext(p, "PartNumber", True))),
            etag=cast(str, findtext(p, "ETag", True)).replace('"', ""),
            size=int(cast(str, findtext(p, "Size", True))),
            sha256=findtext(p, "ChecksumSHA256") or None,
        )
        for p in findall(root, "Part")
    ]
    truncated = (findtext(root, "IsTruncated") or "").lower() == "true"
    marker = findtext(root, "NextPartNumberMarker") or None
    return parts, marker if truncated else None


def complete_body(parts: list[UploadedPart]) -> bytes:
    """The CompleteMultipartUpload document; each part's checksum as listed, where the
    server keeps one (AWS wants it back when the upload declared an algorithm)."""
    return (
        "<CompleteMultipartUpload>"
        + "".join(
            f"<Part><PartNumber>{p.number}</PartNumber>"
            f"<ETag>&quot;{escape(p.etag)}&quot;</ETag>"
            + (f"<ChecksumSHA256>{escape(p.sha256)}</ChecksumSHA256>" if p.sha256 else "")
            + "</Part>"
            for p in parts
        )
        + "</CompleteMultipartUpload>"
    ).encode()


def retention_headers(until: datetime) -> dict[str, str]:
    """The headers that give a new object COMPLIANCE retention until `until`."""
    return {
        "x-amz-object-lock-mode": COMPLIANCE,
        "x-amz-object-lock-retain-until-date": cast(str, to_iso8601utc(until)),
    }


def retained_until(head: Head) -> datetime | None:
    """The version's retain-until date, in whatever mode (None: not retained)."""
    value = head.metadata.get("x-amz-object-lock-retain-until-date")
    return parse_time(value) if value else None


def retention_mode(head: Head) -> str | None:
    return head.metadata.get("x-amz-object-lock-mode", "").upper() or None
