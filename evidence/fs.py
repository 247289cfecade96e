"""Filesystem evidence store, the embedded default.

Layout under `root` (one filesystem, so links and renames are atomic):

    objects/cases/<case>/exhibits/<exhibit>           content, mode 0444
    objects/cases/<case>/exhibits/<exhibit>.retain    retain-until date (when configured)
    objects/cases/<case>/exhibits/<exhibit>.hold      present while on legal hold
    tmp/put-*.partial                                 put_stream bodies being received
    uploads/<upload id>/{lock,info.json,data}         resumable uploads
    bundles/<case>/<export>.zip                       court bundles (evidence.fs_bundles)

An object appears only by `os.link` of a complete, fsynced, verified file: the
link fails if the name exists (never overwrite) and is atomic (a crash leaves
either no object or the whole one). The directory is fsynced after it.

NOTE: on a filesystem, Object Lock has no equivalent: read-only modes, the
retention date and the hold marker stop this program and careless hands, not
an administrator. Deployments that need enforced retention use the S3 store.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from uuid import UUID

from evidence._ingest import (
    HasherCache,
    UploadInfo,
    check_expected,
    check_size,
    metered,
    parse_expected,
    utc_now,
)
from evidence.errors import (
    DigestMismatchError,
    LegalHoldActiveError,
    ObjectExistsError,
    ObjectNotFoundError,
    OffsetMismatchError,
    TooLargeError,
    UploadCorruptError,
    UploadExistsError,
    UploadIncompleteError,
    UploadLockedError,
    UploadNotFoundError,
)
from evidence.fs_bundles import FsBundles
from evidence.hashing import CHUNK_SIZE, Digests, StreamHasher
from evidence.keys import BundleKey, ExhibitKey, parse_id
from evidence.store import DisposalResult, UploadState, resolve_range
from evidence.writeback import FileWriter

_READ_ONLY = 0o444
_WRITABLE = 0o600


def fsync_dir(path: Path) -> None:
    """Make the names in a directory durable (after a link, rename or unlink in it)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_chunks(path: Path, start: int, length: int) -> Iterator[bytes]:
    return _OpenRange(path.open("rb"), start, length)


class _OpenRange:
    """Bytes [start, start + length) of an open file, CHUNK_SIZE at a time.

    The file closes at the end, on `close()`, or when the iterator is dropped unfinished,
    also if it was never started (a generator would keep its file open until the garbage
    collector found it: a download whose client left before the first byte).
    """

    __slots__ = ("_handle", "_remaining")

    def __init__(self, handle: BinaryIO, start: int, length: int) -> None:
        self._handle = handle
        self._remaining = length
        try:
            handle.seek(start)
        except BaseException:
            handle.close()
            raise

    def __iter__(self) -> _OpenRange:
        return self

    def __next__(self) -> bytes:
        if self._remaining <= 0:
            self.close()
            raise StopIteration
        chunk = self._handle.read(min(CHUNK_SIZE, self._remaining))
        if not chunk:
            self.close()  # shorter than expected: the caller's size check reports it
            raise StopIteration
        self._remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        self._remaining = 0
        self._handle.close()

    def __del__(self) -> None:
        self.close()


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


class FilesystemStore:
    """Evidence in a directory tree; see the module docstring for the layout."""

    def __init__(
        self,
        root: Path,
        *,
        retention_days: int | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if retention_days is not None and retention_days < 1:
            raise ValueError("retention_days must be at least 1 (or None for no retention)")
        self.root = Path(root)
        self.retention_days = retention_days
        self._clock = clock
        self._objects = self.root / "objects"
        self._tmp = self.root / "tmp"
        self._uploads = self.root / "uploads"
        self._bundles = FsBundles(self.root / "bundles", self._tmp)
        self._hashers: HasherCache[StreamHasher] = HasherCache()

    def __repr__(self) -> str:
        return f"FilesystemStore({str(self.root)!r})"

    def prepare(self) -> None:
        for path in (self._objects, self._tmp, self._uploads, self._bundles.root):
            path.mkdir(parents=True, exist_ok=True)

    # -- paths ---------------------------------------------------------------------------

    def _object_path(self, key: ExhibitKey) -> Path:
        # ExhibitKey holds two UUIDs: the path cannot leave objects/.
        return self._objects / key.path

    def _sidecar(self, key: ExhibitKey, suffix: str) -> Path:
        return self._object_path(key).with_name(f"{key.exhibit_id}{suffix}")

    def _upload_dir(self, upload_id: UUID) -> Path:
        return self._uploads / str(parse_id(upload_id))

    # -- one-shot ingest -------------------------------------------------------------------

    def put_stream(
        self,
        key: ExhibitKey,
        chunks: Iterable[bytes],
        *,
        expected_sha256: str | None = None,
        max_size: int | None = None,
    ) -> Digests:
        expected = parse_expected(expected_sha256)
        check_size(max_size)
        if self._object_path(key).exists():
            raise ObjectExistsError(key)
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._tmp, prefix="put-", suffix=".partial")
        partial = Path(name)
        try:
            hasher = StreamHasher()
            with os.fdopen(fd, "wb") as f:
                writer = FileWriter(f)
                try:
                    for chunk in metered(chunks, hasher, max_size):
                        writer.write(chunk)
                except BaseException:
                    writer.abandon()  # the partial file goes
                    raise
                writer.settle()
                f.flush()
                os.fsync(f.fileno())
            digests = hasher.digests()
            check_expected(digests, expected)
            self._publish(partial, key)
        finally:
            partial.unlink(missing_ok=True)
        return digests

    def _publish(self, source: Path, key: ExhibitKey) -> None:
        """Give the fsynced, verified file at `source` the object's name; never overwrite."""
        final = self._object_path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        source.chmod(_READ_ONLY)
        try:
            os.link(source, final)
        except FileExistsError:
            raise ObjectExistsError(key) from None
        fsync_dir(final.parent)
        if self.retention_days is not None:
            until = self._clock() + timedelta(days=self.retention_days)
            self._write_sidecar(self._sidecar(key, ".retain"), until.isoformat().encode())

    def _write_sidecar(self, path: Path, content: bytes) -> None:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            Path(name).chmod(_READ_ONLY)
            Path(name).replace(path)
        finally:
            Path(name).unlink(missing_ok=True)
        fsync_dir(path.parent)

    # -- resumable uploads -------------------------------------------------------------------

    def begin_upload(
        self,
        upload_id: UUID,
        key: ExhibitKey,
        length: int | None,
        metadata: Mapping[str, str] | None = None,
        *,
        max_size: int | None = None,
    ) -> UploadState:
        check_size(length)
        check_size(max_size)
        if length is not None and max_size is not None and length > max_size:
            raise TooLargeError(max_size)
        if self.exists(key):
            raise ObjectExistsError(key)
        info = UploadInfo(
            key=key,
            length=length,
            max_size=max_size,
            metadata=dict(metadata or {}),
            created=self._clock(),
        )
        directory = self._upload_dir(upload_id)
        self._uploads.mkdir(parents=True, exist_ok=True)
        try:
            directory.mkdir()
        except FileExistsError:
            raise UploadExistsError(upload_id) from None
        (directory / "lock").touch()
        with (directory / "data").open("wb") as f:
            os.fsync(f.fileno())
        # info.json last: an upload without it is one whose beginning crashed.
        self._write_sidecar(directory / "info.json", info.to_json())
        fsync_dir(self._uploads)
        return info.state(upload_id, offset=0, updated=_mtime(directory / "info.json"))

    @contextlib.contextmanager
    def _locked(self, upload_id: UUID) -> Iterator[Path]:
        """Hold the upload's OS lock (flock: released by the kernel if we die)."""
        directory = self._upload_dir(upload_id)
        try:
            fd = os.open(directory / "lock", os.O_RDWR)
        except FileNotFoundError:
            raise UploadNotFoundError(upload_id) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UploadLockedError(upload_id) from None
            if not (directory / "info.json").exists():
                raise UploadNotFoundError(upload_id)  # removed while we waited for the lock
            yield directory
        finally:
            os.close(fd)

    def _read_info(self, upload_id: UUID, directory: Path) -> UploadInfo:
        try:
            raw = (directory / "info.json").read_bytes()
        except FileNotFoundError:
            raise UploadNotFoundError(upload_id) from None
        return UploadInfo.from_json(upload_id, raw)

    def _state(self, upload_id: UUID, directory: Path, info: UploadInfo) -> UploadState:
        data = directory / "data"
        updated = max(_mtime(data), _mtime(directory / "info.json"))
        return info.state(upload_id, offset=data.stat().st_size, updated=updated)

    def _hasher_at(self, upload_id: UUID, data: Path, stored: int) -> StreamHasher:
        """Hash state over the `stored` bytes; re-reads what this process hasn't hashed.

        After a restart that is every stored byte: resuming costs one sequential
        read of the partial file.
        """
        hasher = self._hashers.take(upload_id)
        if hasher is None or hasher.size > stored:
            hasher = StreamHasher()
        for chunk in _read_chunks(data, hasher.size, stored - hasher.size):
            hasher.update(chunk)
        if hasher.size != stored:
            raise UploadCorruptError(upload_id, "stored bytes shrank while being read")
        return hasher

    def append(self, upload_id: UUID, offset: int, chunks: Iterable[bytes]) -> UploadState:
        with self._locked(upload_id) as directory:
            info = self._read_info(upload_id, directory)
            data = directory / "data"
            with data.open("r+b") as f:
                stored = os.fstat(f.fileno()).st_size
                if offset != stored:
                    raise OffsetMismatchError(upload_id, expected=stored, got=offset)
                hasher = self._hasher_at(upload_id, data, stored)
                f.seek(stored)
                writer = FileWriter(f, start=stored)
                limit = info.limit
                try:
                    for chunk in chunks:
                        if not chunk:
                            continue
                        if limit is not None and hasher.size + len(chunk) > limit:
                            raise TooLargeError(limit)
                        writer.write(chunk)
                        hasher.update(chunk)
                    writer.settle()
                except TooLargeError:
                    writer.abandon()
                    self._hashers.drop(upload_id)
                    shutil.rmtree(directory)
                    raise
                finally:
                    try:
                        writer.settle()  # after a disconnect: what arrived is written
                    finally:
                        # The client resumes from what is stored. The hash state is kept
                        # only if it covers exactly that (a failed write leaves less).
                        if not f.closed and directory.exists():
                            f.flush()
                            os.fsync(f.fileno())
                            stored_now = os.fstat(f.fileno()).st_size
                            self._hashers.keep(upload_id, hasher, stored_now)
            return self._state(upload_id, directory, info)

    def status(self, upload_id: UUID) -> UploadState:
        directory = self._upload_dir(upload_id)
        info = self._read_info(upload_id, directory)
        try:
            return self._state(upload_id, directory, info)
        except FileNotFoundError:
            raise UploadNotFoundError(upload_id) from None

    def finish(self, upload_id: UUID, expected_sha256: str | None = None) -> Digests:
        expected = parse_expected(expected_sha256)
        with self._locked(upload_id) as directory:
            info = self._read_info(upload_id, directory)
            data = directory / "data"
            stored = data.stat().st_size
            if info.length is not None and stored != info.length:
                raise UploadIncompleteError(upload_id, offset=stored, length=info.length)
            digests = self._hasher_at(upload_id, data, stored).digests()
            try:
                check_expected(digests, expected)
            except DigestMismatchError:
                self._hashers.drop(upload_id)
                shutil.rmtree(directory)
                raise
            with data.open("rb") as f:
                os.fsync(f.fileno())
            try:
                self._publish(data, info.key)
            except ObjectExistsError:
                data.chmod(_WRITABLE)  # the upload stays whole; the caller decides
                raise
            self._hashers.drop(upload_id)
            shutil.rmtree(directory)
        return digests

    def abort(self, upload_id: UUID) -> None:
        with self._locked(upload_id) as directory:
            self._hashers.drop(upload_id)
            shutil.rmtree(directory)

    def expire(self, older_than: datetime) -> list[UUID]:
        removed: list[UUID] = []
        if self._uploads.is_dir():
            for directory in sorted(self._uploads.iterdir()):
                try:
                    upload_id = parse_id(directory.name)
                except ValueError:
                    continue  # not ours
                with contextlib.suppress(UploadLockedError, UploadNotFoundError):
                    if self._expire_upload(upload_id, directory, older_than):
                        removed.append(upload_id)
        if self._tmp.is_dir():
            for partial in self._tmp.glob("put-*.partial"):
                # Bodies of put_stream calls that died with their process.
                with contextlib.suppress(FileNotFoundError):
                    if _mtime(partial) < older_than:
                        partial.unlink()
        return removed

    def _expire_upload(self, upload_id: UUID, directory: Path, older_than: datetime) -> bool:
        if not (directory / "info.json").exists() or not (directory / "lock").exists():
            # A begin_upload that crashed half-way.
            if _mtime(directory) < older_than:
                shutil.rmtree(directory, ignore_errors=True)
                return True
            return False
        with self._locked(upload_id):
            info = self._read_info(upload_id, directory)
            if self._state(upload_id, directory, info).updated >= older_than:
                return False
            self._hashers.drop(upload_id)
            shutil.rmtree(directory)
            return True

    # -- reads ----------------------------------------------------------------------------

    def exists(self, key: ExhibitKey) -> bool:
        return self._object_path(key).is_file()

    def stat(self, key: ExhibitKey) -> int:
        try:
            return self._object_path(key).stat().st_size
        except FileNotFoundError:
            raise ObjectNotFoundError(key) from None

    def open_range(
        self, key: ExhibitKey, first: int | None = None, last: int | None = None
    ) -> Iterator[bytes]:
        selected = resolve_range(self.stat(key), first, last)
        # Opened now, not at the first chunk: a caller that logs the access and then
        # streams (the server) holds the bytes even if a disposal lands in between.
        try:
            handle = self._object_path(key).open("rb")
        except FileNotFoundError:
            raise ObjectNotFoundError(key) from None
        return _OpenRange(handle, selected.first, selected.length)

    def rehash(self, key: ExhibitKey) -> Digests:
        hasher = StreamHasher()
        for chunk in self.open_range(key):
            hasher.update(chunk)
        return hasher.digests()

    def list_objects(self, case_id: UUID | None = None) -> Iterator[ExhibitKey]:
        cases = self._objects / "cases"
        root = cases if case_id is None else cases / str(parse_id(case_id))
        if not root.is_dir():
            return iter(())
        keys = []
        for path in root.glob("*/exhibits/*" if case_id is None else "exhibits/*"):
            try:
                key = ExhibitKey.parse(str(path.relative_to(self._objects)))
            except ValueError:
                continue  # a .retain or .hold sidecar, or not ours
            if path.is_file():
                keys.append(key)
        return iter(sorted(keys, key=lambda k: k.path))

    # -- court bundles ---------------------------------------------------------------------

    def put_bundle(self, key: BundleKey, source: Path) -> int:
        return self._bundles.put(key, source)

    def bundle_size(self, key: BundleKey) -> int:
        return self._bundles.size(key)

    def open_bundle(
        self, key: BundleKey, first: int | None = None, last: int | None = None
    ) -> Iterator[bytes]:
        handle, selected = self._bundles.open(key, first, last)
        return _OpenRange(handle, selected.first, selected.length)

    def remove_bundle(self, key: BundleKey) -> None:
        self._bundles.remove(key)

    def list_bundles(self, case_id: UUID | None = None) -> Iterator[BundleKey]:
        return self._bundles.keys(case_id)

    # -- retention, legal hold and disposal ---------------------------------------------------

    def ensure_retention(self, key: ExhibitKey) -> datetime | None:
        if not self.exists(key):
            raise ObjectNotFoundError(key)
        if self.retention_days is None:
            return None
        sidecar = self._sidecar(key, ".retain")
        if not sidecar.exists():
            # Crashed between link and sidecar: the date counts from the content's own time.
            until = _mtime(self._object_path(key)) + timedelta(days=self.retention_days)
            self._write_sidecar(sidecar, until.isoformat().encode())
        return self._retained_until(key)

    def set_legal_hold(self, key: ExhibitKey, on: bool) -> None:
        if not self.exists(key):
            raise ObjectNotFoundError(key)
        marker = self._sidecar(key, ".hold")
        if on:
            marker.touch()
        else:
            marker.unlink(missing_ok=True)
        fsync_dir(marker.parent)

    def legal_hold(self, key: ExhibitKey) -> bool:
        if not self.exists(key):
            raise ObjectNotFoundError(key)
        return self._sidecar(key, ".hold").exists()

    def _retained_until(self, key: ExhibitKey) -> datetime | None:
        try:
            return datetime.fromisoformat(self._sidecar(key, ".retain").read_text())
        except FileNotFoundError:
            if self.retention_days is None:
                return None
            # Crashed between link and sidecar: count from the content's own time.
            return _mtime(self._object_path(key)) + timedelta(days=self.retention_days)

    def dispose(self, key: ExhibitKey) -> DisposalResult:
        if self.legal_hold(key):
            raise LegalHoldActiveError(key)
        until = self._retained_until(key)
        if until is not None and until > self._clock():
            return DisposalResult(key, removed=False, retained_until=until)
        path = self._object_path(key)
        path.unlink()
        self._sidecar(key, ".retain").unlink(missing_ok=True)
        fsync_dir(path.parent)
        return DisposalResult(key, removed=True)
