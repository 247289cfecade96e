"""Making exports: in the request (201), or in the background (`Prefer: respond-async`,
202); at most JITC_MAX_CONCURRENT_EXPORTS at once and never onto a full disk; and the ends
of exports a stopping or crashed server leaves behind.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Final, Protocol

from evidence import Lease, bundle_key
from server.auth import Principal
from server.db import read_transaction, write_transaction
from server.errors import BusyError, InsufficientStorageError
from server.repositories import exports as export_repo
from server.services.exports.access import ExportView
from server.services.exports.plan import ExportRequest, Job, authorize_create, prepare
from server.services.exports.writer import (
    ExportMade,
    Watch,
    exports_dir,
    insert_pending,
    produce,
    refuse_quietly,
    remove_bundle_quietly,
)
from server.services.leases import EXPORT_SLOT, export_lease
from server.services.workspace import Workspace

log = logging.getLogger("jitc.exports")

EXPORT_RETRY_AFTER: Final = 30  # seconds (Retry-After) when every export slot is taken
PARTIAL_EXPORT_AGE: Final = 24 * 3600  # seconds: no export takes that long to write
INTERRUPTED: Final = "interrupted: the server stopped while writing the bundle; export again"


class Background(Protocol):
    """Where an asynchronous export is written (the app's `server.runtime.Runtime`)."""

    @property
    def stopping(self) -> threading.Event:
        """Set when the server stops: the writer ends early."""

    def submit(self, work: Callable[[], None]) -> Future[None]: ...


def create_export(
    ws: Workspace, principal: Principal, case_id: str, request: ExportRequest
) -> ExportMade:
    """POST …/exports: check, write and verify the bundle, log export.created (201)."""
    authorize_create(ws, principal, case_id)
    # The slot before reading the log: a burst of refused requests costs no log reads.
    with _export_slot(ws) as slot:
        job = prepare(ws, principal, case_id, request)
        with _export_room(ws, job.needed), _writer_lease(ws, job) as alive:
            insert_pending(ws, job)
            return produce(ws, job, Watch(leases=(slot, alive)))


def start_export(
    ws: Workspace,
    principal: Principal,
    case_id: str,
    request: ExportRequest,
    *,
    background: Background,
) -> ExportView:
    """POST …/exports with `Prefer: respond-async` (RFC 7240): the same checks as
    `create_export`, answered at once; the bundle is written and verified in the
    background and the export becomes ready or refused (GET …/exports shows which). A
    bundle of many GiB takes minutes, longer than proxies keep a request open."""
    authorize_create(ws, principal, case_id)
    slot = _take_slot(ws)
    alive: Lease | None = None
    try:
        job = prepare(ws, principal, case_id, request)
        _reserve_room(ws, job.needed)
    except BaseException:
        slot.release()
        raise
    inserted = False
    try:
        alive = ws.leases.acquire(export_lease(job.export_id))
        insert_pending(ws, job)
        inserted = True
        with read_transaction(ws.engine) as conn:
            row = export_repo.get(conn, case_id, job.export_id)
        assert row is not None
        with ws.export_budget.lock:
            ws.export_budget.running.add(job.export_id)
        watch = Watch(background.stopping, (slot, alive))
        background.submit(lambda: _make_in_background(ws, job, watch))
    except BaseException as exc:
        with ws.export_budget.lock:
            ws.export_budget.running.discard(job.export_id)
        if inserted:
            refuse_quietly(ws, job, f"failed to start: {type(exc).__name__}")
        if alive is not None:
            alive.release()
        _release_room(ws, job.needed)
        slot.release()
        raise
    return ExportView(row)


def _make_in_background(ws: Workspace, job: Job, watch: Watch) -> None:
    try:
        produce(ws, job, watch)  # records the outcome (ready or refused) itself
    except Exception:
        log.warning("export %s was refused or failed", job.export_id, exc_info=True)
    except BaseException as exc:
        refuse_quietly(ws, job, f"failed: {type(exc).__name__}")
        raise
    finally:
        with ws.export_budget.lock:
            ws.export_budget.running.discard(job.export_id)
        _release_room(ws, job.needed)
        for lease in reversed(watch.leases):  # the writer's lease, then the slot
            lease.release()


def interrupt_running_exports(ws: Workspace) -> list[str]:
    """At shutdown: the exports this process is still writing in the background end as
    refused now, not pending for a day. Returns their ids."""
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


def sweep_partial_exports(ws: Workspace, *, now: float | None = None) -> int:
    """Remove `.zip.part` files a crashed export left behind, and end as refused the
    exports whose writer is gone: no process holds its lease (its server stopped or lost
    the database for longer than the lease lives), or it is still pending after
    PARTIAL_EXPORT_AGE. Returns the files removed."""
    cutoff = (time.time() if now is None else now) - PARTIAL_EXPORT_AGE
    with write_transaction(ws.engine) as conn:
        ended = export_repo.end_stale_pending(
            conn, before=datetime.fromtimestamp(cutoff, UTC), error=INTERRUPTED
        )
    ended += _end_unattended(ws)
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


def _end_unattended(ws: Workspace) -> list[str]:
    """End as refused the pending exports whose writer's lease nobody holds. A writer takes
    its lease before the export's row exists and gives it up after the outcome is
    recorded, so a pending export without one has no writer, on any server."""
    with read_transaction(ws.engine) as conn:
        pending = export_repo.pending_ids(conn)
    ended: list[str] = []
    for export_id in pending:
        lease = ws.leases.try_acquire(export_lease(export_id))
        if lease is None:
            continue  # being written
        try:
            with write_transaction(ws.engine) as conn:
                if export_repo.set_refused(conn, export_id, INTERRUPTED, tree_size=None):
                    ended.append(export_id)
        finally:
            lease.release()
    return ended


def _remove_bundles(ws: Workspace, export_ids: list[str]) -> None:
    """The bundles of exports that ended refused: in the store (a writer stopped between
    storing its bundle and logging it), and this server's scratch files."""
    directory = exports_dir(ws)
    with read_transaction(ws.engine) as conn:
        ended = export_repo.cases_of(conn, export_ids)
    for case_id, export_id in ended:
        remove_bundle_quietly(ws, bundle_key(case_id, export_id))
        for name in (f"{export_id}.zip", f"{export_id}.zip.part"):
            (directory / name).unlink(missing_ok=True)


# --- slots and disk ------------------------------------------------------------------------


def _take_slot(ws: Workspace) -> Lease:
    """One of the JITC_MAX_CONCURRENT_EXPORTS slots, shared by every app server, or 503 at
    once: bundles of many GiB written side by side would starve the disk and the evidence
    store. A slot is a lease: a crashed server's slots come back when they expire."""
    limit = ws.settings.max_concurrent_exports
    slot = ws.leases.take_slot(EXPORT_SLOT, limit)
    if slot is None:
        raise BusyError(
            f"{limit} export(s) are being written; retry shortly",
            retry_after=EXPORT_RETRY_AFTER,
            code="exports_busy",
        )
    return slot


@contextlib.contextmanager
def _export_slot(ws: Workspace) -> Iterator[Lease]:
    slot = _take_slot(ws)
    try:
        yield slot
    finally:
        slot.release()


@contextlib.contextmanager
def _writer_lease(ws: Workspace, job: Job) -> Iterator[Lease]:
    """Held from before the export's row exists until its outcome is recorded: the sweep
    on any server ends a pending export whose writer's lease is free."""
    alive = ws.leases.acquire(export_lease(job.export_id))
    try:
        yield alive
    finally:
        alive.release()


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


@contextlib.contextmanager
def _export_room(ws: Workspace, needed: int) -> Iterator[None]:
    _reserve_room(ws, needed)
    try:
        yield
    finally:
        _release_room(ws, needed)


def _mib(n: int) -> int:
    return -(-n // (1024 * 1024))
