"""The witness's memory: per origin, the latest checkpoint it cosigned, on disk.

tlog-witness: "The witness MUST persist the new checkpoint before responding", and
checking the old size and persisting the new checkpoint must be atomic. This module
gives the durable half; `witness.service` holds the per-origin lock around
load -> check -> save.

Layout of the state directory:

    witness.lock                  flock held by the one serving process
    checkpoints/<sha256(origin)>  the latest cosigned checkpoint note of that origin:
                                  the log's signature line(s) and the witness's own
    evidence/<sha256(request)>    requests refused as a fork or a bad proof (kept, as
                                  tlog-witness allows, as proof of log misbehaviour)

Every file is written to a temporary file in the same directory, fsynced, renamed over
its name with os.replace (atomic on POSIX), and the directory fsynced: after a crash
(SIGKILL, power loss) a file holds either the old or the new checkpoint, never a torn
one and never nothing, and once `save` returns the new one survives.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from custody.checkpoint import Checkpoint
from custody.errors import NoteFormatError
from custody.note import Note
from witness.errors import StateError

__all__ = ["CosignedCheckpoint", "WitnessState", "hold_state_lock", "origin_file_name"]

_CHECKPOINTS = "checkpoints"
_EVIDENCE = "evidence"
_LOCK_FILE = "witness.lock"
_TMP_PREFIX = ".tmp-"
_MAX_STATE_FILE = 1 << 20


def origin_file_name(origin: str) -> str:
    """The state file of an origin: lowercase hex SHA-256 of its UTF-8 bytes. Origins
    are attacker-chosen text; a hash never escapes the directory or collides by case."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CosignedCheckpoint:
    """A checkpoint the witness cosigned: the note (log signature(s) + cosignature)."""

    note: Note

    def __post_init__(self) -> None:
        Checkpoint.parse_body(self.note.text)  # NoteFormatError if not a checkpoint

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint.parse_body(self.note.text)

    @property
    def origin(self) -> str:
        return self.checkpoint.origin

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root_hash(self) -> bytes:
        return self.checkpoint.root_hash


class WitnessState:
    """Durable per-origin records under one directory. Not locked itself: callers
    serialise access per origin (one process: `hold_state_lock`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._checkpoints = directory / _CHECKPOINTS
        self._evidence = directory / _EVIDENCE
        try:
            for path in (directory, self._checkpoints, self._evidence):
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(
                f"cannot create the witness state directory {directory}: {exc}"
            ) from exc

    def path_for(self, origin: str) -> Path:
        return self._checkpoints / origin_file_name(origin)

    def load(self, origin: str) -> CosignedCheckpoint | None:
        """The latest cosigned checkpoint of `origin`, or None if it never cosigned one.

        An unreadable or foreign file raises StateError: treating it as "never cosigned"
        would let a log roll the witness back to size 0.
        """
        path = self.path_for(origin)
        try:
            with path.open("rb") as handle:
                data = handle.read(_MAX_STATE_FILE + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read witness state {path}: {exc}") from exc
        try:
            if len(data) > _MAX_STATE_FILE:
                raise NoteFormatError("state file is too large")
            record = CosignedCheckpoint(Note.parse(data))
        except NoteFormatError as exc:
            raise StateError(f"witness state {path} is corrupt: {exc}") from exc
        if record.origin != origin:
            raise StateError(f"witness state {path} holds origin {record.origin!r}")
        return record

    def load_hashed(self, origin_hash: str) -> CosignedCheckpoint | None:
        """The latest cosigned checkpoint of the origin whose lowercase hex SHA-256 is
        `origin_hash` (the monitoring endpoint's key), or None."""
        path = self._checkpoints / origin_hash
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read witness state {path}: {exc}") from exc
        try:
            record = CosignedCheckpoint(Note.parse(data))
        except NoteFormatError as exc:
            raise StateError(f"witness state {path} is corrupt: {exc}") from exc
        if origin_file_name(record.origin) != origin_hash:
            raise StateError(f"witness state {path} holds origin {record.origin!r}")
        return record

    def save(self, record: CosignedCheckpoint) -> None:
        """Durably replace the origin's record. Refuses to go backwards (defence in depth:
        the service already checked), so a bug cannot make the witness forget a size."""
        current = self.load(record.origin)
        if current is not None and record.size < current.size:
            raise StateError(
                f"refusing to record size {record.size} over size {current.size} "
                f"for {record.origin!r}"
            )
        self._write_atomic(self.path_for(record.origin), record.note.to_bytes())

    def record_evidence(self, request: bytes) -> Path:
        """Keep a refused, validly signed request (content-addressed, so idempotent)."""
        path = self._evidence / hashlib.sha256(request).hexdigest()
        if not path.exists():
            self._write_atomic(path, request)
        return path

    def evidence_files(self) -> list[Path]:
        return sorted(p for p in self._evidence.iterdir() if not p.name.startswith(_TMP_PREFIX))

    def sweep_temporary_files(self) -> int:
        """Remove temporary files a killed process left behind; only while holding the
        state lock (another live process may be writing them)."""
        removed = 0
        for folder in (self._checkpoints, self._evidence):
            for path in folder.glob(_TMP_PREFIX + "*"):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
        return removed

    def _write_atomic(self, path: Path, data: bytes) -> None:
        try:
            _write_atomic(path, data)
        except OSError as exc:
            raise StateError(f"cannot write witness state {path}: {exc}") from exc


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # The rename lives in the directory; without this a power cut may undo it.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def hold_state_lock(directory: Path) -> Iterator[WitnessState]:
    """Open the state for one serving process, exclusively (flock on witness.lock).

    The per-origin locks of the service live in one process's memory; two processes on
    one state directory could each cosign a different size (the tlog-witness race). The
    kernel drops the lock when the process dies, even by SIGKILL.
    """
    state = WitnessState(directory)
    fd = os.open(directory / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise StateError(
                    f"witness state {directory} is in use by another witness process"
                ) from exc
            raise StateError(f"cannot lock witness state {directory}: {exc}") from exc
        state.sweep_temporary_files()
        yield state
    finally:
        os.close(fd)  # releases the flock
