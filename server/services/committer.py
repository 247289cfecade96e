"""Group commit of custody appends (see docs/adr/0003-group-commit.md).

Every change to a case runs as a *unit of work*: a function that, given the case's locked
log (`CaseLog`), checks permissions and state, changes rows and appends the custody entry.
Units of work that arrive while a transaction is running wait; the next transaction runs
all of them together, whatever their cases: one lock statement for the cases' log heads
(in case id order), one multi-row insert each for entries, nodes and checkpoints, one
commit. Each caller still gets its own result or error.

If a unit of work raises, the whole batch is rolled back and every unit is run again in a
transaction of its own, so one bad request never fails or changes another's. Units of
work therefore must not have effects outside the database connection they are given.

Batching happens inside one process; across processes (several uvicorn workers or
servers) the database locks alone serialise appends to a case, which is still correct.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy import Connection, Engine, event

from server.db import write_transaction
from server.errors import NotFoundError, ServerError
from server.repositories import cases as case_repo
from server.services.custody_log import CaseLog, CheckpointSigner, flush_logs

T = TypeVar("T")
UnitOfWork = Callable[[CaseLog], T]

log = logging.getLogger("jitc.server")

MAX_BATCH = 256


class _Pending(Generic[T]):
    __slots__ = ("case_id", "error", "finished", "result", "wake", "work")

    def __init__(self, case_id: str, work: UnitOfWork[T]) -> None:
        self.case_id = case_id
        self.work = work
        self.wake = threading.Event()
        self.finished = False
        self.result: T | None = None
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # set when there is no error


class Committer:
    """Runs units of work on case logs, batching concurrent ones into one transaction."""

    def __init__(self, engine: Engine, signer: CheckpointSigner) -> None:
        self._engine = engine
        if not event.contains(engine, "before_cursor_execute", count_writes):
            event.listen(engine, "before_cursor_execute", count_writes)
        self._signer = signer
        self._lock = threading.Lock()
        self._queue: list[_Pending[object]] = []
        self._busy = False
        # Called after each batch commits (the runtime wakes the witnessing); must not block.
        self.after_commit: Callable[[], None] | None = None

    def run(self, case_id: str, work: UnitOfWork[T]) -> T:
        """Run `work` in a write transaction holding the case's log lock; return its result."""
        pending: _Pending[T] = _Pending(case_id, work)
        with self._lock:
            self._queue.append(pending)  # type: ignore[arg-type]
            lead = not self._busy
            self._busy = True
        if not lead:
            pending.wake.wait()  # until our batch is done, or we are made the leader
        if not pending.finished:
            self._lead()
        return pending.outcome()

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        try:
            self._commit(batch)
        finally:
            with self._lock:
                successor = self._queue[0] if self._queue else None
                self._busy = successor is not None
            for pending in batch:
                pending.finished = True
                pending.wake.set()
            if successor is not None:
                successor.wake.set()  # it is not finished, so it leads the next batch
            hook = self.after_commit
            if hook is not None:
                # The batch is committed: its callers must not see a 500 for a written change.
                try:
                    hook()
                except Exception:
                    log.exception("after-commit hook failed")

    def _commit(self, batch: list[_Pending[object]]) -> None:
        try:
            self._transaction(batch)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting callers
            if len(batch) == 1 or not isinstance(exc, Exception):
                for pending in batch:
                    pending.result = None
                    pending.error = exc
                return
            for pending in batch:  # find the culprit: one transaction each
                self._commit([pending])

    def _transaction(self, batch: list[_Pending[object]]) -> None:
        with write_transaction(self._engine) as conn:
            logs = CaseLog.lock_many(conn, [p.case_id for p in batch], self._signer)
            for case_id, parties in case_repo.parties_of(conn, list(logs)).items():
                logs[case_id].parties = parties
            results: list[tuple[object, BaseException | None]] = []
            for pending in batch:
                log = logs.get(pending.case_id)
                if log is None:  # no such case: refuse this one without failing the rest
                    missing = NotFoundError(f"no case {pending.case_id}", code="case_not_found")
                    results.append((None, missing))
                else:
                    results.append(_run_unit(conn, log, pending))
            flush_logs(conn, list(logs.values()))
        for pending, (result, error) in zip(batch, results, strict=True):
            pending.result = result
            pending.error = error


def _run_unit(
    conn: Connection, log: CaseLog, pending: _Pending[object]
) -> tuple[object, BaseException | None]:
    """Run one unit of work in the batch's transaction.

    A deliberate refusal (a ServerError: 403, 404, 409...) raised before the unit wrote
    anything to the database undoes that unit alone: its in-memory appends are rolled back
    from a snapshot of the case log, and the rest of the batch commits. Without this, any
    authenticated caller sending refused requests could make every batch fall back to one
    transaction per unit. A refusal after a write, or any other error, still fails the
    batch, which is then re-run unit by unit. (A savepoint per unit would cover the rare
    refusal after a write too, but cost ~15% of append throughput.)
    """
    writes = conn.info.get(_WRITES, 0)
    snapshot = log.snapshot()
    try:
        result = pending.work(log)
    except ServerError as refusal:
        if conn.info.get(_WRITES, 0) != writes:
            raise
        log.restore(snapshot)
        return None, refusal
    return result, None


_WRITES = "jitc_statements_that_write"


def count_writes(
    conn: Connection,
    _cursor: object,
    statement: str,
    _parameters: object,
    _context: object,
    _executemany: bool,
) -> None:
    """before_cursor_execute hook: count statements that may change rows, per connection."""
    if not statement.lstrip()[:6].upper().startswith("SELECT"):
        conn.info[_WRITES] = conn.info.get(_WRITES, 0) + 1
