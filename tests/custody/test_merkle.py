"""custody.merkle: RFC 9162 2.1 tree hashing, proofs and their verification.

Public vectors live in tests/custody/data/merkle/ (see its README.md for where each came
from). The property tests compare the RFC's bit-shifting verifiers with a test-only
re-derivation from the recursive PATH / SUBPROOF definitions (RFC 9162 2.1.3.1, 2.1.4.1).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.errors import (
    ConsistencyProofError,
    CustodyError,
    InclusionProofError,
    VerificationError,
)
from custody.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    MemoryTree,
    TreeError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    subtree_root,
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


# ---------------------------------------------------------------------------
# Hashing basics and the RFC 6962 reference tree (transparency-dev/merkle testonly)


def test_empty_root_is_sha256_of_the_empty_string() -> None:
    # RFC 9162 2.1.1: MTH({}) = SHA-256()
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT
    assert MemoryTree().root() == EMPTY_ROOT
    assert REFERENCE_ROOTS[0] == EMPTY_ROOT


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert leaf_hash(b"") == REFERENCE_LEAVES[0]
    assert REFERENCE_LEAVES[0].hex() == REFERENCE["node_hashes"][0][0]
    left, right = REFERENCE_LEAVES[0], REFERENCE_LEAVES[1]
    assert node_hash(left, right).hex() == REFERENCE["node_hashes"][1][0]
    assert leaf_hash(left + right) != node_hash(left, right)


@pytest.mark.parametrize("size", range(9))
def test_reference_root_for_every_size(size: int) -> None:
    expected = REFERENCE_ROOTS[size]
    assert root_from_leaf_hashes(REFERENCE_LEAVES[:size]) == expected
    assert _reference_tree().root(size) == expected
    assert MemoryTree.from_leaf_hashes(REFERENCE_LEAVES[:size]).root() == expected
    compact = CompactRange()
    for value in REFERENCE_LEAVES[:size]:
        compact.append(value)
    assert compact.root() == expected


def test_reference_perfect_nodes() -> None:
    tree = _reference_tree()
    for level, row in enumerate(REFERENCE["node_hashes"]):
        for index, expected in enumerate(row):
            assert tree.get_node(level, index).hex() == expected
            assert subtree_root(index << level, (index + 1) << level, tree.get_node).hex() == (
                expected
            )


@pytest.mark.parametrize("size", range(9))
def test_reference_compact_range_peaks(size: int) -> None:
    nodes = REFERENCE["node_hashes"]
    expected = tuple(
        bytes.fromhex(nodes[level][index])
        for level, index in REFERENCE["compact_trees_by_size"][size]
    )
    compact = CompactRange()
    for value in REFERENCE_LEAVES[:size]:
        compact.append(value)
    assert compact.peaks == expected


@pytest.mark.parametrize(
    ("index", "size", "expected"),
    [(p["index"], p["size"], p["proof"]) for p in REFERENCE["inclusion_proofs"]],
)
def test_reference_inclusion_proofs_are_generated_exactly(
    index: int, size: int, expected: list[str]
) -> None:
    tree = _reference_tree()
    assert [h.hex() for h in tree.inclusion_proof(index, size)] == expected
    verify_inclusion(REFERENCE_LEAVES[index], index, size, _hashes(expected), REFERENCE_ROOTS[size])


@pytest.mark.parametrize(
    ("old_size", "new_size", "expected"),
    [(p["old_size"], p["new_size"], p["proof"]) for p in REFERENCE["consistency_proofs"]],
)
def test_reference_consistency_proofs_are_generated_exactly(
    old_size: int, new_size: int, expected: list[str]
) -> None:
    tree = _reference_tree()
    assert [h.hex() for h in tree.consistency_proof(old_size, new_size)] == expected
    verify_consistency(
        old_size, new_size, REFERENCE_ROOTS[old_size], REFERENCE_ROOTS[new_size], _hashes(expected)
    )


# ---------------------------------------------------------------------------
# transparency-dev/merkle testdata: happy paths and their corruptions


@pytest.mark.parametrize("case", INCLUSION_CASES, ids=[_case_id(c.source) for c in INCLUSION_CASES])
def test_inclusion_vector(case: InclusionCase) -> None:
    if case.want_error:
        with pytest.raises(InclusionProofError):
            verify_inclusion(case.leaf_hash, case.index, case.size, case.proof, case.root)
        return
    verify_inclusion(case.leaf_hash, case.index, case.size, case.proof, case.root)
    assert root_from_inclusion_proof(case.leaf_hash, case.index, case.size, case.proof) == (
        case.root
    )
    tree = _reference_tree()
    assert tree.root(case.size) == case.root
    assert tree.get_node(0, case.index) == case.leaf_hash
    assert tree.inclusion_proof(case.index, case.size) == case.proof


@pytest.mark.parametrize(
    "case", CONSISTENCY_CASES, ids=[_case_id(c.source) for c in CONSISTENCY_CASES]
)
def test_consistency_vector(case: ConsistencyCase) -> None:
    if case.want_error:
        with pytest.raises(ConsistencyProofError):
            verify_consistency(
                case.old_size, case.new_size, case.old_root, case.new_root, case.proof
            )
        return
    verify_consistency(case.old_size, case.new_size, case.old_root, case.new_root, case.proof)
    tree = _reference_tree()
    assert tree.root(case.old_size) == case.old_root
    assert tree.root(case.new_size) == case.new_root
    assert tree.consistency_proof(case.old_size, case.new_size) == case.proof


def test_every_vector_file_was_converted() -> None:
    # 5 inclusion and 5 consistency directories upstream, each with one happy path.
    assert sum(not c.want_error for c in INCLUSION_CASES) == 5
    assert sum(not c.want_error for c in CONSISTENCY_CASES) == 5
    assert len({c.source for c in INCLUSION_CASES}) == len(INCLUSION_CASES) == 82
    assert len({c.source for c in CONSISTENCY_CASES}) == len(CONSISTENCY_CASES) == 84


# ---------------------------------------------------------------------------
# Property tests over random trees

SIZES = st.integers(min_value=1, max_value=300)
SALTS = st.binary(max_size=8)


@settings(max_examples=15, deadline=None)
@given(size=SIZES, salt=SALTS)
def test_every_proof_of_a_random_tree_verifies(size: int, salt: bytes) -> None:
    tree, leaves = _tree(size, salt)
    roots = [tree.root(n) for n in range(size + 1)]
    assert roots[size] == root_from_leaf_hashes(leaves)
    for index in range(size):
        verify_inclusion(leaves[index], index, size, tree.inclusion_proof(index), roots[size])
    verify_consistency(0, size, EMPTY_ROOT, roots[size], [])
    for old_size in range(1, size + 1):
        proof = tree.consistency_proof(old_size)
        verify_consistency(old_size, size, roots[old_size], roots[size], proof)


@settings(max_examples=30, deadline=None)
@given(size=SIZES, salt=SALTS, data=st.data())
def test_proofs_at_past_sizes_verify(size: int, salt: bytes, data: st.DataObject) -> None:
    tree, leaves = _tree(size, salt)
    new_size = data.draw(st.integers(1, size), label="new_size")
    old_size = data.draw(st.integers(1, new_size), label="old_size")
    index = data.draw(st.integers(0, new_size - 1), label="index")
    new_root = root_from_leaf_hashes(leaves[:new_size])
    verify_inclusion(
        leaves[index], index, new_size, tree.inclusion_proof(index, new_size), new_root
    )
    verify_consistency(
        old_size,
        new_size,
        root_from_leaf_hashes(leaves[:old_size]),
        new_root,
        tree.consistency_proof(old_size, new_size),
    )


INCLUSION_TAMPERS = [
    "leaf bit",
    "proof bit",
    "root bit",
    "index +1",
    "index -1",
    "index other",
    "truncate",
    "drop one",
    "extend",
    "insert",
    "duplicate",
]


@settings(max_examples=400, deadline=None)
@given(
    size=SIZES,
    salt=SALTS,
    tamper=st.sampled_from(INCLUSION_TAMPERS),
    data=st.data(),
)
def test_tampered_inclusion_proof_is_rejected(
    size: int, salt: bytes, tamper: str, data: st.DataObject
) -> None:
    tree, leaves = _tree(size, salt)
    index = data.draw(st.integers(0, size - 1), label="index")
    leaf, root = leaves[index], tree.root()
    proof = tree.inclusion_proof(index)
    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="bit")
    extra = data.draw(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), label="extra")
    if tamper in {"proof bit", "truncate", "drop one", "duplicate"}:
        if not proof:
            return  # a one-leaf tree has an empty proof: nothing to change in it
        position = data.draw(st.integers(0, len(proof) - 1), label="position")
    else:
        position = data.draw(st.integers(0, len(proof)), label="position")

    if tamper == "leaf bit":
        leaf = _flip(leaf, bit)
    elif tamper == "proof bit":
        proof[position] = _flip(proof[position], bit)
    elif tamper == "root bit":
        root = _flip(root, bit)
    elif tamper == "index +1":
        index += 1
    elif tamper == "index -1":
        index -= 1
    elif tamper == "index other":
        other = data.draw(st.integers(-3, 2 * size + 3).filter(lambda i: i != index))
        index = other
    elif tamper == "truncate":
        proof = proof[:position]
    elif tamper == "drop one":
        del proof[position]
    elif tamper == "extend":
        proof.append(extra)
    elif tamper == "insert":
        proof.insert(position, extra)
    elif tamper == "duplicate":
        proof.insert(position, proof[position])

    with pytest.raises(InclusionProofError):
        verify_inclusion(leaf, index, size, proof, root)
    assert not _reference_inclusion_accepts(leaf, index, size, proof, root)


CONSISTENCY_TAMPERS = [
    "old root bit",
    "new root bit",
    "proof bit",
    "old size +1",
    "old size -1",
    "old size other",
    "swap roots",
    "truncate",
    "drop one",
    "extend",
    "insert",
    "duplicate",
    "empty",
]


@settings(max_examples=400, deadline=None)
@given(
    size=st.integers(min_value=2, max_value=300),
    salt=SALTS,
    tamper=st.sampled_from(CONSISTENCY_TAMPERS),
    data=st.data(),
)
def test_tampered_consistency_proof_is_rejected(
    size: int, salt: bytes, tamper: str, data: st.DataObject
) -> None:
    tree, _ = _tree(size, salt)
    old_size = data.draw(st.integers(1, size - 1), label="old_size")
    new_size = size
    old_root, new_root = tree.root(old_size), tree.root()
    proof = tree.consistency_proof(old_size)
    assert proof  # 0 < old_size < new_size always needs hashes
    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="bit")
    extra = data.draw(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), label="extra")
    position = data.draw(st.integers(0, len(proof) - 1), label="position")

    if tamper == "old root bit":
        old_root = _flip(old_root, bit)
    elif tamper == "new root bit":
        new_root = _flip(new_root, bit)
    elif tamper == "proof bit":
        proof[position] = _flip(proof[position], bit)
    elif tamper == "old size +1":
        old_size += 1
    elif tamper == "old size -1":
        old_size -= 1
    elif tamper == "old size other":
        other = data.draw(st.integers(-2, 2 * size).filter(lambda n: n != old_size))
        old_size = other
    elif tamper == "swap roots":
        old_root, new_root = new_root, old_root
    elif tamper == "truncate":
        proof = proof[:position]
    elif tamper == "drop one":
        del proof[position]
    elif tamper == "extend":
        proof.append(extra)
    elif tamper == "insert":
        proof.insert(position, extra)
    elif tamper == "duplicate":
        proof.insert(position, proof[position])
    elif tamper == "empty":
        proof = []

    with pytest.raises(ConsistencyProofError):
        verify_consistency(old_size, new_size, old_root, new_root, proof)
    assert not _reference_consistency_accepts(old_size, new_size, old_root, new_root, proof)


@settings(max_examples=200, deadline=None)
@given(size=SIZES, salt=SALTS, data=st.data())
def test_inclusion_proof_replayed_at_another_tree_size(
    size: int, salt: bytes, data: st.DataObject
) -> None:
    """A proof checked against another size: with that size's own root it must fail
    (unless it happens to be that size's honest proof); with the original root it passes
    exactly when the recursive definition says the path has the same shape."""
    other = data.draw(
        st.one_of(st.sampled_from([size - 1, size + 1]), st.integers(0, 400)).filter(
            lambda n: n != size
        ),
        label="other size",
    )
    tree, leaves = _tree(max(size, other), salt)
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = tree.inclusion_proof(index, size)
    leaf = leaves[index]

    # The attack: a proof against one checkpoint presented with another checkpoint.
    other_root = tree.root(other)
    honest = 0 <= index < other and tree.inclusion_proof(index, other) == proof
    assert _inclusion_verifies(leaf, index, other, proof, other_root) == honest
    # The same root with a wrong size: the bit-shifting verifier agrees with the
    # recursive definition (see the module NOTE in custody.merkle).
    assert _inclusion_verifies(
        leaf, index, other, proof, tree.root(size)
    ) == _reference_inclusion_accepts(leaf, index, other, proof, tree.root(size))


@settings(max_examples=200, deadline=None)
@given(size=st.integers(min_value=2, max_value=300), salt=SALTS, data=st.data())
def test_consistency_proof_replayed_at_another_new_size(
    size: int, salt: bytes, data: st.DataObject
) -> None:
    old_size = data.draw(st.integers(1, size - 1), label="old_size")
    other = data.draw(
        st.one_of(st.sampled_from([size - 1, size + 1]), st.integers(0, 400)).filter(
            lambda n: n != size
        ),
        label="other size",
    )
    tree, _ = _tree(max(size, other), salt)
    proof = tree.consistency_proof(old_size, size)
    old_root = tree.root(old_size)

    other_root = tree.root(other)
    honest = old_size <= other and tree.consistency_proof(old_size, other) == proof
    assert _consistency_verifies(old_size, other, old_root, other_root, proof) == honest
    assert _consistency_verifies(
        old_size, other, old_root, tree.root(size), proof
    ) == _reference_consistency_accepts(old_size, other, old_root, tree.root(size), proof)


def test_bit_shifting_verifiers_agree_with_the_recursive_definitions() -> None:
    """Exhaustive over small trees: every (index, claimed size) and (old, claimed new)
    combination is accepted by RFC 9162 2.1.3.2 / 2.1.4.2 exactly when the recursive
    PATH / SUBPROOF reading of the same proof accepts it."""
    tree, leaves = _tree(40)
    for size in range(1, 25):
        root = tree.root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            for claimed in range(33):
                assert _inclusion_verifies(
                    leaves[index], index, claimed, proof, root
                ) == _reference_inclusion_accepts(leaves[index], index, claimed, proof, root)
        for old_size in range(1, size):
            proof = tree.consistency_proof(old_size, size)
            old_root = tree.root(old_size)
            for claimed in range(old_size + 1, 33):
                assert _consistency_verifies(
                    old_size, claimed, old_root, root, proof
                ) == _reference_consistency_accepts(old_size, claimed, old_root, root, proof)


# ---------------------------------------------------------------------------
# CompactRange and perfect-node storage


def test_compact_range_root_matches_full_recomputation_for_every_size() -> None:
    _, leaves = _tree(201, b"compact")
    compact = CompactRange()
    assert compact.root() == root_from_leaf_hashes([])
    for size in range(1, 201):
        compact.append(leaves[size - 1])
        assert compact.size == size
        assert len(compact.peaks) == size.bit_count()
        assert compact.root() == root_from_leaf_hashes(leaves[:size])


def test_compact_range_emits_every_perfect_node_once_leaf_first() -> None:
    _, leaves = _tree(200, b"emit")
    compact = CompactRange()
    store: dict[tuple[int, int], bytes] = {}
    for index, value in enumerate(leaves):
        emitted = compact.append(value)
        assert emitted[0] == (0, index, value)
        assert [level for level, _, _ in emitted] == list(range(len(emitted)))
        for level, node_index, node in emitted:
            assert (level, node_index) not in store
            store[(level, node_index)] = node
    expected_count = sum(200 >> level for level in range((200).bit_length()))
    assert len(store) == expected_count


def test_emitted_nodes_are_enough_to_serve_proofs() -> None:
    _, leaves = _tree(200, b"store")
    compact = CompactRange()
    store: dict[tuple[int, int], bytes] = {}
    roots = [compact.root()]
    for value in leaves:
        for level, index, node in compact.append(value):
            store[(level, index)] = node
        roots.append(compact.root())

    def get_node(level: int, index: int) -> bytes:
        return store[(level, index)]  # a KeyError here means a node was never stored

    rng = random.Random(7)
    for size in range(1, 201):
        assert subtree_root(0, size, get_node) == roots[size]
        for index in {0, size - 1, rng.randrange(size)}:
            proof = inclusion_proof(index, size, get_node)
            verify_inclusion(leaves[index], index, size, proof, roots[size])
        for old_size in {1, size, rng.randint(1, size)}:
            proof = consistency_proof(old_size, size, get_node)
            verify_consistency(old_size, size, roots[old_size], roots[size], proof)


@pytest.mark.parametrize("saved_at", [0, 1, 2, 3, 7, 8, 63, 64, 100, 127, 128, 199])
def test_compact_range_restored_from_saved_state_continues(saved_at: int) -> None:
    _, leaves = _tree(200, b"restore")
    original = CompactRange()
    for value in leaves[:saved_at]:
        original.append(value)
    restored = CompactRange(original.size, original.peaks)
    assert restored.root() == original.root()
    for value in leaves[saved_at:]:
        assert restored.append(value) == original.append(value)
        assert restored.root() == original.root()
    assert restored.root() == root_from_leaf_hashes(leaves)


@pytest.mark.parametrize(
    ("make_proof", "bound"),
    [
        pytest.param(lambda n, g: inclusion_proof(0, n, g), 40, id="inclusion first"),
        pytest.param(lambda n, g: inclusion_proof(n - 1, n, g), 40, id="inclusion last"),
        pytest.param(lambda n, g: inclusion_proof(n // 2, n, g), 40, id="inclusion middle"),
        pytest.param(lambda n, g: inclusion_proof(n - 4, n, g), 40, id="inclusion n-4"),
        pytest.param(lambda n, g: consistency_proof(1, n, g), 40, id="consistency 1"),
        pytest.param(lambda n, g: consistency_proof(n - 1, n, g), 40, id="consistency n-1"),
        pytest.param(lambda n, g: consistency_proof(2**19 + 1, n, g), 40, id="consistency 2^19+1"),
        pytest.param(lambda n, g: consistency_proof(12345, n, g), 40, id="consistency 12345"),
        pytest.param(lambda n, g: [subtree_root(0, n, g)], 20, id="root"),
    ],
)
def test_proof_generation_reads_logarithmically_many_nodes(
    make_proof: Callable[[int, CountingGetter], list[bytes]], bound: int
) -> None:
    n = 2**20 - 3  # log2(n) < 20
    getter = CountingGetter()
    make_proof(n, getter)
    assert 0 < getter.calls <= bound


def test_random_proofs_read_at_most_two_log_n_nodes() -> None:
    n = 2**20 - 3
    rng = random.Random(20)
    for _ in range(200):
        getter = CountingGetter()
        inclusion_proof(rng.randrange(n), n, getter)
        assert getter.calls <= 2 * n.bit_length()
        getter = CountingGetter()
        consistency_proof(rng.randrange(1, n + 1), n, getter)
        assert getter.calls <= 2 * n.bit_length()


def test_subtree_root_of_unaligned_range_is_still_correct() -> None:
    tree, leaves = _tree(37)
    for begin in range(38):
        for end in range(begin, 38):
            assert subtree_root(begin, end, tree.get_node) == root_from_leaf_hashes(
                leaves[begin:end]
            )


# ---------------------------------------------------------------------------
# Attacks and bad input, one test each, asserting the specific error


def test_index_past_tree_end_is_rejected() -> None:
    tree, leaves = _tree(5)
    with pytest.raises(InclusionProofError, match="leaf index 5 is outside a tree of 5"):
        verify_inclusion(leaves[4], 5, 5, tree.inclusion_proof(4), tree.root())


def test_negative_index_is_rejected() -> None:
    tree, leaves = _tree(5)
    with pytest.raises(InclusionProofError, match="leaf index -1 is negative"):
        verify_inclusion(leaves[0], -1, 5, tree.inclusion_proof(0), tree.root())


def test_inclusion_in_empty_tree_is_rejected() -> None:
    with pytest.raises(InclusionProofError, match="a tree of 0 leaves includes nothing"):
        verify_inclusion(leaf_hash(b"x"), 0, 0, [], EMPTY_ROOT)


def test_inclusion_proof_padded_with_extra_hash_is_rejected() -> None:
    tree, leaves = _tree(5)
    proof = [*tree.inclusion_proof(2), tree.root()]
    with pytest.raises(InclusionProofError, match="too many for leaf 2"):
        verify_inclusion(leaves[2], 2, 5, proof, tree.root())


def test_truncated_inclusion_proof_is_rejected() -> None:
    tree, leaves = _tree(5)
    with pytest.raises(InclusionProofError, match="too few for leaf 2"):
        verify_inclusion(leaves[2], 2, 5, tree.inclusion_proof(2)[:-1], tree.root())


def test_inclusion_proof_hash_of_wrong_length_is_rejected() -> None:
    tree, leaves = _tree(5)
    proof = tree.inclusion_proof(1)
    proof[1] = proof[1][:31]
    with pytest.raises(InclusionProofError, match="proof hash 1 is 31 bytes, not 32"):
        verify_inclusion(leaves[1], 1, 5, proof, tree.root())


def test_leaf_hash_of_wrong_length_is_rejected() -> None:
    tree, _ = _tree(5)
    with pytest.raises(InclusionProofError, match="leaf hash is 9 bytes, not 32"):
        verify_inclusion(b"WrongLeaf", 1, 5, tree.inclusion_proof(1), tree.root())


def test_root_of_wrong_length_is_rejected() -> None:
    tree, leaves = _tree(5)
    with pytest.raises(InclusionProofError, match="root hash is 0 bytes, not 32"):
        verify_inclusion(leaves[1], 1, 5, tree.inclusion_proof(1), b"")


def test_forged_leaf_is_rejected() -> None:
    tree, _ = _tree(8)
    forged = leaf_hash(b"an entry the log never held")
    with pytest.raises(InclusionProofError, match="leads to root"):
        verify_inclusion(forged, 3, 8, tree.inclusion_proof(3), tree.root())


def test_inclusion_proof_for_another_leaf_is_rejected() -> None:
    tree, leaves = _tree(8)
    with pytest.raises(InclusionProofError, match="leads to root"):
        verify_inclusion(leaves[3], 3, 8, tree.inclusion_proof(4), tree.root())


def test_interior_node_passed_off_as_leaf_is_rejected() -> None:
    # Second-preimage attack on trees without domain separation: present the children
    # of an interior node as the data of a leaf. RFC 9162 2.1.1 prefixes stop it.
    tree, _ = _tree(4)
    left, right = tree.get_node(1, 0), tree.get_node(1, 1)
    assert node_hash(left, right) == tree.root()
    fake_leaf = leaf_hash(left + right)
    with pytest.raises(InclusionProofError, match="leads to root"):
        verify_inclusion(fake_leaf, 0, 1, [], tree.root())
    with pytest.raises(InclusionProofError, match="leads to root"):
        verify_inclusion(
            leaf_hash(tree.get_node(0, 0) + tree.get_node(0, 1)), 0, 2, [right], tree.root()
        )


def test_inclusion_proof_only_binds_size_through_the_checkpoint_root() -> None:
    # NOTE in custody.merkle: leaf 0 has the same path shape in trees of 5 and 6 leaves,
    # so the 5-leaf proof "verifies" at size 6 against the 5-leaf root. With the root a
    # checkpoint of size 6 actually carries, it fails.
    tree, leaves = _tree(6)
    proof = tree.inclusion_proof(0, 5)
    verify_inclusion(leaves[0], 0, 6, proof, tree.root(5))
    with pytest.raises(InclusionProofError, match="leads to root"):
        verify_inclusion(leaves[0], 0, 6, proof, tree.root(6))


def test_rollback_is_rejected() -> None:
    tree, _ = _tree(8)
    with pytest.raises(ConsistencyProofError, match="smaller than the old size 8: a rollback"):
        verify_consistency(8, 5, tree.root(8), tree.root(5), tree.consistency_proof(5, 8))


def test_two_roots_for_one_size_are_rejected() -> None:
    # A split view: the log shows two different trees of the same size.
    tree, _ = _tree(8)
    other, _ = _tree(8, b"fork")
    with pytest.raises(ConsistencyProofError, match="two different roots for a tree of 8"):
        verify_consistency(8, 8, tree.root(), other.root(), [])


def test_nonempty_proof_between_equal_sizes_is_rejected() -> None:
    tree, _ = _tree(8)
    with pytest.raises(ConsistencyProofError, match="between equal sizes must be empty"):
        verify_consistency(8, 8, tree.root(), tree.root(), [EMPTY_ROOT])


def test_equal_sizes_with_equal_roots_are_consistent() -> None:
    tree, _ = _tree(8)
    verify_consistency(8, 8, tree.root(), tree.root(), [])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])


def test_growth_from_empty_tree_is_trivially_consistent() -> None:
    tree, _ = _tree(8)
    verify_consistency(0, 8, EMPTY_ROOT, tree.root(), [])


def test_proof_from_empty_tree_with_hashes_is_rejected() -> None:
    tree, _ = _tree(8)
    with pytest.raises(ConsistencyProofError, match="from the empty tree must be empty"):
        verify_consistency(0, 8, EMPTY_ROOT, tree.root(), [EMPTY_ROOT])


def test_empty_tree_with_a_nonempty_root_is_rejected() -> None:
    tree, _ = _tree(8)
    with pytest.raises(ConsistencyProofError, match="is not the empty tree's root"):
        verify_consistency(0, 8, tree.root(1), tree.root(), [])


def test_empty_proof_for_a_grown_tree_is_rejected() -> None:
    tree, _ = _tree(8)
    with pytest.raises(ConsistencyProofError, match="from 3 to 8 leaves is empty"):
        verify_consistency(3, 8, tree.root(3), tree.root(8), [])


def test_forked_log_is_rejected() -> None:
    # Two logs agree on the first 5 entries and then diverge: neither's proof links a
    # checkpoint of one to a checkpoint of the other.
    honest, leaves = _tree(12)
    forked = MemoryTree.from_leaf_hashes(
        leaves[:5] + [leaf_hash(b"rewritten " + bytes([i])) for i in range(7)]
    )
    with pytest.raises(ConsistencyProofError, match="leads to new root"):
        verify_consistency(4, 12, honest.root(4), forked.root(), honest.consistency_proof(4))
    with pytest.raises(ConsistencyProofError, match="leads to old root"):
        verify_consistency(7, 12, honest.root(7), forked.root(), forked.consistency_proof(7))
    verify_consistency(5, 12, honest.root(5), forked.root(), forked.consistency_proof(5))


def test_consistency_proof_padded_with_extra_hash_is_rejected() -> None:
    tree, _ = _tree(13)
    proof = [*tree.consistency_proof(5), EMPTY_ROOT]
    with pytest.raises(ConsistencyProofError, match="too many for 5 to 13 leaves"):
        verify_consistency(5, 13, tree.root(5), tree.root(), proof)


def test_truncated_consistency_proof_is_rejected() -> None:
    tree, _ = _tree(13)
    with pytest.raises(ConsistencyProofError, match="too few for 5 to 13 leaves"):
        verify_consistency(5, 13, tree.root(5), tree.root(), tree.consistency_proof(5)[:-1])


def test_consistency_hashes_of_wrong_length_are_rejected() -> None:
    tree, _ = _tree(13)
    proof = tree.consistency_proof(5)
    with pytest.raises(ConsistencyProofError, match="old root is 9 bytes"):
        verify_consistency(5, 13, b"WrongRoot", tree.root(), proof)
    with pytest.raises(ConsistencyProofError, match="new root is 9 bytes"):
        verify_consistency(5, 13, tree.root(5), b"WrongRoot", proof)
    with pytest.raises(ConsistencyProofError, match="proof hash 0 is 0 bytes"):
        verify_consistency(5, 13, tree.root(5), tree.root(), [b"", *proof])


def test_negative_old_size_is_rejected() -> None:
    with pytest.raises(ConsistencyProofError, match="old tree size -1 is negative"):
        verify_consistency(-1, 3, EMPTY_ROOT, EMPTY_ROOT, [])


def test_old_root_bit_flip_is_rejected() -> None:
    tree, _ = _tree(13)
    with pytest.raises(ConsistencyProofError, match="leads to old root"):
        verify_consistency(5, 13, _flip(tree.root(5), 100), tree.root(), tree.consistency_proof(5))


def test_proof_errors_are_verification_errors() -> None:
    assert issubclass(InclusionProofError, VerificationError)
    assert issubclass(ConsistencyProofError, VerificationError)
    assert issubclass(TreeError, CustodyError)
    assert not issubclass(TreeError, VerificationError)


# ---------------------------------------------------------------------------
# Bad arguments to generation and storage


def test_inclusion_proof_generation_rejects_bad_index() -> None:
    tree, _ = _tree(5)
    with pytest.raises(TreeError, match="leaf index 5 is outside a tree of 5"):
        tree.inclusion_proof(5)
    with pytest.raises(TreeError, match="leaf index -1 is outside"):
        inclusion_proof(-1, 5, tree.get_node)
    with pytest.raises(TreeError, match="a tree of 0 leaves includes nothing"):
        inclusion_proof(0, 0, tree.get_node)


def test_consistency_proof_generation_rejects_bad_sizes() -> None:
    tree, _ = _tree(5)
    with pytest.raises(TreeError, match="from a tree of 0 leaves"):
        tree.consistency_proof(0)
    with pytest.raises(TreeError, match="tree size 3 is smaller than the older size 4"):
        consistency_proof(4, 3, tree.get_node)
    with pytest.raises(TreeError, match=r"tree size 6 is outside 0\.\.5"):
        tree.consistency_proof(2, 6)
    assert tree.consistency_proof(5, 5) == []


def test_memory_tree_rejects_unknown_nodes_and_sizes() -> None:
    tree, _ = _tree(5)
    with pytest.raises(TreeError, match="no perfect subtree at level 1, index 2"):
        tree.get_node(1, 2)
    with pytest.raises(TreeError, match="no perfect subtree at level 3, index 0"):
        tree.get_node(3, 0)
    with pytest.raises(TreeError, match="no perfect subtree at level -1"):
        tree.get_node(-1, 0)
    with pytest.raises(TreeError, match=r"tree size 6 is outside 0\.\.5"):
        tree.root(6)
    with pytest.raises(TreeError, match="leaf hash is 3 bytes, not 32"):
        tree.append(b"abc")


def test_subtree_root_rejects_bad_ranges_and_bad_storage() -> None:
    tree, _ = _tree(5)
    with pytest.raises(TreeError, match=r"\[3, 2\) is not a range of leaves"):
        subtree_root(3, 2, tree.get_node)
    with pytest.raises(TreeError, match=r"\[-1, 2\) is not a range of leaves"):
        subtree_root(-1, 2, tree.get_node)
    with pytest.raises(TreeError, match=r"get_node\(2, 0\) returned 31 bytes, not 32"):
        subtree_root(0, 4, lambda level, index: b"\x00" * 31)


def test_root_from_leaf_hashes_rejects_wrong_length() -> None:
    with pytest.raises(TreeError, match="leaf hash 1 is 33 bytes, not 32"):
        root_from_leaf_hashes([EMPTY_ROOT, EMPTY_ROOT + b"\x00"])


def test_compact_range_rejects_inconsistent_state() -> None:
    with pytest.raises(TreeError, match="a tree of 5 leaves has 2 peaks, not 1"):
        CompactRange(5, [EMPTY_ROOT])
    with pytest.raises(TreeError, match="tree size -1 is negative"):
        CompactRange(-1, [])
    with pytest.raises(TreeError, match="peak 1 is 4 bytes, not 32"):
        CompactRange(3, [EMPTY_ROOT, b"abcd"])
    with pytest.raises(TreeError, match="leaf hash is 0 bytes, not 32"):
        CompactRange().append(b"")


def test_push_matches_append() -> None:
    """CompactRange.push (the verifier's hot path) builds the same tree as append."""
    pushed, appended = CompactRange(), CompactRange()
    for i in range(130):
        leaf = leaf_hash(i.to_bytes(4, "big"))
        pushed.push(leaf)
        appended.append(leaf)
        assert pushed.root() == appended.root()
        assert pushed.peaks == appended.peaks
