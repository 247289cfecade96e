"""Leases in the database (server.services.leases, ADR 0036), on SQLite and PostgreSQL:
exclusive, expiring, taken over only once expired, never extended or released by a holder
that lost them; two evidence stores on one database exclude each other's writers."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, update

from evidence import (
    LeaseHeldError,
    LeaseLostError,
    ObjectExistsError,
    StorageUnavailableError,
    exhibit_key,
)
from evidence.locking import Lease, LeaseBook
from server.db import read_transaction, write_transaction
from server.models import Lease as LeaseRow
from server.models import table
from server.repositories import leases as lease_repo
from server.services.leases import DatabaseLeaseBook
from server.services.workspace import Workspace
from tests.evidence.support import MotoServer, make_store, pattern

TTL = timedelta(minutes=15)


class Clock:
    """A monotonic clock the test moves (the book's throttle of renewals reads it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def expire(engine: Engine, name: str) -> None:
    """As if the holder had neither renewed nor released the lease for a whole TTL."""
    with write_transaction(engine) as conn:
        conn.execute(
            update(table(LeaseRow))
            .where(table(LeaseRow).c.name == name)
            .values(expires_at=datetime.now(UTC) - timedelta(hours=1))
        )


def held(engine: Engine) -> dict[str, datetime]:
    with read_transaction(engine) as conn:
        return lease_repo.held(conn)


def test_a_lease_is_exclusive_until_released(workspace: Workspace) -> None:
    book = DatabaseLeaseBook(workspace.engine)
    other = DatabaseLeaseBook(workspace.engine)  # another server on the same database
    lease = book.acquire("upload:staging:1")
    with pytest.raises(LeaseHeldError, match="upload:staging:1"):
        other.acquire("upload:staging:1")
    with pytest.raises(LeaseHeldError):
        book.acquire("upload:staging:1")  # a second holder in the same process, too
    assert other.try_acquire("upload:staging:1") is None
    lease.renew()
    lease.release()
    assert held(workspace.engine) == {}
    again = other.acquire("upload:staging:1")
    again.release()
    lease.release()  # a second release is harmless


def test_renewing_pushes_the_expiry_on_but_writes_only_after_a_third_of_the_ttl(
    workspace: Workspace,
) -> None:
    clock = Clock()
    book = DatabaseLeaseBook(workspace.engine, ttl=TTL, clock=clock)
    lease = book.acquire("object:evidence:cases/a/exhibits/b")
    first = held(workspace.engine)["object:evidence:cases/a/exhibits/b"]
    assert first > datetime.now(UTC) + TTL - timedelta(minutes=1)
    clock.now += TTL.total_seconds() / 3 - 1
    lease.renew()  # too soon to write
    assert held(workspace.engine)["object:evidence:cases/a/exhibits/b"] == first
    expire(workspace.engine, "object:evidence:cases/a/exhibits/b")
    clock.now += 2
    lease.renew()  # a third has passed: written, a whole TTL from now
    renewed = held(workspace.engine)["object:evidence:cases/a/exhibits/b"]
    assert renewed > datetime.now(UTC) + TTL - timedelta(minutes=1)
    lease.release()


def test_an_expired_lease_is_taken_over_and_its_old_holder_learns_it_on_renew(
    workspace: Workspace,
) -> None:
    clock = Clock()
    crashed = DatabaseLeaseBook(workspace.engine, clock=clock)
    successor = DatabaseLeaseBook(workspace.engine)
    old = crashed.acquire("upload:staging:2")
    assert not old.took_over
    with pytest.raises(LeaseHeldError):
        successor.acquire("upload:staging:2")  # not expired yet
    expire(workspace.engine, "upload:staging:2")
    new = successor.acquire("upload:staging:2")
    assert new.took_over  # from a holder that never gave it up: it may have half done
    clock.now += TTL.total_seconds()  # the old holder comes back and renews before a part
    with pytest.raises(LeaseLostError, match="upload:staging:2"):
        old.renew()
    with pytest.raises(LeaseLostError):
        old.renew()  # and keeps saying so
    old.release()  # never frees the successor's lease
    with pytest.raises(LeaseHeldError):
        DatabaseLeaseBook(workspace.engine).acquire("upload:staging:2")
    new.renew()
    new.release()
    assert held(workspace.engine) == {}
    assert not successor.acquire("upload:staging:2").took_over  # given up: a clean start


def test_an_expired_lease_not_taken_over_is_still_its_holders(workspace: Workspace) -> None:
    clock = Clock()
    book = DatabaseLeaseBook(workspace.engine, clock=clock)
    lease = book.acquire("upload:staging:3")
    expire(workspace.engine, "upload:staging:3")
    clock.now += TTL.total_seconds()
    lease.renew()  # nobody took it: extended, and exclusive again
    with pytest.raises(LeaseHeldError):
        DatabaseLeaseBook(workspace.engine).acquire("upload:staging:3")
    lease.release()


def test_concurrent_takers_exactly_one_wins(workspace: Workspace) -> None:
    takers = 12
    books = [DatabaseLeaseBook(workspace.engine) for _ in range(takers)]  # servers

    def race(name: str) -> list[str]:
        start = threading.Barrier(takers)

        def take(book: DatabaseLeaseBook) -> str:
            start.wait()
            try:
                book.acquire(name)
            except LeaseHeldError:
                return "held"
            return "won"

        with ThreadPoolExecutor(max_workers=takers) as pool:
            return list(pool.map(take, books))

    for round_ in range(8):
        assert Counter(race(f"object:evidence:race-{round_}")) == {"won": 1, "held": takers - 1}
    # And over an expired lease: one successor, not several.
    for round_ in range(8):
        expire(workspace.engine, f"object:evidence:race-{round_}")
        assert Counter(race(f"object:evidence:race-{round_}")) == {"won": 1, "held": takers - 1}


def test_renew_and_release_from_many_threads_at_once(workspace: Workspace) -> None:
    clock = Clock()
    lease = DatabaseLeaseBook(workspace.engine, clock=clock).acquire("upload:staging:4")
    clock.now += TTL.total_seconds()  # every renew below is due to write

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _i: lease.renew(), range(32)))
    assert list(held(workspace.engine)) == ["upload:staging:4"]
    lease.release()
    assert held(workspace.engine) == {}


def test_slots_hold_across_servers(workspace: Workspace) -> None:
    one, two = DatabaseLeaseBook(workspace.engine), DatabaseLeaseBook(workspace.engine)
    first = one.take_slot("export-slot", 2)
    second = two.take_slot("export-slot", 2)
    assert first is not None
    assert second is not None
    assert {first.name, second.name} == {"export-slot:0", "export-slot:1"}
    assert one.take_slot("export-slot", 2) is None
    assert two.take_slot("export-slot", 2) is None
    expire(workspace.engine, second.name)  # that server crashed: its slot comes back
    third = one.take_slot("export-slot", 2)
    assert third is not None
    assert third.name == second.name
    for lease in (first, second, third):
        lease.release()
    assert held(workspace.engine) == {}


def test_a_database_out_of_reach_is_storage_unavailable() -> None:
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    try:
        with pytest.raises(StorageUnavailableError, match="cannot be taken"):
            DatabaseLeaseBook(engine).acquire("upload:staging:5")
    finally:
        engine.dispose()


# --- two evidence stores on one database ---------------------------------------------------


class _Pausing:
    """Book A as store A uses it, pausing right after it took an object's lease (store A is
    then between checking the key free and creating the object)."""

    def __init__(self, book: DatabaseLeaseBook) -> None:
        self._book = book
        self.taken = threading.Event()
        self.go_on = threading.Event()

    def acquire(self, name: str) -> Lease:
        lease = self._book.acquire(name)
        if name.startswith("object:"):
            self.taken.set()
            assert self.go_on.wait(30)
        return lease


@pytest.fixture
def buckets(moto_server: MotoServer) -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:12]
    yield f"evidence-{suffix}", f"staging-{suffix}"
    moto_server.reset()


@pytest.mark.s3
def test_two_stores_on_one_database_exclude_each_other_for_an_object_key(
    workspace: Workspace, moto_server: MotoServer, buckets: tuple[str, str]
) -> None:
    bucket, staging = buckets
    pausing = _Pausing(DatabaseLeaseBook(workspace.engine))
    book_b: LeaseBook = DatabaseLeaseBook(workspace.engine)
    store_a = make_store(moto_server, bucket=bucket, staging=staging, leases=pausing)
    store_b = make_store(moto_server, bucket=bucket, staging=staging, leases=book_b, key_wait=0.5)
    store_a.prepare()
    key = exhibit_key(str(uuid.uuid4()), str(uuid.uuid4()))
    mine, theirs = pattern(4000, seed=1), pattern(4000, seed=2)
    with ThreadPoolExecutor(max_workers=1) as pool:
        writing = pool.submit(store_a.put_stream, key, [mine])
        assert pausing.taken.wait(30)
        # A holds the key's lease in the database: B, another server, cannot create it.
        with pytest.raises(StorageUnavailableError, match="held it"):
            store_b.put_stream(key, [theirs])
        pausing.go_on.set()
        assert writing.result(timeout=60).size == len(mine)
    with pytest.raises(ObjectExistsError):
        store_b.put_stream(key, [theirs])
    assert b"".join(store_b.open_range(key)) == mine
    assert held(workspace.engine) == {}
