"""C2SP tlog-proof: an offline-verifiable proof that an entry is in a checkpointed log.

    c2sp.org/tlog-proof@v1
    extra <base64 opaque data>          (optional)
    index <decimal leaf index>
    <base64 hash>                        (zero or more: the RFC 6962 inclusion proof)

    <the signed checkpoint note, verbatim>

This module parses and formats only; `custody.merkle` verifies the inclusion proof and
`custody.policy.verify_cosigned_checkpoint` the checkpoint. Files SHOULD be named `*.tlog-proof`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from custody.checkpoint import MAX_TREE_SIZE, Checkpoint
from custody.errors import NoteFormatError, ProofFormatError
from custody.merkle import HASH_SIZE
from custody.note import MAX_NOTE_BYTES, Note, decode_base64, parse_ascii_decimal

__all__ = ["HEADER", "MAX_PROOF_BYTES", "MAX_PROOF_HASHES", "TlogProof"]

HEADER = "c2sp.org/tlog-proof@v1"
# An inclusion proof in a tree of at most 2^64 - 1 leaves has at most 64 hashes.
MAX_PROOF_HASHES = 64
# The checkpoint note is capped at MAX_NOTE_BYTES; the header gets as much again. The one
# limit on a proof's size: readers of proof files (the bundle verifier, `jitc verify
# FILE.tlog-proof`) import it, so a proof is read into memory only up to this.
MAX_PROOF_BYTES = 2 * MAX_NOTE_BYTES


@dataclass(frozen=True)
class TlogProof:
    """An entry's index, its inclusion proof and the (cosigned) checkpoint it leads to.

    `extra` is the optional opaque extra data: None when the `extra` line is absent.
    tlog-proof: applications MUST NOT implicitly trust it, as it is not authenticated.
    """

    index: int
    hashes: tuple[bytes, ...]
    checkpoint: Note
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int):
            raise ProofFormatError("proof index must be an integer")
        if not 0 <= self.index <= MAX_TREE_SIZE:
            raise ProofFormatError(f"proof index {self.index} is out of range")
        if len(self.hashes) > MAX_PROOF_HASHES:
            raise ProofFormatError(f"inclusion proof has more than {MAX_PROOF_HASHES} hashes")
        for h in self.hashes:
            if len(h) != HASH_SIZE:
                raise ProofFormatError(f"inclusion proof hash is {len(h)} bytes, not {HASH_SIZE}")
        # tlog-proof: "If no extra data is present, this line is omitted", so an empty
        # `extra` is not a distinct value: use None.
        if self.extra is not None and not self.extra:
            raise ProofFormatError("empty extra data: omit it (None) instead")
        try:
            Checkpoint.parse_body(self.checkpoint.text)
        except NoteFormatError as exc:
            raise ProofFormatError(f"proof checkpoint is not a tlog-checkpoint: {exc}") from exc

    @property
    def tree_head(self) -> Checkpoint:
        """The checkpoint body (origin, size, root), parsed; its signatures unverified."""
        return Checkpoint.parse_body(self.checkpoint.text)

    @classmethod
    def parse(cls, data: bytes) -> TlogProof:
        """Parse a tlog-proof strictly; raises ProofFormatError."""
        if len(data) > MAX_PROOF_BYTES:
            raise ProofFormatError(f"proof is larger than {MAX_PROOF_BYTES} bytes")
        lines = _Lines(data)
        # tlog-proof: the first line MUST be the string `c2sp.org/tlog-proof@v1`.
        if lines.next() != HEADER:
            raise ProofFormatError(f"proof does not start with {HEADER!r}")
        line = lines.next()
        extra: bytes | None = None
        # tlog-proof: the second line MAY be `extra` SP base64(opaque extra data).
        if line.startswith("extra "):
            try:
                extra = decode_base64(line[len("extra ") :])
            except ValueError as exc:
                raise ProofFormatError(f"proof extra data is not valid base64: {exc}") from exc
            if not extra:
                raise ProofFormatError("proof extra line carries no data")
            line = lines.next()
        # tlog-proof: `index` SP zero-based index, ASCII decimal, no leading zeroes.
        if not line.startswith("index "):
            raise ProofFormatError("proof has no `index` line")
        try:
            index = parse_ascii_decimal(line[len("index ") :], max_value=MAX_TREE_SIZE)
        except ValueError as exc:
            raise ProofFormatError(f"proof index is invalid: {exc}") from exc
        # tlog-proof: zero or more non-empty lines, one base64 SHA-256 hash each, from the
        # leaf's sibling up to the root's child; then an empty line.
        hashes: list[bytes] = []
        while (line := lines.next()) != "":
            if len(hashes) == MAX_PROOF_HASHES:
                raise ProofFormatError(f"inclusion proof has more than {MAX_PROOF_HASHES} hashes")
            try:
                h = decode_base64(line)
            except ValueError as exc:
                raise ProofFormatError(f"inclusion proof hash is not valid base64: {exc}") from exc
            if len(h) != HASH_SIZE:
                raise ProofFormatError(f"inclusion proof hash is {len(h)} bytes, not {HASH_SIZE}")
            hashes.append(h)
        # tlog-proof: then the checkpoint, verbatim, per tlog-checkpoint.
        try:
            checkpoint = Note.parse(lines.rest())
        except NoteFormatError as exc:
            raise ProofFormatError(f"proof checkpoint is not a valid signed note: {exc}") from exc
        return cls(index, tuple(hashes), checkpoint, extra)

    def to_bytes(self) -> bytes:
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode("ascii"))
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(h).decode("ascii") for h in self.hashes)
        header = "".join(line + "\n" for line in lines) + "\n"
        return header.encode("ascii") + self.checkpoint.to_bytes()


class _Lines:
    """Reads the newline-terminated ASCII header lines of a proof, then the rest."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def next(self) -> str:
        end = self._data.find(b"\n", self._pos)
        if end < 0:
            raise ProofFormatError("proof ends before its checkpoint")
        raw = self._data[self._pos : end]
        self._pos = end + 1
        try:
            line = raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise ProofFormatError("proof header line is not ASCII") from exc
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in line):
            raise ProofFormatError("proof header line contains a control character")
        return line

    def rest(self) -> bytes:
        return self._data[self._pos :]
