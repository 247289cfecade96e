"""One streaming pass over entries.jsonl: checks 1, 3, 4 and 7 on each entry in turn.

Check 2 depends on the disclosure: `FullWalk` (custody.verify.full) and `SelectiveWalk`
(custody.verify.selective) link each entry to the log in `link` and close the check in
`finish`. Memory grows with the number of entries only by per-exhibit state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

from custody.bundle import Manifest
from custody.checkpoint import Checkpoint
from custody.entry import EVENT_TYPES, ZERO_HEX, Entry
from custody.errors import (
    BundleFormatError,
    ChainBrokenError,
    EntryFormatError,
    ReplayError,
    TimeReversedError,
)
from custody.events import EventType
from custody.merkle import leaf_hash
from custody.replay import CaseState
from custody.verify.results import CheckId, Recorder

_VERIFIED = EventType.VERIFIED.value
_parse = Entry.parse


class EntryWalk(ABC):
    """The checks every entry gets, whatever the disclosure. Subclasses add check 2."""

    def __init__(self, manifest: Manifest, checkpoint: Checkpoint | None, rec: Recorder) -> None:
        self.manifest = manifest
        self.checkpoint = checkpoint
        self.rec = rec
        self.case = CaseState()  # spec 6.7: the state the entries build up
        self.heads: dict[str, str] = {}  # exhibit -> leaf hash (hex) of its latest entry
        self.count = 0  # lines read
        self.previous_seq = -1
        self.previous_hex: str = ZERO_HEX  # leaf hash of the line before (spec 2 `prev`)
        self.previous_time = ""
        self.read_error = ""  # why entries.jsonl could not be read to its end

    def run(self, blocks: Iterable[list[bytes]]) -> bool:
        """Walk every line (given in blocks); return whether the member was read to its end.
        If not, `read_error` says why (and the caller discards what the walk found)."""
        step = self.step
        try:
            for block in blocks:
                for line in block:
                    step(line)
        except BundleFormatError as exc:
            self.read_error = str(exc)
            return False
        self.finish()
        return True

    def step(self, line: bytes) -> None:
        """One line through every check, in the order of spec 6."""
        entry: Entry | None
        try:
            entry = _parse(line)
        except EntryFormatError as exc:
            entry = self.malformed(line, exc)
            if entry is None:
                # Still a leaf of the log: the hash of the bytes as given (RFC 9162 2.1.1).
                leaf = leaf_hash(line)
                self.link(None, line, leaf)
                self.previous_hex = leaf.hex()
                self.count += 1
                return
        leaf_hex = entry.leaf.hex()
        self.link(entry, line, entry.leaf)
        self.check_case(entry)
        self.check_time(entry)
        if entry.type not in EVENT_TYPES:
            self.rec.warn(CheckId.FORMAT, f"unknown event type {entry.type!r}", entry.seq)
        if entry.exhibit is not None:
            self.check_exhibit_chain(entry, leaf_hex)
        self.replay(entry)
        self.previous_seq = entry.seq
        self.previous_hex = leaf_hex
        self.count += 1

    def malformed(self, line: bytes, error: EntryFormatError) -> Entry | None:
        """spec 6.1: the line is not a canonical, well-formed entry. A non-canonical but
        well-formed one is still followed through the other checks, keyed by the leaf hash
        of its bytes as given, so that one defect is reported once."""
        self.rec.fail(CheckId.FORMAT, EntryFormatError, f"line {self.count + 1}: {error}")
        try:
            return Entry.parse_noncanonical(line)
        except EntryFormatError:
            return None

    @abstractmethod
    def link(self, entry: Entry | None, line: bytes, leaf: bytes) -> None:
        """spec 6.2 for one entry: its place in the signed log."""

    @abstractmethod
    def finish(self) -> None:
        """spec 6.2 once every entry is read."""

    def check_case(self, entry: Entry) -> None:
        """spec 6.1: `case` matches the manifest."""
        if entry.case != self.manifest.case:
            self.rec.fail(
                CheckId.FORMAT,
                EntryFormatError,
                f"case {entry.case} is not the bundle's case {self.manifest.case}",
                entry.seq,
            )

    def check_time(self, entry: Entry) -> None:
        """spec 6.3: time never decreases (fixed-width RFC 3339 UTC sorts as text)."""
        if entry.time < self.previous_time:
            self.rec.fail(
                CheckId.TIME,
                TimeReversedError,
                f"time {entry.time} is earlier than the entry before ({self.previous_time})",
                entry.seq,
            )
        else:
            self.previous_time = entry.time

    def check_exhibit_chain(self, entry: Entry, leaf_hex: str) -> None:
        """spec 6.4: `exhibit_prev` is the leaf hash of the exhibit's entry before."""
        exhibit = entry.exhibit
        assert exhibit is not None
        head = self.heads.get(exhibit, ZERO_HEX)
        if entry.exhibit_prev != head:
            self.chain_broken(
                f"exhibit_prev breaks the chain of exhibit {exhibit} (expected {head[:16]}...)",
                entry.seq,
            )
        self.heads[exhibit] = leaf_hex

    def chain_broken(self, message: str, seq: int) -> None:
        self.rec.fail(CheckId.EXHIBIT_CHAINS, ChainBrokenError, message, seq)

    def replay(self, entry: Entry) -> None:
        """spec 6.7: the custody rules, by custody.replay; and the altered-storage warning."""
        for violation in self.case.apply(entry):
            self.rec.fail(CheckId.REPLAY, ReplayError, violation.message, violation.seq)
        if entry.type == _VERIFIED and entry.data.get("ok") is False:
            self.rec.warn(
                CheckId.REPLAY,
                f"exhibit {entry.exhibit}: re-verification found storage altered at this point",
                entry.seq,
            )
