"""The case server's side of witnessing (docs/adr/0021).

- Each party state registers its witness (URL and cosignature vkey, key type 0x04).
- A case's policy (spec 5 policy.txt, C2SP tlog-policy) names the case's log key, the
  witnesses of its party states and a quorum: all of them unless a prosecutor set k.
  Each change of it is logged as case.policy_set (server.services.case_policy).
- `WitnessSubmitter` sends each case's newest checkpoint, with a consistency proof from
  the size the witness last cosigned, to every witness of the case's parties, and keeps
  the cosignature lines it gets back. `server.runtime` runs its rounds in the background,
  after each commit and on a periodic tick; a witness that is down is retried with
  exponential backoff and never blocks an append.
- `GET /checkpoint` serves the newest checkpoint with the cosignatures collected for it
  and says whether they meet the case's quorum (`JITC-Witnessed`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Connection, Engine

from custody.cosignature import CosignatureVerifier
from custody.entry import SYSTEM_ACTOR
from custody.errors import CustodyError, FormatError
from custody.note import Note, NoteSignature
from custody.policy import Policy, verify_cosigned_checkpoint
from server.auth import Principal
from server.db import read_transaction, write_transaction
from server.errors import ConfigError, ConflictError, InvalidRequestError
from server.permissions import Action, authorize
from server.repositories import log as log_repo
from server.repositories import witnesses as witness_repo
from server.services import custody_log, log_read
from server.services.case_policy import append_policy_if_changed, case_policy
from server.services.cases import authorize_read, locked_standing
from server.services.custody_log import CaseLog, CheckpointSigner, case_origin, flush_logs
from server.services.leases import DatabaseLease, DatabaseLeaseBook, witness_lease
from server.services.witness_client import latest_cosigned, request_cosignature
from server.services.workspace import Workspace
from witness.errors import BadProofError, SplitViewError, WitnessError

log = logging.getLogger("jitc.witnessing")

DEFAULT_TICK = 5.0
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
HTTP_TIMEOUT = 10.0  # per connect / read / write: a witness dripping bytes passes it
SUBMIT_DEADLINE = 30.0  # the whole exchange with one witness, retry included
ROUND_GRACE = 1.0  # past the deadline, for a job stuck outside its own timeout
WITNESS_LEASE_TTL = 4 * (SUBMIT_DEADLINE + ROUND_GRACE)  # seconds: one round, with room

Witnessed = Literal["true", "false", "none"]


# --- registration and the case policy ----------------------------------------------------


def register_witness(
    engine: Engine, code: str, *, url: str, vkey: str, signer: CheckpointSigner
) -> witness_repo.WitnessRow:
    """Register (or replace) a state's witness. The vkey must be a cosignature/v1 key
    (type 0x04); its key name becomes the witness's name in case policies. Every case the
    state is party to logs its new policy in the same transaction (spec 2.1)."""
    try:
        verifier = CosignatureVerifier.from_vkey(vkey)
    except (FormatError, ValueError) as exc:
        raise ConfigError(f"not a witness cosignature vkey (type 0x04): {exc}") from None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ConfigError("the witness URL must be http(s)://host[:port][/prefix]")
    row = witness_repo.WitnessRow(code, verifier.name, url.rstrip("/"), vkey)

    def change(conn: Connection) -> bool:
        if witness_repo.name_taken(conn, verifier.name, by_other_than=code):
            raise ConfigError(f"another state's witness is already named {verifier.name}")
        witness_repo.put_witness(conn, row, now=datetime.now(UTC))
        return True

    _change_witness(engine, signer, code, change)
    return row


def remove_witness(engine: Engine, code: str, *, signer: CheckpointSigner) -> bool:
    """Remove a state's witness (False: it had none); the cases it is party to log their
    new policy in the same transaction."""
    return _change_witness(
        engine, signer, code, lambda conn: witness_repo.delete_witness(conn, code)
    )


class _CasesMovedError(Exception):
    """The state joined or left a case while its witness was being changed: try again."""


WITNESS_CHANGE_ATTEMPTS = 5


def _change_witness(
    engine: Engine, signer: CheckpointSigner, code: str, change: Callable[[Connection], bool]
) -> bool:
    """Run `change` on the state's witness row and log the new policy of every case the
    state is party to, in one transaction. Order of locks: the cases' log heads (case id
    order, as every batch), then the state's row; a unit of work that logs a policy holds
    its head and then shares the row (`append_policy_if_changed`), so neither waits for
    the other in a cycle. A case the state joined in between is not locked: start over."""
    for _attempt in range(WITNESS_CHANGE_ATTEMPTS):
        try:
            with write_transaction(engine) as conn:
                cases = witness_repo.cases_of_state(conn, code)
                logs = CaseLog.lock_many(conn, cases, signer)
                if not witness_repo.lock_state(conn, code):
                    raise ConfigError(f"unknown jurisdiction {code}: register it first")
                if witness_repo.cases_of_state(conn, code) != cases:
                    raise _CasesMovedError
                if not change(conn):
                    return False
                _log_policies(conn, list(logs.values()))
                return True
        except _CasesMovedError:
            continue
    raise ConflictError(
        f"the cases of {code} kept changing while its witness was changed; try again",
        code="cases_changing",
    )


def _log_policies(conn: Connection, logs: list[CaseLog]) -> None:
    # The operator registering a witness acts for the server, not through a token (spec 2).
    for case_log in logs:
        append_policy_if_changed(case_log, SYSTEM_ACTOR)
    flush_logs(conn, logs)


def get_policy_text(ws: Workspace, principal: Principal, case_id: str) -> str:
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.LOG_READ)
        return case_policy(conn, ws.signer, case_id).to_text()


def set_quorum(ws: Workspace, principal: Principal, case_id: str, quorum: int | None) -> str:
    """A prosecutor sets k of n (None: all); the changed policy is logged as
    case.policy_set in the same transaction (spec 2.1)."""
    with read_transaction(ws.engine) as conn:
        authorize_read(conn, case_id, principal, Action.CASE_READ)

    def work(log: CaseLog) -> str:
        authorize(principal, Action.POLICY_SET, locked_standing(log, principal))
        count = len(witness_repo.witnesses_of_case(log.conn, case_id))
        if quorum is not None and not 1 <= quorum <= count:
            raise InvalidRequestError(
                f"quorum must be between 1 and {count} (the case's witnesses) or 'all'",
                code="bad_quorum",
            )
        witness_repo.set_quorum(
            log.conn,
            case_id,
            quorum,
            by=f"{principal.jurisdiction}/{principal.sub}",
            now=datetime.now(UTC),
        )
        append_policy_if_changed(log, principal.actor())
        return case_policy(log.conn, ws.signer, case_id).to_text()

    return ws.committer.run(case_id, work)


def witnessed(note: bytes, policy: Policy, origin: str) -> Witnessed:
    """Whether the cosignatures on `note` meet the policy's quorum ("none": no witness)."""
    if not policy.witnesses:
        return "none"
    try:
        verdict = verify_cosigned_checkpoint(Note.parse(note), policy, origin=origin)
    except CustodyError:
        return "false"
    return "true" if verdict.ok else "false"


def served_checkpoint(ws: Workspace, principal: Principal, case_id: str) -> tuple[bytes, Witnessed]:
    """GET /checkpoint: the newest checkpoint with its cosignatures, and whether the
    case's quorum is met for it."""
    note = log_read.latest_checkpoint(ws, principal, case_id)
    with read_transaction(ws.engine) as conn:
        policy = case_policy(conn, ws.signer, case_id)
    return note, witnessed(note, policy, case_origin(ws.settings.log_name, case_id))


# --- submission ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    case_id: str
    witness: str
    size: int
    error: str | None  # None: cosigned


@dataclass(slots=True)
class _Retry:
    attempts: int
    due: float


HttpFactory = Callable[[], httpx.AsyncClient]
_Job = tuple[str, witness_repo.WitnessRow, int, int, bytes, bool]
"""(case, witness, size it last cosigned, size to send, the signed checkpoint, whether the
pair's lease was taken over from a holder that never gave it up)"""


def default_http() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=HTTP_TIMEOUT)


class WitnessSubmitter:
    """Collects cosignatures for every case's newest checkpoint, off the request path."""

    def __init__(
        self,
        ws: Workspace,
        *,
        http_factory: HttpFactory = default_http,
        tick: float = DEFAULT_TICK,
        clock: Callable[[], float] = time.monotonic,
        deadline: float = SUBMIT_DEADLINE,
        leases: DatabaseLeaseBook | None = None,
    ) -> None:
        self._ws = ws
        # Longer than a round can last, so a lease is never renewed; a server that dies
        # while asking keeps the pair from the others for this long at most.
        self._leases = leases or DatabaseLeaseBook(
            ws.engine, ttl=timedelta(seconds=WITNESS_LEASE_TTL)
        )
        self._http_factory = http_factory
        self._tick = tick
        self._deadline = deadline
        self._clock = clock
        self._retry: dict[tuple[str, str], _Retry] = {}

    def run_round(self) -> None:
        """One submission round, from a thread with no event loop (the runtime's)."""
        asyncio.run(self.submit_pending())

    def next_wait(self) -> float:
        """Seconds until the next round is due: the tick, or sooner for a retry."""
        now = self._clock()
        due = [r.due - now for r in self._retry.values()]
        return max(0.01, min([self._tick, *due]))

    # -- one round --

    async def submit_pending(self) -> list[Outcome]:
        """Send every case's newest checkpoint to each of its witnesses that has not
        cosigned it, except those waiting out a backoff and those another process is
        asking right now. Returns what happened."""
        due = self._due()
        if not due:
            return []
        claims = self._claim(due)
        try:
            jobs = self._jobs(claims)
            if not jobs:
                return []
            return await self._run(jobs)
        finally:
            for lease in claims.values():
                lease.release()

    def _due(self) -> list[tuple[str, witness_repo.WitnessRow]]:
        """(case, witness) pairs behind the case's newest checkpoint and not backing off."""
        now = self._clock()
        due: list[tuple[str, witness_repo.WitnessRow]] = []
        with read_transaction(self._ws.engine) as conn:
            by_case = witness_repo.witnesses_by_case(conn)
            cases = sorted(by_case)
            latest = witness_repo.latest_sizes(conn, cases)
            cosigned = witness_repo.cosigned_sizes(conn, cases)
        for case_id in cases:
            for witness in by_case[case_id]:
                key = (case_id, witness.name)
                if cosigned.get(key, 0) >= latest.get(case_id, 0):
                    self._retry.pop(key, None)
                    continue
                retry = self._retry.get(key)
                if retry is None or retry.due <= now:
                    due.append((case_id, witness))
        return due

    def _claim(
        self, due: list[tuple[str, witness_repo.WitnessRow]]
    ) -> dict[tuple[str, witness_repo.WitnessRow], DatabaseLease]:
        """The leases of the pairs no other process is asking now. One asker per (case,
        witness): two servers sending the same witness checkpoints of one case at once
        would each prove from the size the other is moving, and the witness refuses
        one (tlog-witness: 409, old size mismatch)."""
        claims: dict[tuple[str, witness_repo.WitnessRow], DatabaseLease] = {}
        try:
            for case_id, witness in due:
                got = self._leases.try_acquire(witness_lease(case_id, witness.name))
                if got is not None:
                    claims[(case_id, witness)] = got
        except BaseException:
            for lease in claims.values():
                lease.release()
            raise
        return claims

    def _jobs(self, claims: dict[tuple[str, witness_repo.WitnessRow], DatabaseLease]) -> list[_Job]:
        """What to send, read again under the leases: the previous holder may have stored
        a newer cosignature after this round's first read, and a proof from an older size
        would be refused."""
        jobs: list[_Job] = []
        cases = sorted({case_id for case_id, _witness in claims})
        with read_transaction(self._ws.engine) as conn:
            latest = witness_repo.latest_sizes(conn, cases)
            cosigned = witness_repo.cosigned_sizes(conn, cases)
            notes: dict[str, bytes] = {}
            for (case_id, witness), lease in claims.items():
                size = latest.get(case_id, 0)
                done = cosigned.get((case_id, witness.name), 0)
                if done >= size:
                    self._retry.pop((case_id, witness.name), None)
                    continue
                if case_id not in notes:
                    row = log_repo.checkpoint(conn, case_id, size)
                    if row is None:
                        continue
                    notes[case_id] = row.note
                jobs.append((case_id, witness, done, size, notes[case_id], lease.took_over))
        return jobs

    async def _run(self, jobs: list[_Job]) -> list[Outcome]:
        async with self._http_factory() as http:
            # Each job stores its own cosignature as soon as it has it, and each is bounded
            # by the deadline (`_submit`), so a slow or hostile witness costs the round at
            # most that long and never the other witnesses' cosignatures. Anything still
            # running a little after the deadline is cancelled and backs off like a failure.
            tasks = [asyncio.create_task(self._submit(http, *job)) for job in jobs]
            finished, pending = await asyncio.wait(tasks, timeout=self._deadline + ROUND_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            outcomes: list[Outcome] = []
            for task, (case_id, witness, _old, size, *_rest) in zip(tasks, jobs, strict=True):
                if task in finished and not task.cancelled():
                    outcomes.append(task.result())
                else:
                    stuck = TimeoutError(f"no answer within {self._deadline:g} s")
                    outcomes.append(self._failed(case_id, witness.name, size, stuck))
            return outcomes

    async def _submit(
        self,
        http: httpx.AsyncClient,
        case_id: str,
        witness: witness_repo.WitnessRow,
        old_size: int,
        size: int,
        note: bytes,
        took_over: bool,
    ) -> Outcome:
        key = (case_id, witness.name)
        engine = self._ws.engine

        def proof(old: int, new: int) -> list[bytes]:
            with read_transaction(engine) as conn:
                return custody_log.consistency(conn, case_id, old, new)

        try:
            verifier = CosignatureVerifier.from_vkey(witness.vkey)
            # A witness answering 200 and then dripping a byte every few seconds passes
            # every per-read timeout: only a total deadline ends the exchange.
            async with asyncio.timeout(self._deadline):
                if took_over:
                    # The pair's last asker died or stalled mid-round: the witness may
                    # have cosigned a checkpoint that was never stored here, and would
                    # refuse (409) a proof from the size stored here.
                    old_size = await self._resync(http, case_id, witness, verifier, old_size, size)
                if old_size == size:  # the cosignature the last asker lost was all we lacked
                    self._retry.pop(key, None)
                    return Outcome(case_id, witness.name, size, None)
                sig: NoteSignature = await request_cosignature(
                    http,
                    witness.url,
                    note=note,
                    witness=verifier,
                    old_size=old_size,
                    proof_source=proof,
                )
        except TimeoutError:
            stuck = TimeoutError(f"no answer within {self._deadline:g} s")
            return self._failed(case_id, witness.name, size, stuck)
        except (WitnessError, CustodyError, httpx.HTTPError) as exc:
            return self._failed(case_id, witness.name, size, exc)
        with write_transaction(engine) as conn:
            witness_repo.add_cosignature(
                conn, case_id, size, witness.name, sig.line(), now=datetime.now(UTC)
            )
        self._retry.pop(key, None)
        return Outcome(case_id, witness.name, size, None)

    async def _resync(
        self,
        http: httpx.AsyncClient,
        case_id: str,
        witness: witness_repo.WitnessRow,
        verifier: CosignatureVerifier,
        old_size: int,
        size: int,
    ) -> int:
        """The size to prove from: the one the witness says it last cosigned (its
        monitoring endpoint), if that is a checkpoint of ours between the size stored here
        and the one being sent and the witness's cosignature verifies against our own
        checkpoint of that size; that cosignature, which the last asker lost, is stored.
        Otherwise `old_size`, and a 409 resynchronises as the protocol foresees."""
        origin = case_origin(self._ws.settings.log_name, case_id)
        found = await latest_cosigned(http, witness.url, origin=origin, witness=verifier)
        if found is None or not old_size < found[0].size <= size:
            return old_size
        checkpoint, body, sig = found
        with write_transaction(self._ws.engine) as conn:
            row = log_repo.checkpoint(conn, case_id, checkpoint.size)
            if row is None or Note.parse(row.note).text != body:
                return old_size
            witness_repo.add_cosignature(
                conn, case_id, checkpoint.size, witness.name, sig.line(), now=datetime.now(UTC)
            )
        log.warning(
            "witness %s: case %s: stored its cosignature of size %d, which the pair's last "
            "asker got and never stored (it stopped mid-round); going on from there",
            witness.name, case_id, checkpoint.size,
        )  # fmt: skip
        return checkpoint.size

    def _failed(self, case_id: str, name: str, size: int, exc: Exception) -> Outcome:
        """Record a failed submission: back off for this (case, witness) and say why."""
        key = (case_id, name)
        retry = self._retry.get(key) or _Retry(0, 0.0)
        retry.attempts += 1
        delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (retry.attempts - 1))
        retry.due = self._clock() + delay
        self._retry[key] = retry
        if isinstance(exc, SplitViewError | BadProofError):
            # A witness refusing our own checkpoint as a fork or a bad extension is
            # evidence that the log, or the witness's view of it, was tampered with.
            log.error("witness %s refused case %s size %d: %s", name, case_id, size, exc)
        else:
            log.warning(
                "witness %s: case %s size %d not cosigned (%s); retry in %.1f s",
                name,
                case_id,
                size,
                exc,
                delay,
            )
        return Outcome(case_id, name, size, str(exc) or type(exc).__name__)
