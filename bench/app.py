"""The workspace app with two endpoints that exist only for the benchmarks, never in the
production app or its settings:

    PUT  /api/bench/discard                    authenticate, read the body, keep nothing:
                                               what bench/ingest_bench.py compares ingest with
    POST /api/bench/cases/{case_id}/exhibits   the same authenticated, authorised insert as
                                               registering an exhibit, without the custody
                                               work: what bench/append_bench.py prices it by

Serve it as `jitc serve` serves the workspace (settings from the environment):

    .venv/bin/python bench/app.py --port 8000 [--workers N]
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from server.api import schemas  # noqa: E402
from server.api.http import call, call_with_body, case_id_of  # noqa: E402
from server.api.responses import json_response  # noqa: E402
from server.app import create_app  # noqa: E402
from server.auth import Principal  # noqa: E402
from server.config import Settings  # noqa: E402
from server.db import write_transaction  # noqa: E402
from server.permissions import Action, authorize  # noqa: E402
from server.repositories import exhibits as exhibit_repo  # noqa: E402
from server.services.cases import standing  # noqa: E402
from server.services.exhibits import NewExhibit  # noqa: E402
from server.services.workspace import Workspace  # noqa: E402


def insert_exhibit_without_custody(
    ws: Workspace, principal: Principal, case_id: str, new: NewExhibit
) -> dict[str, Any]:
    """What `services.exhibits.register_exhibit` does but the custody log: authorise and
    insert the row, in one plain transaction (no case lock, no entry, no checkpoint)."""
    exhibit_id = str(uuid.uuid4())
    with write_transaction(ws.engine) as conn:
        authorize(principal, Action.EXHIBIT_REGISTER, standing(conn, case_id, principal))
        row = exhibit_repo.new_exhibit_row(
            exhibit_id=exhibit_id,
            case_id=case_id,
            label=new.label,
            description=new.description,
            owner=principal.jurisdiction,
            acquisition=json.dumps(new.acquisition, sort_keys=True, separators=(",", ":")),
            now=datetime.now(UTC),
            last_leaf=None,
        )
        exhibit_repo.insert_now(conn, row)
    return {"id": exhibit_id, "seq": -1}


async def plain_insert(request: Request) -> Response:
    case_id = case_id_of(request)
    created = await call_with_body(
        request,
        lambda ws, p, body: insert_exhibit_without_custody(
            ws, p, case_id, schemas.new_exhibit(body)
        ),
    )
    return json_response(created, status_code=201)


async def discard(request: Request) -> Response:
    await call(request, lambda _ws, _p: None)  # the same token check as every route
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return json_response({"size": size})


def create_bench_app() -> Starlette:
    app = create_app()
    app.router.routes.extend(
        [
            Route("/api/bench/discard", discard, methods=["PUT"]),
            Route("/api/bench/cases/{case_id}/exhibits", plain_insert, methods=["POST"]),
        ]
    )
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    import uvicorn  # noqa: PLC0415 - only serving needs it

    Workspace.open(Settings.from_env()).close()  # schema check and log key before listening
    uvicorn.run(
        "bench.app:create_bench_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        server_header=False,
        date_header=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
