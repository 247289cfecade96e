"""The Starlette application: `create_app(settings)`; `jitc serve` runs it under uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import asynccontextmanager

import anyio.to_thread
from anyio import CapacityLimiter
from starlette.applications import Starlette

from server.allocator import tune_malloc
from server.api.errors import EXCEPTION_HANDLERS
from server.api.routes import routes
from server.auth import configure_security_log
from server.config import Settings
from server.runtime import Runtime
from server.services.witnessing import WitnessSubmitter
from server.services.workspace import Workspace
from server.web import mount_web

WORKER_THREADS = 64
UPLOAD_THREADS = 32
"""Threads for requests that stream a body into the store (PUT content, tus PATCH): their
own pool, so that uploads never hold the threads every other request needs. 32, not
fewer: a lab sends a batch of 20 exhibits at once over slow links, and an upload that waits
for a thread behind stalled ones only gets one when those reach JITC_BODY_IDLE_TIMEOUT
(each upload holds at most its 8 MiB read-ahead, so 32 bound memory at ~256 MiB)."""
ROUND_THREADS = 2
"""The runtime's rounds (sweep, witnessing) each use one background thread at a time."""


def create_app(
    settings: Settings | None = None,
    *,
    workspace: Workspace | None = None,
    executor: Executor | None = None,
    submitter: WitnessSubmitter | None = None,
) -> Starlette:
    """The app over an open workspace (opened here from settings, or the env, if not given).

    The workspace is opened eagerly so that a database behind the latest migration stops
    the server before it accepts a connection. Background work (`server.runtime`) runs on
    `executor`; without one the app makes a thread pool and shuts it down when it stops. A
    caller that passes its own executor (a test) owns it, and may wait on it."""
    if workspace is None:  # a server process (`jitc serve`, one call per uvicorn worker)
        settings = settings or Settings.from_env()
        configure_security_log(settings)
        tune_malloc()  # big buffers go back to the system when freed (server.allocator)
    ws = workspace or Workspace.open(settings or Settings.from_env())
    pool = executor or ThreadPoolExecutor(
        max_workers=ROUND_THREADS + ws.settings.max_concurrent_exports,
        thread_name_prefix="jitc-background",
    )
    runtime = Runtime(ws, pool, submitter=submitter)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(runtime.stop)
            if executor is None:  # ours: the runtime has drained it
                pool.shutdown(wait=True)
            if workspace is None:  # we opened it, we close it
                ws.close()

    app = Starlette(
        routes=routes(),
        exception_handlers=dict(EXCEPTION_HANDLERS),
        lifespan=lifespan,
    )
    mount_web(app, ws)  # the workspace's pages, and the API's door for their session
    app.state.workspace = ws
    app.state.limiter = CapacityLimiter(WORKER_THREADS)
    app.state.upload_limiter = CapacityLimiter(UPLOAD_THREADS)
    app.state.runtime = runtime
    return app
