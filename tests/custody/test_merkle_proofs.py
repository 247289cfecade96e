"""custody.merkle proofs under attack: property tests over random trees, tampered and
replayed proofs, and bad input, one test each asserting the specific error.

The property tests compare the RFC's bit-shifting verifiers with a test-only
re-derivation from the recursive PATH / SUBPROOF definitions (RFC 9162 2.1.3.1, 2.1.4.1).
"""

from __future__ import annotations

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
    MemoryTree,
    TreeError,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from tests.custody.merkle_support import (
    _consistency_verifies,
    _flip,
    _inclusion_verifies,
    _reference_consistency_accepts,
    _reference_inclusion_accepts,
    _tree,
)

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
