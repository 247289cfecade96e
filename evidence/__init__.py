"""Evidence storage and ingest: the BlobStore protocol, its filesystem and S3
implementations, streaming hashing and resumable uploads.

Imports nothing from the web, the database or server/: the server builds its
routes (tus 1.0, byte ranges) on this package.
"""

from evidence.config import open_store
from evidence.errors import (
    DigestMismatchError,
    EvidenceError,
    InvalidDigestError,
    InvalidKeyError,
    LeaseHeldError,
    LeaseLostError,
    LegalHoldActiveError,
    ObjectExistsError,
    ObjectNotFoundError,
    OffsetMismatchError,
    RangeNotSatisfiableError,
    RejectedContentError,
    RetentionActiveError,
    StorageUnavailableError,
    StoreConfigError,
    TooLargeError,
    UploadCorruptError,
    UploadError,
    UploadExistsError,
    UploadIncompleteError,
    UploadLockedError,
    UploadNotFoundError,
)
from evidence.hashing import CHUNK_SIZE, Digests, StreamHasher, hash_chunks, parse_sha256_hex
from evidence.keys import BundleKey, ExhibitKey, bundle_key, exhibit_key, parse_id
from evidence.locking import PROCESS_LEASES, Lease, LeaseBook, LocalLeaseBook
from evidence.store import BlobStore, ByteRange, DisposalResult, UploadState, resolve_range

__all__ = [
    "CHUNK_SIZE",
    "PROCESS_LEASES",
    "BlobStore",
    "BundleKey",
    "ByteRange",
    "DigestMismatchError",
    "Digests",
    "DisposalResult",
    "EvidenceError",
    "ExhibitKey",
    "InvalidDigestError",
    "InvalidKeyError",
    "Lease",
    "LeaseBook",
    "LeaseHeldError",
    "LeaseLostError",
    "LegalHoldActiveError",
    "LocalLeaseBook",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "OffsetMismatchError",
    "RangeNotSatisfiableError",
    "RejectedContentError",
    "RetentionActiveError",
    "StorageUnavailableError",
    "StoreConfigError",
    "StreamHasher",
    "TooLargeError",
    "UploadCorruptError",
    "UploadError",
    "UploadExistsError",
    "UploadIncompleteError",
    "UploadLockedError",
    "UploadNotFoundError",
    "UploadState",
    "bundle_key",
    "exhibit_key",
    "hash_chunks",
    "open_store",
    "parse_id",
    "parse_sha256_hex",
    "resolve_range",
]
