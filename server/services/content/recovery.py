"""The sweep of writes in progress: expire idle tus uploads, and finish or clean up the
ingests a crash interrupted between storing the object and logging it (ADR 0012)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from evidence import ExhibitKey, StorageUnavailableError, UploadNotFoundError, exhibit_key
from server.db import read_transaction, write_transaction
from server.errors import ConflictError
from server.repositories import content as content_repo
from server.services.content.ingest import actor_from_json, commit_ingest, forget_write
from server.services.content.integrity import rehash
from server.services.content.uploads import abort_quietly
from server.services.leases import ingest_lease
from server.services.workspace import Workspace

log = logging.getLogger("jitc.content")


@dataclass
class SweepReport:
    expired: int = 0
    recovered: int = 0
    orphans: int = 0
    forgotten: int = 0


def sweep(ws: Workspace, *, now: datetime | None = None, grace: float | None = None) -> SweepReport:
    """Expire idle uploads and finish or clean up writes a crash interrupted (ADR 0012).

    Safe to run on several servers at once: every decision is re-checked under the case
    lock, and the store refuses to overwrite or to remove an upload being written."""
    now = now or datetime.now(UTC)
    grace = ws.settings.recovery_grace if grace is None else grace
    report = SweepReport()
    cutoff = now - timedelta(seconds=ws.settings.upload_expiry)
    expired_ids = ws.store.expire(cutoff)
    with write_transaction(ws.engine) as conn:
        content_repo.delete_uploads(conn, [str(u) for u in expired_ids])
    report.expired = len(expired_ids)
    with read_transaction(ws.engine) as conn:
        rows = content_repo.uploads_created_before(conn, now - timedelta(seconds=grace))
    for row in rows:
        try:
            _sweep_leased(ws, row.id, now, report)
        except StorageUnavailableError:
            continue  # try again at the next sweep
    return report


def _sweep_leased(ws: Workspace, write_id: str, now: datetime, report: SweepReport) -> None:
    """Decide about one write under its ingest lease, which a live request holds, on
    whichever server, while the write's object may be created and logged (a whole PUT; a
    tus upload's finish and commit): such a write is never recovered or forgotten under
    its feet. A tus upload still receiving bytes is the store's to guard (its upload
    lease, ADR 0025)."""
    lease = ws.leases.try_acquire(ingest_lease(write_id))
    if lease is None:
        return  # a request (or another sweep) is at it
    try:
        with read_transaction(ws.engine) as conn:
            row = content_repo.get_upload(conn, write_id)  # as it is now, under the lease
        if row is not None:
            _sweep_one(ws, row, now, report)
    finally:
        lease.release()


def _sweep_one(
    ws: Workspace, row: content_repo.UploadRow, now: datetime, report: SweepReport
) -> None:
    key = exhibit_key(row.case_id, row.exhibit_id)
    with read_transaction(ws.engine) as conn:
        content = content_repo.get(conn, row.exhibit_id)
    if content is not None:  # committed by another write; this one is void
        if row.kind == "tus":
            abort_quietly(ws, row.id)
        forget_write(ws, row.id)
        report.forgotten += 1
        return
    if ws.store.exists(key):
        _recover(ws, row, key, report)
        return
    if row.kind == "tus":
        try:
            ws.store.status(uuid.UUID(row.id))
            alive = row.expires_at >= now
        except UploadNotFoundError:
            alive = False
        if not alive:
            abort_quietly(ws, row.id)
            forget_write(ws, row.id)
            report.forgotten += 1
    elif row.expires_at < now:  # a PUT that died with its process
        forget_write(ws, row.id)
        report.forgotten += 1


def _recover(
    ws: Workspace, row: content_repo.UploadRow, key: ExhibitKey, report: SweepReport
) -> None:
    """The object was created but its ingest never committed: complete it, as the uploader,
    from a re-read of the stored bytes, or remove the object if the exhibit refuses it."""
    digests = rehash(ws, key)
    if digests is None:
        return
    if row.expected_sha256 is not None and digests.sha256_hex != row.expected_sha256:
        log.error("object %s does not have its declared SHA-256: left for inspection", key)
        report.orphans += 1
        return
    # The interrupted write may have stopped before the object got its retention
    # (ADR 0025): give it now, before the entry says the object is evidence.
    ws.store.ensure_retention(key)
    try:
        commit_ingest(ws, actor_from_json(row.actor), row, digests, recovered=True)
    except ConflictError:
        report.orphans += 1  # commit_ingest removed the object, or logged that it cannot
        return
    report.recovered += 1
