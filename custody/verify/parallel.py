"""The walk of a full bundle on two processes (ADR 0041): same report, about half the time.

The one-process walk (`FullWalk`) parses, re-encodes and hashes every line, then checks it
against the state of the walk. Here that work is shared between this process and a helper
forked from it, each on its own core:

- the helper proves the log: the value of every line is a well-formed entry (spec 6.1, the
  second half of `Entry.parse`, `entry_from_object`), its seq is its line number and its
  prev the leaf hash of the line before (spec 6.2); it also computes the RFC 9162 root over
  all lines, and the last leaf hash;
- meanwhile this process checks that every line is canonical (the first half of
  `Entry.parse`, `canonical_object`), reads it as the entry the helper will prove it to be
  (no field checks, no hashing) and runs `EntryWalk.check` on it: case, time, exhibit
  chains and the replay (spec 6.1, 6.3, 6.4, 6.7), which need the walk's state. An
  exhibit's head is the leaf hash of its latest entry; here it is taken from the next
  line's `prev`, which the helper proves to be exactly that hash.

entries.jsonl is read and inflated once, here; every chunk goes to the helper through a
pipe as it is read, so both see the same bytes.

Why the report is the same. If every line is canonical and the helper proves the log,
`Entry.parse` would have accepted every line (both its halves did) with the same value, so
the one-process walk would have found nothing in spec 6.1's parse and nothing per entry in
spec 6.2, and would have run `check` on the same values, with the same heads, in the same
order: its findings are this process's, followed by `close_log` on the same count and root.
If the helper does not prove the log (a line that is not an entry, a seq or prev out of
place, the helper gone), or a line is not canonical or breaks this process's reading of it,
what this process found is thrown away and the caller walks again in one process, whose
report is then the report: a bad log costs two walks. A member that cannot be read to its
end is reported, as by the one-process walk, from this process's own read, whatever the
helper says.

NOTE: only where a fork is safe: Linux, and no other thread in this process (a fork copies
locks that another thread may hold). Elsewhere, in raising mode and for selective bundles,
the one-process walk runs.
"""

from __future__ import annotations

import gc
import os
import signal
import struct
import sys
import threading
from collections.abc import Iterable
from contextlib import suppress
from types import MappingProxyType
from typing import Any, Final, NamedTuple, NoReturn

import orjson

from custody.bundle import CHUNK, ENTRIES, MAX_ENTRY_LINE_BYTES, BundleReader, Manifest
from custody.checkpoint import Checkpoint
from custody.entry import (
    ENTRY_VERSION,
    ZERO_HEX,
    Actor,
    Entry,
    canonical_object,
    entry_from_object,
)
from custody.errors import BundleFormatError, EntryFormatError
from custody.merkle import CompactRange
from custody.verify.full import BLOCK, FullWalk
from custody.verify.results import Recorder

# entries.jsonl smaller than this is walked in one process: a fork would save little.
MIN_BYTES: Final = 4 * 1024 * 1024
# The helper's answer: "P", entries, bytes received, root, last leaf hash; or "U" alone.
_PROOF: Final = struct.Struct(">cQQ32s32s")
_PROVEN: Final = b"P"
_UNPROVEN: Final = b"U"
# Entry.leaf of the entries this process builds: the helper hashes, nothing here reads it.
_UNHASHED: Final = b""
_ACTOR_CACHE_LIMIT: Final = 4096
_MAX_FD: Final = 1 << 20  # os.closerange closes up to here (close_range(2) on Linux: cheap)

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_canonical = canonical_object
_tuple_new = tuple.__new__


def available() -> bool:
    """Whether the walk may run on two processes here and now."""
    return sys.platform == "linux" and hasattr(os, "fork") and threading.active_count() == 1


def wanted(reader: BundleReader, parallel: bool | None) -> bool:
    """`parallel`: True for the two-process walk whatever the size, False never, None when
    entries.jsonl is large enough to gain from it."""
    if parallel is False or not available():
        return False
    return parallel is True or reader.size(ENTRIES) >= MIN_BYTES


class Proof(NamedTuple):
    """What the helper proved: the log's lines, their bytes, the root, the last leaf hash."""

    entries: int
    received: int
    root: bytes
    last_leaf: bytes


class SharedWalk(FullWalk):
    """This process's share: every line read as the entry the helper proves it is."""

    def __init__(self, manifest: Manifest, checkpoint: Checkpoint | None, rec: Recorder) -> None:
        super().__init__(manifest, checkpoint, rec)
        self.last_exhibit: str | None = None  # the exhibit of the line before, if any
        self.actors: dict[tuple[Any, ...], Actor] = {}

    def run_shared(self, blocks: Iterable[list[bytes]], helper: _Pipe) -> bool | None:
        """Walk every line; return True if the member was read to its end, False if it
        could not be (`read_error` says why), None if the walk was given up: the helper
        stopped reading (it found the log unproven) or a line is not what it must be."""
        step = self.step
        try:
            for block in blocks:
                if helper.gone:
                    return None
                for line in block:
                    step(line)
        except BundleFormatError as exc:
            self.read_error = str(exc)
            return False
        except Exception:  # noqa: BLE001 - a line the helper will not prove; walked again
            return None
        return True

    def step(self, line: bytes) -> None:
        # spec 6.1, first half: the bytes are canonical (EntryFormatError: walked again).
        obj = _canonical(line)
        prev = obj["prev"]
        if self.last_exhibit is not None:
            # spec 6.2, proven by the helper: `prev` is the leaf hash of the line before.
            self.heads[self.last_exhibit] = prev
        value = obj["actor"]
        key = (value["jurisdiction"], value["sub"], value["role"], value["token"])
        actor = self.actors.get(key)
        if actor is None:
            actor = Actor(*key)
            if len(self.actors) < _ACTOR_CACHE_LIMIT:
                self.actors[key] = actor
        entry = _tuple_new(
            Entry,
            (
                obj["case"],
                obj["seq"],
                prev,
                obj["time"],
                actor,
                obj["type"],
                obj["exhibit"],
                obj["exhibit_prev"],
                MappingProxyType(obj["data"]),
                line,
                _UNHASHED,
                ENTRY_VERSION,
            ),
        )
        self.last_exhibit = self.check(entry)
        self.count += 1

    def finish(self) -> None:
        raise NotImplementedError("a shared walk ends with close_shared, on the helper's proof")

    def close_shared(self, proof: Proof) -> None:
        """spec 6.2 once every line is read, on the helper's count and root; the walk's
        state is then the one-process walk's (the last exhibit's head, the last leaf)."""
        last_hex = proof.last_leaf.hex()
        if self.last_exhibit is not None:
            self.heads[self.last_exhibit] = last_hex
        self.previous_hex = last_hex
        self.previous_seq = self.count - 1
        self.close_log(proof.root)


def walk(
    reader: BundleReader, manifest: Manifest, checkpoint: Checkpoint | None, rec: Recorder
) -> tuple[SharedWalk, bool] | None:
    """The walk of entries.jsonl on two processes, and whether it was read to its end; None
    if the log was not proven (nothing recorded since the call then counts: the caller
    rewinds `rec` and walks in one process)."""
    shared = SharedWalk(manifest, checkpoint, rec)
    data_read, data_write = os.pipe()
    proof_read, proof_write = os.pipe()
    _widen(data_write)
    helper = _Pipe(data_write)
    blocks = reader.line_blocks(ENTRIES, copy=helper.write)  # nothing read before next()
    try:
        pid = os.fork()
    except OSError:
        for fd in (data_read, data_write, proof_read, proof_write):
            os.close(fd)
        return None
    if pid == 0:
        _helper(data_read, proof_write)
    os.close(data_read)
    os.close(proof_write)
    try:
        read = shared.run_shared(blocks, helper)
        if read is None:
            return None
        if not read:
            return shared, False  # reported from this read, as the one-process walk does
        blocks.close()
        helper.close()  # the end of the member, for the helper
        proof = _receive(proof_read)
        if proof is None or proof.received != helper.sent or proof.entries != shared.count:
            return None
        shared.close_shared(proof)
        return shared, True
    finally:
        # Stopped first, so that a read-ahead thread blocked on the pipe is released.
        _kill(pid)
        blocks.close()
        helper.close()
        os.close(proof_read)
        with suppress(ChildProcessError):  # already reaped where SIGCHLD is ignored
            os.waitpid(pid, 0)


class _Pipe:
    """The pipe to the helper, written from the read-ahead thread."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.sent = 0  # bytes the helper has been given
        self.gone = False  # the helper stopped reading
        self.closed = False

    def write(self, chunk: bytes) -> None:
        if self.gone:
            return
        view = memoryview(chunk)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError:  # BrokenPipeError: the helper has stopped
            self.gone = True
            return
        self.sent += len(chunk)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)


def _widen(fd: int) -> None:
    """A pipe as large as a chunk, so that one write seldom waits (Linux; best effort)."""
    try:
        import fcntl  # noqa: PLC0415 - POSIX only; this runs only where a fork may

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, CHUNK)
    except (ImportError, AttributeError, OSError):
        pass


def _kill(pid: int) -> None:
    with suppress(ProcessLookupError):  # SIGKILL: the helper holds nothing to clean up
        os.kill(pid, signal.SIGKILL)


def _receive(fd: int) -> Proof | None:
    """The helper's answer, once it has read the whole member; None unless it proved it."""
    parts = []
    while part := os.read(fd, _PROOF.size):
        parts.append(part)
    answer = b"".join(parts)
    if len(answer) != _PROOF.size:
        return None
    kind, count, received, root, last_leaf = _PROOF.unpack(answer)
    return Proof(count, received, root, last_leaf) if kind == _PROVEN else None


def _helper(data_read: int, proof_write: int) -> NoReturn:
    """The forked helper: prove what comes through the pipe, answer, and exit at once
    (never through the parent's code after the fork: no cleanup, no buffers flushed)."""
    code = 1
    try:
        # Nothing the helper makes lives in a reference cycle, so the collector would only
        # walk (and copy, page by page) the heap it shares with the parent.
        gc.disable()
        # Nothing of the parent's stays open here but the two ends the helper uses (a
        # socket or file the parent closes must not live on in the helper).
        low, high = sorted((data_read, proof_write))
        os.closerange(3, low)
        os.closerange(low + 1, high)
        os.closerange(high + 1, _MAX_FD)
        answer = prove(data_read)
        view = memoryview(answer)
        while view:
            view = view[os.write(proof_write, view) :]
        code = 0
    except BaseException:  # noqa: BLE001, S110 - no answer means "not proven"
        pass
    finally:
        os._exit(code)


def prove(fd: int) -> bytes:
    """spec 6.1 (Entry.parse's second half: each line's value is an entry) and 6.2 over
    the lines read from `fd` until its end: the answer for `_receive`. Stops at the first
    line the one-process walk would report."""
    parse = entry_from_object
    loads = _loads
    tree = CompactRange()
    leaves: list[bytes] = []
    previous: str = ZERO_HEX
    count = received = 0
    pending = b""
    while chunk := os.read(fd, CHUNK):
        received += len(chunk)
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        if len(pending) > MAX_ENTRY_LINE_BYTES:
            return _UNPROVEN  # the reader refuses such a line; no need to hold it
        for line in lines:
            try:
                entry = parse(loads(line), line, previous)
            except (_JSONDecodeError, EntryFormatError):
                return _UNPROVEN
            if entry.seq != count or entry.prev != previous:
                return _UNPROVEN
            leaf = entry.leaf
            leaves.append(leaf)
            if len(leaves) == BLOCK:
                tree.extend(leaves)
                leaves.clear()
            previous = leaf.hex()
            count += 1
    if pending:
        return _UNPROVEN  # no final newline: the reader refuses the member
    tree.extend(leaves)
    return _PROOF.pack(_PROVEN, count, received, tree.root(), bytes.fromhex(previous))
