"""The storage protocol every evidence store implements, and the values it returns.

Two implementations, chosen by configuration (`evidence.config.open_store`):
`evidence.fs.FilesystemStore`, the embedded default, and `evidence.s3.S3Store`
for MinIO (or any S3) with Object Lock.

Guarantees every implementation gives, and tests/evidence checks on both:

- Content is hashed (SHA-256 and BLAKE3, spec 3) by us, in one pass, as it
  arrives; an S3 ETag is never taken as an integrity hash.
- Creating an object is atomic: at the end either the complete, verified object
  exists or nothing of it does (too large, declared digest wrong, the body
  iterator raising, a crash: none leaves a complete-looking object behind).
- An existing object is never overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable
from uuid import UUID

from evidence.errors import RangeNotSatisfiableError, RetentionActiveError
from evidence.hashing import Digests
from evidence.keys import BundleKey, ExhibitKey


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Inclusive byte offsets `[first, last]`, as in `exhibit.accessed` (spec 2.1)."""

    first: int
    last: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1


def resolve_range(size: int, first: int | None, last: int | None) -> ByteRange:
    """The bytes an HTTP-style range selects in an object of `size` bytes (RFC 9110 14.1.2).

    `(first, last)` is `bytes=first-last`; `(first, None)` is `bytes=first-`;
    `(None, n)` is the suffix `bytes=-n`. `(None, None)` is the whole object,
    which for an empty object is `ByteRange(0, -1)` (length 0). `last` past the
    end is clamped; a range that starts past the end, or selects nothing, raises.
    """
    if first is None and last is None:
        return ByteRange(0, size - 1)
    if first is None:
        assert last is not None
        if last <= 0 or size == 0:
            raise RangeNotSatisfiableError(size, first, last)
        return ByteRange(size - min(last, size), size - 1)
    if first < 0 or first >= size or (last is not None and last < first):
        raise RangeNotSatisfiableError(size, first, last)
    end = size - 1 if last is None else min(last, size - 1)
    return ByteRange(first, end)


@dataclass(frozen=True, slots=True)
class DisposalResult:
    """What disposal did: removed the content, or found retention still protecting it."""

    key: ExhibitKey
    removed: bool
    retained_until: datetime | None = None

    def raise_if_retained(self) -> None:
        """Raising mode: turn a retained result into `RetentionActiveError`."""
        if not self.removed and self.retained_until is not None:
            raise RetentionActiveError(self.key, self.retained_until)


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadState:
    """A resumable upload as stored: `offset` bytes received of `length` (None: deferred)."""

    upload_id: UUID
    key: ExhibitKey
    offset: int
    length: int | None
    max_size: int | None
    metadata: Mapping[str, str] = field(default_factory=dict, hash=False)
    created: datetime
    updated: datetime
    """Last time bytes or state were stored; `expire()` compares against this."""

    @property
    def complete(self) -> bool:
        return self.length is not None and self.offset == self.length


@runtime_checkable
class BlobStore(Protocol):
    """Evidence content storage: write-once objects, resumable uploads, reads, disposal."""

    def prepare(self) -> None:
        """Create the directories or buckets (with Object Lock) if missing; idempotent."""

    # -- one-shot ingest ---------------------------------------------------------------

    def put_stream(
        self,
        key: ExhibitKey,
        chunks: Iterable[bytes],
        *,
        expected_sha256: str | None = None,
        max_size: int | None = None,
    ) -> Digests:
        """Store `chunks` under `key`, hashing them as they pass; atomic and write-once.

        Raises `ObjectExistsError` (nothing changed), `TooLargeError` as soon as more
        than `max_size` bytes arrived, `DigestMismatchError` carrying the computed
        digests; any exception the iterator raises propagates. In every failure
        nothing of the content remains.
        """
        ...

    # -- resumable uploads (tus 1.0 upstream) ---------------------------------------------

    def begin_upload(
        self,
        upload_id: UUID,
        key: ExhibitKey,
        length: int | None,
        metadata: Mapping[str, str] | None = None,
        *,
        max_size: int | None = None,
    ) -> UploadState:
        """Start an upload of `length` bytes (None: not yet known) destined for `key`."""
        ...

    def append(self, upload_id: UUID, offset: int, chunks: Iterable[bytes]) -> UploadState:
        """Add bytes at `offset`, which must equal the bytes stored so far.

        Bytes received before the iterator raises are kept, so the client resumes
        from there. More than the declared length or `max_size` removes the upload
        and raises `TooLargeError`. A second writer gets `UploadLockedError`.
        """
        ...

    def status(self, upload_id: UUID) -> UploadState: ...

    def finish(self, upload_id: UUID, expected_sha256: str | None = None) -> Digests:
        """Create the object from the upload, atomically, with put_stream's guarantees.

        A digest mismatch removes the upload's bytes and raises `DigestMismatchError`.
        """
        ...

    def abort(self, upload_id: UUID) -> None: ...

    def expire(self, older_than: datetime) -> list[UUID]:
        """Remove uploads idle since before `older_than` (and debris of crashed writes).

        Returns the upload ids removed. Uploads being written to are skipped.
        """
        ...

    # -- reads ---------------------------------------------------------------------------

    def exists(self, key: ExhibitKey) -> bool: ...

    def stat(self, key: ExhibitKey) -> int:
        """Size in bytes; `ObjectNotFoundError` if absent."""
        ...

    def open_range(
        self, key: ExhibitKey, first: int | None = None, last: int | None = None
    ) -> Iterator[bytes]:
        """Stream the bytes `resolve_range` selects; errors are raised before the first chunk."""
        ...

    def rehash(self, key: ExhibitKey) -> Digests:
        """Re-read the stored object and recompute both hashes (exhibit.verified, spec 2.1)."""
        ...

    def list_objects(self, case_id: UUID | None = None) -> Iterator[ExhibitKey]:
        """Every key that holds stored content (of one case, or all), in key order.

        For an audit: an object that no custody entry accounts for (an ingest that
        died before its entry, an orphan under retention) shows here and nowhere else.
        """
        ...

    # -- court bundles (ADR 0039) ------------------------------------------------------------

    def put_bundle(self, key: BundleKey, source: Path) -> int:
        """Store the complete file at `source` as the bundle `key`, write-once; its size.

        Raises `ObjectExistsError` if the key holds a bundle already. `source` is the
        caller's scratch file: it may be linked rather than copied, so it must not be
        written to again (the caller removes its own name for it).
        """
        ...

    def bundle_size(self, key: BundleKey) -> int:
        """Size in bytes; `ObjectNotFoundError` if absent."""
        ...

    def open_bundle(
        self, key: BundleKey, first: int | None = None, last: int | None = None
    ) -> Iterator[bytes]:
        """Stream the bundle's bytes `resolve_range` selects; errors before the first chunk."""
        ...

    def remove_bundle(self, key: BundleKey) -> None:
        """Remove the bundle (of an export that ended refused); nothing if it is absent."""
        ...

    def list_bundles(self, case_id: UUID | None = None) -> Iterator[BundleKey]:
        """Every stored bundle (of one case, or all), in key order."""
        ...

    # -- retention, legal hold and disposal ---------------------------------------------------

    def ensure_retention(self, key: ExhibitKey) -> datetime | None:
        """Give the object the retention the store is configured with, if a write that
        failed after creating it left it with less; idempotent. The retain-until date
        (None: no retention). Recovery calls it before it logs an interrupted ingest."""
        ...

    def set_legal_hold(self, key: ExhibitKey, on: bool) -> None: ...

    def legal_hold(self, key: ExhibitKey) -> bool: ...

    def dispose(self, key: ExhibitKey) -> DisposalResult:
        """Remove the content, or report the retention date that still protects it.

        Raises `LegalHoldActiveError` while the object is on hold.
        """
        ...
