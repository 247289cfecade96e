"""Reading exports: the list, one export's status, and the bundle itself.

A download re-checks the shares of every exhibit whose bytes are in the bundle and logs
one `exhibit.accessed` per such exhibit before the file is streamed (ADR 0022). The
bundle is read from the evidence store (ADR 0039), so any app server sends any export,
a byte range of it too (a resumed download).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from custody.bundle import BundleReader
from custody.errors import CustodyError
from evidence import ByteRange, ObjectNotFoundError, bundle_key, resolve_range
from evidence import RangeNotSatisfiableError as StoreRangeError
from server.auth import Principal
from server.db import read_transaction
from server.errors import ConflictError, NotFoundError, RangeNotSatisfiableError
from server.permissions import Action, authorize
from server.repositories import exhibits as exhibit_repo
from server.repositories import exports as export_repo
from server.repositories import log as log_repo
from server.services import rules
from server.services.cases import authorize_read, locked_standing
from server.services.custody_log import CaseLog
from server.services.exports.plan import may_receive
from server.services.exports.writer import HASH_CHUNK, exports_dir
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
            "log_size": row.log_size,
            "not_cosigned": None if row.not_cosigned is None else json.loads(row.not_cosigned),
            "witnesses": None if row.witnesses is None else json.loads(row.witnesses),
            "bundle_sha256": row.bundle_sha256,
            "bundle_size": row.bundle_size,
            "seq": row.seq,
            "error": row.error,
            "created_at": row.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class BundleFile:
    """A bundle on its way out: the whole of it (`selected` None) or one byte range."""

    sha256: str
    size: int
    selected: ByteRange | None
    chunks: Iterator[bytes]


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


def _content_exhibits(ws: Workspace, row: export_repo.ExportRow) -> list[str]:
    """The exhibits whose bytes are in the bundle: as recorded at export time, or, for a
    row from before that was recorded, as its manifest says."""
    stored = json.loads(row.request)
    recorded = stored.get("content_exhibits")
    if isinstance(recorded, list):
        return [str(x) for x in recorded]
    if not stored.get("request", {}).get("content"):
        return []
    with tempfile.TemporaryDirectory(dir=exports_dir(ws)) as scratch:
        # A ZIP is read from its end: the bundle is copied to scratch for its manifest.
        path = Path(scratch) / "bundle.zip"
        with path.open("wb") as out:
            for chunk in _open(ws, row, None):
                out.write(chunk)
        try:
            with BundleReader(path) as bundle:
                manifest, _ = bundle.manifest()
        except CustodyError as exc:
            raise ConflictError(
                f"the bundle of export {row.id} cannot be read: {exc}", code="export_not_ready"
            ) from None
    return [x.id for x in manifest.exhibits if x.content is not None]


def _size(ws: Workspace, row: export_repo.ExportRow) -> int:
    try:
        return ws.store.bundle_size(bundle_key(row.case_id, row.id))
    except ObjectNotFoundError:
        pass
    local = exports_dir(ws) / f"{row.id}.zip"  # written by a server before ADR 0039
    if local.is_file():
        return local.stat().st_size
    raise NotFoundError(f"the bundle of export {row.id} is gone", code="export_not_found")


def _open(ws: Workspace, row: export_repo.ExportRow, selected: ByteRange | None) -> Iterator[bytes]:
    first, last = (None, None) if selected is None else (selected.first, selected.last)
    try:
        return ws.store.open_bundle(bundle_key(row.case_id, row.id), first, last)
    except ObjectNotFoundError:
        pass
    local = exports_dir(ws) / f"{row.id}.zip"
    if not local.is_file():
        raise NotFoundError(f"the bundle of export {row.id} is gone", code="export_not_found")
    return _read_local(local, selected)


def _read_local(path: Path, selected: ByteRange | None) -> Iterator[bytes]:
    with path.open("rb") as handle:
        if selected is not None:
            handle.seek(selected.first)
        left = None if selected is None else selected.length
        while left is None or left > 0:
            chunk = handle.read(HASH_CHUNK if left is None else min(HASH_CHUNK, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk


def _selected(
    size: int, sha256: str, byte_range: tuple[int | None, int | None] | None, if_range: str | None
) -> ByteRange | None:
    if if_range is not None and if_range.strip() != f'"{sha256}"':
        return None  # RFC 9110 13.1.5: not the representation the client holds
    if byte_range is None:
        return None
    try:
        selected = resolve_range(size, *byte_range)
    except StoreRangeError:
        raise RangeNotSatisfiableError(f"the bundle has {size} bytes", size=size) from None
    if selected.first == 0 and selected.last == size - 1:
        return None  # the whole bundle after all
    return selected


def bundle_file(
    ws: Workspace,
    principal: Principal,
    case_id: str,
    export_id: str,
    *,
    byte_range: tuple[int | None, int | None] | None = None,
    if_range: str | None = None,
    record: bool = True,
) -> BundleFile:
    """GET …/exports/{id}: check, log one exhibit.accessed per exhibit whose bytes are in
    the bundle, then it may be streamed (all of it or `byte_range`; `if_range` is the
    client's If-Range, the bundle's ETag being its quoted SHA-256). A refusal (403, 404,
    416) is not an access and is not logged. `record=False` (HEAD: no bytes are sent)
    checks alike and logs nothing."""
    row = _readable_export(ws, principal, case_id, export_id)
    if row.status != "ready" or row.bundle_sha256 is None:
        raise ConflictError(
            f"export {export_id} is {row.status}: {row.error or 'no bundle'}",
            code="export_not_ready",
        )
    sha256 = row.bundle_sha256
    size = _size(ws, row)
    selected = _selected(size, sha256, byte_range, if_range)
    with_content = _content_exhibits(ws, row)
    with read_transaction(ws.engine) as conn:
        may_receive(conn, principal, case_id, with_content)  # revoked since the export
    if not with_content or not record:
        # Hashes only, or no bytes to be sent: no content leaves, nothing to log.
        return BundleFile(sha256, size, selected, _open(ws, row, selected))
    purpose = f"court bundle {row.id}"

    def work(log: CaseLog) -> None:
        # Again under the case's log lock, as content downloads do: a grant or share
        # revoked meanwhile counts. spec 2.1: one access per exhibit, the whole content.
        authorize(principal, Action.EXPORT_READ, locked_standing(log, principal))
        may_receive(log.conn, principal, case_id, with_content)
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

    chunks = _open(ws, row, selected)  # opened before the accesses are logged
    try:
        ws.committer.run(case_id, work)
    except BaseException:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        raise
    return BundleFile(sha256, size, selected, chunks)


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
