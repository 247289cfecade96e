"""In-process witnesses and a fake clock, for the tests of witnessing and exports.

Witness apps run in-process behind httpx transports mounted on made-up hosts, so a
witness can be taken down and brought back by switching its transport.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from starlette.applications import Starlette

from custody.cosignature import CosignatureSigner
from custody.note import NoteVerifier
from server.services.witnessing import Outcome, WitnessSubmitter, register_witness
from server.services.workspace import Workspace
from witness.app import create_witness_app

NOW = 1_790_000_000.0


class _Down(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("witness is down", request=request)


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Witnesses:
    """In-process witnesses, one per state, reachable at http://<code>-witness."""

    ws: Workspace
    apps: dict[str, Starlette] = field(default_factory=dict)
    signers: dict[str, CosignatureSigner] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    clock: FakeClock = field(default_factory=FakeClock)

    def add(self, code: str, state_dir: Path) -> CosignatureSigner:
        signer = CosignatureSigner.generate(f"{code}-1")
        self.apps[code] = create_witness_app(
            signer=signer,
            log_verifiers=[NoteVerifier.from_vkey(self.ws.signer.vkey())],
            state_dir=state_dir,
            clock=lambda: NOW,
        )
        self.signers[code] = signer
        register_witness(
            self.ws.engine,
            code,
            url=f"http://{code.lower()}-witness",
            vkey=signer.vkey(),
            signer=self.ws.signer,
        )
        return signer

    def http(self) -> httpx.AsyncClient:
        mounts: dict[str, httpx.AsyncBaseTransport] = {}
        for code, app in self.apps.items():
            transport = _Down() if code in self.down else httpx.ASGITransport(app=app)
            mounts[f"http://{code.lower()}-witness"] = transport
        return httpx.AsyncClient(mounts=mounts, timeout=10)

    def submitter(self) -> WitnessSubmitter:
        return WitnessSubmitter(self.ws, http_factory=self.http, clock=self.clock)


def submit(submitter: WitnessSubmitter) -> list[Outcome]:
    return asyncio.run(submitter.submit_pending())
