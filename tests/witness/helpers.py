"""Small factories for witness tests: a case log that signs checkpoints, a witness app."""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

from custody.checkpoint import Checkpoint
from custody.cosignature import CosignatureSigner, CosignatureVerifier
from custody.merkle import MemoryTree, leaf_hash
from custody.note import NoteSigner, NoteVerifier, sign_note
from witness.app import create_witness_app
from witness.protocol import AddCheckpointRequest, build_add_checkpoint_body
from witness.state import CosignedCheckpoint, WitnessState

with warnings.catch_warnings():
    # Starlette 1.x prefers `httpx2` for its test client; `httpx` still works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

__all__ = [
    "CASE_A",
    "CASE_B",
    "LOG_NAME",
    "LOG_SEED",
    "NOW",
    "WITNESS_NAME",
    "WITNESS_SEED",
    "CaseLog",
    "Harness",
    "TestClient",
    "harness",
    "log_key",
    "witness_signer",
]

LOG_NAME = "jitc.test"
LOG_SEED = bytes(range(32))
WITNESS_NAME = "NL-1"
WITNESS_SEED = bytes([7]) * 32
NOW = 1_700_000_000
CASE_A = "3f0c8a52-9d1e-4b7a-8c2f-6e5d4a3b2c1d"
CASE_B = "0d9b7c6a-5e4f-4a3b-9c2d-1e0f9a8b7c6d"


def log_key(seed: bytes = LOG_SEED, name: str = LOG_NAME) -> NoteVerifier:
    """The server's log key under the log name (what `GET /api/log-key` gives)."""
    return NoteSigner.from_seed(name, seed).verifier()


def witness_signer() -> CosignatureSigner:
    return CosignatureSigner.from_seed(WITNESS_NAME, WITNESS_SEED)


class CaseLog:
    """A case log as the server keeps it: a Merkle tree and the log key signing its
    checkpoints under the case origin (custody-log-v1 §4). `branch` changes the leaves,
    so two CaseLogs of one origin with different branches are a fork from index
    `fork_at` on."""

    def __init__(
        self,
        case_id: str = CASE_A,
        *,
        seed: bytes = LOG_SEED,
        log_name: str = LOG_NAME,
        branch: str = "main",
        fork_at: int = 0,
    ) -> None:
        self.origin = f"{log_name}/case/{case_id}"
        self.signer = NoteSigner.from_seed(self.origin, seed)
        self.tree = MemoryTree()
        self._branch = branch
        self._fork_at = fork_at

    def grow_to(self, size: int) -> CaseLog:
        while self.tree.size < size:
            index = self.tree.size
            branch = "main" if index < self._fork_at else self._branch
            self.tree.append(leaf_hash(f"{self.origin} {branch} entry {index}".encode()))
        return self

    def body(self, size: int | None = None) -> str:
        size = self.tree.size if size is None else size
        return Checkpoint(self.origin, size, self.tree.root(size)).body()

    def note(self, size: int | None = None) -> bytes:
        return sign_note(self.body(size), [self.signer]).to_bytes()

    def proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        new_size = self.tree.size if new_size is None else new_size
        if old_size == 0:
            return []
        return self.tree.consistency_proof(old_size, new_size)

    def request(self, old_size: int, size: int | None = None) -> bytes:
        """A correct add-checkpoint body from `old_size` to `size` (default: now)."""
        size = self.tree.size if size is None else size
        return build_add_checkpoint_body(old_size, self.proof(old_size, size), self.note(size))

    def raw_request(self, old_size: int, proof: Sequence[bytes], note: bytes) -> bytes:
        """A body with any proof, even one a careful client would not build."""
        return AddCheckpointRequest.parse(
            b"old %d\n" % old_size
            + b"".join(base64.b64encode(h) + b"\n" for h in proof)
            + b"\n"
            + note
        ).to_bytes()


@dataclass
class Harness:
    app: Starlette
    client: TestClient
    state_dir: Path
    verifier: CosignatureVerifier

    @property
    def state(self) -> WitnessState:
        return WitnessState(self.state_dir)

    def post(self, body: bytes) -> tuple[int, str | None, bytes]:
        response = self.client.post("/add-checkpoint", content=body)
        return response.status_code, response.headers.get("content-type"), response.content

    def recorded(self, origin: str) -> CosignedCheckpoint | None:
        return self.state.load(origin)

    def state_bytes(self, origin: str) -> bytes:
        return self.state.path_for(origin).read_bytes()


@contextmanager
def harness(
    state_dir: Path,
    *,
    log_keys: Sequence[NoteVerifier] | None = None,
    now: float = NOW,
) -> Iterator[Harness]:
    signer = witness_signer()
    app = create_witness_app(
        signer=signer,
        log_verifiers=list(log_keys) if log_keys is not None else [log_key()],
        state_dir=state_dir,
        clock=lambda: now,
    )
    with TestClient(app) as client:
        yield Harness(app, client, state_dir, signer.verifier())
