"""Request plumbing shared by the routes: body limits, bearer tokens, the worker threads.

Two pools of worker threads: `app.state.upload_limiter` for the requests that stream a
body into the store while they hold their thread (PUT content, tus PATCH), and
`app.state.limiter` for everything else, so that uploads, stalled or slow, can never take
the threads another user's read needs. A body that sends no byte for
JITC_BODY_IDLE_TIMEOUT seconds ends with 408, and its thread is free again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

from server.allocator import give_back
from server.api import schemas
from server.auth import Principal
from server.errors import (
    PayloadTooLargeError,
    PermissionDeniedError,
    RequestTimeoutError,
    UnsupportedMediaTypeError,
)
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


async def body_parts(request: Request, idle_timeout: float | None) -> AsyncIterator[bytes]:
    """The request body as it arrives; RequestTimeoutError (408) when no byte came for
    `idle_timeout` seconds (None: wait for ever). A client that leaves raises
    ClientDisconnect."""
    stream = request.stream()
    while True:
        try:
            with anyio.fail_after(idle_timeout):
                part = await anext(stream)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise RequestTimeoutError(
                f"no byte of the body arrived for {idle_timeout:g} seconds"
            ) from None
        yield part


async def read_body(request: Request) -> bytes:
    """The JSON request body, refused past the configured size limit without reading it all."""
    settings = workspace(request).settings
    limit = settings.max_json_body
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaTypeError("send the body as application/json")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in body_parts(request, settings.body_idle_timeout):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def in_thread(request: Request, work: Callable[[], T], *, upload: bool = False) -> T:
    """Run blocking service code (database, signing) on the worker threads; `upload`: on
    the uploads' own threads (a request that streams its body while it holds one), after
    which the body's freed chunks are given back to the system (server.allocator)."""
    if not upload:
        return await anyio.to_thread.run_sync(work, limiter=request.app.state.limiter)

    def then_give_back() -> T:
        try:
            return work()
        finally:
            give_back()

    return await anyio.to_thread.run_sync(then_give_back, limiter=request.app.state.upload_limiter)


async def call(
    request: Request, work: Callable[[Workspace, Principal], T], *, upload: bool = False
) -> T:
    """Authenticate the caller's token and run `work` on a worker thread: one hop per
    request for the token check and the service call (ADR 0002)."""
    ws = workspace(request)
    token = credential(request)
    client = remote(request)

    def run() -> T:
        principal = ws.authenticate(token, remote=client)
        with naming_the_caller(principal):
            return work(ws, principal)

    return await in_thread(request, run, upload=upload)


async def call_with_body(
    request: Request, work: Callable[[Workspace, Principal, dict[str, Any]], T]
) -> T:
    """`call` with the JSON body. The token is checked first, so a caller without a valid
    one never makes the server receive (and hold) a body: one hop to authenticate, the
    body read (size-limited, idle-timed) on the event loop, one hop for the service."""
    ws = workspace(request)
    token = credential(request)
    client = remote(request)
    principal = await in_thread(request, lambda: ws.authenticate(token, remote=client))
    raw = await read_body(request)

    def run() -> T:
        with naming_the_caller(principal):
            return work(ws, principal, schemas.body_object(raw))

    return await in_thread(request, run)


@contextmanager
def naming_the_caller(principal: Principal) -> Iterator[None]:
    """Every refusal names its caller in the security log (server.api.errors): a 403
    raised without `who` gets the authenticated caller's."""
    try:
        yield
    except PermissionDeniedError as exc:
        if exc.who is None:
            exc.who = (principal.jurisdiction, principal.sub, principal.role, principal.jti)
        raise


def case_id_of(request: Request) -> str:
    return schemas.uuid_text(request.path_params["case_id"], "case id")


def exhibit_id_of(request: Request) -> str:
    return schemas.uuid_text(request.path_params["exhibit_id"], "exhibit id")
