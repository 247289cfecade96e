"""Note commitments (spec 2.1 `note.added`): SHA-256(salt || UTF-8 text), salt 32 bytes.

The log holds only the commitment; the text and its salt stay in the workspace. A random
salt that never enters the log means a reader of the log cannot confirm a guessed note by
hashing it, while whoever is given the text and salt can check it against the log.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from custody.errors import CommitmentError

__all__ = ["SALT_SIZE", "CommitmentError", "note_commitment", "verify_note_commitment"]

SALT_SIZE: Final = 32


def note_commitment(salt: bytes, text: str) -> str:
    """spec 2.1: lowercase hex SHA-256(salt || UTF-8 text); the salt is exactly 32 bytes."""
    if not isinstance(salt, bytes) or len(salt) != SALT_SIZE:
        raise CommitmentError(f"a note's salt must be exactly {SALT_SIZE} bytes")
    return hashlib.sha256(salt + text.encode("utf-8")).hexdigest()


def verify_note_commitment(commitment: str, salt: bytes, text: str) -> bool:
    """Whether `text` with `salt` is what `commitment` (from a note.added entry) commits to."""
    if len(commitment) != 64 or commitment.strip("0123456789abcdef"):
        raise CommitmentError("a commitment is 64 lowercase hex characters")
    # Constant time: the comparison says nothing of how close a guess came.
    return hmac.compare_digest(note_commitment(salt, text), commitment)
