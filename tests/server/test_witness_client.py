"""The case server asking a witness for a cosignature (`request_cosignature`), against a real
witness app: the resync after a size conflict, a split view, an unreachable witness."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from server.services.witness_client import request_cosignature
from tests.witness.helpers import NOW, CaseLog, log_key, witness_signer
from witness.app import create_witness_app
from witness.errors import BadProofError, SizeConflictError, WitnessResponseError


def _cosign(
    app: object, log: CaseLog, old_size: int, calls: list[tuple[int, int]] | None = None
) -> str:
    def proofs(old: int, new: int) -> Sequence[bytes]:
        if calls is not None:
            calls.append((old, new))
        return log.proof(old, new)

    async def run() -> str:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport) as http:
            sig = await request_cosignature(
                http,
                "http://witness/",
                note=log.note(),
                witness=witness_signer().verifier(),
                old_size=old_size,
                proof_source=proofs,
            )
        return sig.line()

    return asyncio.run(run())


def _app(state_dir: Path) -> object:
    return create_witness_app(
        signer=witness_signer(),
        log_verifiers=[log_key()],
        state_dir=state_dir,
        clock=lambda: NOW,
    )


def test_client_cosigns_and_resyncs_after_a_size_conflict(tmp_path: Path) -> None:
    app = _app(tmp_path)
    log = CaseLog().grow_to(5)
    line = _cosign(app, log, 0)
    assert line.startswith("\u2014 NL-1 ")
    log.grow_to(21)
    calls: list[tuple[int, int]] = []
    # The log forgot what the witness saw: it starts from 0, learns 5, sends a proof.
    _cosign(app, log, 0, calls)
    assert calls == [(5, 21)]


def test_client_reports_a_split_view(tmp_path: Path) -> None:
    app = _app(tmp_path)
    _cosign(app, CaseLog().grow_to(5), 0)
    # tlog-witness answers a split view 422 since 2026, as any inconsistent checkpoint: the
    # client sees a BadProofError (SplitViewError, for 409 from older witnesses, is one).
    with pytest.raises(BadProofError, match="422"):
        _cosign(app, CaseLog(branch="fork", fork_at=2).grow_to(5), 5)


def test_client_does_not_retry_when_the_witness_saw_a_larger_tree(tmp_path: Path) -> None:
    app = _app(tmp_path)
    log = CaseLog().grow_to(9)
    _cosign(app, log, 0)
    smaller = CaseLog().grow_to(4)
    with pytest.raises(SizeConflictError) as caught:
        _cosign(app, smaller, 0)
    assert caught.value.latest_size == 9


def test_client_reports_an_unreachable_witness() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
            await request_cosignature(
                http,
                "http://witness",
                note=CaseLog().grow_to(1).note(),
                witness=witness_signer().verifier(),
                old_size=0,
                proof_source=lambda old, new: [],
            )

    with pytest.raises(WitnessResponseError, match="unreachable"):
        asyncio.run(run())
