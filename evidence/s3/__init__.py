"""The S3 evidence store (any S3 with Object Lock), ADR 0010, 0011 and 0025.

store      S3Store: buckets, one-shot ingest, reads, and the rest by delegation
objects    the evidence bucket: create once, check, retain, hold, dispose, list
uploads    resumable uploads: parts straight into a multipart upload
staging    what an upload keeps readable in the staging bucket
buffer     the re-chunking buffer that turns a body into parts
client     every S3 request, the only module that calls minio
"""

from evidence.s3.client import Checksum, S3RequestError
from evidence.s3.store import (
    DEFAULT_PARALLEL_PARTS,
    DEFAULT_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    S3Store,
)
from evidence.s3.uploads import MAX_PART_SIZE, PARTS_PER_SIZE_STEP

__all__ = [
    "DEFAULT_PARALLEL_PARTS",
    "DEFAULT_PART_SIZE",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MIN_PART_SIZE",
    "PARTS_PER_SIZE_STEP",
    "Checksum",
    "S3RequestError",
    "S3Store",
]
