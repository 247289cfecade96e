"""Court bundles (spec 5; issue 5, item 4; docs/adr/0022).

An export is made in the request that asks for it:

1. the requester must be a prosecutor of a party state; with content, their state must
   own or hold an unrevoked share of every exhibit whose bytes go in (spec 6.7);
2. the newest checkpoint whose cosignatures meet the case's policy is chosen (none: 409,
   saying why: the offline verifier would fail the quorum);
3. the bundle is written to `data_dir/exports/<id>.zip.part` by `custody.assemble`,
   content streamed from the evidence store chunk by chunk;
4. it is verified with `custody.verify` under the case policy; if any check fails (a
   custody row changed or removed, a stored object altered, a log key that does not sign
   the stored checkpoints) the export is refused with the failing checks named;
5. report.html (the verifier's own report) is appended, the file's SHA-256 taken, and
   `export.created` logged with it, the shares re-checked in that same unit of work. The
   entry is after the bundle's tree size.

A download re-checks the shares of every exhibit whose bytes are in the bundle and logs
one `exhibit.accessed` per such exhibit before the file is streamed (ADR 0022).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from custody.assemble import AssemblyError, ContentSource, add_report, write_bundle
from custody.bundle import BundleReader
from custody.checkpoint import Checkpoint
from custody.entry import Entry, format_time
from custody.errors import CustodyError
from custody.merkle import MemoryTree
from custody.note import Note, NoteSignature
from custody.policy import Policy, verify_cosigned_checkpoint
from custody.report import render_html
from custody.verify import verify_bundle
from evidence.errors import EvidenceError
from evidence.fs import fsync_dir
from evidence.keys import exhibit_key
from server.auth import Principal
from server.db import read_transaction, write_transaction
from server.errors import (
    BusyError,
    ConflictError,
    InsufficientStorageError,
    NotFoundError,
    PermissionDeniedError,
)
from server.permissions import GRANTABLE_ROLES, Action, authorize
from server.repositories import exhibits as exhibit_repo
from server.repositories import exports as export_repo
from server.repositories import log as log_repo
from server.repositories import shares as share_repo
from server.repositories import witnesses as witness_repo
from server.services import content
from server.services.cases import authorize_read, locked_standing, standing
from server.services.custody_log import CaseLog, case_origin
from server.services.witnessing import case_policy
from server.services.workspace import Workspace

log = logging.getLogger("jitc.exports")

EXPORTS_DIR = "exports"
CANDIDATE_CHECKPOINTS = 32  # cosigned sizes tried, newest first
HASH_CHUNK = 1024 * 1024
EXPORT_RETRY_AFTER = 30  # seconds (Retry-After) when every export slot is taken
PROOF_HASH_LINE = 46  # one base64 SHA-256 and its newline in a tlog-proof
PROOF_HEADER = 256  # a tlog-proof's header lines and ZIP member header
EXPORT_OVERHEAD = 16 * 1024 * 1024  # ZIP headers, manifest, report.html, policy
MAX_REASONS = 10


class ExportRefusedError(ConflictError):
    """The bundle would not verify, or no checkpoint meets the witness quorum."""

    default_code = "export_refused"


@dataclass(frozen=True, slots=True)
class ExportRequest:
    exhibits: tuple[str, ...] | None  # None: every exhibit
    disclosure: str  # full or selective
    content: bool
    recipient: str

    def to_json(self) -> dict[str, Any]:
        return {
            "exhibits": None if self.exhibits is None else list(self.exhibits),
            "disclosure": self.disclosure,
            "content": self.content,
            "recipient": self.recipient,
        }


@dataclass(frozen=True, slots=True)
class ExportMade:
    id: str
    seq: int
    tree_size: int
    bundle_sha256: str
    bundle_size: int
    exhibits: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "seq": self.seq,
            "tree_size": self.tree_size,
            "bundle_sha256": self.bundle_sha256,
            "bundle_size": self.bundle_size,
            "exhibits": self.exhibits,
        }


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


def exports_dir(ws: Workspace) -> Path:
    path = ws.settings.data_dir / EXPORTS_DIR
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


PARTIAL_EXPORT_AGE = 24 * 3600  # seconds: no export takes that long to write


def sweep_partial_exports(ws: Workspace, *, now: float | None = None) -> int:
    """Remove `.zip.part` files a crashed export left behind, and end as refused the
    exports still pending after PARTIAL_EXPORT_AGE (their writer stopped with its process;
    another process's export of the last day is never touched). Returns the files removed."""
    cutoff = (time.time() if now is None else now) - PARTIAL_EXPORT_AGE
    with write_transaction(ws.engine) as conn:
        ended = export_repo.end_stale_pending(
            conn, before=datetime.fromtimestamp(cutoff, UTC), error=INTERRUPTED
        )
    if ended:
        log.warning("%d export(s) left pending by a stopped server ended as refused", len(ended))
        _remove_bundles(ws, ended)
    removed = 0
    for part in exports_dir(ws).glob("*.zip.part"):
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def _with_cosignatures(note: bytes, lines: list[str]) -> Note:
    parsed = Note.parse(note)
    if not lines:
        return parsed
    return parsed.with_signatures([NoteSignature.from_line(line) for line in lines])


def choose_checkpoint(conn: Connection, case_id: str, policy: Policy, origin: str) -> Note:
    """The newest checkpoint whose signature and cosignatures satisfy `policy`."""
    latest = log_repo.latest_checkpoint(conn, case_id)
    if latest is None:
        raise ExportRefusedError("the case has no checkpoint yet", code="no_checkpoint")
    by_size: dict[int, list[str]] = {}
    for size, _name, line in witness_repo.cosignatures(conn, case_id):
        by_size.setdefault(size, []).append(line)
    sizes = sorted({latest.size, *by_size}, reverse=True)[:CANDIDATE_CHECKPOINTS]
    reasons: list[str] = []
    for size in sizes:
        row = log_repo.checkpoint(conn, case_id, size)
        if row is None:
            continue
        note = _with_cosignatures(row.note, by_size.get(size, []))
        try:
            verdict = verify_cosigned_checkpoint(note, policy, origin=origin)
        except CustodyError as exc:
            reasons.append(f"size {size}: {exc}")
            continue
        if verdict.ok:
            return note
        have = ", ".join(verdict.verified_witnesses) or "no witness"
        reasons.append(f"size {size}: cosigned by {have}")
    raise ExportRefusedError(
        f"no checkpoint of this case meets its witness policy (quorum {policy.quorum}); "
        + "; ".join(reasons[:MAX_REASONS])
        + ". Retry once the witnesses have cosigned (GET /checkpoint says JITC-Witnessed).",
        code="not_witnessed",
    )


def _parse_entries(rows: list[bytes], size: int) -> list[Entry]:
    if len(rows) != size:
        raise ExportRefusedError(
            f"the log holds {len(rows)} entries below the checkpoint's size {size}: "
            "custody rows are missing",
            code="log_damaged",
        )
    entries: list[Entry] = []
    for index, raw in enumerate(rows):
        try:
            entry = Entry.parse(raw)
        except CustodyError as exc:
            raise ExportRefusedError(
                f"custody entry {index} is damaged: {exc}", code="log_damaged"
            ) from None
        if entry.seq != index:
            raise ExportRefusedError(
                f"custody entry at position {index} says seq {entry.seq}: rows are missing",
                code="log_damaged",
            )
        entries.append(entry)
    return entries


def _sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def create_export(
    ws: Workspace, principal: Principal, case_id: str, request: ExportRequest
) -> ExportMade:
    _authorize_create(ws, principal, case_id)
    # The slot before reading the log: a burst of refused requests costs no log reads.
    with _export_slot(ws):
        job = _prepare(ws, principal, case_id, request)
        with _export_room(ws, job.needed):
            return _make(ws, job)


def start_export(
    ws: Workspace, principal: Principal, case_id: str, request: ExportRequest
) -> ExportView:
    """POST …/exports with `Prefer: respond-async` (RFC 7240): the same checks as
    `create_export`, answered at once; the bundle is written and verified on a thread and
    the export becomes ready or refused (GET …/exports shows which). A bundle of many GiB
    takes minutes, longer than proxies keep a request open."""
    _authorize_create(ws, principal, case_id)
    slots = ws.export_slots
    _take_slot(ws)
    try:
        job = _prepare(ws, principal, case_id, request)
        _reserve_room(ws, job.needed)
    except BaseException:
        slots.release()
        raise
    inserted = False
    try:
        _insert_pending(ws, job)
        inserted = True
        with read_transaction(ws.engine) as conn:
            row = export_repo.get(conn, case_id, job.export_id)
        assert row is not None
        with ws.export_budget.lock:
            ws.export_budget.running.add(job.export_id)
        _spawn(ws, job)
    except BaseException as exc:
        with ws.export_budget.lock:
            ws.export_budget.running.discard(job.export_id)
        if inserted:
            _refuse_quietly(ws, job, f"failed to start: {type(exc).__name__}")
        _release_room(ws, job.needed)
        slots.release()
        raise
    return ExportView(row)


def _spawn(ws: Workspace, job: _Job) -> None:
    threading.Thread(
        target=_make_in_background, args=(ws, job), name="jitc-export", daemon=True
    ).start()


def _make_in_background(ws: Workspace, job: _Job) -> None:
    try:
        _produce(ws, job)  # records the outcome (ready or refused) itself
    except Exception:
        log.warning("export %s was refused or failed", job.export_id, exc_info=True)
    except BaseException as exc:
        _refuse_quietly(ws, job, f"failed: {type(exc).__name__}")
        raise
    finally:
        with ws.export_budget.lock:
            ws.export_budget.running.discard(job.export_id)
        _release_room(ws, job.needed)
        ws.export_slots.release()


def _refuse_quietly(ws: Workspace, job: _Job, error: str) -> None:
    """End a pending export as refused; a database that fails here too is only logged."""
    try:
        with write_transaction(ws.engine) as conn:
            export_repo.set_refused(conn, job.export_id, error, tree_size=job.size)
    except Exception:
        log.exception("export %s could not be marked refused", job.export_id)


def _authorize_create(ws: Workspace, principal: Principal, case_id: str) -> None:
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.EXPORT_CREATE)


@dataclass(frozen=True, slots=True)
class _Job:
    """An export checked and ready to be written."""

    principal: Principal
    case_id: str
    request: ExportRequest
    export_id: str
    size: int
    entries: list[Entry]
    note: Note
    policy: Policy
    chosen: list[str]
    with_content: list[str]
    needed: int


def _prepare(ws: Workspace, principal: Principal, case_id: str, request: ExportRequest) -> _Job:
    export_id = str(uuid.uuid4())
    origin = case_origin(ws.settings.log_name, case_id)
    with read_transaction(ws.engine) as conn:
        authorize(principal, Action.EXPORT_CREATE, standing(conn, case_id, principal))
        if request.exhibits is not None:
            for exhibit_id in request.exhibits:
                if exhibit_repo.get(conn, case_id, exhibit_id) is None:
                    raise NotFoundError(
                        f"no exhibit {exhibit_id} in this case", code="exhibit_not_found"
                    )
        policy = case_policy(conn, ws.signer, case_id)
        note = choose_checkpoint(conn, case_id, policy, origin)
        size = Checkpoint.parse_body(note.text).size
        rows = log_repo.entries(conn, case_id, 0, size)
        entries = _parse_entries(rows, size)
        chosen = (
            list(request.exhibits)
            if request.exhibits is not None
            else [e.exhibit for e in entries if e.type == "exhibit.registered" and e.exhibit]
        )
        ingested = {e.exhibit for e in entries if e.type == "exhibit.ingested"}
        # A disposed exhibit's bytes are gone: hashes only (its entries still prove them).
        with_content = (
            [x for x in chosen if x in ingested and not content.is_disposed(conn, x)]
            if request.content
            else []
        )
        _may_receive(conn, principal, with_content)  # an export is a read (spec 6.7)
    if request.exhibits is not None:
        registered = {e.exhibit for e in entries if e.type == "exhibit.registered"}
        missing = [x for x in chosen if x not in registered]
        if missing:
            raise ExportRefusedError(
                f"exhibit(s) {', '.join(missing)} were registered after the newest witnessed "
                f"checkpoint (size {size}); retry once it is cosigned",
                code="not_witnessed",
            )
    needed = export_estimate(ws, entries, note, request.disclosure, chosen, with_content)
    return _Job(
        principal, case_id, request, export_id, size, entries, note, policy, chosen,
        with_content, needed,
    )  # fmt: skip


def _make(ws: Workspace, job: _Job) -> ExportMade:
    """Record the export as pending, write and verify the bundle, log export.created."""
    _insert_pending(ws, job)
    return _produce(ws, job)


def _insert_pending(ws: Workspace, job: _Job) -> None:
    principal, request, with_content = job.principal, job.request, job.with_content
    requested = json.dumps(
        {
            "by": principal.actor().to_json(),
            "request": request.to_json(),
            # What a download must re-check and log (bundle_file); _write makes sure the
            # bundle holds the bytes of exactly these exhibits.
            "content_exhibits": with_content,
        },
        sort_keys=True,
    )
    with write_transaction(ws.engine) as conn:
        export_repo.insert_pending(
            conn,
            export_id=job.export_id,
            case_id=job.case_id,
            by=principal.jurisdiction,
            request=requested,
            now=datetime.now(UTC),
        )


def _produce(ws: Workspace, job: _Job) -> ExportMade:
    """Write and verify the bundle of a pending export, then log export.created; any
    refusal or failure ends the export as refused (and is raised)."""
    principal, case_id, request, export_id = job.principal, job.case_id, job.request, job.export_id
    size, entries, note, policy = job.size, job.entries, job.note, job.policy
    chosen, with_content = job.chosen, job.with_content
    try:
        path, digest, length, exhibits = _write(
            ws, case_id, export_id, request, entries, note, policy, chosen, with_content
        )
    except ExportRefusedError as exc:
        with write_transaction(ws.engine) as conn:
            export_repo.set_refused(conn, export_id, exc.message, tree_size=size)
        raise
    except Exception as exc:
        # Storage or disk failed while writing: the export is over, not pending forever.
        with write_transaction(ws.engine) as conn:
            export_repo.set_refused(
                conn, export_id, f"failed while writing: {type(exc).__name__}", tree_size=size
            )
        raise

    def work(log: CaseLog) -> ExportMade:
        # The checks of the read above, again under the case's log lock: a share revoked
        # (or a party removed) while the bundle was written refuses the export.
        authorize(principal, Action.EXPORT_CREATE, locked_standing(log, principal))
        _may_receive(log.conn, principal, with_content)
        _still_pending(log.conn, case_id, export_id)
        entry = log.append(
            principal.actor(),
            "export.created",
            data={
                "bundle_sha256": digest,
                "exhibits": exhibits,
                "disclosure": request.disclosure,
                "recipient": request.recipient,
            },
        )
        if not export_repo.set_ready(
            log.conn, export_id, tree_size=size, sha256=digest, size=length, seq=entry.seq
        ):
            _still_pending(log.conn, case_id, export_id)  # raises: it ended meanwhile
        return ExportMade(export_id, entry.seq, size, digest, length, exhibits)

    try:
        return ws.committer.run(case_id, work)
    except BaseException as exc:
        path.unlink(missing_ok=True)
        if isinstance(exc, PermissionDeniedError | ConflictError):
            reason = exc.message
        else:
            reason = f"failed while logging: {type(exc).__name__}"
        _refuse_quietly(ws, job, reason)
        raise


def _still_pending(conn: Connection, case_id: str, export_id: str) -> None:
    row = export_repo.get(conn, case_id, export_id)
    if row is None or row.status != "pending":
        raise ConflictError(
            f"export {export_id} ended meanwhile ({row.error if row else 'gone'})",
            code="export_ended",
        )


@contextlib.contextmanager
def _export_slot(ws: Workspace) -> Iterator[None]:
    _take_slot(ws)
    try:
        yield
    finally:
        ws.export_slots.release()


INTERRUPTED = "interrupted: the server stopped while writing the bundle; export again"


def _remove_bundles(ws: Workspace, export_ids: list[str]) -> None:
    directory = exports_dir(ws)
    for export_id in export_ids:
        for name in (f"{export_id}.zip", f"{export_id}.zip.part"):
            (directory / name).unlink(missing_ok=True)


def interrupt_running_exports(ws: Workspace) -> list[str]:
    """At shutdown: the exports this process is still writing on threads end as refused
    now (their threads die with the process), not pending for a day. Returns their ids."""
    with ws.export_budget.lock:
        running = sorted(ws.export_budget.running)
    ended: list[str] = []
    if running:
        with write_transaction(ws.engine) as conn:
            ended = [
                export_id
                for export_id in running
                if export_repo.set_refused(conn, export_id, INTERRUPTED, tree_size=None)
            ]
        _remove_bundles(ws, ended)  # never the file of one that became ready meanwhile
    return ended


def _take_slot(ws: Workspace) -> None:
    """One of the JITC_MAX_CONCURRENT_EXPORTS slots, or 503 at once: bundles of many GiB
    written side by side would starve the disk and the evidence store."""
    if not ws.export_slots.acquire(blocking=False):
        raise BusyError(
            f"{ws.settings.max_concurrent_exports} export(s) are being written on this server; "
            "retry shortly",
            retry_after=EXPORT_RETRY_AFTER,
            code="exports_busy",
        )


def export_estimate(
    ws: Workspace,
    entries: list[Entry],
    note: Note,
    disclosure: str,
    chosen: list[str],
    with_content: list[str],
) -> int:
    """Bytes a bundle may take, at most about (ZIP compression only makes it smaller):
    the content; the entries it holds (full: all; selective: the case-level ones and those
    of the chosen exhibits, spec 5) once in the log and once in the report; for selective,
    one proof per entry (the cosigned note, the path's hashes, the entry again); overhead."""
    stored = content.exhibit_content(ws, with_content)
    needed = sum(row.size for row in stored.values()) + EXPORT_OVERHEAD
    disclosed = set(chosen)
    included = [
        len(e.canonical_bytes())
        for e in entries
        if disclosure == "full" or e.exhibit is None or e.exhibit in disclosed
    ]
    needed += 2 * sum(included)
    if disclosure == "selective":
        path = max(1, len(entries)).bit_length() * PROOF_HASH_LINE
        proof = len(note.to_bytes()) + path + PROOF_HEADER
        needed += sum(proof + length for length in included)
    return needed


@contextlib.contextmanager
def _export_room(ws: Workspace, needed: int) -> Iterator[None]:
    _reserve_room(ws, needed)
    try:
        yield
    finally:
        _release_room(ws, needed)


def _reserve_room(ws: Workspace, needed: int) -> None:
    """507 before writing a bundle the disk cannot hold with JITC_EXPORT_RESERVE_BYTES left
    over (the database, uploads and the log need room too). The room is held until the
    export ends, so exports written side by side cannot each count the same free space."""
    budget = ws.export_budget
    with budget.lock:
        free = shutil.disk_usage(exports_dir(ws)).free - budget.reserved
        if free < needed + ws.settings.export_reserve_bytes:
            raise InsufficientStorageError(
                f"the bundle needs about {_mib(needed)} MiB of disk the server cannot spare "
                "now; retry later, ask the operator for room, or export hashes only "
                "(content: false)",
                code="export_no_room",
            )
        budget.reserved += needed


def _release_room(ws: Workspace, needed: int) -> None:
    budget = ws.export_budget
    with budget.lock:
        budget.reserved -= needed


def _mib(n: int) -> int:
    return -(-n // (1024 * 1024))


def _write(
    ws: Workspace,
    case_id: str,
    export_id: str,
    request: ExportRequest,
    entries: list[Entry],
    note: Note,
    policy: Policy,
    chosen: list[str],
    with_content: list[str],
) -> tuple[Path, str, int, list[str]]:
    directory = exports_dir(ws)
    part = directory / f"{export_id}.zip.part"
    final = directory / f"{export_id}.zip"
    policy_text = policy.to_text()
    contents: dict[str, ContentSource] = {}
    if with_content:
        store = ws.store
        for exhibit_id in with_content:
            key = exhibit_key(case_id, exhibit_id)
            contents[exhibit_id] = lambda key=key: store.open_range(key)  # type: ignore[misc]
    tree = MemoryTree.from_leaf_hashes([entry.leaf_hash() for entry in entries])
    now = datetime.now(UTC)
    try:
        try:
            manifest = write_bundle(
                part,
                entries=entries,
                checkpoint_note=note,
                policy_text=policy_text,
                created=format_time(now),
                recipient=request.recipient,
                disclosure=request.disclosure,
                exhibits=chosen,
                contents=contents,
                get_node=tree.get_node,
            )
        except (AssemblyError, EvidenceError) as exc:
            raise ExportRefusedError(
                f"the bundle cannot be made: {exc}", code="export_refused"
            ) from None
        report = verify_bundle(part, policy_text=policy_text, now=now)
        if not report.ok:
            reasons = [f"{f.check}: {f.message}" for f in report.failures()[:MAX_REASONS]]
            raise ExportRefusedError(
                "the bundle fails verification, so it was not released: " + "; ".join(reasons),
                code="export_failed_verification",
            )
        bundled = sorted(x.id for x in manifest.exhibits if x.content is not None)
        if bundled != sorted(with_content):
            raise ExportRefusedError(
                f"the bundle holds the content of {bundled}, not of {sorted(with_content)}",
                code="export_refused",
            )
        add_report(part, render_html(report, entries=entries, policy_text=policy_text))
        digest, length = _sha256_of(part)
        with part.open("rb") as written:  # durable before it has its name and is logged
            os.fsync(written.fileno())
        os.replace(part, final)
        fsync_dir(directory)
    finally:
        part.unlink(missing_ok=True)
    return final, digest, length, [exhibit.id for exhibit in manifest.exhibits]


def _readable(principal: Principal, row: export_repo.ExportRow) -> bool:
    # Prosecutors receive their own state's bundles; judges and defence (authorised by
    # their grant) receive any bundle of the case.
    return principal.role != "prosecutor" or row.requested_by == principal.jurisdiction


def list_exports(ws: Workspace, principal: Principal, case_id: str) -> list[ExportView]:
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.EXPORT_READ)
        rows = export_repo.of_case(conn, case_id)
    return [ExportView(row) for row in rows if _readable(principal, row)]


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
    if row is None or not _readable(principal, row):
        raise NotFoundError(f"no export {export_id} in this case", code="export_not_found")
    return row


def _may_receive(conn: Connection, principal: Principal, with_content: list[str]) -> None:
    """spec 6.7: the bytes of each exhibit go to the owner state, a state holding an
    unrevoked share, or a judge or defence lawyer holding a grant (checked by the matrix).
    No bytes of a disposed exhibit leave the server."""
    for exhibit_id in with_content:
        if content.is_disposed(conn, exhibit_id):
            raise ConflictError(
                f"exhibit {exhibit_id} was disposed of: its content may not leave the server",
                code="exhibit_disposed",
            )
        if principal.role in GRANTABLE_ROLES:
            continue
        if not share_repo.may_read_content(conn, exhibit_id, principal.jurisdiction):
            raise PermissionDeniedError(
                f"exhibit {exhibit_id} is not shared with {principal.jurisdiction}",
                code="exhibit_not_shared",
            )


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


def bundle_file(ws: Workspace, principal: Principal, case_id: str, export_id: str) -> BundleFile:
    """GET …/exports/{id}: check, log one exhibit.accessed per exhibit whose bytes are in
    the bundle, then it may be streamed. A refusal is not an access and is not logged."""
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
        _may_receive(conn, principal, with_content)  # a share revoked since the export
    if not with_content:
        return BundleFile(path, row.bundle_sha256)  # hashes only: no content leaves

    def work(log: CaseLog) -> None:
        # Again under the case's log lock, as content downloads do: a grant or share
        # revoked meanwhile counts. spec 2.1: one access per exhibit, the whole content.
        authorize(principal, Action.EXPORT_READ, locked_standing(log, principal))
        _may_receive(log.conn, principal, with_content)
        for exhibit_id in with_content:
            log.append(
                principal.actor(),
                "exhibit.accessed",
                exhibit=exhibit_id,
                data={"purpose": f"court bundle {export_id}", "range": None},
            )

    ws.committer.run(case_id, work)
    return BundleFile(path, row.bundle_sha256)
