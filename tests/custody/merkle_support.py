"""Shared by the custody.merkle tests: the checked-in vectors, the RFC 6962 reference
tree and test-only re-derivations of the RFC 9162 verifiers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.errors import (
    ConsistencyProofError,
    InclusionProofError,
)
from custody.merkle import (
    HASH_SIZE,
    MemoryTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

DATA = Path(__file__).parent / "data" / "merkle"


# ---------------------------------------------------------------------------
# Loading the checked-in vectors


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _hashes(values: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(value) for value in values]


def _case_id(source: str) -> str:
    # "transparency-dev/merkle@<commit>:testdata/inclusion/1/wrong-leaf.json"
    return source.split(":testdata/", 1)[1].removesuffix(".json")


@dataclass(frozen=True)
class InclusionCase:
    source: str
    desc: str
    want_error: bool
    index: int
    size: int
    leaf_hash: bytes
    root: bytes
    proof: list[bytes]


@dataclass(frozen=True)
class ConsistencyCase:
    source: str
    desc: str
    want_error: bool
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: list[bytes]


REFERENCE = _load("rfc6962_tree.json")
REFERENCE_LEAVES = [leaf_hash(bytes.fromhex(data)) for data in REFERENCE["leaves"]]
REFERENCE_ROOTS = _hashes(REFERENCE["roots_by_size"])

INCLUSION_CASES = [
    InclusionCase(
        source=c["source"],
        desc=c["desc"],
        want_error=c["want_error"],
        index=c["index"],
        size=c["size"],
        leaf_hash=bytes.fromhex(c["leaf_hash"]),
        root=bytes.fromhex(c["root"]),
        proof=_hashes(c["proof"]),
    )
    for c in _load("inclusion_vectors.json")["cases"]
]
CONSISTENCY_CASES = [
    ConsistencyCase(
        source=c["source"],
        desc=c["desc"],
        want_error=c["want_error"],
        old_size=c["old_size"],
        new_size=c["new_size"],
        old_root=bytes.fromhex(c["old_root"]),
        new_root=bytes.fromhex(c["new_root"]),
        proof=_hashes(c["proof"]),
    )
    for c in _load("consistency_vectors.json")["cases"]
]


def _reference_tree() -> MemoryTree:
    return MemoryTree.from_leaf_hashes(REFERENCE_LEAVES)


# ---------------------------------------------------------------------------
# Helpers


def _tree(size: int, salt: bytes = b"") -> tuple[MemoryTree, list[bytes]]:
    leaves = [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(size)]
    return MemoryTree.from_leaf_hashes(leaves), leaves


def _flip(value: bytes, bit: int) -> bytes:
    buffer = bytearray(value)
    buffer[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(buffer)


def _split(n: int) -> int:
    """Largest power of two smaller than n, computed the slow, obvious way."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _reference_inclusion_accepts(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Test oracle: read the proof back through the recursive PATH definition
    (RFC 9162 2.1.3.1), the top sibling being the last hash."""
    if not 0 <= index < size:
        return False
    remaining = list(proof)

    def walk(m: int, n: int) -> bytes | None:
        if n == 1:
            return leaf
        if not remaining:
            return None
        k = _split(n)
        sibling = remaining.pop()
        if m < k:
            inner = walk(m, k)
            return None if inner is None else node_hash(inner, sibling)
        inner = walk(m - k, n - k)
        return None if inner is None else node_hash(sibling, inner)

    computed = walk(index, size)
    return computed == root and not remaining


def _reference_consistency_accepts(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Test oracle for 0 < old_size < new_size: read the proof back through the recursive
    SUBPROOF definition (RFC 9162 2.1.4.1), rebuilding both roots."""
    if not 0 < old_size < new_size:
        return False
    remaining = list(proof)

    def sub(m: int, n: int, whole: bool) -> tuple[bytes, bytes] | None:
        # Returns (MTH of the first m leaves of this subtree, MTH of the subtree).
        if m == n:
            if whole:
                return old_root, old_root
            if not remaining:
                return None
            value = remaining.pop()
            return value, value
        if not remaining:
            return None
        k = _split(n)
        if m <= k:
            right = remaining.pop()
            inner = sub(m, k, whole)
            return None if inner is None else (inner[0], node_hash(inner[1], right))
        left = remaining.pop()
        inner = sub(m - k, n - k, False)
        if inner is None:
            return None
        return node_hash(left, inner[0]), node_hash(left, inner[1])

    roots = sub(old_size, new_size, True)
    return roots == (old_root, new_root) and not remaining


def _inclusion_verifies(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    try:
        verify_inclusion(leaf, index, size, proof, root)
    except InclusionProofError:
        return False
    return True


def _consistency_verifies(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    try:
        verify_consistency(old_size, new_size, old_root, new_root, proof)
    except ConsistencyProofError:
        return False
    return True


class CountingGetter:
    """A get_node that counts its calls and returns a fixed hash."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, level: int, index: int) -> bytes:
        self.calls += 1
        return bytes([level]) * HASH_SIZE
