"""Leases kept in the database: exclusion between every process of every app server
(ADR 0036).

`DatabaseLeaseBook` is the `evidence.LeaseBook` the workspace gives its evidence store
(one writer per resumable upload, one creator per exhibit key: ADR 0025), and the server
takes its own leases from the same table:

    ingest:<write id>           a content write whose object may be created and logged
                                now: a PUT for its whole length, a tus upload from its
                                finish to its commit, recovery deciding about it
    witness:<case>:<witness>    one process asks one witness about one case at a time
    export:<export id>          the writer of a pending export is alive
    export-slot:<n>             n < JITC_MAX_CONCURRENT_EXPORTS: a bundle being written
    verify:<exhibit id>         a re-verification of the exhibit is running
    verify-slot:<n>             n < JITC_MAX_CONCURRENT_VERIFIES

A lease is a row (name, holder, expires_at). Taking it is one INSERT … ON CONFLICT DO
UPDATE … WHERE expired, so among concurrent takers the database picks one; renewing and
giving it up name the holder, so a holder that lost its lease can neither extend nor
remove its successor's. A lease not renewed within its time to live (15 minutes) may be
taken over: a crashed server's leases end by themselves, and the one taking such a lease
over is told (`took_over`), for work the dead holder may have half done.

Each call is a short transaction of its own on a pooled connection, so callers must not
be inside a write transaction of their own (on SQLite that would wait for itself), and
any thread may call.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Final

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from evidence import LeaseHeldError, LeaseLostError, StorageUnavailableError
from server.db import write_transaction
from server.repositories import leases as lease_repo

log = logging.getLogger("jitc.leases")

DEFAULT_TTL: Final = timedelta(minutes=15)
RENEW_FRACTION: Final = 3
"""A lease is written again only once a third of its time to live has passed since the
last write: renew is called before every part of an upload, and the rest of the time it
costs a clock read."""

_PROCESS: Final = f"{socket.gethostname()}/{os.getpid()}"


class DatabaseLease:
    """One holder's lease on one name. `took_over`: it was taken from a holder whose lease
    had expired without being given up (a crashed or stuck process), so whatever that
    holder was doing may have half happened."""

    def __init__(
        self,
        book: DatabaseLeaseBook,
        name: str,
        holder: str,
        written: float,
        *,
        took_over: bool = False,
    ) -> None:
        self.name = name
        self.holder = holder
        self.took_over = took_over
        self._book = book
        self._written = written  # monotonic time at which the last write began
        self._lost = False
        self._lock = threading.Lock()

    def renew(self) -> None:
        """Extend the lease, or `LeaseLostError` if it is no longer this holder's. Between
        writes the lease cannot have been taken over: it expires only a whole time to live
        after the write began."""
        book = self._book
        with self._lock:
            if self._lost:
                raise LeaseLostError(self.name)
            began = book.clock()
            if began - self._written < book.ttl.total_seconds() / RENEW_FRACTION:
                return
            try:
                with write_transaction(book.engine) as conn:
                    kept = lease_repo.extend(conn, self.name, self.holder, book.ttl)
            except OperationalError as exc:
                raise StorageUnavailableError(f"the lease {self.name} cannot be renewed") from exc
            if not kept:
                self._lost = True
                raise LeaseLostError(self.name)
            self._written = began

    def release(self) -> None:
        """Give the lease up; never raises (a lease left behind expires by itself)."""
        with self._lock:
            self._lost = True
        try:
            with write_transaction(self._book.engine) as conn:
                lease_repo.give_up(conn, self.name, self.holder)
        except Exception:  # a lease left behind expires after its time to live
            log.warning("lease %s not released; it expires by itself", self.name, exc_info=True)


class DatabaseLeaseBook:
    """Leases in the workspace database's `leases` table, `ttl` long unless renewed."""

    def __init__(
        self,
        engine: Engine,
        *,
        ttl: timedelta = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.ttl = ttl
        self.clock = clock

    def acquire(self, name: str) -> DatabaseLease:
        """Take `name` now, or `LeaseHeldError` if another holder has it (never waits).
        Every acquisition is a holder of its own: a second acquire of a held name in the
        same process is refused too."""
        holder = f"{_PROCESS}/{uuid.uuid4().hex}"
        began = self.clock()
        try:
            with write_transaction(self.engine) as conn:
                left_behind = lease_repo.exists(conn, name)  # expired, if we take it
                taken = lease_repo.take(conn, name, holder, self.ttl)
        except OperationalError as exc:
            raise StorageUnavailableError(f"the lease {name} cannot be taken") from exc
        if not taken:
            raise LeaseHeldError(name)
        return DatabaseLease(self, name, holder, began, took_over=left_behind)

    def try_acquire(self, name: str) -> DatabaseLease | None:
        """The lease, or None if another holder has it."""
        try:
            return self.acquire(name)
        except LeaseHeldError:
            return None

    def take_slot(self, kind: str, limit: int) -> DatabaseLease | None:
        """One of `limit` slots `<kind>:0` … `<kind>:<limit-1>`, or None if all are held:
        at most `limit` holders at once across every server sharing the database."""
        for number in range(limit):
            lease = self.try_acquire(slot_name(kind, number))
            if lease is not None:
                return lease
        return None


def slot_name(kind: str, number: int) -> str:
    return f"{kind}:{number}"


def ingest_lease(write_id: str) -> str:
    return f"ingest:{write_id}"


def witness_lease(case_id: str, witness: str) -> str:
    return f"witness:{case_id}:{witness}"


def export_lease(export_id: str) -> str:
    return f"export:{export_id}"


def verify_lease(exhibit_id: str) -> str:
    return f"verify:{exhibit_id}"


EXPORT_SLOT: Final = "export-slot"
VERIFY_SLOT: Final = "verify-slot"
