"""Court bundles in the S3 store's staging bucket (ADR 0039).

    bundles/<case>/<export>.zip     a bundle, written once

The staging bucket has no Object Lock, on purpose: a bundle is derived from the log and
the evidence, its SHA-256 is in the `export.created` entry, and the bundle of an export
that ended refused must be removable. Write-once comes from the caller, not from a
conditional request (some servers ignore them, ADR 0025): only the writer that holds
the export's lease writes its bundle, and this module checks the key free first. The
upload is proven by the object: its size is read back after the upload.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final
from uuid import UUID

from evidence.errors import ObjectExistsError, ObjectNotFoundError, StorageUnavailableError
from evidence.keys import BundleKey, parse_id
from evidence.s3.client import S3Client, S3RequestError
from evidence.store import resolve_range

BUNDLES: Final = "bundles/"


class S3Bundles:
    def __init__(self, client: S3Client, bucket: str, part_size: int) -> None:
        self.client = client
        self.bucket = bucket
        self.part_size = part_size

    def put(self, key: BundleKey, source: Path) -> int:
        if self.client.head(self.bucket, key.path) is not None:
            raise ObjectExistsError(key)
        size = os.stat(source).st_size
        failed: StorageUnavailableError | None = None
        try:
            self.client.put_file(self.bucket, key.path, str(source), self.part_size)
        except StorageUnavailableError as exc:
            failed = exc  # a reply lost is not proof of no object: the HEAD below decides
        head = self.client.head(self.bucket, key.path)
        if head is None or head.size != size:
            found = "none" if head is None else f"{head.size} bytes"
            raise StorageUnavailableError(
                f"bundle {key} was not stored: {size} bytes sent, the store holds {found}"
            ) from failed
        return size

    def size(self, key: BundleKey) -> int:
        head = self.client.head(self.bucket, key.path)
        if head is None:
            raise ObjectNotFoundError(key)
        return head.size

    def open(self, key: BundleKey, first: int | None, last: int | None) -> Iterator[bytes]:
        selected = resolve_range(self.size(key), first, last)
        try:
            return self.client.read(self.bucket, key.path, selected.first, selected.length)
        except S3RequestError as exc:
            if exc.not_found:
                raise ObjectNotFoundError(key) from None
            raise

    def remove(self, key: BundleKey) -> None:
        for listed in self.client.list_objects(self.bucket, key.path, versions=True):
            if listed.name == key.path:
                self.client.remove(self.bucket, key.path, listed.version_id)

    def keys(self, case_id: UUID | None) -> Iterator[BundleKey]:
        prefix = BUNDLES if case_id is None else f"{BUNDLES}{parse_id(case_id)}/"
        found = []
        for listed in self.client.list_objects(self.bucket, prefix):
            try:
                found.append(BundleKey.parse(listed.name))
            except ValueError:
                continue  # not ours
        return iter(sorted(found, key=lambda k: k.path))
