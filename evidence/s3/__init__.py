"""The S3 evidence store (MinIO or any S3 with Object Lock), ADR 0010 and 0011.

store      S3Store: buckets, one-shot ingest, uploads, reads, holds, disposal
staging    resumable uploads as readable segments in the staging bucket
lease      the default one-writer-per-upload lock (a lease object)
buffer     the re-chunking buffer that turns a body into parts
client     every S3 request, the only module that calls minio
"""

from evidence.s3.client import S3RequestError
from evidence.s3.lease import S3Lease, S3LeaseLock
from evidence.s3.staging import MIN_PART_SIZE
from evidence.s3.store import MAX_PART_SIZE, MAX_PARTS, PARTS_PER_SIZE_STEP, S3Store

__all__ = [
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MIN_PART_SIZE",
    "PARTS_PER_SIZE_STEP",
    "S3Lease",
    "S3LeaseLock",
    "S3RequestError",
    "S3Store",
]
