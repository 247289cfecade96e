"""The seam for keeping one writer per resumable upload.

`FilesystemStore` uses the kernel (`flock`, released when the holder dies).
`S3Store` takes an `UploadLock`; its default is a lease object in the staging
bucket (`evidence.s3.S3LeaseLock`). A server that already serialises requests
per upload (for example with a database row lock) can pass its own.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID


class Lease(Protocol):
    """Exclusive right to write one upload, until released or lost."""

    def renew(self) -> None:
        """Extend the lease before more bytes are written; `UploadLockedError` if it was lost."""

    def release(self) -> None:
        """Give the upload up; never raises for a lease already gone."""


class UploadLock(Protocol):
    def acquire(self, upload_id: UUID) -> Lease:
        """Take the upload or raise `UploadLockedError` at once (never waits)."""
        ...
