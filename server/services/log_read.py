"""Reading a case's custody log: entries, the signed checkpoint and RFC 9162 proofs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from custody.note import Note, NoteSignature
from server.auth import Principal
from server.db import read_transaction
from server.errors import InvalidRequestError, NotFoundError
from server.permissions import Action
from server.repositories import log as log_repo
from server.services import custody_log, rules
from server.services.cases import authorize_read
from server.services.custody_log import CaseLog
from server.services.workspace import Workspace

MAX_READ_BYTES = 8 * 1024 * 1024
MAX_ENTRIES_PER_READ = 10_000


@dataclass(frozen=True, slots=True)
class EntriesPage:
    lines: bytes
    """Canonical entries, each followed by "\\n" (JSON Lines)."""
    first: int
    end: int
    size: int


@dataclass(frozen=True, slots=True)
class InclusionProof:
    seq: int
    size: int
    leaf_hash: bytes
    root: bytes
    proof: list[bytes]

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "size": self.size,
            "leaf_hash": self.leaf_hash.hex(),
            "root": self.root.hex(),
            "proof": [node.hex() for node in self.proof],
        }


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: list[bytes]

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.old_size,
            "to": self.new_size,
            "from_root": self.old_root.hex(),
            "to_root": self.new_root.hex(),
            "proof": [node.hex() for node in self.proof],
        }


def _size(conn: Any, case_id: str) -> int:
    head = log_repo.get_head(conn, case_id)
    return 0 if head is None else head.size


def read_entries(
    ws: Workspace, principal: Principal, case_id: str, first: int, end: int | None
) -> EntriesPage:
    """Entries first..end-1, at most 10 000 per read; `end` is cut to the log size.

    A defence lawyer reads the case-level entries and those of the exhibits their grant
    discloses, nothing of the others (spec 2.1); the page skips the rest, and `end` still
    says where the read stopped in the log."""
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.LOG_READ)
        size = _size(conn, case_id)
        stop = size if end is None else min(end, size)
        if not 0 <= first <= size or stop < first:
            raise InvalidRequestError(
                f"need 0 <= from <= {size} (the log size) and from <= to", code="bad_range"
            )
        stop = min(stop, first + MAX_ENTRIES_PER_READ)
        rows = log_repo.entries_with_exhibit(conn, case_id, first, stop)
        disclosed = rules.disclosed(conn, case_id, principal)
    # Also at most MAX_READ_BYTES (at least one entry): entries can be large, and one read
    # must not build a response of gigabytes. JITC-Log-End says where this one stopped.
    taken: list[bytes] = []
    total = 0
    reached = stop
    for seq, exhibit, row in rows:
        if disclosed is not None and exhibit is not None and exhibit not in disclosed:
            continue
        if taken and total + len(row) + 1 > MAX_READ_BYTES:
            reached = seq
            break
        taken.append(row)
        total += len(row) + 1
    lines = b"".join(row + b"\n" for row in taken)
    return EntriesPage(lines=lines, first=first, end=reached, size=size)


def latest_checkpoint(ws: Workspace, principal: Principal, case_id: str) -> bytes:
    """The signed checkpoint of the log's current size, with any witness cosignatures."""
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.LOG_READ)
        size = _size(conn, case_id)
        row = log_repo.latest_checkpoint(conn, case_id)
        lines = [] if row is None else log_repo.cosignature_lines(conn, case_id, row.size)
    if row is None or row.size < size:
        # Every append commits with a checkpoint of its size, so this only repairs data
        # written by something else; it signs under the case lock like an append.
        row = ws.committer.run(case_id, CaseLog.ensure_checkpoint)
        lines = []
    if not lines:
        return row.note
    note = Note.parse(row.note)
    return note.with_signatures([NoteSignature.from_line(line) for line in lines]).to_bytes()


def inclusion(
    ws: Workspace, principal: Principal, case_id: str, seq: int, size: int | None
) -> InclusionProof:
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.LOG_READ)
        current = _size(conn, case_id)
        tree_size = current if size is None else size
        if not 0 <= seq < tree_size <= current:
            raise InvalidRequestError(
                f"need 0 <= seq < size <= {current} (the log size)", code="bad_range"
            )
        disclosed = rules.disclosed(conn, case_id, principal)
        if disclosed is not None:
            _, exhibit = log_repo.exhibit_of(conn, case_id, seq)
            if exhibit is not None and exhibit not in disclosed:
                raise NotFoundError(
                    f"no entry {seq} that your grant discloses", code="entry_not_found"
                )
        leaf = log_repo.leaf_hash(conn, case_id, seq)
        assert leaf is not None  # seq < size
        proof = custody_log.inclusion(conn, case_id, seq, tree_size)
        root = custody_log.root_at(conn, case_id, tree_size)
    return InclusionProof(seq, tree_size, leaf, root, proof)


def consistency(
    ws: Workspace, principal: Principal, case_id: str, old: int, new: int | None
) -> ConsistencyProof:
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.LOG_READ)
        current = _size(conn, case_id)
        new_size = current if new is None else new
        if not 0 < old <= new_size <= current:
            raise InvalidRequestError(
                f"need 0 < from <= to <= {current} (the log size)", code="bad_range"
            )
        proof = custody_log.consistency(conn, case_id, old, new_size)
        old_root = custody_log.root_at(conn, case_id, old)
        new_root = custody_log.root_at(conn, case_id, new_size)
    return ConsistencyProof(old, new_size, old_root, new_root, proof)
