"""Court bundles in the filesystem store (ADR 0039).

Layout under the store's root, beside `objects/`:

    bundles/<case>/<export>.zip     a bundle, mode 0444, written once

A bundle appears by `os.link` of a complete, fsynced file, as evidence does: the link
fails if the name exists (never overwrite) and is atomic. The writer's scratch file is
linked when it lies on the same filesystem (no copy); otherwise it is copied into
`tmp/` first. Bundles carry no retention date and no hold: they are derived from the
log and the evidence, their SHA-256 is in the `export.created` entry, and the bundle of
an export that ended refused must be removable.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from uuid import UUID

from evidence.errors import ObjectExistsError, ObjectNotFoundError
from evidence.keys import BundleKey, parse_id
from evidence.store import ByteRange, resolve_range

_READ_ONLY = 0o444
COPY_CHUNK = 1024 * 1024


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FsBundles:
    """The `bundles/` tree of a filesystem store; `tmp` is the store's scratch folder."""

    def __init__(self, root: Path, tmp: Path) -> None:
        self.root = root
        self._tmp = tmp

    def path(self, key: BundleKey) -> Path:
        # BundleKey holds two UUIDs: the path cannot leave bundles/.
        return self.root.parent / key.path

    def put(self, key: BundleKey, source: Path) -> int:
        final = self.path(key)
        if final.exists():
            raise ObjectExistsError(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        _fsync_file(source)
        try:
            self._link(source, final, key)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            self._copy_then_link(source, final, key)
        _fsync_dir(final.parent)
        return final.stat().st_size

    @staticmethod
    def _link(source: Path, final: Path, key: BundleKey) -> None:
        try:
            os.link(source, final)
        except FileExistsError:
            raise ObjectExistsError(key) from None
        final.chmod(_READ_ONLY)

    def _copy_then_link(self, source: Path, final: Path, key: BundleKey) -> None:
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._tmp, prefix="bundle-", suffix=".partial")
        copy = Path(name)
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                shutil.copyfileobj(src, out, COPY_CHUNK)
                out.flush()
                os.fsync(out.fileno())
            self._link(copy, final, key)
        finally:
            copy.unlink(missing_ok=True)

    def size(self, key: BundleKey) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise ObjectNotFoundError(key) from None

    def open(
        self, key: BundleKey, first: int | None, last: int | None
    ) -> tuple[BinaryIO, ByteRange]:
        """The open file and the bytes selected; the caller streams and closes it."""
        try:
            handle = self.path(key).open("rb")
        except FileNotFoundError:
            raise ObjectNotFoundError(key) from None
        try:
            return handle, resolve_range(os.fstat(handle.fileno()).st_size, first, last)
        except BaseException:
            handle.close()
            raise

    def remove(self, key: BundleKey) -> None:
        path = self.path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        _fsync_dir(path.parent)

    def keys(self, case_id: UUID | None) -> Iterator[BundleKey]:
        root = self.root if case_id is None else self.root / str(parse_id(case_id))
        if not root.is_dir():
            return iter(())
        found = []
        for path in root.glob("*/*.zip" if case_id is None else "*.zip"):
            try:
                found.append(BundleKey.parse(str(path.relative_to(self.root.parent))))
            except ValueError:
                continue  # not ours
        return iter(sorted(found, key=lambda k: k.path))
