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
        self.case_id = manifest.case  # spec 6.1: every entry's `case`
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
        """One line through every check, in the order of spec 6: its form (6.1), its place
        in the log (6.2, `link`), then `check`."""
        entry: Entry | None
        try:
            # previous_hex is always a leaf hash's hex: a `prev` equal to it (every entry of
            # an unbroken full log) skips the hex format check.
            entry = _parse(line, self.previous_hex)
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
        exhibit = self.check(entry)
        if exhibit is not None:
            self.heads[exhibit] = leaf_hex
        self.previous_seq = entry.seq
        self.previous_hex = leaf_hex
        self.count += 1

    def check(self, entry: Entry) -> str | None:
        """spec 6.1 (`case`), 6.3, 6.4 and 6.7 for the next entry in seq order, against the
        state of the walk; return the entry's exhibit, whose head (`heads`) the caller then
        sets to the entry's leaf hash. The comments name the part of spec 6 each check is.

        This runs once per entry, a million times for a large log, so the checks are
        written out here instead of being one method call each."""
        rec = self.rec
        seq = entry.seq
        # spec 6.1: `case` matches the manifest.
        if entry.case != self.case_id:
            rec.fail(
                CheckId.FORMAT,
                EntryFormatError,
                f"case {entry.case} is not the bundle's case {self.case_id}",
                seq,
            )
        # spec 6.3: time never decreases (fixed-width RFC 3339 UTC sorts as text).
        time = entry.time
        if time < self.previous_time:
            rec.fail(
                CheckId.TIME,
                TimeReversedError,
                f"time {time} is earlier than the entry before ({self.previous_time})",
                seq,
            )
        else:
            self.previous_time = time
        # spec 2.1: a type this verifier does not know is reported, not failed.
        type_ = entry.type
        if type_ not in EVENT_TYPES:
            rec.warn(CheckId.FORMAT, f"unknown event type {type_!r}", seq)
        exhibit = entry.exhibit
        if exhibit is not None:
            # spec 6.4: `exhibit_prev` is the leaf hash of the exhibit's entry before.
            head = self.heads.get(exhibit, ZERO_HEX)
            if entry.exhibit_prev != head:
                self.chain_broken(
                    f"exhibit_prev breaks the chain of exhibit {exhibit} (expected {head[:16]}...)",
                    seq,
                )
        # spec 6.7: the custody rules, by custody.replay; and the altered-storage warning.
        for violation in self.case.apply(entry):
            rec.fail(CheckId.REPLAY, ReplayError, violation.message, violation.seq)
        if type_ == _VERIFIED and entry.data.get("ok") is False:
            rec.warn(
                CheckId.REPLAY,
                f"exhibit {exhibit}: re-verification found storage altered at this point",
                seq,
            )
        return exhibit

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

    def chain_broken(self, message: str, seq: int) -> None:
        self.rec.fail(CheckId.EXHIBIT_CHAINS, ChainBrokenError, message, seq)
