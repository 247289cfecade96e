"""The Starlette application: `create_app(settings)`; `jitc serve` runs it under uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import CapacityLimiter
from starlette.applications import Starlette

from server.api.errors import EXCEPTION_HANDLERS
from server.api.routes import routes
from server.auth import configure_security_log
from server.config import Settings
from server.services.workspace import Workspace

WORKER_THREADS = 64


def create_app(
    settings: Settings | None = None,
    *,
    workspace: Workspace | None = None,
    witness_options: dict[str, object] | None = None,  # issue 5: WitnessSubmitter options
) -> Starlette:
    """The app over an open workspace (opened here from settings, or the env, if not given).

    The workspace is opened eagerly so that a database behind the latest migration stops
    the server before it accepts a connection."""
    if workspace is None:
        settings = settings or Settings.from_env()
        configure_security_log(settings)
    ws = workspace or Workspace.open(settings or Settings.from_env())

    # issue 5: the witness submitter runs while the app serves (docs/adr/0021)
    from server.services.witnessing import WitnessSubmitter  # noqa: PLC0415 - issue 5 block

    submitter = WitnessSubmitter(ws, **(witness_options or {}))  # type: ignore[arg-type]
    # end issue 5

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # issue 4: expire abandoned uploads, recover interrupted ingests (ADR 0012)
        from server.services.uploads import Sweeper  # noqa: PLC0415

        sweeper = Sweeper(ws)
        sweeper.start()
        # end issue 4
        # issue 5: start submitting checkpoints to witnesses; woken after each commit
        submitter.start()
        ws.committer.after_commit = submitter.wake
        try:
            yield
        finally:
            ws.committer.after_commit = None
            submitter.stop()
            # Threads writing bundles die with the process: their exports end now.
            from server.services.exports import interrupt_running_exports  # noqa: PLC0415

            interrupt_running_exports(ws)
        # end issue 5
        sweeper.stop()  # issue 4
        if workspace is None:  # we opened it, we close it
            ws.close()

    app = Starlette(
        routes=routes(bench_plain_insert=ws.settings.bench_plain_insert),
        exception_handlers=dict(EXCEPTION_HANDLERS),
        lifespan=lifespan,
    )
    app.state.workspace = ws
    app.state.limiter = CapacityLimiter(WORKER_THREADS)
    app.state.witness_submitter = submitter  # issue 5
    return app
