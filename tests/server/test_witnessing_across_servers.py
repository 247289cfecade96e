"""Several app servers submit checkpoints to the same witnesses (ADR 0036): one asker per
(case, witness) at a time, each reading what was cosigned under its lease, so a witness
never has to refuse a request because two servers raced (tlog-witness: 409 when the old
size is not the one it last cosigned). On both databases, witnesses in-process."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from server.db import read_transaction
from server.repositories import witnesses as witness_repo
from server.services.leases import DatabaseLease, DatabaseLeaseBook, witness_lease
from server.services.witnessing import WitnessSubmitter
from server.services.workspace import Workspace
from tests.server.helpers import World, create_case, quiet_client, register_exhibit
from tests.server.testclient import TestClient
from tests.server.witnesses import Witnesses, submit


class _Recording(httpx.AsyncBaseTransport):
    """A witness's transport that keeps every status it answers add-checkpoint with."""

    def __init__(self, inner: httpx.AsyncBaseTransport, answers: list[int]) -> None:
        self._inner = inner
        self._answers = answers

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.url.path.endswith("/add-checkpoint"):
            self._answers.append(response.status_code)
        return response


class _AnswerLost(httpx.AsyncBaseTransport):
    """The witness gets the request and answers; the asker never hears it (it died)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        await response.aread()
        raise httpx.ReadError("the asker died", request=request)


class _Dying(DatabaseLeaseBook):
    """The leases of a server that dies mid-round: never given up, and (as if their time
    to live had passed since) expired at once."""

    def __init__(self, ws: Workspace) -> None:
        super().__init__(ws.engine, ttl=timedelta(seconds=-1))

    def acquire(self, name: str) -> DatabaseLease:
        lease = super().acquire(name)
        lease.release = lambda: None  # type: ignore[method-assign]
        return lease


class Servers:
    """Two app servers' submitters on one database, talking to the same two witnesses."""

    def __init__(self, witnesses: Witnesses) -> None:
        self.witnesses = witnesses
        self.answers: list[int] = []

    def http(self) -> httpx.AsyncClient:
        mounts: dict[str, httpx.AsyncBaseTransport] = {
            f"http://{code.lower()}-witness": _Recording(httpx.ASGITransport(app=app), self.answers)
            for code, app in self.witnesses.apps.items()
        }
        return httpx.AsyncClient(mounts=mounts, timeout=10)

    def dying_http(self) -> httpx.AsyncClient:
        mounts: dict[str, httpx.AsyncBaseTransport] = {
            f"http://{code.lower()}-witness": _AnswerLost(
                _Recording(httpx.ASGITransport(app=app), self.answers)
            )
            for code, app in self.witnesses.apps.items()
        }
        return httpx.AsyncClient(mounts=mounts, timeout=10)

    def submitter(self, leases: DatabaseLeaseBook | None = None) -> WitnessSubmitter:
        ws = self.witnesses.ws
        return WitnessSubmitter(
            ws, http_factory=self.http, clock=self.witnesses.clock, leases=leases
        )


@pytest.fixture
def servers(workspace: Workspace, world: World, tmp_path: Path) -> Servers:
    witnesses = Witnesses(workspace)
    witnesses.add("NL", tmp_path / "nl-witness")
    witnesses.add("DE", tmp_path / "de-witness")
    return Servers(witnesses)


@pytest.fixture
def client(workspace: Workspace) -> Iterator[TestClient]:
    with quiet_client(workspace) as found:
        yield found


def _cosigned(workspace: Workspace, world: World, client: TestClient, case_id: str) -> bool:
    response = client.get(
        f"/api/cases/{case_id}/checkpoint", headers=world.headers("DE", "investigator")
    )
    witnessed: str = response.headers["JITC-Witnessed"]
    return witnessed == "true"


def test_a_pair_another_server_is_asking_is_left_to_it(
    workspace: Workspace, world: World, servers: Servers, client: TestClient
) -> None:
    case_id = create_case(client, world, parties=("NL", "DE"))
    other = DatabaseLeaseBook(workspace.engine).acquire(witness_lease(case_id, "NL-1"))
    try:
        outcomes = submit(servers.submitter())
    finally:
        other.release()
    assert [(o.witness, o.error) for o in outcomes] == [("DE-1", None)]
    assert [(o.witness, o.error) for o in submit(servers.submitter())] == [("NL-1", None)]
    assert servers.answers == [200, 200]
    assert _cosigned(workspace, world, client, case_id)


def test_a_server_that_read_before_another_finished_sends_nothing_stale(
    workspace: Workspace, world: World, servers: Servers, client: TestClient
) -> None:
    case_id = create_case(client, world, parties=("NL", "DE"))
    first = servers.submitter()

    class LateBook(DatabaseLeaseBook):
        """The second server's book: by the time it gets a lease, the first server has
        asked the witnesses and stored their cosignatures (after this server's first
        read of what they had cosigned)."""

        ran = False

        def try_acquire(self, name: str) -> DatabaseLease | None:
            if not self.ran:
                self.ran = True
                with ThreadPoolExecutor(max_workers=1) as pool:  # its own event loop
                    assert {o.error for o in pool.submit(submit, first).result()} == {None}
            return super().try_acquire(name)

    second = servers.submitter(LateBook(workspace.engine))
    assert submit(second) == []  # read again under the lease: nothing left to send
    assert servers.answers == [200, 200]  # the first server's two; no refusal
    assert _cosigned(workspace, world, client, case_id)


@pytest.mark.slow
def test_two_servers_submitting_side_by_side_are_never_refused(
    workspace: Workspace, world: World, servers: Servers, client: TestClient
) -> None:
    case_id = create_case(client, world, parties=("NL", "DE"))
    submitters = [servers.submitter(), servers.submitter()]
    rounds = 12
    for round_ in range(rounds):
        register_exhibit(client, world, case_id, label=f"item {round_}")
        start = threading.Barrier(len(submitters))

        def run(submitter: WitnessSubmitter, start: threading.Barrier = start) -> None:
            start.wait()
            submit(submitter)

        with ThreadPoolExecutor(max_workers=len(submitters)) as pool:
            list(pool.map(run, submitters))
        assert _cosigned(workspace, world, client, case_id)
    answers = Counter(servers.answers)
    assert set(answers) == {200}, answers
    # Each witness cosigned each new size once or, racing a round that already had it,
    # not at all: never twice.
    assert answers[200] == 2 * rounds


def test_a_server_taking_over_from_one_that_died_mid_round_is_not_refused(
    workspace: Workspace, world: World, servers: Servers, client: TestClient
) -> None:
    """A server dies after the witnesses cosigned its checkpoint and before it stored
    their cosignatures. The server that takes the pairs' leases over asks each witness
    what it last cosigned (tlog-witness monitoring) instead of proving from the size
    stored, which the witness would refuse once (409): it stores the lost cosignature
    and has nothing left to send."""
    case_id = create_case(client, world, parties=("NL", "DE"))
    assert {o.error for o in submit(servers.submitter())} == {None}
    with read_transaction(workspace.engine) as conn:
        first = witness_repo.latest_sizes(conn, [case_id])[case_id]
    register_exhibit(client, world, case_id, label="seized later")
    dying = WitnessSubmitter(
        workspace, http_factory=servers.dying_http, clock=servers.witnesses.clock,
        leases=_Dying(workspace),
    )  # fmt: skip
    assert all(o.error is not None for o in submit(dying))
    assert servers.answers == [200, 200, 200, 200]  # the witnesses did cosign the new size
    with read_transaction(workspace.engine) as conn:
        size = witness_repo.latest_sizes(conn, [case_id])[case_id]
        assert size > first
        assert set(witness_repo.cosigned_sizes(conn, [case_id]).values()) == {first}

    outcomes = submit(servers.submitter())
    assert sorted((o.witness, o.size, o.error) for o in outcomes) == [
        ("DE-1", size, None),
        ("NL-1", size, None),
    ]
    assert servers.answers == [200, 200, 200, 200]  # nothing sent again, nothing refused
    with read_transaction(workspace.engine) as conn:
        assert set(witness_repo.cosigned_sizes(conn, [case_id]).values()) == {size}
    assert _cosigned(workspace, world, client, case_id)


def test_after_a_lost_answer_without_a_takeover_the_witness_resynchronises(
    workspace: Workspace, world: World, servers: Servers, client: TestClient
) -> None:
    """The same lost answer, but the asker lived and gave its leases up: the next asker
    proves from the size stored, the witness answers 409 with the size it holds, and the
    proof from that size is cosigned (the protocol's own resynchronisation)."""
    case_id = create_case(client, world, parties=("NL", "DE"))
    assert {o.error for o in submit(servers.submitter())} == {None}
    register_exhibit(client, world, case_id, label="seized later")
    lost = WitnessSubmitter(
        workspace, http_factory=servers.dying_http, clock=servers.witnesses.clock
    )
    assert all(o.error is not None for o in submit(lost))
    servers.answers.clear()
    assert {o.error for o in submit(servers.submitter())} == {None}
    assert sorted(servers.answers) == [200, 200, 409, 409]
    assert _cosigned(workspace, world, client, case_id)
