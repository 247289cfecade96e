"""SHA-256 and BLAKE3 in one pass (spec 3), independent of how the stream is cut."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.errors import InvalidDigestError
from evidence.hashing import StreamHasher, hash_chunks, parse_sha256_hex

# Published test vectors: FIPS 180-2 for SHA-256, the BLAKE3 reference for the empty input.
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
EMPTY_BLAKE3 = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_empty_stream_vectors() -> None:
    digests = hash_chunks([])
    assert (digests.size, digests.sha256_hex, digests.blake3_hex) == (
        0,
        EMPTY_SHA256,
        EMPTY_BLAKE3,
    )


def test_abc_vector() -> None:
    digests = hash_chunks([b"a", b"bc"])
    assert digests.size == 3
    assert digests.sha256_hex == ABC_SHA256


@given(st.binary(max_size=4096), st.lists(st.integers(min_value=0, max_value=4096), max_size=8))
def test_any_chunking_gives_the_same_digests(data: bytes, cuts: list[int]) -> None:
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    pieces = [data[a:b] for a, b in itertools.pairwise(points)]
    assert hash_chunks(pieces) == hash_chunks([data])


def test_copy_is_independent() -> None:
    hasher = StreamHasher()
    hasher.update(b"a")
    twin = hasher.copy()
    twin.update(b"bc")
    assert hasher.digests().size == 1
    assert twin.digests().sha256_hex == ABC_SHA256


def test_declared_digest_is_normalised_to_lowercase() -> None:
    assert parse_sha256_hex(ABC_SHA256.upper()) == ABC_SHA256


@pytest.mark.parametrize("value", ["", "xyz", ABC_SHA256[:-1], ABC_SHA256 + "0", " " + ABC_SHA256])
def test_malformed_declared_digest(value: str) -> None:
    with pytest.raises(InvalidDigestError):
        parse_sha256_hex(value)
