"""The witness's decision: cosign a checkpoint, or refuse it, per c2sp.org/tlog-witness.

`Witness.add_checkpoint` runs the spec's checks in the spec's order, each quoted where
it is made, and persists the new checkpoint before it returns the cosignature. It does
no HTTP: `witness.app` parses the request and maps the errors to statuses.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from custody.checkpoint import Checkpoint
from custody.cosignature import MAX_TIMESTAMP, CosignatureSigner
from custody.errors import ConsistencyProofError
from custody.merkle import EMPTY_ROOT, verify_consistency
from custody.note import Note, NoteSignature
from witness.errors import (
    BadProofError,
    MalformedRequestError,
    SizeConflictError,
    SplitViewError,
    StateError,
    WitnessError,
)
from witness.logs import LogRoster
from witness.protocol import AddCheckpointRequest
from witness.state import CosignedCheckpoint, WitnessState

__all__ = ["Clock", "Witness"]

Clock = Callable[[], float]
"""POSIX seconds now (time.time in production; frozen in tests)."""

logger = logging.getLogger(__name__)


class Witness:
    """Cosigns consistent checkpoints of the case logs in `logs`, remembering in `state`."""

    def __init__(
        self,
        *,
        signer: CosignatureSigner,
        logs: LogRoster,
        state: WitnessState,
        clock: Clock,
        on_persisted: Callable[[Checkpoint], None] | None = None,
    ) -> None:
        self.signer = signer
        self.logs = logs
        self.state = state
        self._clock = clock
        # Fault injection for tests (e.g. a SIGKILL between persisting and answering).
        self._on_persisted = on_persisted
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _lock_for(self, origin: str) -> threading.Lock:
        # Only origins whose checkpoint signature verified get here, so strangers
        # cannot grow this map.
        with self._locks_guard:
            return self._locks.setdefault(origin, threading.Lock())

    def add_checkpoint(self, request: AddCheckpointRequest) -> tuple[NoteSignature, ...]:
        """The cosignature line(s) for the request's checkpoint, or a WitnessError."""
        checkpoint = request.checkpoint
        origin = checkpoint.origin
        # tlog-witness: unknown origin -> 404; "none of the signatures verify against a
        # trusted public key" -> 403. Signatures from unknown keys are ignored.
        log_signatures = self.logs.check_signatures(request.note, origin)
        # tlog-witness: "The old size MUST be equal to or lower than the checkpoint size.
        # Otherwise, the witness MUST respond with a 400 Bad Request".
        if request.old_size > checkpoint.size:
            raise MalformedRequestError(
                f"old size {request.old_size} is larger than the checkpoint size {checkpoint.size}"
            )
        # tlog-witness: checking the old size and persisting the new checkpoint "must be
        # performed atomically" (else two requests can roll the witness back).
        with self._lock_for(origin):
            return self._check_and_cosign(request, checkpoint, log_signatures)

    def _check_and_cosign(
        self,
        request: AddCheckpointRequest,
        checkpoint: Checkpoint,
        log_signatures: tuple[NoteSignature, ...],
    ) -> tuple[NoteSignature, ...]:
        origin = checkpoint.origin
        latest = self.state.load(origin)
        latest_size = 0 if latest is None else latest.size
        latest_root = EMPTY_ROOT if latest is None else latest.root_hash
        # tlog-witness: "The witness MUST check that the old size matches the size of the
        # latest checkpoint it cosigned for the checkpoint's origin (or zero if it never
        # cosigned a checkpoint for that origin). If it doesn't match ... 409 Conflict",
        # body: that size. A rollback (a checkpoint smaller than the latest) ends here.
        if request.old_size != latest_size:
            logger.info(
                "witness: %s: old size %d, latest cosigned %d (checkpoint size %d)",
                origin, request.old_size, latest_size, checkpoint.size,
            )  # fmt: skip
            raise SizeConflictError(
                f"latest cosigned size is {latest_size}, not {request.old_size}",
                latest_size=latest_size,
            )
        # tlog-witness (newest text, C2SP 95978ca, 2026-07-06): "If the old size matches the
        # checkpoint size, the witness MUST check that the root hashes are also identical.
        # If they don't match, the witness MUST respond with a "422 Unprocessable Entity"".
        # Checked before the proof: two signed roots for one size is a fork whatever proof
        # came with it. (Size 0 has no cosigned root to fork from: "A checkpoint of size
        # zero MUST have the root hash of the empty tree ... Otherwise ... 422", which the
        # proof check below gives.)
        if checkpoint.size == latest_size > 0 and checkpoint.root_hash != latest_root:
            self._keep_evidence(request, "split view")
            raise SplitViewError(f"the log signed two roots for size {latest_size} of {origin}")
        # tlog-witness: "The consistency proof lines MUST encode a Merkle Consistency Proof
        # from the old size to the checkpoint size ... The proof MUST be empty if the old
        # size is zero. If the Merkle Consistency Proof doesn't verify ... 422". The old
        # root is the one the witness recorded, never one the client sends.
        try:
            verify_consistency(
                latest_size, checkpoint.size, latest_root, checkpoint.root_hash, request.proof
            )
        except ConsistencyProofError as exc:
            self._keep_evidence(request, "bad consistency proof")
            raise BadProofError(f"consistency proof does not verify: {exc}") from exc

        cosignature = self.signer.cosign(request.note.text, self._timestamp())
        if latest is None or checkpoint.size > latest.size:
            # tlog-witness: "The witness MUST persist the new checkpoint before
            # responding." save() returns only once the file and its rename are fsynced.
            record = CosignedCheckpoint(Note(request.note.text, (*log_signatures, cosignature)))
            self.state.save(record)
            if self._on_persisted is not None:
                self._on_persisted(checkpoint)
        # Same size, same root: nothing new to remember; a fresh timestamp is still a
        # true statement ("as of this time, the largest consistent tree I saw").
        return (cosignature,)

    def _timestamp(self) -> int:
        now = int(self._clock())
        if not 0 <= now <= MAX_TIMESTAMP:
            raise WitnessError(f"clock gives {now}, not a POSIX timestamp")
        return now

    def _keep_evidence(self, request: AddCheckpointRequest, what: str) -> None:
        # tlog-witness: the witness "MAY log the request even if the consistency proof
        # doesn't verify (but MUST NOT cosign the checkpoint) as it might be proof of log
        # misbehavior". The log signed it, so it is evidence against the log.
        try:
            path = self.state.record_evidence(request.to_bytes())
        except StateError:
            logger.exception("witness: could not keep evidence of %s", what)
            return
        logger.warning(
            "witness: %s from %s at size %d; request kept in %s",
            what, request.checkpoint.origin, request.checkpoint.size, path,
        )  # fmt: skip
