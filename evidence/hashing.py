"""SHA-256 and BLAKE3 of a byte stream in one pass, in constant memory.

These are the content hashes of spec 3 ("SHA-256 and BLAKE3 (32-byte output)
of the exact stored bytes, both lowercase hex") that `exhibit.ingested` and
`exhibit.verified` entries carry (spec 2.1).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NewType

import blake3

from evidence._error_root import InvalidDigestError

CHUNK_SIZE = 1024 * 1024
"""Bytes read from storage at a time; incoming chunks are hashed as they come."""

Sha256Hex = NewType("Sha256Hex", str)
Blake3Hex = NewType("Blake3Hex", str)

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def parse_sha256_hex(value: str) -> Sha256Hex:
    """A declared SHA-256 in lowercase hex; refuses anything but 64 hex digits."""
    if not _HEX64.fullmatch(value):
        raise InvalidDigestError(f"not a hex SHA-256: {value!r}")
    return Sha256Hex(value.lower())


@dataclass(frozen=True, slots=True)
class Digests:
    """Size and content hashes of stored bytes (spec 3)."""

    size: int
    sha256_hex: Sha256Hex
    blake3_hex: Blake3Hex


@dataclass(frozen=True, slots=True)
class Sha256Only:
    """Size and SHA-256 of bytes whose BLAKE3 this process could not compute (ADR 0025)."""

    size: int
    sha256_hex: Sha256Hex


class StreamHasher:
    """Feeds every byte once to both hashes; holds no byte itself."""

    __slots__ = ("_blake3", "_sha256", "size")

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._blake3 = blake3.blake3()
        self.size = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._sha256.update(data)
        self._blake3.update(data)
        self.size += len(data)

    def copy(self) -> StreamHasher:
        twin = StreamHasher()
        twin._sha256 = self._sha256.copy()
        twin._blake3 = self._blake3.copy()
        twin.size = self.size
        return twin

    def digests(self) -> Digests:
        return Digests(
            size=self.size,
            sha256_hex=Sha256Hex(self._sha256.hexdigest()),
            blake3_hex=Blake3Hex(self._blake3.hexdigest()),
        )


def hash_chunks(chunks: Iterable[bytes]) -> Digests:
    """Digests of the concatenation of `chunks`."""
    hasher = StreamHasher()
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.digests()
