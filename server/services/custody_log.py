"""The live custody log of each case (spec 1-4): appends, Merkle nodes, signed checkpoints.

`CaseLog.append` is the one function that writes custody entries. It runs inside the
write transaction of the change it records, after the case's log head was locked
(`CaseLog.lock_many`, driven by `server.services.committer`): SELECT ... FOR UPDATE on
PostgreSQL, the database write lock taken by BEGIN IMMEDIATE on SQLite. So concurrent
writers queue, and the chain never forks or leaves a gap. The Merkle tree is kept as a
compact range in the head row plus every completed perfect subtree in log_nodes, so an
append, a root or a proof costs O(log n).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Table

from custody.checkpoint import Checkpoint
from custody.entry import Actor, Entry, format_time, make_entry
from custody.merkle import (
    CompactRange,
    consistency_proof,
    inclusion_proof,
    subtree_root,
)
from custody.note import NoteSigner, sign_note
from server.repositories import exhibits as exhibit_repo
from server.repositories import log as log_repo
from server.repositories.bulk import Insert, Row, Update, Write, write_all

ZERO_HASH = bytes(32)
HASH_SIZE = 32
T = TypeVar("T")
GetNode = Callable[[int, int], bytes]


def case_origin(log_name: str, case_id: str) -> str:
    """spec 1: `<log name>/case/<case id>`."""
    return f"{log_name}/case/{case_id}"


class CheckpointSigner:
    """Signs checkpoints with the log key, under each case's origin as key name (spec 4)."""

    _CACHE_LIMIT = 4096

    def __init__(self, log_name: str, seed: bytes) -> None:
        self.log_name = log_name
        self._seed = seed
        self._signers: dict[str, NoteSigner] = {}
        self._lock = threading.Lock()
        self.log_signer = NoteSigner.from_seed(log_name, seed)

    def vkey(self) -> str:
        """The log key's vkey under the log name (GET /api/log-key)."""
        return self.log_signer.vkey()

    def case_signer(self, case_id: str) -> NoteSigner:
        origin = case_origin(self.log_name, case_id)
        with self._lock:
            signer = self._signers.get(origin)
        if signer is None:
            signer = NoteSigner.from_seed(origin, self._seed)
            with self._lock:
                if len(self._signers) >= self._CACHE_LIMIT:
                    self._signers.clear()
                self._signers[origin] = signer
        return signer

    def sign(self, case_id: str, size: int, root: bytes) -> bytes:
        signer = self.case_signer(case_id)
        body = Checkpoint(signer.name, size, root).body()
        return sign_note(body, [signer]).to_bytes()


@dataclass
class _Rows:
    entries: list[dict[str, object]] = field(default_factory=list)
    nodes: list[dict[str, object]] = field(default_factory=list)
    heads: list[dict[str, object]] = field(default_factory=list)
    new_heads: list[dict[str, object]] = field(default_factory=list)
    checkpoints: list[dict[str, object]] = field(default_factory=list)
    exhibit_leaves: list[tuple[str, bytes]] = field(default_factory=list)
    deferred: dict[Table, list[Mapping[str, Any]]] = field(default_factory=dict)


def flush_logs(conn: Connection, logs: Sequence[CaseLog]) -> None:
    """Write what the logs appended in this transaction, one multi-row statement per table."""
    rows = _Rows()
    for log in logs:
        log._take_rows(rows)
    # Deferred rows first (dicts keep insertion order), then the log's own rows.
    writes: list[Write] = [Insert(table, values) for table, values in rows.deferred.items()]
    if rows.entries:
        writes += [
            Insert(log_repo.ENTRIES, rows.entries),
            Insert(log_repo.NODES, rows.nodes),
            Insert(log_repo.HEADS, rows.new_heads),
            Update(log_repo.HEADS, "case_id", rows.heads),
            Update(
                exhibit_repo.EXHIBITS,
                "id",
                [{"id": eid, "last_leaf": leaf} for eid, leaf in rows.exhibit_leaves],
            ),
            Insert(log_repo.CHECKPOINTS, rows.checkpoints),
        ]
    write_all(conn, writes)


def _split_peaks(blob: bytes) -> tuple[bytes, ...]:
    return tuple(blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE))


@dataclass(frozen=True, slots=True)
class LogSnapshot:
    """A CaseLog's in-memory state at one point of a batch (see CaseLog.snapshot)."""

    size: int
    peaks: tuple[bytes, ...]
    last_leaf: bytes
    last_time: str
    entries: int
    nodes: int
    exhibit_heads: dict[str, bytes]
    dirty_exhibits: frozenset[str]
    deferred: int
    parties: frozenset[str] | None


class CaseLog:
    """One case's log inside one write transaction, its head locked. Not thread-safe."""

    def __init__(
        self,
        conn: Connection,
        case_id: str,
        head: log_repo.HeadRow,
        signer: CheckpointSigner,
        *,
        is_new: bool,
    ) -> None:
        self.conn = conn
        self.case_id = case_id
        self._signer = signer
        self._is_new = is_new
        self._range = CompactRange(head.size, _split_peaks(head.peaks))
        self._last_leaf = head.last_leaf
        self._last_time = head.last_time
        self._entries: list[dict[str, object]] = []
        self._nodes: list[dict[str, object]] = []
        self._exhibit_heads: dict[str, bytes] = {}
        self._dirty_exhibits: set[str] = set()
        self._deferred: list[Row] = []
        self.parties: frozenset[str] | None = None
        """The case's parties as read (and changed) in this transaction; services fill it."""

    @classmethod
    def lock_many(
        cls, conn: Connection, case_ids: Sequence[str], signer: CheckpointSigner
    ) -> dict[str, CaseLog]:
        """Lock several cases' log heads at once, in case id order (no deadlocks between
        batches); cases with no log are left out."""
        heads = log_repo.lock_heads(conn, sorted(set(case_ids)))
        return {cid: cls(conn, cid, head, signer, is_new=False) for cid, head in heads.items()}

    @classmethod
    def new(cls, conn: Connection, case_id: str, signer: CheckpointSigner) -> CaseLog:
        """The empty log of a case created in this transaction (no one else can see it)."""
        empty = log_repo.HeadRow(size=0, last_leaf=ZERO_HASH, last_time="", peaks=b"")
        return cls(conn, case_id, empty, signer, is_new=True)

    @property
    def size(self) -> int:
        return int(self._range.size)

    def append(
        self,
        actor: Actor,
        type_: str,
        *,
        data: Mapping[str, object],
        exhibit: str | None = None,
        new_exhibit: bool = False,
    ) -> Entry:
        """Append one entry (spec 2) recording a change made in this same transaction.

        `new_exhibit` says the exhibit is registered by this entry, so its chain starts at
        zero (spec 2 exhibit_prev); the caller stores the entry's leaf hash as its head.
        """
        exhibit_prev: bytes | None = None
        if exhibit is not None:
            if new_exhibit:
                exhibit_prev = ZERO_HASH
            elif exhibit in self._exhibit_heads:
                exhibit_prev = self._exhibit_heads[exhibit]
            else:
                exhibit_prev = exhibit_repo.last_leaf(self.conn, exhibit) or ZERO_HASH
        # spec 2: time never decreases along seq. Fixed-width RFC 3339 UTC strings order
        # like the instants they name, so the later of the two strings is the later time.
        time = max(format_time(datetime.now(UTC)), self._last_time)
        entry = make_entry(
            case=self.case_id,
            seq=self.size,
            prev=self._last_leaf,
            time=time,
            actor=actor,
            type=type_,
            exhibit=exhibit,
            exhibit_prev=exhibit_prev,
            data=data,
        )
        leaf = entry.leaf_hash()
        for level, index, value in self._range.append(leaf):
            self._nodes.append(
                {"case_id": self.case_id, "level": level, "idx": index, "hash": value}
            )
        self._entries.append(
            {
                "case_id": self.case_id,
                "seq": entry.seq,
                "leaf_hash": leaf,
                "canonical": entry.canonical_bytes(),
                "type": entry.type,
                "exhibit_id": exhibit,
                "time": entry.time,
            }
        )
        self._last_leaf = leaf
        self._last_time = entry.time
        if exhibit is not None:
            if exhibit in self._exhibit_heads or not new_exhibit:
                self._dirty_exhibits.add(exhibit)
            self._exhibit_heads[exhibit] = leaf
        return entry

    def snapshot(self) -> LogSnapshot:
        """This log's in-memory state, for undoing one refused unit of work (`restore`)."""
        return LogSnapshot(
            size=self._range.size,
            peaks=self._range.peaks,
            last_leaf=self._last_leaf,
            last_time=self._last_time,
            entries=len(self._entries),
            nodes=len(self._nodes),
            exhibit_heads=dict(self._exhibit_heads),
            dirty_exhibits=frozenset(self._dirty_exhibits),
            deferred=len(self._deferred),
            parties=self.parties,
        )

    def restore(self, snapshot: LogSnapshot) -> None:
        """Go back to a `snapshot` (the database side is undone by a savepoint)."""
        self._range = CompactRange(snapshot.size, snapshot.peaks)
        self._last_leaf = snapshot.last_leaf
        self._last_time = snapshot.last_time
        del self._entries[snapshot.entries :]
        del self._nodes[snapshot.nodes :]
        self._exhibit_heads = dict(snapshot.exhibit_heads)
        self._dirty_exhibits = set(snapshot.dirty_exhibits)
        del self._deferred[snapshot.deferred :]
        self.parties = snapshot.parties

    def defer(self, row: Row) -> None:
        """Insert `row` when the batch is flushed, with the other rows of its table.

        A deferred row is not visible to queries before the flush; use it only for rows
        nothing else in the same transaction looks up (a new exhibit, a new note)."""
        self._deferred.append(row)

    def unflushed(self) -> list[bytes]:
        """Canonical bytes of the entries appended in this batch and not yet written (a
        later unit of a group commit sees them here, not in the table)."""
        return [cast(bytes, row["canonical"]) for row in self._entries]

    def flush(self) -> None:
        """Write the appended entries, nodes, head and a signed checkpoint of the new size."""
        flush_logs(self.conn, [self])

    def _take_rows(self, rows: _Rows) -> None:
        for row in self._deferred:
            rows.deferred.setdefault(row.table, []).append(row.values)
        self._deferred = []
        if not self._entries:
            return
        rows.entries.extend(self._entries)
        rows.nodes.extend(self._nodes)
        head = {
            "case_id": self.case_id,
            "size": self.size,
            "last_leaf": self._last_leaf,
            "last_time": self._last_time,
            "peaks": b"".join(self._range.peaks),
        }
        (rows.new_heads if self._is_new else rows.heads).append(head)
        rows.exhibit_leaves.extend(
            (eid, self._exhibit_heads[eid]) for eid in sorted(self._dirty_exhibits)
        )
        # spec 4: one checkpoint per committed size; the primary key (case, size) refuses
        # a second root for the same size.
        root = self._range.root()
        rows.checkpoints.append(
            {
                "case_id": self.case_id,
                "size": self.size,
                "root": root,
                "note": self._signer.sign(self.case_id, self.size, root),
                "created_at": datetime.now(UTC),
            }
        )
        self._is_new = False
        self._entries = []
        self._nodes = []
        self._dirty_exhibits = set()

    def ensure_checkpoint(self) -> log_repo.CheckpointRow:
        """The checkpoint of the current size, signed now if there is none yet."""
        self.flush()
        row = log_repo.checkpoint(self.conn, self.case_id, self.size)
        if row is not None:
            return row
        root = root_at(self.conn, self.case_id, self.size)
        note = self._signer.sign(self.case_id, self.size, root)
        log_repo.insert_checkpoints(
            self.conn,
            [
                {
                    "case_id": self.case_id,
                    "size": self.size,
                    "root": root,
                    "note": note,
                    "created_at": datetime.now(UTC),
                }
            ],
        )
        return log_repo.CheckpointRow(self.size, root, note)


# --- reading: proofs from stored perfect subtrees --------------------------------------


def with_nodes(conn: Connection, case_id: str, compute: Callable[[GetNode], T]) -> T:
    """Run a Merkle computation over stored nodes with one query.

    The nodes a proof or root needs depend only on the tree shape, never on hash values,
    so a first dry run records the (level, index) coordinates and one SELECT fetches them.
    """
    wanted: set[tuple[int, int]] = set()

    def probe(level: int, index: int) -> bytes:
        wanted.add((level, index))
        return ZERO_HASH

    compute(probe)
    found = log_repo.nodes(conn, case_id, wanted)
    missing = wanted - found.keys()
    if missing:  # a stored tree with a hole is corruption, not bad input
        raise RuntimeError(f"case {case_id}: Merkle nodes missing: {sorted(missing)[:5]}")
    return compute(lambda level, index: found[(level, index)])


def root_at(conn: Connection, case_id: str, size: int) -> bytes:
    return with_nodes(conn, case_id, lambda get: subtree_root(0, size, get))


def inclusion(conn: Connection, case_id: str, index: int, size: int) -> list[bytes]:
    return with_nodes(conn, case_id, lambda get: inclusion_proof(index, size, get))


def consistency(conn: Connection, case_id: str, old: int, new: int) -> list[bytes]:
    return with_nodes(conn, case_id, lambda get: consistency_proof(old, new, get))
