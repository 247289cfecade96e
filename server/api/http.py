"""Request plumbing shared by the routes: body limits, bearer tokens, the worker threads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from starlette.requests import Request

from server.api import schemas
from server.auth import Principal
from server.errors import PayloadTooLargeError, UnsupportedMediaTypeError
from server.runtime import Runtime
from server.services.workspace import Workspace

T = TypeVar("T")


def workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


def runtime(request: Request) -> Runtime:
    """The app's background work (asynchronous exports are written there)."""
    background: Runtime = request.app.state.runtime
    return background


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def credential(request: Request) -> str | None:
    """The caller's token: the bearer token, else what the app's session door (the web
    workspace's cookie, for calls from its own pages: `app.state.session_door`, set by
    `server.web.mount_web`) finds. The door is injected, so the API imports no page code."""
    token = bearer_token(request)
    if token is not None:
        return token
    door: Callable[[Request], str | None] | None = getattr(request.app.state, "session_door", None)
    return None if door is None else door(request)


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


async def call(request: Request, work: Callable[[Workspace, Principal], T]) -> T:
    """Authenticate the caller's token and run `work` on a worker thread: one hop per
    request for the token check and the service call (ADR 0002)."""
    ws = workspace(request)
    token = credential(request)
    client = remote(request)

    def run() -> T:
        return work(ws, ws.authenticate(token, remote=client))

    return await in_thread(request, run)


async def call_with_body(
    request: Request, work: Callable[[Workspace, Principal, dict[str, Any]], T]
) -> T:
    """`call` with the JSON body, read (size-limited) before the hop."""
    raw = await read_body(request)
    return await call(request, lambda ws, p: work(ws, p, schemas.body_object(raw)))


def case_id_of(request: Request) -> str:
    return schemas.uuid_text(request.path_params["case_id"], "case id")


def exhibit_id_of(request: Request) -> str:
    return schemas.uuid_text(request.path_params["exhibit_id"], "exhibit id")
