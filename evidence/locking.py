"""Exclusion the S3 store needs and S3 cannot give reliably: the `LeaseBook` it is handed.

Two kinds of lease, both named strings in one book:

- `upload:<bucket>:<upload id>`: one writer per resumable upload (append, finish,
  abort, expire), held for a whole request and renewed before every part written.
- `object:<bucket>:<key>`: held for the few requests that check that no object
  exists under an exhibit's key and then create it (or dispose of it), so two
  writers of one key can never both find it free.

Conditional requests (`If-None-Match: *`, `If-Match`) cannot give either on every
S3 server: Ceph RGW 16.2 ignores them on PutObject, CompleteMultipartUpload and
DeleteObject, and compares `If-Match` ETags without their quotes.

`LocalLeaseBook` is correct for ONE process: leases live in a table in its memory.
A deployment with several processes or servers passes a book kept in its
database (a lease table, or advisory locks), implementing the same protocol.
`FilesystemStore` needs none: the kernel's `flock` and `link` give it both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from evidence._ingest import utc_now
from evidence.errors import LeaseHeldError, LeaseLostError


class Lease(Protocol):
    """The exclusive right to one name, until released or lost."""

    def renew(self) -> None:
        """Confirm the lease is still this holder's and extend it; `LeaseLostError` if not.

        Called before every part written, so it must be cheap: an implementation may
        touch its storage only when a fraction of its time to live has passed."""

    def release(self) -> None:
        """Give the lease up. Never raises, and never releases a lease that another
        holder took over after this one's expired."""


class LeaseBook(Protocol):
    def acquire(self, name: str) -> Lease:
        """Take the lease `name` at once, or raise `LeaseHeldError` (never waits).

        A lease that its holder neither renewed nor released within the book's time
        to live is expired: it may be taken over, and its old holder's next `renew`
        raises `LeaseLostError`."""
        ...


@dataclass(slots=True)
class _Entry:
    token: object
    expires: datetime


class _LocalLease:
    def __init__(self, book: LocalLeaseBook, name: str, token: object) -> None:
        self._book = book
        self._name = name
        self._token = token

    def renew(self) -> None:
        self._book._renew(self._name, self._token)

    def release(self) -> None:
        self._book._release(self._name, self._token)


class LocalLeaseBook:
    """Leases in a table in this process's memory, expiring after `ttl` without renewal.

    Every store of a process shares `PROCESS_LEASES` unless given another book, so
    two store objects on one bucket (a test's "restarted server") exclude each other.
    """

    def __init__(
        self, *, ttl: timedelta = timedelta(minutes=15), clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._table: dict[str, _Entry] = {}

    def acquire(self, name: str) -> Lease:
        now = self._clock()
        with self._lock:
            entry = self._table.get(name)
            if entry is not None and entry.expires > now:
                raise LeaseHeldError(name)
            token = object()
            self._table[name] = _Entry(token, now + self.ttl)
        return _LocalLease(self, name, token)

    def _renew(self, name: str, token: object) -> None:
        now = self._clock()
        with self._lock:
            entry = self._table.get(name)
            # An expired lease not yet taken over is still its holder's to renew.
            if entry is None or entry.token is not token:
                raise LeaseLostError(name)
            entry.expires = now + self.ttl

    def _release(self, name: str, token: object) -> None:
        with self._lock:
            entry = self._table.get(name)
            if entry is not None and entry.token is token:
                del self._table[name]


PROCESS_LEASES = LocalLeaseBook()
"""The book of every store in this process that was given none."""
