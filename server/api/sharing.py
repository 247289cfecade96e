"""Routes for sharing exhibits and for court and defence access (issue 5, item 1).

`routes()` is added to the app's table by `server.api.routes`. The small call helpers
here are shared with `server.api.court`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.api import schemas
from server.api.http import bearer_token, in_thread, read_body, remote, workspace
from server.api.responses import json_response
from server.auth import Principal
from server.errors import InvalidRequestError
from server.services import cases, sharing
from server.services.workspace import Workspace

T = TypeVar("T")
CASE = "/api/cases/{case_id}"
EXHIBIT = CASE + "/exhibits/{exhibit_id}"


async def call(request: Request, work: Callable[[Workspace, Principal], T]) -> T:
    """Authenticate and run `work` on a worker thread (one hop, as server.api.routes)."""
    ws = workspace(request)
    token = bearer_token(request)
    client = remote(request)

    def run() -> T:
        return work(ws, ws.authenticate(token, remote=client))

    return await in_thread(request, run)


async def call_with_body(
    request: Request, work: Callable[[Workspace, Principal, dict[str, Any]], T]
) -> T:
    raw = await read_body(request)
    return await call(request, lambda ws, p: work(ws, p, schemas.body_object(raw)))


def case_id_of(request: Request) -> str:
    return schemas.uuid_text(request.path_params["case_id"], "case id")


def exhibit_id_of(request: Request) -> str:
    return schemas.uuid_text(request.path_params["exhibit_id"], "exhibit id")


def share_request(body: dict[str, Any]) -> sharing.ShareRequest:
    extra = body.keys() - {"jurisdiction", "conditions"}
    if extra:
        raise InvalidRequestError(f"unknown field(s): {', '.join(sorted(extra))}")
    conditions = schemas.text(
        body, "conditions", max_length=sharing.MAX_CONDITIONS, required=False, empty=True
    )
    return sharing.ShareRequest(schemas.jurisdiction_code(body.get("jurisdiction")), conditions)


async def share_exhibit(request: Request) -> Response:
    case_id, exhibit_id = case_id_of(request), exhibit_id_of(request)
    recorded = await call_with_body(
        request,
        lambda ws, p, body: sharing.share_exhibit(ws, p, case_id, exhibit_id, share_request(body)),
    )
    return json_response(recorded.to_json(), status_code=201)


async def revoke_share(request: Request) -> Response:
    case_id, exhibit_id = case_id_of(request), exhibit_id_of(request)
    code = schemas.jurisdiction_code(request.path_params["code"])
    recorded = await call(
        request, lambda ws, p: sharing.revoke_share(ws, p, case_id, exhibit_id, code)
    )
    return json_response(recorded.to_json())


async def list_exhibit_shares(request: Request) -> Response:
    case_id, exhibit_id = case_id_of(request), exhibit_id_of(request)
    views = await call(request, lambda ws, p: sharing.list_shares(ws, p, case_id, exhibit_id))
    return json_response({"items": [view.to_json() for view in views]})


async def list_case_shares(request: Request) -> Response:
    case_id = case_id_of(request)
    views = await call(request, lambda ws, p: sharing.list_shares(ws, p, case_id, None))
    return json_response({"items": [view.to_json() for view in views]})


async def grant_access(request: Request) -> Response:
    """POST /access: court or defence access, the same act as POST /grants."""
    case_id = case_id_of(request)
    recorded = await call_with_body(
        request, lambda ws, p, body: cases.grant_access(ws, p, case_id, schemas.grant(body))
    )
    return json_response(recorded.to_json(), status_code=201)


def routes() -> list[BaseRoute]:
    return [
        Route(EXHIBIT + "/shares", share_exhibit, methods=["POST"]),
        Route(EXHIBIT + "/shares", list_exhibit_shares, methods=["GET"]),
        Route(EXHIBIT + "/shares/{code}", revoke_share, methods=["DELETE"]),
        Route(CASE + "/shares", list_case_shares, methods=["GET"]),
        Route(CASE + "/access", grant_access, methods=["POST"]),
    ]
