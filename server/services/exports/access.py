"""Reading exports: the list, one export's status, and the bundle itself.

A download re-checks the shares of every exhibit whose bytes are in the bundle and logs
one `exhibit.accessed` per such exhibit before the file is streamed (ADR 0022).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from custody.bundle import BundleReader
from custody.errors import CustodyError
from server.auth import Principal
from server.db import read_transaction
from server.errors import ConflictError, NotFoundError
from server.permissions import Action, authorize
from server.repositories import exhibits as exhibit_repo
from server.repositories import exports as export_repo
from server.repositories import log as log_repo
from server.services import rules
from server.services.cases import authorize_read, locked_standing
from server.services.custody_log import CaseLog
from server.services.exports.plan import may_receive
from server.services.exports.writer import exports_dir
from server.services.workspace import Workspace


@dataclass(frozen=True, slots=True)
class ExportView:
    row: export_repo.ExportRow

    def to_json(self) -> dict[str, Any]:
        row = self.row
        request = json.loads(row.request)
        return {
            "id": row.id,
            "status": row.status,
            "requested_by": request.get("by"),
            "request": request.get("request"),
            "tree_size": row.tree_size,
            "bundle_sha256": row.bundle_sha256,
            "bundle_size": row.bundle_size,
            "seq": row.seq,
            "error": row.error,
            "created_at": row.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class BundleFile:
    path: Path
    sha256: str


@dataclass(frozen=True, slots=True)
class _Scope:
    """What a defence lawyer may see of the case: the exhibits their grant discloses, and
    every exhibit of the case (a full bundle holds the entries of all of them)."""

    disclosed: frozenset[str]
    exhibits: frozenset[str]


def _scope(conn: Connection, case_id: str, principal: Principal) -> _Scope | None:
    disclosed = rules.disclosed(conn, case_id, principal)
    if disclosed is None:
        return None
    return _Scope(disclosed, frozenset(exhibit_repo.owners(conn, case_id, None)))


def _readable(principal: Principal, row: export_repo.ExportRow, scope: _Scope | None) -> bool:
    """Prosecutors receive their own state's bundles; judges (through their grant) any
    bundle of the case; a defence lawyer only a bundle that holds nothing of an exhibit
    their grant does not disclose: a selective one of disclosed exhibits (spec 5: the
    case-level entries and those exhibits' entries), or a full one when every exhibit of
    the case is disclosed. Content is checked again at download."""
    if principal.role == "prosecutor":
        return row.requested_by == principal.jurisdiction
    if scope is None:
        return True
    request = json.loads(row.request).get("request") or {}
    chosen = request.get("exhibits")
    if request.get("disclosure") == "selective" and isinstance(chosen, list):
        return all(str(x) in scope.disclosed for x in chosen)
    return scope.exhibits <= scope.disclosed


def list_exports(ws: Workspace, principal: Principal, case_id: str) -> list[ExportView]:
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.EXPORT_READ)
        rows = export_repo.of_case(conn, case_id)
        scope = _scope(conn, case_id, principal)
    return [ExportView(row) for row in rows if _readable(principal, row, scope)]


def export_status(ws: Workspace, principal: Principal, case_id: str, export_id: str) -> ExportView:
    """GET …/exports/{id}/status: how one export goes (pending, ready, refused); reads no
    bundle and logs nothing. The 202 of an asynchronous export points here."""
    return ExportView(_readable_export(ws, principal, case_id, export_id))


def _readable_export(
    ws: Workspace, principal: Principal, case_id: str, export_id: str
) -> export_repo.ExportRow:
    """The export's row, if the caller may receive it (404 otherwise, as for no export)."""
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.EXPORT_READ)
        row = export_repo.get(conn, case_id, export_id)
        scope = _scope(conn, case_id, principal)
    if row is None or not _readable(principal, row, scope):
        raise NotFoundError(f"no export {export_id} in this case", code="export_not_found")
    return row


def _content_exhibits(row: export_repo.ExportRow, path: Path) -> list[str]:
    """The exhibits whose bytes are in the bundle: as recorded at export time, or, for a
    row from before that was recorded, as its manifest says."""
    stored = json.loads(row.request)
    recorded = stored.get("content_exhibits")
    if isinstance(recorded, list):
        return [str(x) for x in recorded]
    if not stored.get("request", {}).get("content"):
        return []
    try:
        with BundleReader(path) as bundle:
            manifest, _ = bundle.manifest()
    except CustodyError as exc:
        raise ConflictError(
            f"the bundle of export {row.id} cannot be read: {exc}", code="export_not_ready"
        ) from None
    return [x.id for x in manifest.exhibits if x.content is not None]


def bundle_file(
    ws: Workspace, principal: Principal, case_id: str, export_id: str, *, record: bool = True
) -> BundleFile:
    """GET …/exports/{id}: check, log one exhibit.accessed per exhibit whose bytes are in
    the bundle, then it may be streamed. A refusal is not an access and is not logged.
    `record=False` only checks: the caller records with `record_bundle_download` once it
    knows that bundle bytes will be sent (not for HEAD, 304 or 416)."""
    row = _readable_export(ws, principal, case_id, export_id)
    if row.status != "ready" or row.bundle_sha256 is None:
        raise ConflictError(
            f"export {export_id} is {row.status}: {row.error or 'no bundle'}",
            code="export_not_ready",
        )
    path = exports_dir(ws) / f"{export_id}.zip"
    if not path.is_file():
        raise NotFoundError(f"the bundle of export {export_id} is gone", code="export_not_found")
    with_content = _content_exhibits(row, path)
    with read_transaction(ws.engine) as conn:
        may_receive(conn, principal, case_id, with_content)  # revoked since the export
    if with_content and record:
        _record(ws, principal, row, with_content)
    return BundleFile(path, row.bundle_sha256)


def record_bundle_download(
    ws: Workspace, principal: Principal, case_id: str, export_id: str
) -> None:
    """Log the accesses of a bundle download that is about to send bytes (after
    `bundle_file(..., record=False)`); the checks are made again under the log lock."""
    row = _readable_export(ws, principal, case_id, export_id)
    with_content = _content_exhibits(row, exports_dir(ws) / f"{export_id}.zip")
    if with_content:
        _record(ws, principal, row, with_content)


def _record(
    ws: Workspace, principal: Principal, row: export_repo.ExportRow, with_content: list[str]
) -> None:
    purpose = f"court bundle {row.id}"

    def work(log: CaseLog) -> None:
        # Again under the case's log lock, as content downloads do: a grant or share
        # revoked meanwhile counts. spec 2.1: one access per exhibit, the whole content.
        authorize(principal, Action.EXPORT_READ, locked_standing(log, principal))
        may_receive(log.conn, principal, row.case_id, with_content)
        # One download of one export by one person is one access per exhibit: a resumed
        # or repeated download (ranges, retries) of the same bundle by the same person
        # adds nothing the log does not already say (docs/permissions.md).
        if _received_before(log, principal, row, purpose):
            return
        for exhibit_id in with_content:
            log.append(
                principal.actor(),
                "exhibit.accessed",
                exhibit=exhibit_id,
                data={"purpose": purpose, "range": None},
            )

    ws.committer.run(row.case_id, work)


def _received_before(
    log: CaseLog, principal: Principal, row: export_repo.ExportRow, purpose: str
) -> bool:
    """Whether this person's download of this export is in the log already (only entries
    after the export's tree size can be)."""
    first = row.tree_size or 0
    stored = log_repo.entries(log.conn, row.case_id, first, log.size)
    for raw in [*stored, *log.unflushed()]:
        entry = json.loads(raw)
        actor = entry.get("actor") or {}
        if (
            entry.get("type") == "exhibit.accessed"
            and (entry.get("data") or {}).get("purpose") == purpose
            and actor.get("jurisdiction") == principal.jurisdiction
            and actor.get("sub") == principal.sub
        ):
            return True
    return False
