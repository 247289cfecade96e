"""Court bundle exports: one row per export request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from server.models import Export, LogEntry, LogNode, table

_X = table(Export)


@dataclass(frozen=True, slots=True)
class ExportRow:
    id: str
    case_id: str
    requested_by: str
    request: str
    status: str
    tree_size: int | None
    bundle_sha256: str | None
    bundle_size: int | None
    seq: int | None
    error: str | None
    created_at: datetime
    log_size: int | None = None
    not_cosigned: str | None = None  # JSON list of witness names
    witnesses: str | None = None  # JSON list: the witnesses of the bundle's policy


_COLUMNS = (
    _X.c.id,
    _X.c.case_id,
    _X.c.requested_by,
    _X.c.request,
    _X.c.status,
    _X.c.tree_size,
    _X.c.bundle_sha256,
    _X.c.bundle_size,
    _X.c.seq,
    _X.c.error,
    _X.c.created_at,
    _X.c.log_size,
    _X.c.not_cosigned,
    _X.c.witnesses,
)


def insert_pending(
    conn: Connection,
    *,
    export_id: str,
    case_id: str,
    by: str,
    request: str,
    now: datetime,
    tree_size: int | None = None,
    log_size: int | None = None,
    not_cosigned: str | None = None,
    witnesses: str | None = None,
) -> None:
    conn.execute(
        insert(_X).values(
            id=export_id,
            case_id=case_id,
            requested_by=by,
            request=request,
            status="pending",
            created_at=now,
            tree_size=tree_size,
            log_size=log_size,
            not_cosigned=not_cosigned,
            witnesses=witnesses,
        )
    )


def set_ready(
    conn: Connection,
    export_id: str,
    *,
    tree_size: int,
    sha256: str,
    size: int,
    seq: int,
) -> bool:
    """Pending -> ready; False (nothing changed) if the export already ended."""
    result = conn.execute(
        update(_X)
        .where(_X.c.id == export_id, _X.c.status == "pending")
        .values(
            status="ready",
            error=None,
            tree_size=tree_size,
            bundle_sha256=sha256,
            bundle_size=size,
            seq=seq,
        )
    )
    return bool(result.rowcount)


def set_refused(conn: Connection, export_id: str, error: str, *, tree_size: int | None) -> bool:
    """Pending -> refused; an export that already ended keeps its outcome (False)."""
    result = conn.execute(
        update(_X)
        .where(_X.c.id == export_id, _X.c.status == "pending")
        .values(status="refused", error=error, tree_size=tree_size)
    )
    return bool(result.rowcount)


def end_stale_pending(conn: Connection, *, before: datetime, error: str) -> list[str]:
    """Refuse exports still pending since before `before` (their writer is gone); the ids
    of those this call refused (one that turned ready meanwhile is left alone)."""
    stale = [
        str(row[0])
        for row in conn.execute(
            select(_X.c.id).where(_X.c.status == "pending", _X.c.created_at < before)
        )
    ]
    return [
        export_id
        for export_id in stale
        if conn.execute(
            update(_X)
            .where(_X.c.id == export_id, _X.c.status == "pending")
            .values(status="refused", error=error)
        ).rowcount
    ]


def pending_ids(conn: Connection) -> list[str]:
    """Every export still pending, oldest first."""
    query = select(_X.c.id).where(_X.c.status == "pending").order_by(_X.c.created_at)
    return [str(row[0]) for row in conn.execute(query)]


def cases_of(conn: Connection, export_ids: list[str]) -> list[tuple[str, str]]:
    """(case id, export id) of each of these exports that exists."""
    if not export_ids:
        return []
    query = select(_X.c.case_id, _X.c.id).where(_X.c.id.in_(export_ids))
    return [(str(row[0]), str(row[1])) for row in conn.execute(query)]


def get(conn: Connection, case_id: str, export_id: str) -> ExportRow | None:
    row = conn.execute(
        select(*_COLUMNS).where(_X.c.id == export_id, _X.c.case_id == case_id)
    ).one_or_none()
    return None if row is None else ExportRow(*row)


def of_case(conn: Connection, case_id: str) -> list[ExportRow]:
    query = select(*_COLUMNS).where(_X.c.case_id == case_id).order_by(_X.c.created_at, _X.c.id)
    return [ExportRow(*row) for row in conn.execute(query)]


# --- whole-case reads for `jitc audit` (server.services.audit) ---------------------------


@dataclass(frozen=True, slots=True)
class CustodyRow:
    seq: int
    leaf_hash: bytes
    canonical: bytes


def custody_rows(conn: Connection, case_id: str) -> list[CustodyRow]:
    """Every stored entry row of a case, by seq, as stored (no checks)."""
    entries = table(LogEntry)
    query = (
        select(entries.c.seq, entries.c.leaf_hash, entries.c.canonical)
        .where(entries.c.case_id == case_id)
        .order_by(entries.c.seq)
    )
    return [CustodyRow(int(seq), leaf, raw) for seq, leaf, raw in conn.execute(query)]


def leaf_nodes(conn: Connection, case_id: str) -> dict[int, bytes]:
    """The stored level-0 Merkle nodes of a case (the leaf hashes the proofs use)."""
    nodes = table(LogNode)
    query = select(nodes.c.idx, nodes.c.hash).where(nodes.c.case_id == case_id, nodes.c.level == 0)
    return {int(idx): value for idx, value in conn.execute(query)}
