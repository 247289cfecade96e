"""One writer per resumable upload: a lease object in the staging bucket.

The default `UploadLock` of `S3Store` (the `evidence.locking` protocol).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from evidence._ingest import utc_now
from evidence.errors import StorageUnavailableError, UploadLockedError
from evidence.locking import Lease
from evidence.s3.client import S3Client, S3RequestError
from evidence.s3.staging import UPLOADS


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
        with contextlib.suppress(StorageUnavailableError):
            lock.client.remove_if_match(lock.bucket, lock.name(self._upload_id), self._etag)


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
        client: S3Client,
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
        return f"{UPLOADS}{upload_id}/lease"

    def write(self, upload_id: UUID, condition: dict[str, str], now: datetime) -> str:
        """Write a fresh lease under `condition`; its ETag, or UploadLockedError."""
        body = json.dumps(
            {"holder": str(uuid.uuid4()), "expires": (now + self.ttl).isoformat()}
        ).encode()
        headers = {"Content-Type": "application/json", **condition}
        try:
            return self.client.put(self.bucket, self.name(upload_id), body, headers)
        except S3RequestError as exc:
            if exc.precondition_failed:
                raise UploadLockedError(upload_id) from None
            raise

    def acquire(self, upload_id: UUID) -> Lease:
        now = self.clock()
        try:
            return S3Lease(self, upload_id, self.write(upload_id, {"If-None-Match": "*"}, now), now)
        except UploadLockedError:
            pass
        try:
            raw, etag = self.client.read_small(self.bucket, self.name(upload_id))
        except S3RequestError as exc:
            if not exc.not_found:
                raise
            # Released meanwhile: one more try.
            return S3Lease(self, upload_id, self.write(upload_id, {"If-None-Match": "*"}, now), now)
        try:
            expires = datetime.fromisoformat(json.loads(raw)["expires"])
        except (KeyError, TypeError, ValueError):
            expires = now  # unreadable: treat as expired rather than lock the upload forever
        if expires > now:
            raise UploadLockedError(upload_id)
        # The holder died: take the lease over, unless someone else just did.
        return S3Lease(self, upload_id, self.write(upload_id, {"If-Match": etag}, now), now)
