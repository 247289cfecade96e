"""Writing a planned export (spec 5; ADR 0022).

The bundle is written to `data_dir/exports/<id>.zip.part` by `custody.assemble`, content
streamed from the evidence store chunk by chunk, and verified with `custody.verify` under
the case policy; if any check fails (a custody row changed or removed, a stored object
altered, a log key that does not sign the stored checkpoints) the export is refused with
the failing checks named. Then report.html (the verifier's own report) is appended, the
file's SHA-256 taken, and `export.created` logged with it, the shares re-checked in that
same unit of work. The entry is after the bundle's tree size.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection

from custody.assemble import AssemblyError, ContentSource, add_report, write_bundle
from custody.entry import format_time
from custody.merkle import MemoryTree
from custody.report import render_html
from custody.verify import verify_bundle
from evidence import BlobStore, EvidenceError, ExhibitKey, Lease, LeaseLostError, exhibit_key
from evidence.fs import fsync_dir
from server.db import write_transaction
from server.errors import ConflictError, PermissionDeniedError
from server.permissions import Action, authorize
from server.repositories import exports as export_repo
from server.services.cases import locked_standing
from server.services.custody_log import CaseLog
from server.services.exports.plan import MAX_REASONS, ExportRefusedError, Job, may_receive
from server.services.workspace import Workspace

log = logging.getLogger("jitc.exports")

EXPORTS_DIR: Final = "exports"
HASH_CHUNK: Final = 1024 * 1024


class WriterStoppedError(Exception):
    """The server is stopping: the bundle is left unwritten (its export ends refused)."""


@dataclass(frozen=True, slots=True)
class Watch:
    """What a writer looks at between content chunks and before verifying: the server
    stopping (it ends early), and the leases it holds (its slot and its own), renewed so
    that no other server takes them while it works."""

    stopping: threading.Event | None = None
    leases: tuple[Lease, ...] = ()

    def check(self) -> None:
        if self.stopping is not None and self.stopping.is_set():
            raise WriterStoppedError
        for lease in self.leases:
            lease.renew()  # LeaseLostError: this server stalled too long; the export ends


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


def exports_dir(ws: Workspace) -> Path:
    path = ws.settings.data_dir / EXPORTS_DIR
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def insert_pending(ws: Workspace, job: Job) -> None:
    principal, request, with_content = job.principal, job.request, job.with_content
    requested = json.dumps(
        {
            "by": principal.actor().to_json(),
            "request": request.to_json(),
            # What a download must re-check and log (bundle_file); `write` makes sure the
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


def refuse_quietly(ws: Workspace, job: Job, error: str) -> None:
    """End a pending export as refused; a database that fails here too is only logged."""
    try:
        with write_transaction(ws.engine) as conn:
            export_repo.set_refused(conn, job.export_id, error, tree_size=job.size)
    except Exception:
        log.exception("export %s could not be marked refused", job.export_id)


def produce(ws: Workspace, job: Job, watch: Watch | None = None) -> ExportMade:
    """Write and verify the bundle of a pending export, then log export.created; any
    refusal or failure ends the export as refused (and is raised). `watch` is checked
    between content chunks: once the server stops the writing ends early
    (WriterStoppedError)."""
    principal, case_id, request, export_id = job.principal, job.case_id, job.request, job.export_id
    try:
        path, digest, length, exhibits = write(ws, job, watch or Watch())
    except ExportRefusedError as exc:
        with write_transaction(ws.engine) as conn:
            export_repo.set_refused(conn, export_id, exc.message, tree_size=job.size)
        raise
    except Exception as exc:
        # Storage or disk failed while writing: the export is over, not pending forever.
        with write_transaction(ws.engine) as conn:
            export_repo.set_refused(
                conn, export_id, f"failed while writing: {type(exc).__name__}", tree_size=job.size
            )
        raise

    def work(log: CaseLog) -> ExportMade:
        # The checks of the read above, again under the case's log lock: a share revoked
        # (or a party removed) while the bundle was written refuses the export.
        authorize(principal, Action.EXPORT_CREATE, locked_standing(log, principal))
        may_receive(log.conn, principal, job.case_id, job.with_content)
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
            log.conn, export_id, tree_size=job.size, sha256=digest, size=length, seq=entry.seq
        ):
            _still_pending(log.conn, case_id, export_id)  # raises: it ended meanwhile
        return ExportMade(export_id, entry.seq, job.size, digest, length, exhibits)

    try:
        return ws.committer.run(case_id, work)
    except BaseException as exc:
        path.unlink(missing_ok=True)
        if isinstance(exc, PermissionDeniedError | ConflictError):
            reason = exc.message
        else:
            reason = f"failed while logging: {type(exc).__name__}"
        refuse_quietly(ws, job, reason)
        raise


def _still_pending(conn: Connection, case_id: str, export_id: str) -> None:
    row = export_repo.get(conn, case_id, export_id)
    if row is None or row.status != "pending":
        raise ConflictError(
            f"export {export_id} ended meanwhile ({row.error if row else 'gone'})",
            code="export_ended",
        )


def _watched(chunks: Iterable[bytes], watch: Watch) -> Iterator[bytes]:
    """The content's chunks, `watch` checked before each."""
    try:
        for chunk in chunks:
            watch.check()
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _content(store: BlobStore, key: ExhibitKey, watch: Watch) -> Iterable[bytes]:
    return _watched(store.open_range(key), watch)


def _sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def write(ws: Workspace, job: Job, watch: Watch) -> tuple[Path, str, int, list[str]]:
    """The bundle, written, verified, its report added, durable under its final name; the
    path, its SHA-256, its size and the exhibits it names."""
    directory = exports_dir(ws)
    part = directory / f"{job.export_id}.zip.part"
    final = directory / f"{job.export_id}.zip"
    policy_text = job.policy.to_text()
    contents: dict[str, ContentSource] = {}
    if job.with_content:
        store = ws.store
        for exhibit_id in job.with_content:
            key = exhibit_key(job.case_id, exhibit_id)
            contents[exhibit_id] = functools.partial(_content, store, key, watch)
    tree = MemoryTree.from_leaf_hashes([entry.leaf_hash() for entry in job.entries])
    now = datetime.now(UTC)
    try:
        try:
            manifest = write_bundle(
                part,
                entries=job.entries,
                checkpoint_note=job.note,
                policy_text=policy_text,
                created=format_time(now),
                recipient=job.request.recipient,
                disclosure=job.request.disclosure,
                exhibits=job.chosen,
                contents=contents,
                get_node=tree.get_node,
                log_size=tree.size,
            )
        except LeaseLostError:
            raise  # this server stalled and another took over: nothing about the bundle
        except (AssemblyError, EvidenceError) as exc:
            raise ExportRefusedError(
                f"the bundle cannot be made: {exc}", code="export_refused"
            ) from None
        watch.check()
        report = verify_bundle(part, policy_text=policy_text, now=now)
        watch.check()
        if not report.ok:
            reasons = [f"{f.check}: {f.message}" for f in report.failures()[:MAX_REASONS]]
            raise ExportRefusedError(
                "the bundle fails verification, so it was not released: " + "; ".join(reasons),
                code="export_failed_verification",
            )
        bundled = sorted(x.id for x in manifest.exhibits if x.content is not None)
        if bundled != sorted(job.with_content):
            raise ExportRefusedError(
                f"the bundle holds the content of {bundled}, not of {sorted(job.with_content)}",
                code="export_refused",
            )
        add_report(part, render_html(report, entries=job.entries, policy_text=policy_text))
        digest, length = _sha256_of(part)
        with part.open("rb") as written:  # durable before it has its name and is logged
            os.fsync(written.fileno())
        os.replace(part, final)
        fsync_dir(directory)
    finally:
        part.unlink(missing_ok=True)
    return final, digest, length, [exhibit.id for exhibit in manifest.exhibits]
