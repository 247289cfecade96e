"""custody.merkle: RFC 9162 2.1 tree hashing, proofs and their verification.

Public vectors live in tests/custody/data/merkle/ (see its README.md for where each came
from). The property tests compare the RFC's bit-shifting verifiers with a test-only
re-derivation from the recursive PATH / SUBPROOF definitions (RFC 9162 2.1.3.1, 2.1.4.1).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.errors import (
    ConsistencyProofError,
    InclusionProofError,
)
from custody.merkle import (
    EMPTY_ROOT,
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
from tests.custody.merkle_support import (
    CONSISTENCY_CASES,
    INCLUSION_CASES,
    REFERENCE,
    REFERENCE_LEAVES,
    REFERENCE_ROOTS,
    ConsistencyCase,
    CountingGetter,
    InclusionCase,
    _case_id,
    _hashes,
    _reference_tree,
    _tree,
)

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


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(min_value=0, max_value=70),
    blocks=st.lists(st.integers(min_value=0, max_value=70), max_size=6),
)
def test_extend_matches_push(start: int, blocks: list[int]) -> None:
    """CompactRange.extend (blocks of leaves, as the verifier streams them) builds the same
    tree as pushing each leaf, from any starting size and in blocks of any length."""
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(start + sum(blocks))]
    pushed, extended = CompactRange(), CompactRange()
    for leaf in leaves[:start]:
        pushed.push(leaf)
        extended.push(leaf)
    at = start
    for width in blocks:
        for leaf in leaves[at : at + width]:
            pushed.push(leaf)
        extended.extend(leaves[at : at + width])
        at += width
        assert extended.size == pushed.size == at
        assert extended.peaks == pushed.peaks
    assert extended.root() == pushed.root() == root_from_leaf_hashes(leaves)
