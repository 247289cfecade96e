"""Writing a planned export (spec 5; ADR 0022, ADR 0039).

The bundle is written to the scratch file `data_dir/exports/<id>.zip.part` by
`custody.assemble`, content streamed from the evidence store chunk by chunk, and
verified with `custody.verify` under the case policy; if any check fails (a custody row
changed or removed, a stored object altered, a log key that does not sign the stored
checkpoints) the export is refused with the failing checks named. Then report.html (the
verifier's own report) is appended, the file's SHA-256 taken, the bundle stored in the
evidence store (`bundles/<case>/<id>.zip`, where every app server reads it), and
`export.created` logged with the SHA-256, the shares re-checked in that same unit of
work. The entry is after the bundle's tree size. A bundle whose entry is never logged is
removed from the store (here, or by the sweep that ends its export refused).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
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
from evidence import (
    BlobStore,
    BundleKey,
    EvidenceError,
    ExhibitKey,
    Lease,
    LeaseLostError,
    bundle_key,
    exhibit_key,
)
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
    log_size: int
    not_cosigned: tuple[str, ...]
    witnesses: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "seq": self.seq,
            "tree_size": self.tree_size,
            "log_size": self.log_size,
            "not_cosigned": list(self.not_cosigned),
            "witnesses": list(self.witnesses),
            "bundle_sha256": self.bundle_sha256,
            "bundle_size": self.bundle_size,
            "exhibits": self.exhibits,
        }


def exports_dir(ws: Workspace) -> Path:
    """This server's scratch folder for bundles being written (and, read-only, bundles
    written before they moved into the evidence store)."""
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
            tree_size=job.size,
            log_size=job.log_size,
            not_cosigned=json.dumps(list(job.not_cosigned)),
            witnesses=json.dumps([w.name for w in job.policy.witnesses]),
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
        key, digest, length, exhibits = write(ws, job, watch or Watch())
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
        return ExportMade(
            export_id,
            entry.seq,
            job.size,
            digest,
            length,
            exhibits,
            log_size=job.log_size,
            not_cosigned=job.not_cosigned,
            witnesses=tuple(w.name for w in job.policy.witnesses),
        )

    try:
        return ws.committer.run(case_id, work)
    except BaseException as exc:
        remove_bundle_quietly(ws, key)
        if isinstance(exc, PermissionDeniedError | ConflictError):
            reason = exc.message
        else:
            reason = f"failed while logging: {type(exc).__name__}"
        refuse_quietly(ws, job, reason)
        raise


def remove_bundle_quietly(ws: Workspace, key: BundleKey) -> None:
    """Remove the bundle of an export that will never be ready; a store that fails here
    is only logged (the sweep of ended exports removes it later)."""
    try:
        ws.store.remove_bundle(key)
    except EvidenceError:
        log.warning("bundle %s could not be removed now", key, exc_info=True)


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


def write(ws: Workspace, job: Job, watch: Watch) -> tuple[BundleKey, str, int, list[str]]:
    """The bundle, written, verified, its report added, stored in the evidence store; its
    key there, its SHA-256, its size and the exhibits it names."""
    part = exports_dir(ws) / f"{job.export_id}.zip.part"
    key = bundle_key(job.case_id, job.export_id)
    policy_text = job.policy_text  # spec 5: the newest case.policy_set at tree_size
    contents: dict[str, ContentSource] = {}
    if job.with_content:
        store = ws.store
        for exhibit_id in job.with_content:
            content_key = exhibit_key(job.case_id, exhibit_id)
            contents[exhibit_id] = functools.partial(_content, store, content_key, watch)
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
                log_size=job.log_size,  # spec 5: how far the log had gone
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
        watch.check()  # still this export's writer: only it stores the bundle's key
        stored = ws.store.put_bundle(key, part)  # durable before it is logged
        if stored != length:
            remove_bundle_quietly(ws, key)
            raise ExportRefusedError(
                f"the store holds {stored} bytes of the bundle, not {length}",
                code="export_refused",
            )
    finally:
        part.unlink(missing_ok=True)
    return key, digest, length, [exhibit.id for exhibit in manifest.exhibits]
