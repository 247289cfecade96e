"""The custody log's rows: heads, entries, Merkle nodes and checkpoints."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, or_, select

from server.models import Checkpoint, CheckpointCosignature, LogEntry, LogHead, LogNode, table
from server.repositories.bulk import insert_rows, update_rows

_H = HEADS = table(LogHead)
_E = ENTRIES = table(LogEntry)
_N = NODES = table(LogNode)
_CP = CHECKPOINTS = table(Checkpoint)
_CS = table(CheckpointCosignature)


@dataclass(frozen=True, slots=True)
class HeadRow:
    size: int
    last_leaf: bytes
    last_time: str
    peaks: bytes


def get_head(conn: Connection, case_id: str) -> HeadRow | None:
    query = select(_H.c.size, _H.c.last_leaf, _H.c.last_time, _H.c.peaks).where(
        _H.c.case_id == case_id
    )
    row = conn.execute(query).one_or_none()
    return None if row is None else HeadRow(*row)


def lock_heads(conn: Connection, case_ids: Sequence[str]) -> dict[str, HeadRow]:
    """Lock several log heads in case id order (PostgreSQL SELECT ... FOR UPDATE).

    On SQLite the whole write transaction already holds the database's write lock
    (BEGIN IMMEDIATE, server.db), and FOR UPDATE is not emitted."""
    query = (
        select(_H.c.case_id, _H.c.size, _H.c.last_leaf, _H.c.last_time, _H.c.peaks)
        .where(_H.c.case_id.in_(case_ids))
        .order_by(_H.c.case_id)
        .with_for_update()
    )
    return {row[0]: HeadRow(*row[1:]) for row in conn.execute(query)}


def insert_heads(conn: Connection, rows: Sequence[dict[str, object]]) -> None:
    insert_rows(conn, _H, rows)


def update_heads(conn: Connection, rows: Sequence[dict[str, object]]) -> None:
    update_rows(conn, _H, "case_id", rows)


def insert_entries(conn: Connection, rows: Sequence[dict[str, object]]) -> None:
    insert_rows(conn, _E, rows)


def insert_nodes(conn: Connection, rows: Sequence[dict[str, object]]) -> None:
    insert_rows(conn, _N, rows)


def entries(conn: Connection, case_id: str, first: int, end: int) -> list[bytes]:
    """Canonical bytes of entries first..end-1, in seq order."""
    query = (
        select(_E.c.canonical)
        .where(_E.c.case_id == case_id, _E.c.seq >= first, _E.c.seq < end)
        .order_by(_E.c.seq)
    )
    return list(conn.execute(query).scalars())


def entries_with_exhibit(
    conn: Connection, case_id: str, first: int, end: int
) -> list[tuple[int, str | None, bytes]]:
    """(seq, exhibit id, canonical bytes) of entries first..end-1, in seq order."""
    query = (
        select(_E.c.seq, _E.c.exhibit_id, _E.c.canonical)
        .where(_E.c.case_id == case_id, _E.c.seq >= first, _E.c.seq < end)
        .order_by(_E.c.seq)
    )
    return [(seq, exhibit, raw) for seq, exhibit, raw in conn.execute(query)]


def exhibit_of(conn: Connection, case_id: str, seq: int) -> tuple[bool, str | None]:
    """(whether entry `seq` exists, the exhibit it concerns)."""
    query = select(_E.c.exhibit_id).where(_E.c.case_id == case_id, _E.c.seq == seq)
    row = conn.execute(query).one_or_none()
    return (False, None) if row is None else (True, row[0])


def leaf_hash(conn: Connection, case_id: str, seq: int) -> bytes | None:
    query = select(_E.c.leaf_hash).where(_E.c.case_id == case_id, _E.c.seq == seq)
    return conn.execute(query).scalar_one_or_none()


def nodes(
    conn: Connection, case_id: str, wanted: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """The stored perfect-subtree hashes at the given (level, index) coordinates."""
    wanted = list(wanted)
    if not wanted:
        return {}
    query = select(_N.c.level, _N.c.idx, _N.c.hash).where(
        _N.c.case_id == case_id,
        or_(*(and_(_N.c.level == level, _N.c.idx == idx) for level, idx in wanted)),
    )
    return {(level, idx): value for level, idx, value in conn.execute(query)}


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    size: int
    root: bytes
    note: bytes


def insert_checkpoints(conn: Connection, rows: Sequence[dict[str, object]]) -> None:
    insert_rows(conn, _CP, rows)


def latest_checkpoint(conn: Connection, case_id: str) -> CheckpointRow | None:
    query = (
        select(_CP.c.size, _CP.c.root, _CP.c.note)
        .where(_CP.c.case_id == case_id)
        .order_by(_CP.c.size.desc())
        .limit(1)
    )
    row = conn.execute(query).one_or_none()
    return None if row is None else CheckpointRow(*row)


def checkpoint(conn: Connection, case_id: str, size: int) -> CheckpointRow | None:
    query = select(_CP.c.size, _CP.c.root, _CP.c.note).where(
        _CP.c.case_id == case_id, _CP.c.size == size
    )
    row = conn.execute(query).one_or_none()
    return None if row is None else CheckpointRow(*row)


def cosignature_lines(conn: Connection, case_id: str, size: int) -> list[str]:
    query = (
        select(_CS.c.line)
        .where(_CS.c.case_id == case_id, _CS.c.size == size)
        .order_by(_CS.c.key_name)
    )
    return list(conn.execute(query).scalars())
