"""C2SP tlog-cosignature: timestamped Ed25519 witness cosignatures (cosignature/v1).

A cosignature is a note signature line on a checkpoint, from a key of signature type
0x04. Its bytes after the key ID are `timestamp (u64, big-endian) || Ed25519 signature`,
and the signed message is

    cosignature/v1\\n
    time <timestamp in decimal>\\n
    <the whole checkpoint body, extension lines included>

NOTE: the Ed25519 cosignature message does not commit to the cosigner name
(tlog-cosignature: a key can't be shared by two cosigners); the key ID, derived from
name and key, is how a verifier tells cosigners apart.
"""

from __future__ import annotations

from typing import ClassVar

from custody.checkpoint import Checkpoint
from custody.errors import NoteFormatError
from custody.note import (
    COSIGNATURE_KEY_TYPE,
    Ed25519Signer,
    Ed25519VerifierKey,
    NoteSignature,
)

__all__ = [
    "COSIGNATURE_KEY_TYPE",
    "MAX_TIMESTAMP",
    "CosignatureSigner",
    "CosignatureVerifier",
    "cosignature_timestamp",
    "cosigned_message",
]

# tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1.
MAX_TIMESTAMP = 2**63 - 1
_TIMESTAMP_SIZE = 8
_ED25519_SIGNATURE_SIZE = 64
_HEADER = "cosignature/v1\n"


def cosigned_message(checkpoint_body: str, timestamp: int) -> bytes:
    """tlog-cosignature "Ed25519 signed message": the header line `cosignature/v1`, the
    line `time <timestamp>` (ASCII decimal, no leading zeros), then the whole checkpoint
    note body including its final newline."""
    if isinstance(timestamp, bool) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteFormatError(f"cosignature timestamp {timestamp!r} is out of range")
    return f"{_HEADER}time {timestamp}\n{checkpoint_body}".encode()


def cosignature_timestamp(sig: NoteSignature) -> int:
    """The timestamp a cosignature line claims, NOT verified. Raises NoteFormatError if
    the line is not shaped as an Ed25519 cosignature/v1 (8 + 64 bytes after the key ID)."""
    if len(sig.signature) != _TIMESTAMP_SIZE + _ED25519_SIGNATURE_SIZE:
        raise NoteFormatError("not an Ed25519 cosignature/v1: wrong signature length")
    timestamp = int.from_bytes(sig.signature[:_TIMESTAMP_SIZE], "big")
    if timestamp > MAX_TIMESTAMP:
        raise NoteFormatError("cosignature timestamp exceeds 2^63 - 1")
    return timestamp


class CosignatureSigner(Ed25519Signer):
    """A witness key that produces Ed25519 cosignature/v1 lines (signature type 0x04)."""

    KEY_TYPE: ClassVar[int] = COSIGNATURE_KEY_TYPE
    __slots__ = ()

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.public_key)

    def cosign(self, checkpoint_body: str, timestamp: int) -> NoteSignature:
        """Cosign a checkpoint body at `timestamp` (POSIX seconds, passed in: no clock)."""
        # Only checkpoints are cosigned: the body must parse (NoteFormatError otherwise).
        Checkpoint.parse_body(checkpoint_body)
        message = cosigned_message(checkpoint_body, timestamp)
        signature = self._sign_ed25519(message)
        # tlog-cosignature: timestamped_signature = u64 timestamp (big-endian) || signature.
        return NoteSignature(
            self.name, self.key_id, timestamp.to_bytes(_TIMESTAMP_SIZE, "big") + signature
        )


class CosignatureVerifier(Ed25519VerifierKey):
    """Verifies one witness's Ed25519 cosignature/v1 lines (vkey type 0x04 only)."""

    KEY_TYPE: ClassVar[int] = COSIGNATURE_KEY_TYPE

    def verify(self, checkpoint_body: str, sig: NoteSignature) -> int | None:
        """The cosigned timestamp if `sig` is this witness's valid cosignature of the
        checkpoint body; None otherwise (another key, wrong shape, bad signature)."""
        if not self._matches(sig):
            return None
        try:
            timestamp = cosignature_timestamp(sig)
            message = cosigned_message(checkpoint_body, timestamp)
        except (NoteFormatError, UnicodeEncodeError):
            return None
        if not checkpoint_body.endswith("\n"):
            return None
        if not self._verify_ed25519(message, sig.signature[_TIMESTAMP_SIZE:]):
            return None
        return timestamp
