"""Note commitments (spec 2.1 `note.added`): SHA-256(salt || UTF-8 text), a 32-byte salt."""

from __future__ import annotations

import hashlib

import pytest

from custody.commitment import SALT_SIZE, note_commitment, verify_note_commitment
from custody.errors import CommitmentError

SALT = bytes(range(32))


def test_the_commitment_is_sha256_of_salt_then_utf8_text() -> None:
    text = "Gesprek met getuige \u00e9\u00e9n"
    expected = hashlib.sha256(SALT + text.encode("utf-8")).hexdigest()
    assert note_commitment(SALT, text) == expected
    assert verify_note_commitment(expected, SALT, text)


def test_a_guessed_text_without_the_salt_is_not_confirmed() -> None:
    # The attack the salt prevents: hashing a guess and comparing it with the log.
    commitment = note_commitment(SALT, "suspect confessed")
    assert commitment != hashlib.sha256(b"suspect confessed").hexdigest()
    assert not verify_note_commitment(commitment, bytes(32), "suspect confessed")
    assert not verify_note_commitment(commitment, SALT, "suspect denied")


@pytest.mark.parametrize("salt", [b"", bytes(31), bytes(33)])
def test_the_salt_is_exactly_32_bytes(salt: bytes) -> None:
    assert SALT_SIZE == 32
    with pytest.raises(CommitmentError, match="32 bytes"):
        note_commitment(salt, "x")


@pytest.mark.parametrize("commitment", ["", "0" * 63, "A" * 64, "g" * 64, "0" * 65])
def test_a_commitment_is_64_lowercase_hex(commitment: str) -> None:
    with pytest.raises(CommitmentError, match="64 lowercase hex"):
        verify_note_commitment(commitment, SALT, "x")
