"""C2SP tlog-checkpoint note bodies (c2sp.org/tlog-checkpoint).

A checkpoint body is the origin, the tree size in decimal and the base64 root hash,
one per line, each ending in "\\n", then optional extension lines. custody-log-v1 §4
allows no extension lines; this parser still reads and exposes them as C2SP defines
them, and the bundle verifier refuses them.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from custody.errors import NoteFormatError
from custody.merkle import HASH_SIZE
from custody.note import decode_base64, parse_ascii_decimal

__all__ = ["MAX_TREE_SIZE", "ROOT_HASH_SIZE", "Checkpoint"]

# Tree sizes are uint64 in every C2SP implementation (Go parses them with ParseUint).
MAX_TREE_SIZE = 2**64 - 1
# RFC 6962 / RFC 9162 Merkle tree over SHA-256 (custody-log-v1 §3).
ROOT_HASH_SIZE = HASH_SIZE

# A checkpoint body is note text: no ASCII control characters other than newline.
_CONTROL = re.compile(r"[\x00-\x1f]")


def _check_line(line: str, what: str) -> None:
    # tlog-checkpoint: the lines are non-empty; they cannot hold a newline or a
    # control character (C2SP signed-note) and must be valid UTF-8.
    if not line:
        raise NoteFormatError(f"checkpoint {what} is empty")
    if _CONTROL.search(line):
        raise NoteFormatError(f"checkpoint {what} contains a newline or control character")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NoteFormatError(f"checkpoint {what} is not valid UTF-8") from exc


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed tree head: origin, tree size, root hash and extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # tlog-checkpoint: the origin MUST be non-empty. It SHOULD be a schema-less URL
        # without spaces or '+', but clients MUST NOT assume so: not enforced here.
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise NoteFormatError("checkpoint tree size must be an integer")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise NoteFormatError(f"checkpoint tree size {self.size} is out of range")
        if len(self.root_hash) != ROOT_HASH_SIZE:
            raise NoteFormatError(
                f"checkpoint root hash is {len(self.root_hash)} bytes, not {ROOT_HASH_SIZE}"
            )
        for line in self.extensions:
            # tlog-checkpoint: extension lines, if any, MUST be non-empty.
            _check_line(line, "extension line")

    def body(self) -> str:
        """The note text: origin, size, base64 root hash and extensions, each ending "\\n"."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        lines = [self.origin, str(self.size), root, *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse_body(cls, text: str) -> Checkpoint:
        """Parse a checkpoint note text strictly; raises NoteFormatError."""
        # tlog-checkpoint: at least three non-empty lines, each ending in a newline.
        if not text.endswith("\n"):
            raise NoteFormatError("checkpoint body must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteFormatError("checkpoint body has fewer than three lines")
        origin, size_line, root_line, *extensions = lines
        _check_line(origin, "origin")
        # tlog-checkpoint: ASCII decimal, no leading zeroes unless the tree is empty ("0").
        try:
            size = parse_ascii_decimal(size_line, max_value=MAX_TREE_SIZE)
        except ValueError as exc:
            raise NoteFormatError(f"checkpoint tree size is invalid: {exc}") from exc
        # tlog-checkpoint: the base64 encoding of the RFC 6962 root hash.
        try:
            root_hash = decode_base64(root_line)
        except ValueError as exc:
            raise NoteFormatError(f"checkpoint root hash is not valid base64: {exc}") from exc
        return cls(origin, size, root_hash, tuple(extensions))
