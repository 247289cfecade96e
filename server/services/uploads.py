"""The background sweep of content writes: expiry of abandoned tus uploads and recovery of
ingests a crash interrupted (`server.services.content.sweep`, ADR 0012).

One thread per app, started with it: a sweep at start, then every `interval` seconds.
Every server of a scaled-out deployment runs one; sweeps are safe to run concurrently.
"""

from __future__ import annotations

import logging
import threading

from server.services import content, exports
from server.services.workspace import Workspace

log = logging.getLogger("jitc.content")

MAX_INTERVAL = 300.0


def default_interval(ws: Workspace) -> float:
    """Often enough that an upload outlives its expiry by a tenth at most."""
    return max(1.0, min(MAX_INTERVAL, ws.settings.upload_expiry / 10))


class Sweeper:
    def __init__(self, ws: Workspace, *, interval: float | None = None) -> None:
        self._ws = ws
        self._interval = default_interval(ws) if interval is None else interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="jitc-content-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                exports.sweep_partial_exports(self._ws)  # issue 5: crashed exports' files
                report = content.sweep(self._ws)
            except Exception:  # keep sweeping: the next run retries
                log.exception("content sweep failed")
            else:
                if report.recovered or report.orphans or report.expired:
                    log.warning(
                        "content sweep: %d uploads expired, %d ingests recovered, %d orphans",
                        report.expired,
                        report.recovered,
                        report.orphans,
                    )
            self._stop.wait(self._interval)
