"""The evidence bucket: creating an object once, checking it, protecting it, removing it.

Creation (ADR 0011, ADR 0025), for put_stream and a resumable upload's finish alike:

1. Under the key's lease (`object:<bucket>:<key>` in the store's LeaseBook) look
   for any version or delete marker under the key: an occupied key is refused.
   Conditional headers are sent as well, but nothing rests on them: RGW 16.2
   ignores `If-None-Match: *` on PutObject and CompleteMultipartUpload.
2. PutObject of a small verified body, or CompleteMultipartUpload of the parts
   the server lists for the upload (checked to add up to the bytes we sent).
   A reply is never taken as proof either way: an error reply (or a lost one)
   is followed by a look at the object, which may have been made after all.
3. `seal`: HEAD the object; its size must be what we wrote; give it COMPLIANCE
   retention explicitly (RGW ignores the retention headers of
   CreateMultipartUpload and applies the bucket's default) and read it back.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Final

from minio.commonconfig import COMPLIANCE

from evidence.errors import (
    LeaseHeldError,
    LegalHoldActiveError,
    ObjectExistsError,
    ObjectNotFoundError,
    StorageUnavailableError,
)
from evidence.keys import ExhibitKey
from evidence.locking import LeaseBook
from evidence.s3.client import (
    Checksum,
    S3Client,
    S3RequestError,
    retained_until,
    retention_headers,
    retention_mode,
)
from evidence.store import DisposalResult

log = logging.getLogger(__name__)

EXHIBITS: Final = "cases/"
_RETENTION_SLACK: Final = timedelta(hours=1)
"""A date sent when the write began counts as given: a write shorter than this needs no
second request to extend it."""


class EvidenceBucket:
    """The Object Lock bucket that holds one object per exhibit key."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        leases: LeaseBook,
        retention_days: int | None,
        clock: Callable[[], datetime],
        key_wait: float,
    ) -> None:
        self.client = client
        self.name = bucket
        self.retention_days = retention_days
        self._leases = leases
        self._clock = clock
        self._key_wait = key_wait

    # -- the key's lease -------------------------------------------------------------------

    @contextlib.contextmanager
    def key_lock(self, key: ExhibitKey) -> Iterator[None]:
        """Hold the key's lease; a holder keeps it for a few requests, so wait a little."""
        name = f"object:{self.name}:{key.path}"
        deadline = time.monotonic() + self._key_wait
        pause = 0.02
        while True:
            try:
                lease = self._leases.acquire(name)
                break
            except LeaseHeldError:
                if time.monotonic() > deadline:
                    raise StorageUnavailableError(
                        f"another write or disposal of {key} has held it for {self._key_wait:.0f} s"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.5)
        try:
            yield
        finally:
            lease.release()

    def occupied(self, key: ExhibitKey) -> bool:
        """Any version or delete marker under the key: a new object would stack on it."""
        return any(
            v.name == key.path for v in self.client.list_objects(self.name, key.path, versions=True)
        )

    # -- creation --------------------------------------------------------------------------

    def _wanted_until(self) -> datetime | None:
        if self.retention_days is None:
            return None
        return self._clock() + timedelta(days=self.retention_days)

    def creation_headers(self) -> dict[str, str]:
        """Retention for a server that applies it at creation (AWS, MinIO, moto on PUT)."""
        until = self._wanted_until()
        return {} if until is None else retention_headers(until)

    def put_small(self, key: ExhibitKey, data: bytes | bytearray | memoryview) -> None:
        """PutObject of a verified body; the caller holds the key's lease."""
        headers = {**self.creation_headers(), "If-None-Match": "*"}
        try:
            self.client.put(self.name, key.path, data, headers)
        except S3RequestError as exc:
            if exc.precondition_failed:
                raise ObjectExistsError(key) from None
            raise
        except StorageUnavailableError:
            if not self._made(key, len(data)):
                raise
            log.warning("PutObject of %s answered an error, but the object is there", key)

    @property
    def checksum(self) -> Checksum:
        """How new uploads tell the server their bodies' digests."""
        return self.client.checksum

    def start_multipart(self, key: ExhibitKey) -> str:
        """A multipart upload whose parts carry `self.checksum`."""
        return self.client.create_multipart_upload(
            self.name, key.path, self.creation_headers(), self.checksum
        )

    def upload_part(
        self, key: ExhibitKey, upload_id: str, number: int, data: memoryview, checksum: Checksum
    ) -> None:
        """`checksum`: the one the multipart upload was started with."""
        self.client.upload_part(self.name, key.path, upload_id, number, data, checksum)

    def complete(self, key: ExhibitKey, upload_id: str, parts: int, size: int) -> None:
        """Make the object of parts 1..`parts`, which must hold `size` bytes in all.

        The part list (and ETags) come from the server's ListParts, not from the replies
        to UploadPart. The caller holds the key's lease."""
        listed = self.client.list_parts(self.name, key.path, upload_id)
        if listed is None:
            if self._made(key, size):
                return  # completed by an earlier attempt whose reply was lost
            raise StorageUnavailableError(f"multipart upload of {key} is gone")
        chosen = [p for p in listed if p.number <= parts]
        if [p.number for p in chosen] != list(range(1, parts + 1)):
            raise StorageUnavailableError(f"parts of {key} missing on the server")
        if sum(p.size for p in chosen) != size:
            raise StorageUnavailableError(f"parts of {key} do not hold the {size} bytes sent")
        try:
            self.client.complete_multipart_upload(
                self.name,
                key.path,
                upload_id,
                chosen,
                create_only=True,
            )
        except S3RequestError as exc:
            if exc.precondition_failed:
                raise ObjectExistsError(key) from None
            if not self._made(key, size):
                raise
            log.warning("completing %s answered %s, but the object is there", key, exc.code)
        except StorageUnavailableError:
            if not self._made(key, size):
                raise
            log.warning("completing %s failed to answer, but the object is there", key)

    def _made(self, key: ExhibitKey, size: int) -> bool:
        head = self.client.head(self.name, key.path)
        return head is not None and head.size == size

    def seal(self, key: ExhibitKey, size: int | None = None) -> datetime | None:
        """Check the new object and give it its retention; the retain-until date.

        Retention can be extended, never shortened: a bucket default longer than
        `retention_days` stays. Raises StorageUnavailableError when the object is not
        as written or the server did not apply the retention."""
        head = self.client.head(self.name, key.path)
        if head is None:
            raise ObjectNotFoundError(key)
        if size is not None and head.size != size:
            raise StorageUnavailableError(f"{key} holds {head.size} bytes, {size} were written")
        wanted = self._wanted_until()
        current = retained_until(head)
        if wanted is None:
            return current
        if retention_mode(head) == COMPLIANCE and current and current >= wanted - _RETENTION_SLACK:
            return current
        self.client.set_retention(self.name, key.path, wanted, version_id=head.version_id)
        head = self.client.head(self.name, key.path, head.version_id)
        current = None if head is None else retained_until(head)
        if (
            head is None
            or retention_mode(head) != COMPLIANCE
            or current is None
            or current < wanted - _RETENTION_SLACK
        ):
            raise StorageUnavailableError(f"the server did not keep the retention of {key}")
        return current

    # -- legal hold ------------------------------------------------------------------------

    def set_legal_hold(self, key: ExhibitKey, on: bool) -> None:
        head = self.client.head(self.name, key.path)
        if head is None:
            raise ObjectNotFoundError(key)
        self.client.set_legal_hold(self.name, key.path, on, head.version_id)
        if self.client.legal_hold(self.name, key.path, head.version_id) != on:
            raise StorageUnavailableError(f"the server did not keep the legal hold of {key}")

    def legal_hold(self, key: ExhibitKey) -> bool:
        head = self.client.head(self.name, key.path)
        if head is None:
            raise ObjectNotFoundError(key)
        return self.client.legal_hold(self.name, key.path, head.version_id)

    # -- disposal and listing ----------------------------------------------------------------

    def dispose(self, key: ExhibitKey) -> DisposalResult:
        """Remove every version of the key, or report the retention that keeps one.

        Idempotent: a disposal that failed half-way (some versions removed, or only
        delete markers left) is completed by the next call."""
        name = key.path
        with self.key_lock(key):
            versions = [
                v
                for v in self.client.list_objects(self.name, name, versions=True)
                if v.name == name
            ]
            if not versions:
                raise ObjectNotFoundError(key)
            contents = [v for v in versions if not v.is_delete_marker]
            for v in contents:
                if self.client.legal_hold(self.name, name, v.version_id):
                    raise LegalHoldActiveError(key)
            now = self._clock()
            until = [u for v in contents if (u := self._retained_until(name, v.version_id))]
            if any(u > now for u in until):
                return DisposalResult(key, removed=False, retained_until=max(until))
            for v in versions:
                try:
                    self.client.remove(self.name, name, version_id=v.version_id)
                except S3RequestError as exc:
                    if not exc.access_denied:
                        raise
                    # Retention our clock thought over: the server decides.
                    retained = self._retained_until(name, v.version_id)
                    if retained is None:
                        raise
                    return DisposalResult(key, removed=False, retained_until=retained)
        return DisposalResult(key, removed=True)

    def _retained_until(self, name: str, version_id: str | None) -> datetime | None:
        head = self.client.head(self.name, name, version_id)
        return None if head is None else retained_until(head)

    def keys(self, prefix: str) -> Iterator[ExhibitKey]:
        """Every exhibit key with a stored version under `prefix`, in key order."""
        seen: set[str] = set()
        for v in self.client.list_objects(self.name, prefix, versions=True):
            if v.is_delete_marker or v.name in seen:
                continue
            seen.add(v.name)
        for name in sorted(seen):
            try:
                yield ExhibitKey.parse(name)
            except ValueError:
                log.warning("object %s in the evidence bucket is not an exhibit key", name)
