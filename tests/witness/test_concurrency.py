"""tlog-witness: checking the old size and persisting must be atomic, or two requests
can roll the witness back. Concurrent requests for one origin serialise."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.witness.helpers import CASE_B, NOW, CaseLog, log_key, witness_signer
from witness.app import create_witness_app
from witness.errors import SizeConflictError
from witness.logs import LogRoster
from witness.protocol import AddCheckpointRequest
from witness.service import Witness
from witness.state import WitnessState


async def _post_all(app: object, bodies: list[bytes]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://witness") as http:
        return await asyncio.gather(*(http.post("/add-checkpoint", content=b) for b in bodies))


def _slow_app(state_dir: Path) -> object:
    # A pause inside the critical section widens any race window.
    return create_witness_app(
        signer=witness_signer(),
        log_verifiers=[log_key()],
        state_dir=state_dir,
        clock=lambda: NOW,
        on_persisted=lambda checkpoint: time.sleep(0.02),
    )


def test_one_transition_sent_many_times_is_cosigned_once(tmp_path: Path) -> None:
    app = _slow_app(tmp_path)
    log = CaseLog().grow_to(20)
    first = asyncio.run(_post_all(app, [log.request(0, 5)]))
    assert first[0].status_code == 200
    responses = asyncio.run(_post_all(app, [log.request(5, 20)] * 16))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 15
    assert {r.content for r in responses if r.status_code == 409} == {b"20\n"}
    loaded = WitnessState(tmp_path).load(log.origin)
    assert loaded is not None
    assert loaded.size == 20


def test_the_spec_race_cannot_roll_the_witness_back(tmp_path: Path) -> None:
    # tlog-witness's example: A (size N) and B (size N+K) from the same old size. One
    # wins; the other gets 409; the recorded size is the winner's and never goes down.
    log = CaseLog().grow_to(40)
    for round_ in range(5):
        app = _slow_app(tmp_path / str(round_))
        asyncio.run(_post_all(app, [log.request(0, 5)]))
        small, large = log.request(5, 8), log.request(5, 40)
        responses = asyncio.run(_post_all(app, [small, large, small, large]))
        winners = [r for r in responses if r.status_code == 200]
        assert len(winners) == 1
        loaded = WitnessState(tmp_path / str(round_)).load(log.origin)
        assert loaded is not None
        assert loaded.size in (8, 40)
        assert all(
            r.content == f"{loaded.size}\n".encode() for r in responses if r.status_code == 409
        )


def test_threads_growing_one_log_only_ever_raise_the_recorded_size(tmp_path: Path) -> None:
    # Service level, real threads: each thread pushes its own targets, resyncing on 409
    # from the size the witness names. Every size persisted is larger than the last.
    log = CaseLog().grow_to(30)
    persisted: list[int] = []  # appended under the origin lock, so in order
    witness = Witness(
        signer=witness_signer(),
        logs=LogRoster([log_key()]),
        state=WitnessState(tmp_path),
        clock=lambda: NOW,
        on_persisted=lambda checkpoint: persisted.append(checkpoint.size),
    )

    def climb(offset: int) -> None:
        old = 0
        for target in range(1 + offset % 3, 31, 3):
            while old <= target:
                try:
                    witness.add_checkpoint(AddCheckpointRequest.parse(log.request(old, target)))
                except SizeConflictError as exc:
                    if exc.latest_size == old:  # pragma: no cover - would loop forever
                        raise
                    old = exc.latest_size
                    continue
                old = target
                break

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(climb, range(8)))
    assert persisted == sorted(set(persisted))
    assert persisted[-1] == 30
    loaded = witness.state.load(log.origin)
    assert loaded is not None
    assert loaded.size == 30


def test_different_origins_do_not_wait_for_each_other(tmp_path: Path) -> None:
    case_a, case_b = CaseLog().grow_to(3), CaseLog(CASE_B).grow_to(3)
    release = threading.Event()
    entered = threading.Event()

    def hold(checkpoint: object) -> None:
        if getattr(checkpoint, "origin", None) == case_a.origin:
            entered.set()
            assert release.wait(10)

    witness = Witness(
        signer=witness_signer(),
        logs=LogRoster([log_key()]),
        state=WitnessState(tmp_path),
        clock=lambda: NOW,
        on_persisted=hold,
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        held = pool.submit(witness.add_checkpoint, AddCheckpointRequest.parse(case_a.request(0)))
        assert entered.wait(10)
        # Case A's lock is held; case B goes through.
        witness.add_checkpoint(AddCheckpointRequest.parse(case_b.request(0)))
        release.set()
        held.result(timeout=10)
