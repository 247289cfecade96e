"""spec 6 check 2 for a full bundle: seq runs 0..n-1 with n = tree_size, every `prev` is the
leaf hash of the entry before, and the RFC 9162 root over all leaves is the checkpoint's."""

from __future__ import annotations

from custody.bundle import ENTRIES, Manifest
from custody.checkpoint import Checkpoint
from custody.entry import Entry
from custody.errors import ChainBrokenError, RootMismatchError
from custody.merkle import CompactRange
from custody.verify.results import CheckId, Recorder
from custody.verify.walk import EntryWalk

LOG = CheckId.LOG
BLOCK = 1024  # leaf hashes hashed together into one perfect subtree


class FullWalk(EntryWalk):
    """Every entry of the log, in order; the Merkle root is built as they stream by."""

    def __init__(self, manifest: Manifest, checkpoint: Checkpoint | None, rec: Recorder) -> None:
        super().__init__(manifest, checkpoint, rec)
        # O(log n) memory however many lines a hostile entries.jsonl holds: leaf hashes
        # wait in a block of BLOCK and join the tree a perfect subtree at a time.
        self.tree = CompactRange()
        self.leaves: list[bytes] = []

    def link(self, entry: Entry | None, line: bytes, leaf: bytes) -> None:
        leaves = self.leaves
        leaves.append(leaf)
        if len(leaves) == BLOCK:
            self.tree.extend(leaves)
            leaves.clear()
        if entry is None:
            return
        if entry.seq != self.count:
            self.rec.fail(
                LOG,
                ChainBrokenError,
                f"seq is {entry.seq}, expected {self.count} (gap or reordering)",
                entry.seq,
            )
        if entry.prev != self.previous_hex:
            self.rec.fail(
                LOG, ChainBrokenError, "prev is not the leaf hash of the entry before", entry.seq
            )

    def finish(self) -> None:
        self.tree.extend(self.leaves)
        self.leaves.clear()
        self.close_log(self.tree.root())

    def close_log(self, root: bytes) -> None:
        """spec 6.2 once every entry is read: as many entries as tree_size, and `root`, the
        RFC 9162 root over every line, is the checkpoint's."""
        tree_size = self.manifest.tree_size
        if self.count != tree_size:
            self.rec.fail(
                LOG,
                ChainBrokenError,
                f"{ENTRIES} has {self.count} entries, tree_size is {tree_size}",
            )
        if self.checkpoint is None:
            self.rec.fail(LOG, RootMismatchError, "no valid checkpoint to compare the root with")
        elif root != self.checkpoint.root_hash:
            self.rec.fail(
                LOG,
                RootMismatchError,
                "the Merkle root over the entries differs from the checkpoint's root",
            )
