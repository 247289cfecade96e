"""One error root for evidence storage, subclasses named for what happened.

No HTTP status codes here: the server maps these to responses in one place.
`EvidenceError` and the two parse errors are defined in `evidence._error_root`,
below `keys` and `hashing`, which raise them; this module names the types of
those two and re-exports all three, so callers import every error from here.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from evidence._error_root import EvidenceError, InvalidDigestError, InvalidKeyError
from evidence.hashing import Digests, Sha256Only
from evidence.keys import BundleKey, ExhibitKey

__all__ = [
    "DigestMismatchError",
    "EvidenceError",
    "InvalidDigestError",
    "InvalidKeyError",
    "LeaseHeldError",
    "LeaseLostError",
    "LegalHoldActiveError",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "OffsetMismatchError",
    "RangeNotSatisfiableError",
    "RejectedContentError",
    "RetentionActiveError",
    "StorageUnavailableError",
    "StoreConfigError",
    "TooLargeError",
    "UploadCorruptError",
    "UploadError",
    "UploadExistsError",
    "UploadIncompleteError",
    "UploadLockedError",
    "UploadNotFoundError",
]


class StoreConfigError(EvidenceError):
    """The store configuration (URL, environment) is malformed or incomplete."""


class RejectedContentError(EvidenceError):
    """Content refused during ingest; nothing of it is left in storage."""


class DigestMismatchError(RejectedContentError):
    """The bytes received do not have the SHA-256 the client declared.

    `computed` has both hashes, or only size and SHA-256 when an S3 upload resumed in
    a process that had not seen its first bytes and so had no BLAKE3 for them (ADR 0025).
    """

    def __init__(self, computed: Digests | Sha256Only, expected_sha256: str) -> None:
        super().__init__(
            f"received bytes have SHA-256 {computed.sha256_hex}, "
            f"the client declared {expected_sha256}"
        )
        self.computed = computed
        self.expected_sha256 = expected_sha256


class TooLargeError(RejectedContentError):
    """The content crosses the configured or declared size limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"content exceeds the limit of {limit} bytes")
        self.limit = limit


class ObjectExistsError(EvidenceError):
    """An object already exists under this key; stored evidence is never overwritten."""

    def __init__(self, key: ExhibitKey | BundleKey) -> None:
        super().__init__(f"an object already exists at {key}")
        self.key = key


class ObjectNotFoundError(EvidenceError):
    """No object under this key."""

    def __init__(self, key: ExhibitKey | BundleKey) -> None:
        super().__init__(f"no object at {key}")
        self.key = key


class RangeNotSatisfiableError(EvidenceError):
    """A byte range lies outside the object (or asks for nothing)."""

    def __init__(self, size: int, first: int | None, last: int | None) -> None:
        super().__init__(f"range {first}-{last} not satisfiable for {size} bytes")
        self.size = size
        self.first = first
        self.last = last


class UploadError(EvidenceError):
    """Root of errors about one resumable upload."""

    def __init__(self, upload_id: UUID, message: str) -> None:
        super().__init__(f"upload {upload_id}: {message}")
        self.upload_id = upload_id


class UploadNotFoundError(UploadError):
    """No such upload: never begun, finished, aborted or expired."""

    def __init__(self, upload_id: UUID) -> None:
        super().__init__(upload_id, "not found")


class UploadExistsError(UploadError):
    """An upload with this id was already begun."""

    def __init__(self, upload_id: UUID) -> None:
        super().__init__(upload_id, "already exists")


class OffsetMismatchError(UploadError):
    """The client appends at an offset other than the bytes stored so far."""

    def __init__(self, upload_id: UUID, *, expected: int, got: int) -> None:
        super().__init__(upload_id, f"offset {got} given, {expected} bytes stored")
        self.expected = expected
        self.got = got


class UploadLockedError(UploadError):
    """Another append or finish holds this upload right now."""

    def __init__(self, upload_id: UUID) -> None:
        super().__init__(upload_id, "another request is writing to it")


class UploadIncompleteError(UploadError):
    """Finish asked for before every declared byte arrived."""

    def __init__(self, upload_id: UUID, *, offset: int, length: int) -> None:
        super().__init__(upload_id, f"{offset} of {length} bytes received")
        self.offset = offset
        self.length = length


class UploadCorruptError(UploadError):
    """The staged bytes of an upload are not contiguous (storage altered underneath us)."""


class RetentionActiveError(EvidenceError):
    """Object Lock retention still protects the object (raising mode of disposal)."""

    def __init__(self, key: ExhibitKey, retained_until: datetime) -> None:
        super().__init__(f"{key} is retained until {retained_until.isoformat()}")
        self.key = key
        self.retained_until = retained_until


class LegalHoldActiveError(EvidenceError):
    """The object is under legal hold and cannot be disposed of."""

    def __init__(self, key: ExhibitKey) -> None:
        super().__init__(f"{key} is under legal hold")
        self.key = key


class StorageUnavailableError(EvidenceError):
    """The storage backend failed or could not be reached; nothing is known to be lost."""


class LeaseHeldError(EvidenceError):
    """Another holder has this lease (`evidence.locking`)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"lease {name} is held by another writer")
        self.name = name


class LeaseLostError(EvidenceError):
    """This holder's lease expired and was taken over: it must stop writing."""

    def __init__(self, name: str) -> None:
        super().__init__(f"lease {name} was lost to another writer")
        self.name = name
