"""Resumable uploads staged as readable segments in the staging bucket (ADR 0010).

    uploads/<upload id>/info.json          the upload record
    uploads/<upload id>/lease              who is writing (S3LeaseLock)
    uploads/<upload id>/seg/<start offset> the bytes, in segments of `segment_size`

Every segment but the last is exactly `segment_size` (>= 5 MiB) bytes; a short
last segment is read back and rewritten longer by the next append. The staging
bucket has no Object Lock: a bucket with default retention locks every object.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

from evidence._ingest import UploadInfo
from evidence.errors import (
    UploadCorruptError,
    UploadExistsError,
    UploadNotFoundError,
)
from evidence.keys import parse_id
from evidence.s3.client import S3Client, S3RequestError

UPLOADS: Final = "uploads/"
MIN_PART_SIZE: Final = 5 * 1024 * 1024
"""S3: every part of a multipart upload but the last is at least this big."""


@dataclass(frozen=True, slots=True)
class Segment:
    start: int
    size: int
    name: str
    last_modified: datetime | None

    @property
    def end(self) -> int:
        return self.start + self.size


def stored(segments: list[Segment]) -> int:
    """Bytes staged: the end of the contiguous segments."""
    return segments[-1].end if segments else 0


class Staging:
    """The uploads in one staging bucket."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @staticmethod
    def prefix(upload_id: UUID) -> str:
        return f"{UPLOADS}{parse_id(upload_id)}/"

    def upload_ids(self) -> Iterator[UUID]:
        """Every upload with anything staged (also half-removed ones)."""
        for entry in self.client.list_objects(self.bucket, UPLOADS, recursive=False):
            try:
                yield parse_id(entry.name[len(UPLOADS) :].rstrip("/"))
            except ValueError:
                continue  # not ours

    def write_info(self, upload_id: UUID, info: UploadInfo) -> None:
        headers = {"Content-Type": "application/json", "If-None-Match": "*"}
        try:
            self.client.put(
                self.bucket, self.prefix(upload_id) + "info.json", info.to_json(), headers
            )
        except S3RequestError as exc:
            if exc.precondition_failed:
                raise UploadExistsError(upload_id) from None
            raise

    def read_info(self, upload_id: UUID) -> UploadInfo:
        try:
            raw, _ = self.client.read_small(self.bucket, self.prefix(upload_id) + "info.json")
        except S3RequestError as exc:
            if exc.not_found:
                raise UploadNotFoundError(upload_id) from None
            raise
        return UploadInfo.from_json(upload_id, raw)

    def segments(self, upload_id: UUID) -> list[Segment]:
        """The staged segments in order; UploadCorruptError if they are not contiguous."""
        prefix = self.prefix(upload_id) + "seg/"
        segments = []
        for o in self.client.list_objects(self.bucket, prefix):
            suffix = o.name[len(prefix) :]
            if not suffix.isdigit():
                raise UploadCorruptError(upload_id, f"unexpected staging object {o.name}")
            segments.append(Segment(int(suffix), o.size, o.name, o.last_modified))
        segments.sort(key=lambda s: s.start)
        expected = 0
        for i, segment in enumerate(segments):
            if segment.start != expected:
                raise UploadCorruptError(upload_id, f"staged bytes missing at {expected}")
            if i < len(segments) - 1 and segment.size < MIN_PART_SIZE:
                raise UploadCorruptError(upload_id, f"short segment at {segment.start}")
            expected = segment.end
        return segments

    def put_segment(self, upload_id: UUID, start: int, data: memoryview) -> None:
        self.client.put(self.bucket, f"{self.prefix(upload_id)}seg/{start:020d}", data, {})

    def read(self, segments: list[Segment], start: int, end: int) -> Iterator[bytes]:
        """The staged bytes [start, end)."""
        for segment in segments:
            lo, hi = max(start, segment.start), min(end, segment.end)
            if lo < hi:
                yield from self.client.read(self.bucket, segment.name, lo - segment.start, hi - lo)

    def remove(self, upload_id: UUID, *, keep: str | None = None) -> None:
        """Delete the record first (the upload is gone), then its bytes; not `keep`."""
        prefix = self.prefix(upload_id)
        with contextlib.suppress(S3RequestError):
            self.client.remove(self.bucket, prefix + "info.json")
        for o in self.client.list_objects(self.bucket, prefix):
            if o.name != keep:
                self.client.remove(self.bucket, o.name)

    def last_written(self, upload_id: UUID, *, ignore: str | None = None) -> datetime | None:
        """When anything of the upload (but `ignore`) was last written; None: nothing is."""
        times = [
            o.last_modified
            for o in self.client.list_objects(self.bucket, self.prefix(upload_id))
            if o.last_modified is not None and o.name != ignore
        ]
        return max(times) if times else None
