"""Routes for sharing exhibits and for court and defence access.

`routes()` is added to the app's table by `server.api.routes`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.api import schemas
from server.api.guard import first
from server.api.http import call, call_with_body, case_id_of, exhibit_id_of
from server.api.responses import json_response
from server.errors import InvalidRequestError
from server.permissions import Action
from server.services import cases, sharing

CASE = "/api/cases/{case_id}"
EXHIBIT = CASE + "/exhibits/{exhibit_id}"


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
        first(
            case_id,
            Action.EXHIBIT_SHARE,
            lambda ws, p, body: sharing.share_exhibit(
                ws, p, case_id, exhibit_id, share_request(body)
            ),
        ),
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
        request,
        first(
            case_id,
            Action.ACCESS_GRANT,
            lambda ws, p, body: cases.grant_access(ws, p, case_id, schemas.grant(body)),
        ),
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
