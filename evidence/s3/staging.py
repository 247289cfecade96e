"""What a resumable upload keeps in the staging bucket (no Object Lock), ADR 0025.

    uploads/<upload id>/info.json      the upload record (begin_upload)
    uploads/<upload id>/multipart      the multipart upload in the evidence bucket, its
                                       part size and checksum, written before its first part
    uploads/<upload id>/progress       parts uploaded, their bytes, and the SHA-256
                                       state after them: the commit point of a part
    uploads/<upload id>/tail/<start>   bytes after the parts (less than a part), valid
                                       only where start equals the progress' bytes
    uploads/<upload id>/finishing      size and SHA-256 of the object being created

The bytes themselves go straight into parts of the multipart upload; only the tail
is readable here. A crash between a part and its progress record leaves the old
record, whose offset the client resumes from; the part is uploaded again.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from evidence._ingest import UploadInfo
from evidence.errors import UploadCorruptError, UploadExistsError, UploadNotFoundError
from evidence.keys import parse_id
from evidence.s3.client import Checksum, Listed, S3Client, S3RequestError

UPLOADS: Final = "uploads/"


@dataclass(frozen=True, slots=True)
class Multipart:
    upload_id: str
    part_size: int
    checksum: Checksum
    """What its parts carry: the one it was started with (AWS refuses another)."""


@dataclass(frozen=True, slots=True)
class Progress:
    """`parts` parts uploaded, holding the first `size` bytes; SHA-256 state after them."""

    parts: int = 0
    size: int = 0
    sha256_state: bytes | None = None


@dataclass(frozen=True, slots=True)
class Finishing:
    size: int
    sha256_hex: str


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

    # -- records ---------------------------------------------------------------------------

    def write_info(self, upload_id: UUID, info: UploadInfo) -> None:
        if self._read(upload_id, "info.json") is not None:
            raise UploadExistsError(upload_id)
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
        raw = self._read(upload_id, "info.json")
        if raw is None:
            raise UploadNotFoundError(upload_id)
        return UploadInfo.from_json(upload_id, raw)

    def _read(self, upload_id: UUID, name: str) -> bytes | None:
        try:
            return self.client.read_small(self.bucket, self.prefix(upload_id) + name)
        except S3RequestError as exc:
            if exc.not_found:
                return None
            raise

    def _read_json(self, upload_id: UUID, name: str) -> dict[str, Any] | None:
        raw = self._read(upload_id, name)
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise TypeError(name)
        except (ValueError, TypeError) as exc:
            raise UploadCorruptError(upload_id, f"unreadable {name}: {exc}") from exc
        return doc

    def _write_json(self, upload_id: UUID, name: str, doc: dict[str, Any]) -> None:
        body = json.dumps(doc, sort_keys=True).encode()
        self.client.put(
            self.bucket, self.prefix(upload_id) + name, body, {"Content-Type": "application/json"}
        )

    def multipart(self, upload_id: UUID) -> Multipart | None:
        doc = self._read_json(upload_id, "multipart")
        if doc is None:
            return None
        try:
            # A record without one was written before checksums: its parts carry MD5.
            checksum = Checksum(doc.get("checksum", Checksum.MD5))
            return Multipart(str(doc["upload_id"]), int(doc["part_size"]), checksum)
        except (KeyError, TypeError, ValueError) as exc:
            raise UploadCorruptError(upload_id, f"unreadable multipart record: {exc}") from exc

    def write_multipart(self, upload_id: UUID, record: Multipart) -> None:
        doc = {
            "upload_id": record.upload_id,
            "part_size": record.part_size,
            "checksum": str(record.checksum),
        }
        self._write_json(upload_id, "multipart", doc)

    def progress(self, upload_id: UUID) -> Progress:
        doc = self._read_json(upload_id, "progress")
        if doc is None:
            return Progress()
        try:
            return Progress(int(doc["parts"]), int(doc["size"]), bytes.fromhex(doc["sha256"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise UploadCorruptError(upload_id, f"unreadable progress record: {exc}") from exc

    def write_progress(self, upload_id: UUID, progress: Progress) -> None:
        assert progress.sha256_state is not None
        doc = {
            "parts": progress.parts,
            "size": progress.size,
            "sha256": progress.sha256_state.hex(),
        }
        self._write_json(upload_id, "progress", doc)

    def finishing(self, upload_id: UUID) -> Finishing | None:
        doc = self._read_json(upload_id, "finishing")
        if doc is None:
            return None
        try:
            return Finishing(int(doc["size"]), str(doc["sha256"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise UploadCorruptError(upload_id, f"unreadable finishing record: {exc}") from exc

    def write_finishing(self, upload_id: UUID, finishing: Finishing) -> None:
        self._write_json(
            upload_id, "finishing", {"size": finishing.size, "sha256": finishing.sha256_hex}
        )

    # -- the tail --------------------------------------------------------------------------

    def tail(self, upload_id: UUID, start: int) -> Listed | None:
        """The tail that begins at `start` (where the parts end); others are stale."""
        name = f"{self.prefix(upload_id)}tail/{start:020d}"
        found = [
            t
            for t in self.client.list_objects(self.bucket, self.prefix(upload_id) + "tail/")
            if t.name == name
        ]
        return found[0] if found else None

    def put_tail(self, upload_id: UUID, start: int, data: memoryview) -> None:
        self.client.put(self.bucket, f"{self.prefix(upload_id)}tail/{start:020d}", data, {})

    def remove_tail(self, upload_id: UUID, start: int) -> None:
        """Best effort: a stale tail is ignored, and removed with the upload."""
        with contextlib.suppress(S3RequestError):
            self.client.remove(self.bucket, f"{self.prefix(upload_id)}tail/{start:020d}")

    def read_tail(self, tail: Listed) -> Iterator[bytes]:
        return self.client.read(self.bucket, tail.name, 0, tail.size)

    # -- removal and age -------------------------------------------------------------------

    def remove(self, upload_id: UUID) -> None:
        """Delete the record first (the upload is gone), then the rest."""
        prefix = self.prefix(upload_id)
        with contextlib.suppress(S3RequestError):
            self.client.remove(self.bucket, prefix + "info.json")
        for o in self.client.list_objects(self.bucket, prefix):
            self.client.remove(self.bucket, o.name)

    def last_written(self, upload_id: UUID) -> datetime | None:
        """When anything of the upload was last written; None: nothing is staged."""
        times = [
            o.last_modified
            for o in self.client.list_objects(self.bucket, self.prefix(upload_id))
            if o.last_modified is not None
        ]
        return max(times) if times else None
