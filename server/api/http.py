"""Request plumbing shared by the routes: body limits, bearer tokens, the worker threads."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from starlette.requests import Request

from server.errors import PayloadTooLargeError, UnsupportedMediaTypeError
from server.services.workspace import Workspace

T = TypeVar("T")


def workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def remote(request: Request) -> str | None:
    return request.client.host if request.client else None


async def read_body(request: Request) -> bytes:
    """The JSON request body, refused past the configured size limit without reading it all."""
    limit = workspace(request).settings.max_json_body
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaTypeError("send the body as application/json")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def in_thread(request: Request, work: Callable[[], T]) -> T:
    """Run blocking service code (database, signing) on the worker threads."""
    limiter = request.app.state.limiter
    return await anyio.to_thread.run_sync(work, limiter=limiter)
