"""spec 6 check 2 for a selective bundle: every entry's tlog-proof verifies against the
checkpoint, and each disclosed exhibit's entries form an unbroken `exhibit_prev` chain from
its first entry. Such a bundle cannot prove that no later entry was withheld."""

from __future__ import annotations

from custody.bundle import BundleReader, Manifest
from custody.checkpoint import Checkpoint
from custody.entry import Entry
from custody.errors import ChainBrokenError
from custody.verify.proofs import check_entry_proof
from custody.verify.results import CheckId, Recorder
from custody.verify.walk import EntryWalk

LOG = CheckId.LOG
DETAIL = (
    "each disclosed entry is proven to be in the signed log; a selective bundle cannot prove "
    "that no later entry was withheld"
)

# spec 6.7: which rules a selective bundle's replay checks only in part.
REPLAY_DETAIL = (
    "checked in part: replayed on the entries the bundle holds; the rules that rest on "
    "case-level entries (court and defence grants and their revocation, party consent and "
    "withdrawal) are checked only in part, because case-level entries carry no chain and "
    "one withheld cannot be detected; the rules on each disclosed exhibit (access by a "
    "party, holds, disposal, content) rest on its unbroken chain up to its last disclosed "
    "entry, and entries of undisclosed exhibits are not replayed"
)


class SelectiveWalk(EntryWalk):
    """The case's exhibit-less entries and the disclosed exhibits' entries, each proven."""

    def __init__(
        self,
        manifest: Manifest,
        checkpoint: Checkpoint | None,
        rec: Recorder,
        reader: BundleReader,
    ) -> None:
        super().__init__(manifest, checkpoint, rec)
        self.reader = reader
        self.proof_names = reader.proof_names()

    def link(self, entry: Entry | None, line: bytes, leaf: bytes) -> None:
        if entry is None:
            return
        if entry.seq <= self.previous_seq:
            self.rec.fail(LOG, ChainBrokenError, "entries are not in seq order", entry.seq)
        if self.count and entry.seq == self.previous_seq + 1 and entry.prev != self.previous_hex:
            self.rec.fail(
                LOG, ChainBrokenError, "prev is not the leaf hash of the entry before", entry.seq
            )
        check_entry_proof(
            self.reader, self.proof_names, entry, line, leaf, self.checkpoint, self.rec
        )

    def chain_broken(self, message: str, seq: int) -> None:
        # A broken chain in a selective bundle is also a hole in what check 2 proves.
        super().chain_broken(message, seq)
        self.rec.fail(LOG, ChainBrokenError, message, seq)

    def finish(self) -> None:
        for exhibit in self.manifest.exhibits:
            if exhibit.id not in self.heads:
                self.rec.fail(
                    LOG,
                    ChainBrokenError,
                    f"disclosed exhibit {exhibit.id} has no entries in the bundle",
                )
