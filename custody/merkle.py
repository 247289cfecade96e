"""The custody log's Merkle tree: RFC 9162 section 2.1 hashing, proofs and their verification.

Leaves are hashed as ``SHA-256(0x00 || data)`` and interior nodes as
``SHA-256(0x01 || left || right)``; a tree of n leaves splits at the largest power of
two smaller than n and never duplicates a leaf (spec 3, RFC 9162 2.1.1).

Proof *generation* reads the tree through a ``get_node(level, index)`` callback that
returns the hash of a perfect subtree, so storage (memory or a database table) only
ever holds perfect subtrees and every proof costs O(log n) reads.

Proof *verification* follows the bit-shifting algorithms of RFC 9162 2.1.3.2 and
2.1.4.2 to the letter and needs nothing but SHA-256.

NOTE: an inclusion or consistency proof binds a root to a tree size only through the
signed checkpoint that carries both. A proof for size n can also verify for another
size whose tree has the same shape along the proof's path (for example leaf 0 of a
5-leaf tree and of a 6-leaf tree), so callers must always take the size and the root
from the same checkpoint, never from two different sources.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Final

from custody.errors import ConsistencyProofError, CustodyError, InclusionProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "ZERO_HASH",
    "CompactRange",
    "MemoryTree",
    "NodeGetter",
    "TreeError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "subtree_root",
    "verify_consistency",
    "verify_inclusion",
]

# RFC 9162 2.1 with SHA-256: every leaf, node and root hash is 32 bytes. The one place the
# custody format names this size; entries, checkpoints and proofs import it.
HASH_SIZE: Final = 32
# spec 2: the `prev` of entry 0 and an exhibit's first `exhibit_prev` (as hex, entry.ZERO_HEX).
ZERO_HASH: Final = bytes(HASH_SIZE)

# RFC 9162 2.1.1: the hash of an empty list is the hash of an empty string.
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()

_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"
_sha256 = hashlib.sha256
# Hashers already fed their RFC 9162 prefix byte. Copying one is cheaper than making a new
# SHA-256 object (OpenSSL 3 looks the algorithm up on every construction), and the leaf
# and node hashes are the verifier's most frequent operation.
_LEAF_HASHER: Final = hashlib.sha256(_LEAF_PREFIX)
_NODE_HASHER: Final = hashlib.sha256(_NODE_PREFIX)
# A fresh SHA-256 already fed the leaf prefix 0x00, for hot loops that inline `leaf_hash`
# (update it with the entry's bytes, then digest).
new_leaf_hasher: Final = _LEAF_HASHER.copy

NodeGetter = Callable[[int, int], bytes]
"""``get_node(level, index)``: the hash of the perfect subtree of ``2**level`` leaves
covering leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 is the leaf hashes."""


class TreeError(CustodyError):
    """A tree operation got arguments that describe no tree: an index past the end, a
    negative size, a hash that is not 32 bytes, a node the storage does not hold."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 2.1.1: ``MTH({d0}) = SHA-256(0x00 || d0)``."""
    hasher = _LEAF_HASHER.copy()
    hasher.update(data)
    return hasher.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 2.1.1: ``SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))``."""
    hasher = _NODE_HASHER.copy()
    hasher.update(left + right)
    return hasher.digest()


def _split(n: int) -> int:
    """RFC 9162 2.1.1: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_tree_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise TreeError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash (RFC 9162 2.1.1) of the given leaf hashes; EMPTY_ROOT for none.

    Works level by level: pairing neighbours and carrying an odd last node up unchanged
    builds exactly the tree that splits at the largest power of two below n.
    """
    for position, value in enumerate(leaf_hashes):
        if len(value) != HASH_SIZE:
            raise TreeError(f"leaf hash {position} is {len(value)} bytes, not {HASH_SIZE}")
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        carry = level[-1] if len(level) % 2 else None
        level = [
            node_hash(left, right) for left, right in zip(level[0::2], level[1::2], strict=False)
        ]
        if carry is not None:
            level.append(carry)
    return level[0]


def _perfect_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The root of a perfect subtree over 2^k leaf hashes (RFC 9162 2.1.1): pair neighbours
    level by level. The caller guarantees a power-of-two count of 32-byte hashes."""
    level = list(leaf_hashes)
    new_node_hasher = _NODE_HASHER.copy
    while len(level) > 1:
        # node_hash written out: the verifier computes one node per leaf here.
        pairs = zip(level[0::2], level[1::2], strict=True)
        level = []
        for left, right in pairs:
            hasher = new_node_hasher()
            hasher.update(left + right)
            level.append(hasher.digest())
    return level[0]


class CompactRange:
    """Incremental tree state: the hashes of the perfect subtrees ('peaks') covering leaves
    [0, size), largest first. Appending and computing the root are O(log n); no rescan.

    The peaks sit at the levels of the set bits of ``size``, so a saved
    ``(size, peaks)`` pair is the whole state needed to keep appending.
    """

    __slots__ = ("_peaks", "_size")

    def __init__(self, size: int = 0, peaks: Sequence[bytes] = ()) -> None:
        if size < 0:
            raise TreeError(f"tree size {size} is negative")
        if len(peaks) != size.bit_count():
            raise TreeError(
                f"a tree of {size} leaves has {size.bit_count()} peaks, not {len(peaks)}"
            )
        for position, peak in enumerate(peaks):
            _check_tree_hash(peak, f"peak {position}")
        self._size = size
        self._peaks = list(peaks)

    @property
    def size(self) -> int:
        """The number of leaves covered."""
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        """The perfect subtree hashes covering [0, size), largest (leftmost) first."""
        return tuple(self._peaks)

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf; return every perfect node this completes as (level, index, hash),
        the leaf itself ``(0, size - 1, leaf_hash)`` first, then its new ancestors upwards."""
        _check_tree_hash(leaf_hash, "leaf hash")
        index = self._size
        completed = [(0, index, leaf_hash)]
        current = leaf_hash
        level = 0
        # Each trailing 1 bit of the old size is a peak of equal height to merge with.
        remaining = index
        while remaining & 1:
            current = node_hash(self._peaks.pop(), current)
            level += 1
            remaining >>= 1
            completed.append((level, index >> level, current))
        self._peaks.append(current)
        self._size = index + 1
        return completed

    def push(self, leaf_hash: bytes) -> None:
        """``append`` without reporting completed nodes: the verifier's per-entry hot path,
        where the leaf is a SHA-256 digest it just computed."""
        current = leaf_hash
        remaining = self._size
        while remaining & 1:
            current = node_hash(self._peaks.pop(), current)
            remaining >>= 1
        self._peaks.append(current)
        self._size += 1

    def extend(self, leaf_hashes: Sequence[bytes]) -> None:
        """``push`` each of `leaf_hashes` in turn, with the same result, faster: each run of
        leaves that fills a perfect subtree at an aligned position is hashed level by level
        (RFC 9162 2.1.1) and merged in as one peak. The verifier streams leaves through this
        in blocks."""
        start = 0
        count = len(leaf_hashes)
        while start < count:
            # The largest perfect subtree that starts at this size and fits what is left.
            level = (count - start).bit_length() - 1
            if self._size:
                level = min(level, (self._size & -self._size).bit_length() - 1)
            width = 1 << level
            current = _perfect_root(leaf_hashes[start : start + width])
            remaining = self._size >> level
            while remaining & 1:
                current = node_hash(self._peaks.pop(), current)
                remaining >>= 1
            self._peaks.append(current)
            self._size += width
            start += width

    def root(self) -> bytes:
        """The Merkle tree hash of all leaves so far: the peaks folded right to left."""
        if not self._peaks:
            return EMPTY_ROOT
        current = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            current = node_hash(peak, current)
        return current

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, peaks=<{len(self._peaks)} hashes>)"


def _perfect_node(begin: int, level: int, get_node: NodeGetter) -> bytes:
    """MTH of the 2**level leaves from ``begin``: one stored node when aligned."""
    if begin % (1 << level) == 0:
        value = get_node(level, begin >> level)
        if len(value) != HASH_SIZE:
            raise TreeError(
                f"get_node({level}, {begin >> level}) returned {len(value)} bytes, not {HASH_SIZE}"
            )
        return value
    # Unaligned ranges are never asked for by the proofs; split them until aligned.
    half = 1 << (level - 1)
    return node_hash(
        _perfect_node(begin, level - 1, get_node),
        _perfect_node(begin + half, level - 1, get_node),
    )


def subtree_root(begin: int, end: int, get_node: NodeGetter) -> bytes:
    """MTH of leaves [begin, end) (RFC 9162 2.1.1) from stored perfect subtrees.

    The range is cut into perfect subtrees from the left, largest first (each split at
    the largest power of two smaller than what is left), and folded right to left.
    That takes one ``get_node`` call per set bit of ``end - begin`` whenever ``begin``
    is a multiple of the smallest power of two >= ``end - begin`` (always the case for
    ``begin == 0`` and for the subtrees of RFC 9162 proofs).
    """
    if begin < 0 or end < begin:
        raise TreeError(f"[{begin}, {end}) is not a range of leaves")
    if begin == end:
        return EMPTY_ROOT
    pieces: list[bytes] = []
    position = begin
    while position < end:
        level = (end - position).bit_length() - 1
        pieces.append(_perfect_node(position, level, get_node))
        position += 1 << level
    current = pieces[-1]
    for piece in reversed(pieces[:-1]):
        current = node_hash(piece, current)
    return current


def inclusion_proof(index: int, size: int, get_node: NodeGetter) -> list[bytes]:
    """RFC 9162 2.1.3.1 ``PATH(index, D[size])``: the audit path, bottom sibling first."""
    if size <= 0:
        raise TreeError(f"a tree of {size} leaves includes nothing")
    if not 0 <= index < size:
        raise TreeError(f"leaf index {index} is outside a tree of {size} leaves")
    path: list[bytes] = []
    begin, end = 0, size
    while end - begin > 1:
        # RFC 9162 2.1.3.1: k is the largest power of two smaller than n.
        mid = begin + _split(end - begin)
        if index < mid:
            # PATH(m, D[0:k]) : MTH(D[k:n])
            path.append(subtree_root(mid, end, get_node))
            end = mid
        else:
            # PATH(m - k, D[k:n]) : MTH(D[0:k])
            path.append(subtree_root(begin, mid, get_node))
            begin = mid
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, get_node: NodeGetter) -> list[bytes]:
    """RFC 9162 2.1.4.1 ``PROOF(old_size, D[new_size])``; empty when the sizes are equal."""
    if old_size <= 0:
        raise TreeError(f"no consistency proof starts from a tree of {old_size} leaves")
    if new_size < old_size:
        raise TreeError(f"tree size {new_size} is smaller than the older size {old_size}")
    proof: list[bytes] = []
    begin, end = 0, new_size
    # RFC 9162 2.1.4.1: PROOF(m, D[n]) = SUBPROOF(m, D[n], true)
    whole_old_tree = True
    while True:
        n = end - begin
        m = old_size - begin
        if m == n:
            # SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
            if not whole_old_tree:
                proof.append(subtree_root(begin, end, get_node))
            break
        k = _split(n)
        if m <= k:
            # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            proof.append(subtree_root(begin + k, end, get_node))
            end = begin + k
        else:
            # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            proof.append(subtree_root(begin, begin + k, get_node))
            begin += k
            whole_old_tree = False
    proof.reverse()
    return proof


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` leads to from ``leaf_hash`` at ``index`` in a tree of
    ``size`` leaves (RFC 9162 2.1.3.2 steps 1 to 4, and the ``sn == 0`` check of step 5).

    Raises InclusionProofError when the proof cannot belong to such a tree at all.
    """
    if size <= 0:
        raise InclusionProofError(f"a tree of {size} leaves includes nothing")
    if index < 0:
        raise InclusionProofError(f"leaf index {index} is negative")
    # RFC 9162 2.1.3.2 step 1
    if index >= size:
        raise InclusionProofError(f"leaf index {index} is outside a tree of {size} leaves")
    if len(leaf_hash) != HASH_SIZE:
        raise InclusionProofError(f"leaf hash is {len(leaf_hash)} bytes, not {HASH_SIZE}")
    for position, value in enumerate(proof):
        if len(value) != HASH_SIZE:
            raise InclusionProofError(
                f"proof hash {position} is {len(value)} bytes, not {HASH_SIZE}"
            )
    sha256 = _sha256
    prefix = _NODE_PREFIX
    # RFC 9162 2.1.3.2 steps 2 and 3
    fn = index
    sn = size - 1
    r = leaf_hash
    # RFC 9162 2.1.3.2 step 4
    for p in proof:
        # step 4a
        if sn == 0:
            raise InclusionProofError(
                f"inclusion proof has {len(proof)} hashes, too many for leaf {index} "
                f"of a tree of {size} leaves"
            )
        # step 4b
        if fn & 1 or fn == sn:
            r = sha256(prefix + p + r).digest()
            # step 4b ii: until LSB(fn) is set or fn is 0
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = sha256(prefix + r + p).digest()
        # step 4c
        fn >>= 1
        sn >>= 1
    # RFC 9162 2.1.3.2 step 5 (the sn half; the caller compares r with the root)
    if sn != 0:
        raise InclusionProofError(
            f"inclusion proof has {len(proof)} hashes, too few for leaf {index} "
            f"of a tree of {size} leaves"
        )
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 2.1.3.2: check that ``proof`` proves ``leaf_hash`` is leaf ``index`` of the
    tree of ``size`` leaves whose root is ``root``. Raises InclusionProofError otherwise.

    ``size`` and ``root`` must come from the same signed checkpoint (see the module NOTE).
    """
    if len(root) != HASH_SIZE:
        raise InclusionProofError(f"root hash is {len(root)} bytes, not {HASH_SIZE}")
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    # RFC 9162 2.1.3.2 step 5
    if computed != root:
        raise InclusionProofError(
            f"inclusion proof for leaf {index} leads to root {computed.hex()}, "
            f"not the tree's root {root.hex()}"
        )


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """RFC 9162 2.1.4.2: check that the tree of ``new_size`` leaves with root ``new_root``
    extends the tree of ``old_size`` leaves with root ``old_root``.

    Beyond the RFC (which covers 0 < old_size < new_size): equal sizes need an empty
    proof and equal roots; old_size 0 needs an empty proof and ``old_root == EMPTY_ROOT``
    (every tree extends the empty one). Raises ConsistencyProofError otherwise.
    """
    if old_size < 0:
        raise ConsistencyProofError(f"old tree size {old_size} is negative")
    if new_size < old_size:
        raise ConsistencyProofError(
            f"new tree size {new_size} is smaller than the old size {old_size}: a rollback"
        )
    if len(old_root) != HASH_SIZE:
        raise ConsistencyProofError(f"old root is {len(old_root)} bytes, not {HASH_SIZE}")
    if len(new_root) != HASH_SIZE:
        raise ConsistencyProofError(f"new root is {len(new_root)} bytes, not {HASH_SIZE}")
    for position, value in enumerate(proof):
        if len(value) != HASH_SIZE:
            raise ConsistencyProofError(
                f"proof hash {position} is {len(value)} bytes, not {HASH_SIZE}"
            )

    if old_size == 0:
        if proof:
            raise ConsistencyProofError(
                f"consistency proof from the empty tree must be empty, got {len(proof)} hashes"
            )
        if old_root != EMPTY_ROOT:
            raise ConsistencyProofError(
                f"old root {old_root.hex()} is not the empty tree's root {EMPTY_ROOT.hex()}"
            )
        if new_size == 0 and new_root != EMPTY_ROOT:
            raise ConsistencyProofError(
                f"new root {new_root.hex()} is not the empty tree's root {EMPTY_ROOT.hex()}"
            )
        return
    if old_size == new_size:
        if proof:
            raise ConsistencyProofError(
                f"consistency proof between equal sizes must be empty, got {len(proof)} hashes"
            )
        if old_root != new_root:
            raise ConsistencyProofError(
                f"two different roots for a tree of {old_size} leaves: "
                f"{old_root.hex()} and {new_root.hex()}"
            )
        return

    # RFC 9162 2.1.4.2 step 1
    if not proof:
        raise ConsistencyProofError(
            f"consistency proof from {old_size} to {new_size} leaves is empty"
        )
    path = list(proof)
    # step 2: if first is an exact power of 2, prepend first_hash
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # step 3
    fn = old_size - 1
    sn = new_size - 1
    # step 4
    while fn & 1:
        fn >>= 1
        sn >>= 1
    sha256 = _sha256
    prefix = _NODE_PREFIX
    # step 5
    fr = sr = path[0]
    # step 6
    for c in path[1:]:
        # step 6a
        if sn == 0:
            raise ConsistencyProofError(
                f"consistency proof has {len(proof)} hashes, too many for "
                f"{old_size} to {new_size} leaves"
            )
        # step 6b
        if fn & 1 or fn == sn:
            fr = sha256(prefix + c + fr).digest()
            sr = sha256(prefix + c + sr).digest()
            # step 6b iii: until LSB(fn) is set or fn is 0
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = sha256(prefix + sr + c).digest()
        # step 6c
        fn >>= 1
        sn >>= 1
    # step 7
    if sn != 0:
        raise ConsistencyProofError(
            f"consistency proof has {len(proof)} hashes, too few for "
            f"{old_size} to {new_size} leaves"
        )
    if fr != old_root:
        raise ConsistencyProofError(
            f"consistency proof leads to old root {fr.hex()}, not {old_root.hex()}"
        )
    if sr != new_root:
        raise ConsistencyProofError(
            f"consistency proof leads to new root {sr.hex()}, not {new_root.hex()}"
        )


class MemoryTree:
    """In-memory tree keeping every perfect node (for tests, the bundle writer and the
    golden generator). Proofs and roots are available at any past size."""

    __slots__ = ("_levels", "_range")

    def __init__(self) -> None:
        self._range = CompactRange()
        # _levels[level][index] = hash of the perfect subtree (level, index)
        self._levels: list[list[bytes]] = []

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Sequence[bytes]) -> MemoryTree:
        """A tree holding the given leaf hashes, in order."""
        tree = cls()
        for value in leaf_hashes:
            tree.append(value)
        return tree

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash at index ``size``."""
        for level, _index, value in self._range.append(leaf_hash):
            if level == len(self._levels):
                self._levels.append([])
            self._levels[level].append(value)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return self._range.size

    def get_node(self, level: int, index: int) -> bytes:
        """The hash of the perfect subtree (level, index); a NodeGetter."""
        if level < 0 or index < 0 or level >= len(self._levels):
            raise TreeError(f"no perfect subtree at level {level}, index {index}")
        row = self._levels[level]
        if index >= len(row):
            raise TreeError(f"no perfect subtree at level {level}, index {index}")
        return row[index]

    def _size_or_current(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise TreeError(f"tree size {size} is outside 0..{self.size}")
        return size

    def root(self, size: int | None = None) -> bytes:
        """The root at ``size`` leaves (default: now)."""
        size = self._size_or_current(size)
        if size == self.size:
            return self._range.root()
        return subtree_root(0, size, self.get_node)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 2.1.3.1 proof for leaf ``index`` in the tree of ``size`` leaves."""
        return inclusion_proof(index, self._size_or_current(size), self.get_node)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 2.1.4.1 proof from ``old_size`` to ``new_size`` leaves (default: now)."""
        return consistency_proof(old_size, self._size_or_current(new_size), self.get_node)
