"""The witness's HTTP face (c2sp.org/tlog-witness): `POST /add-checkpoint`, the monitoring
endpoint `GET /<hex sha256(origin)>/checkpoint` (one prefix for both), and `GET /`.

Routes only read the body and call the service; `_error_response` is the one place
where witness errors become HTTP statuses.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from custody.checkpoint import Checkpoint
from custody.cosignature import CosignatureSigner
from custody.note import NoteVerifier
from witness.errors import (
    BadProofError,
    MalformedRequestError,
    RequestTooLargeError,
    SizeConflictError,
    SplitViewError,
    StateError,
    UnknownOriginError,
    UntrustedCheckpointError,
    WitnessError,
)
from witness.logs import LogRoster
from witness.protocol import (
    ADD_CHECKPOINT_PATH,
    COSIGNATURE_CONTENT_TYPE,
    MAX_REQUEST_BYTES,
    SIZE_CONTENT_TYPE,
    AddCheckpointRequest,
    format_size_body,
)
from witness.service import Clock, Witness
from witness.state import WitnessState

__all__ = ["create_witness_app"]

logger = logging.getLogger(__name__)

# The statuses of c2sp.org/tlog-witness as of its newest text (C2SP/C2SP tlog-witness.md,
# commit 95978ca, 2026-07-06); 413 is ours (a body over the size limit). Most specific
# first: SplitViewError is a BadProofError.
_STATUS: tuple[tuple[type[WitnessError], int], ...] = (
    (RequestTooLargeError, 413),
    (MalformedRequestError, 400),
    (UnknownOriginError, 404),
    (UntrustedCheckpointError, 403),
    (SizeConflictError, 409),
    # tlog-witness: "If the old size matches the checkpoint size, the witness MUST check
    # that the root hashes are also identical. If they don't match, the witness MUST
    # respond with a "422 Unprocessable Entity" HTTP status code." (Before 2026 the text
    # said 409 here; a peer implementation in Go follows the new text.)
    (SplitViewError, 422),
    (BadProofError, 422),
    (StateError, 500),
)
_ORIGIN_HASH = re.compile(r"[0-9a-f]{64}")
CHECKPOINT_CONTENT_TYPE = "text/plain; charset=utf-8"


def _error_response(exc: WitnessError) -> Response:
    """The one mapping from witness errors to responses."""
    if isinstance(exc, SizeConflictError):
        # tlog-witness: body = latest cosigned size + "\n", Content-Type exactly
        # text/x.tlog.size (set by hand: Starlette would append a charset).
        return Response(
            format_size_body(exc.latest_size),
            status_code=409,
            headers={"content-type": SIZE_CONTENT_TYPE},
        )
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)
    if status == 500:
        logger.error("witness: %s", exc)
        return PlainTextResponse("witness error\n", status_code=500)
    return PlainTextResponse(f"{exc}\n", status_code=status)


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise RequestTooLargeError(f"request body is over {MAX_REQUEST_BYTES} bytes")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_REQUEST_BYTES:
            raise RequestTooLargeError(f"request body is over {MAX_REQUEST_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_witness_app(
    *,
    signer: CosignatureSigner,
    log_verifiers: Sequence[NoteVerifier],
    state_dir: Path,
    clock: Clock,
    on_persisted: Callable[[Checkpoint], None] | None = None,
) -> Starlette:
    """A witness for the case logs of `log_verifiers` (log keys under their log names).

    `clock` gives POSIX seconds for cosignature timestamps. One process per `state_dir`:
    the CLI holds `witness.state.hold_state_lock` around the app. `on_persisted`
    is a fault-injection hook for tests, called after a new checkpoint is durable and
    before the cosignature is returned.
    """
    witness = Witness(
        signer=signer,
        logs=LogRoster(log_verifiers),
        state=WitnessState(state_dir),
        clock=clock,
        on_persisted=on_persisted,
    )

    async def add_checkpoint(request: Request) -> Response:
        try:
            parsed = AddCheckpointRequest.parse(await _read_body(request))
            # File I/O and fsync off the event loop; the service locks per origin.
            lines = await anyio.to_thread.run_sync(
                functools.partial(witness.add_checkpoint, parsed)
            )
        except WitnessError as exc:
            return _error_response(exc)
        body = "".join(sig.line() for sig in lines)
        return Response(body.encode("utf-8"), media_type=COSIGNATURE_CONTENT_TYPE)

    async def checkpoint(request: Request) -> Response:
        """tlog-witness "Monitor Retrieval Mechanism": `GET <monitoring prefix>/<origin
        hash>/checkpoint`, the origin hash "the SHA-256 hash of the log's origin, hex
        encoded, in lowercase". The body is the latest cosigned checkpoint with the log
        signature(s) the witness verified and its own cosignature; "If the witness has never
        cosigned a checkpoint for that log, it MUST respond with a 404 Not Found"."""
        origin_hash = request.path_params["origin_hash"]
        if _ORIGIN_HASH.fullmatch(origin_hash) is None:
            return PlainTextResponse("not an origin hash (lowercase hex SHA-256)\n", 404)
        try:
            record = await anyio.to_thread.run_sync(witness.state.load_hashed, origin_hash)
        except WitnessError as exc:
            return _error_response(exc)
        if record is None:
            return PlainTextResponse("no checkpoint cosigned for this origin\n", 404)
        return Response(
            record.note.to_bytes(),
            headers={"content-type": CHECKPOINT_CONTENT_TYPE, "cache-control": "no-cache"},
        )

    async def info(request: Request) -> Response:
        return JSONResponse(
            {
                "name": signer.name,
                "vkey": signer.vkey(),
                "protocol": "https://c2sp.org/tlog-witness",
                "add_checkpoint": ADD_CHECKPOINT_PATH,
                "checkpoint": "/<hex sha256(origin)>/checkpoint",
                "logs": [key.vkey() for key in witness.logs.log_keys],
            }
        )

    app = Starlette(
        routes=[
            Route("/", info, methods=["GET"]),
            Route(ADD_CHECKPOINT_PATH, add_checkpoint, methods=["POST"]),
            Route("/{origin_hash}/checkpoint", checkpoint, methods=["GET"]),
        ]
    )
    app.state.witness = witness
    return app
