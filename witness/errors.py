"""One error root for the witness, subclasses named for what the log (or witness) did.

No HTTP status codes here: `witness.app` maps these to responses in one place,
and `witness.protocol.raise_for_response` maps responses back to them on the
client side, so the case server catches the same classes the witness raised.
"""

from __future__ import annotations


class WitnessError(Exception):
    """Root of every error raised by the witness and its client helpers."""


class MalformedRequestError(WitnessError):
    """An add-checkpoint body that does not parse (tlog-witness "400 Bad Request"), or an
    old size larger than the checkpoint's size."""


class RequestTooLargeError(MalformedRequestError):
    """A request body over the witness's size limit ("413 Content Too Large")."""


class UnknownOriginError(WitnessError):
    """The checkpoint's origin is not a case log of any log this witness follows (404)."""


class UntrustedCheckpointError(WitnessError):
    """No signature from a trusted log key verifies, or a trusted key's line is forged (403)."""


class ConflictError(WitnessError):
    """The old size is not the witness's latest cosigned size (409)."""


class SizeConflictError(ConflictError):
    """The old size is not the size of the latest cosigned checkpoint: a stale client or an
    attempted rollback. The 409 body carries `latest_size` (text/x.tlog.size)."""

    def __init__(self, message: str, *, latest_size: int) -> None:
        super().__init__(message)
        self.latest_size = latest_size


class BadProofError(WitnessError):
    """The consistency proof does not link the last cosigned checkpoint to the new one
    (422): a bad proof, or a larger tree that does not extend the cosigned one."""


class SplitViewError(BadProofError):
    """A checkpoint of the size the witness last cosigned, with a different root: the log
    signed two trees of one size (a fork, custody-log-v1 §4 forbids it). tlog-witness
    (C2SP, 2026-07-06) answers it 422, as it does any inconsistent checkpoint."""


class StateError(WitnessError):
    """The witness's stored state is unreadable or cannot be written; it refuses to cosign
    rather than forget what it cosigned (500)."""


class WitnessResponseError(WitnessError):
    """Client side: a witness's answer is malformed, unexpected, or carries no valid
    cosignature from the witness's key."""


class WitnessKeyError(WitnessError):
    """The witness key file is missing, malformed, or readable by others."""
