"""A log asking a witness for a cosignature (the case server's side of tlog-witness).

The wire format and the status mapping live in `witness.protocol` (pure); this
module only adds the HTTP round trip and the one retry the protocol foresees: a 409
`text/x.tlog.size` says which size the witness last cosigned, and the log resends with a
consistency proof from that size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import httpx

from custody.checkpoint import Checkpoint
from custody.cosignature import CosignatureVerifier
from custody.errors import CustodyError, NoteFormatError
from custody.note import Note, NoteSignature
from witness.errors import MalformedRequestError, SizeConflictError, WitnessResponseError
from witness.protocol import (
    ADD_CHECKPOINT_PATH,
    MAX_REQUEST_BYTES,
    build_add_checkpoint_body,
    cosignature_from_response,
)

__all__ = ["ProofSource", "latest_cosigned", "request_cosignature"]

ProofSource = Callable[[int, int], Sequence[bytes]]
"""`(old_size, new_size) -> RFC 9162 consistency proof` from the log's own tree."""


async def request_cosignature(
    http: httpx.AsyncClient,
    submission_prefix: str,
    *,
    note: bytes,
    witness: CosignatureVerifier,
    old_size: int,
    proof_source: ProofSource,
) -> NoteSignature:
    """POST the signed checkpoint `note` to `<submission_prefix>/add-checkpoint` and return
    the witness's verified cosignature line.

    `old_size` is the size the log believes the witness last cosigned (0 if unknown). On a
    409 naming another size not above the checkpoint's, the request is sent once more with
    a proof from that size. Raises the WitnessError subclasses of
    `protocol.cosignature_from_response`, or WitnessResponseError on transport failure or
    an answer over MAX_REQUEST_BYTES. NOTE: no overall deadline here; the caller bounds
    the whole exchange (`server.services.witnessing.WitnessSubmitter`).
    """
    try:
        parsed = Note.parse(note)
        checkpoint = Checkpoint.parse_body(parsed.text)
    except NoteFormatError as exc:
        raise MalformedRequestError(f"not a signed checkpoint: {exc}") from exc
    url = submission_prefix.rstrip("/") + ADD_CHECKPOINT_PATH
    try:
        return await _post(http, url, parsed, checkpoint, witness, old_size, proof_source)
    except SizeConflictError as exc:
        retry_from = exc.latest_size
        if retry_from == old_size or retry_from > checkpoint.size:
            raise  # nothing a proof from our tree can fix
    return await _post(http, url, parsed, checkpoint, witness, retry_from, proof_source)


async def latest_cosigned(
    http: httpx.AsyncClient, prefix: str, *, origin: str, witness: CosignatureVerifier
) -> tuple[Checkpoint, str, NoteSignature] | None:
    """The checkpoint the witness last cosigned for `origin` (tlog-witness monitoring:
    `GET <prefix>/<hex sha256(origin)>/checkpoint`), its body, and the witness's
    cosignature on it, verified; None if the witness has none, does not serve it under
    `prefix`, or answers anything else. Best effort, for choosing the old size to prove
    from: the witness still checks whatever is sent next."""
    url = f"{prefix.rstrip('/')}/{hashlib.sha256(origin.encode()).hexdigest()}/checkpoint"
    try:
        async with http.stream("GET", url, headers={"Accept-Encoding": "identity"}) as response:
            if response.status_code != 200:
                return None
            answer = await _read_capped(response, url)
        note = Note.parse(answer)
        checkpoint = Checkpoint.parse_body(note.text)
    except (httpx.HTTPError, WitnessResponseError, CustodyError):
        return None
    if checkpoint.origin != origin:
        return None
    for sig in note.signatures_for(witness.name, witness.key_id):
        if witness.verify(note.text, sig) is not None:
            return checkpoint, note.text, sig
    return None


async def _post(
    http: httpx.AsyncClient,
    url: str,
    note: Note,
    checkpoint: Checkpoint,
    witness: CosignatureVerifier,
    old_size: int,
    proof_source: ProofSource,
) -> NoteSignature:
    proof = proof_source(old_size, checkpoint.size) if 0 < old_size < checkpoint.size else ()
    body = build_add_checkpoint_body(old_size, proof, note)
    try:
        # Streamed, and read no further than MAX_REQUEST_BYTES: a hostile witness must not
        # make the log buffer an answer of any size (ADR 0021). No content coding, so the
        # cap counts the bytes that arrive (no decompression bomb either).
        async with http.stream(
            "POST", url, content=body, headers={"Accept-Encoding": "identity"}
        ) as response:
            answer = await _read_capped(response, url)
            status, content_type = response.status_code, response.headers.get("content-type")
    except httpx.HTTPError as exc:
        raise WitnessResponseError(f"witness at {url} unreachable: {exc}") from exc
    return cosignature_from_response(
        status, content_type, answer, checkpoint_body=note.text, witness=witness
    )


async def _read_capped(response: httpx.Response, url: str) -> bytes:
    """The answer's body, or WitnessResponseError once it passes MAX_REQUEST_BYTES."""
    oversized = WitnessResponseError(
        f"witness at {url} sent an oversized answer (over {MAX_REQUEST_BYTES} bytes)"
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise oversized
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > MAX_REQUEST_BYTES:
            raise oversized  # leaving the stream closes the connection unread
        chunks.append(chunk)
    return b"".join(chunks)
