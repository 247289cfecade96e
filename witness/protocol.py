"""The C2SP tlog-witness wire format (c2sp.org/tlog-witness, "add-checkpoint"), both sides.

Pure: bytes in, typed values or WitnessError subclasses out; no sockets, no clock. The
witness parses requests with `AddCheckpointRequest.parse`; a log (the case server) builds
them with `build_add_checkpoint_body` and reads the answer with
`cosignature_from_response`, which raises the same error classes the witness raised.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from custody.checkpoint import MAX_TREE_SIZE, Checkpoint
from custody.cosignature import CosignatureVerifier
from custody.errors import NoteFormatError
from custody.note import Note, NoteSignature, decode_base64, parse_signature_lines
from witness.errors import (
    BadProofError,
    MalformedRequestError,
    RequestTooLargeError,
    SizeConflictError,
    SplitViewError,
    UnknownOriginError,
    UntrustedCheckpointError,
    WitnessError,
    WitnessResponseError,
)

__all__ = [
    "ADD_CHECKPOINT_PATH",
    "COSIGNATURE_CONTENT_TYPE",
    "HASH_SIZE",
    "MAX_PROOF_LINES",
    "MAX_REQUEST_BYTES",
    "SIZE_CONTENT_TYPE",
    "AddCheckpointRequest",
    "build_add_checkpoint_body",
    "cosignature_from_response",
    "format_size_body",
    "parse_cosignature_response",
    "parse_size_response",
]

ADD_CHECKPOINT_PATH = "/add-checkpoint"
# tlog-witness: the 409 body "MUST have a Content-Type of text/x.tlog.size", exactly (no
# charset parameter: Go clients compare the header verbatim).
SIZE_CONTENT_TYPE = "text/x.tlog.size"
# The spec names no type for the 200 body (signature lines); UTF-8 text.
COSIGNATURE_CONTENT_TYPE = "text/plain; charset=utf-8"
# tlog-witness: "The client MUST NOT send more than 63 consistency proof lines."
MAX_PROOF_LINES = 63
# A checkpoint of custody-log-v1 §4 with its log signature is ~200 bytes; 63 proof lines
# are ~2.8 KiB. 64 KiB leaves room for many signature lines and bounds what a stranger can
# make the witness read before any signature is checked.
MAX_REQUEST_BYTES = 64 * 1024
HASH_SIZE = 32  # RFC 6962 / RFC 9162 SHA-256 tree hashes (custody-log-v1 §3)

_OLD_LINE = re.compile(rb"old (0|[1-9][0-9]*)")


@dataclass(frozen=True)
class AddCheckpointRequest:
    """An add-checkpoint body: old size, consistency proof, and the signed checkpoint.

    One that exists is well-formed (its signatures and proof are NOT verified): an old
    size, at most 63 proof hashes of 32 bytes, and a signed note whose text is a
    custody-log-v1 §4 checkpoint (no extension lines).
    """

    old_size: int
    proof: tuple[bytes, ...]
    note: Note

    def __post_init__(self) -> None:
        if isinstance(self.old_size, bool) or not 0 <= self.old_size <= MAX_TREE_SIZE:
            raise MalformedRequestError(f"old size {self.old_size!r} is out of range")
        if len(self.proof) > MAX_PROOF_LINES:
            raise MalformedRequestError(
                f"{len(self.proof)} consistency proof lines; at most {MAX_PROOF_LINES}"
            )
        for position, value in enumerate(self.proof):
            if len(value) != HASH_SIZE:
                raise MalformedRequestError(
                    f"consistency proof line {position} is {len(value)} bytes, not {HASH_SIZE}"
                )
        checkpoint = self.checkpoint  # raises MalformedRequestError
        # custody-log-v1 §4: a case checkpoint has no extension lines. Refusing them means
        # the witness never vouches for lines it does not understand.
        if checkpoint.extensions:
            raise MalformedRequestError("checkpoint has extension lines (custody-log-v1 §4)")

    @property
    def checkpoint(self) -> Checkpoint:
        try:
            return Checkpoint.parse_body(self.note.text)
        except NoteFormatError as exc:
            raise MalformedRequestError(f"not a checkpoint: {exc}") from exc

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpointRequest:
        """Parse a request body strictly (tlog-witness "add-checkpoint")."""
        if len(body) > MAX_REQUEST_BYTES:
            raise RequestTooLargeError(f"request body is over {MAX_REQUEST_BYTES} bytes")
        # "Each line MUST terminate in a newline character": the old size line, the proof
        # lines, the empty line, then the checkpoint note.
        position = 0
        end = body.find(b"\n", position)
        if end < 0:
            raise MalformedRequestError("request has no old size line")
        match = _OLD_LINE.fullmatch(body[position:end])
        if match is None:
            raise MalformedRequestError("first line must be 'old <size>', a decimal size")
        if len(match.group(1)) > len(str(MAX_TREE_SIZE)):
            raise MalformedRequestError("old size is out of range")
        old_size = int(match.group(1))
        position = end + 1
        proof: list[bytes] = []
        while True:
            end = body.find(b"\n", position)
            if end < 0:
                raise MalformedRequestError("request has no empty line before the checkpoint")
            line = body[position:end]
            position = end + 1
            if not line:
                break
            if len(proof) == MAX_PROOF_LINES:
                raise MalformedRequestError(f"more than {MAX_PROOF_LINES} consistency proof lines")
            try:
                proof.append(decode_base64(line.decode("ascii")))
            except (UnicodeDecodeError, ValueError) as exc:
                raise MalformedRequestError(
                    f"consistency proof line {len(proof)} is not base64: {exc}"
                ) from exc
        try:
            note = Note.parse(body[position:])
        except NoteFormatError as exc:
            raise MalformedRequestError(f"checkpoint is not a signed note: {exc}") from exc
        return cls(old_size, tuple(proof), note)

    def to_bytes(self) -> bytes:
        """The request body; `parse(to_bytes())` gives back an equal request."""
        lines = [f"old {self.old_size}\n".encode("ascii")]
        lines.extend(base64.b64encode(h) + b"\n" for h in self.proof)
        lines.append(b"\n")
        lines.append(self.note.to_bytes())
        return b"".join(lines)


def build_add_checkpoint_body(old_size: int, proof: Sequence[bytes], note: bytes | Note) -> bytes:
    """Client side: the add-checkpoint request body for a signed checkpoint note.

    `proof` is the RFC 9162 consistency proof from `old_size` to the checkpoint's size
    (empty for old size 0). Raises MalformedRequestError for what a witness would refuse.
    """
    if isinstance(note, bytes):
        try:
            note = Note.parse(note)
        except NoteFormatError as exc:
            raise MalformedRequestError(f"checkpoint is not a signed note: {exc}") from exc
    request = AddCheckpointRequest(old_size, tuple(proof), note)
    if request.old_size > request.checkpoint.size:
        raise MalformedRequestError("old size is larger than the checkpoint's size")
    body = request.to_bytes()
    if len(body) > MAX_REQUEST_BYTES:
        raise RequestTooLargeError(f"request body is over {MAX_REQUEST_BYTES} bytes")
    return body


def format_size_body(size: int) -> bytes:
    """tlog-witness 409: "the tree size of the latest cosigned checkpoint in decimal,
    followed by a newline"."""
    return f"{size}\n".encode("ascii")


def parse_size_response(body: bytes) -> int:
    """Client side: the size in a 409 `text/x.tlog.size` body. Raises WitnessResponseError."""
    match = re.fullmatch(rb"(0|[1-9][0-9]{0,19})\n", body)
    if match is None or int(match.group(1)) > MAX_TREE_SIZE:
        raise WitnessResponseError(f"malformed text/x.tlog.size body {body[:40]!r}")
    return int(match.group(1))


def parse_cosignature_response(
    body: bytes, *, checkpoint_body: str, witness: CosignatureVerifier
) -> NoteSignature:
    """Client side: the witness's valid cosignature line from a 200 body.

    tlog-witness: "The client MUST ignore any cosignatures from unknown keys." Lines of
    other keys are skipped; WitnessResponseError if the body is malformed or has no line
    of `witness` that verifies over `checkpoint_body`.
    """
    try:
        lines = parse_signature_lines(body)
    except NoteFormatError as exc:
        raise WitnessResponseError(f"malformed cosignature response: {exc}") from exc
    for sig in lines:
        if witness.verify(checkpoint_body, sig) is not None:
            return sig
    raise WitnessResponseError(
        f"response has no valid cosignature from witness {witness.name}+{witness.key_id.hex()}"
    )


def cosignature_from_response(
    status: int,
    content_type: str | None,
    body: bytes,
    *,
    checkpoint_body: str,
    witness: CosignatureVerifier,
) -> NoteSignature:
    """Client side: read a whole add-checkpoint answer.

    200 gives the verified cosignature; the tlog-witness error statuses raise the errors
    the witness raised: SizeConflictError (with `latest_size`, to retry with a proof from
    that size), SplitViewError, BadProofError, UnknownOriginError, UntrustedCheckpointError,
    MalformedRequestError; anything else raises WitnessResponseError.
    """
    detail = body[:200].decode("utf-8", "replace").strip()
    if status == 200:
        return parse_cosignature_response(body, checkpoint_body=checkpoint_body, witness=witness)
    if status == 409:
        # Parameters ignored: misreading a size answer as a fork would be a false alarm.
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        if media_type == SIZE_CONTENT_TYPE:
            size = parse_size_response(body)
            raise SizeConflictError(f"witness's latest cosigned size is {size}", latest_size=size)
        # A witness that follows the tlog-witness text from before 2026 answers a split view
        # 409 (text/plain); the newest text answers it 422, which reads as BadProofError.
        raise SplitViewError(f"witness refused a conflicting checkpoint: {detail}")
    errors: dict[int, type[WitnessError]] = {
        400: MalformedRequestError,
        403: UntrustedCheckpointError,
        404: UnknownOriginError,
        413: RequestTooLargeError,
        422: BadProofError,
    }
    error = errors.get(status)
    if error is None:
        raise WitnessResponseError(f"unexpected witness response {status}: {detail}")
    raise error(f"witness answered {status}: {detail}")
