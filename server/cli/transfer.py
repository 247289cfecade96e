"""What upload and download share: a progress bar, the hashes they compare with the
ones the server recorded, and the partial file (locked, with a marker of what it holds)
that a later run resumes. The rest of what every client command shares is in
server/cli/client.py."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from evidence.hashing import StreamHasher
from server.cli.client import READ_SIZE, refused, size_text
from server.cli.guard import CommandError


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """A one-line progress bar on stderr: bytes, rate and time left."""

    def __init__(self, label: str, total: int, *, quiet: bool = False, start: int = 0) -> None:
        self.label = label
        self.total = total
        self.done = start
        self._base = start
        self._quiet = quiet
        self._tty = sys.stderr.isatty()
        self._started = time.monotonic()
        self._shown = 0.0 if self._tty else self._started  # a log gets a line every 5 s

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._shown >= (0.25 if self._tty else 5.0):
            self._shown = now
            self._show(now)

    def _show(self, now: float, *, end: str = "") -> None:
        if self._quiet:
            return
        elapsed = max(now - self._started, 1e-6)
        rate = (self.done - self._base) / elapsed
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        fraction = self.done / self.total if self.total else 1.0
        bar = "#" * int(fraction * 24)
        line = (
            f"{self.label} [{bar:<24}] {size_text(self.done)} / {size_text(self.total)}"
            f"  {size_text(rate)}/s  "
            + (f"ETA {_duration(left)}" if end == "" else f"in {_duration(elapsed)}")
        )
        print(("\r" if self._tty else "") + line, end=end or ("" if self._tty else "\n"),
              file=sys.stderr, flush=True)  # fmt: skip

    def restart(self, done: int) -> None:
        """Count again from `done` bytes (the server sent everything again)."""
        self.done = self._base = done
        self._started = time.monotonic()

    def finish(self) -> None:
        self._show(time.monotonic(), end="\n")


def exhibit_doc(client: httpx.Client, case_id: str, exhibit_id: str) -> dict[str, Any]:
    response = client.get(f"/api/cases/{case_id}/exhibits/{exhibit_id}")
    if response.status_code != 200:
        raise refused(response, "reading the exhibit")
    doc: dict[str, Any] = response.json()
    return doc


@dataclass(frozen=True)
class Hashes:
    size: int
    sha256: str
    blake3: str

    @classmethod
    def of(cls, hasher: StreamHasher) -> Hashes:
        d = hasher.digests()
        return cls(d.size, d.sha256_hex, d.blake3_hex)


def compare(local: Hashes, remote: Hashes, what: str) -> None:
    differences = [
        f"{name}: local {mine}, server {theirs}"
        for name, mine, theirs in (
            ("size", local.size, remote.size),
            ("SHA-256", local.sha256, remote.sha256),
            ("BLAKE3", local.blake3, remote.blake3),
        )
        if mine != theirs
    ]
    if differences:
        raise CommandError(f"HASH MISMATCH for {what}: " + "; ".join(differences))


def recorded_hashes(exhibit: dict[str, Any]) -> Hashes | None:
    stored = exhibit.get("content")
    if not stored:
        return None
    return Hashes(int(stored["size"]), str(stored["sha256"]), str(stored["blake3"]))


def hash_prefix(f: BinaryIO, offset: int) -> StreamHasher:
    """Hash the file's first `offset` bytes (those the server holds) and stop there."""
    hasher = StreamHasher()
    f.seek(0)
    while f.tell() < offset:
        chunk = f.read(min(READ_SIZE, offset - f.tell()))
        if not chunk:
            break
        hasher.update(chunk)
    return hasher


# --- a partial file that a later run resumes (download, export get) -----------------------


class MismatchError(CommandError):
    """The bytes are not the recorded ones: no partial copy is kept."""


def held_bytes(f: BinaryIO) -> int:
    return os.fstat(f.fileno()).st_size


@contextlib.contextmanager
def locked_partial(partial: Path) -> Iterator[BinaryIO]:
    """OUT.part open for reading and writing, held under an exclusive lock for the whole
    run: a second download into the same OUT is refused, not interleaved. A mismatch
    removes the partial copy (its bytes are known bad) and its marker."""
    f = _open_locked(partial)
    try:
        try:
            yield f
        except MismatchError:
            partial.unlink(missing_ok=True)
            partial.with_name(partial.name + ".json").unlink(missing_ok=True)
            raise
    finally:
        f.close()


def _open_locked(partial: Path) -> BinaryIO:
    """OUT.part, opened (created if missing) and locked. The lock belongs to the open
    file, so it counts only if the name still leads to that file once the lock is held:
    a run that finished meanwhile renamed it to OUT, which must not be written again."""
    for _ in range(3):
        f = os.fdopen(os.open(partial, os.O_RDWR | os.O_CREAT, 0o600), "r+b")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise CommandError(
                f"another download is writing {partial.name}; wait for it to end"
            ) from None
        held = os.fstat(f.fileno())
        try:
            named = os.stat(partial)
        except FileNotFoundError:
            named = None
        if named is not None and (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino):
            return f
        f.close()  # renamed away under us: open the name again
    raise CommandError(f"{partial.name} keeps being replaced; is another download running?")


def resumable(f: BinaryIO, partial: Path, marker: Path, identity: Mapping[str, Any]) -> int:
    """Bytes of OUT.part to keep: all of them if an earlier run of this same download
    left them (its marker says so) and they are not too many; else none."""
    held = held_bytes(f)
    try:
        earlier = json.loads(marker.read_text())
    except (OSError, ValueError):
        return 0
    if earlier != dict(identity) or held > int(identity["size"]):
        return 0
    if held:
        print(f"resuming at {size_text(held)} (from {partial.name})", file=sys.stderr)
    return held
