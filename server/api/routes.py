"""HTTP routes. Each one parses its input, authenticates, and calls one service function.

Blocking work (token checks, database, signing) runs on worker threads, in one hop per
request: `_call` authenticates and runs the service in the same thread.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.api import content, court, schemas, sharing
from server.api.allow import with_allow
from server.api.guard import first
from server.api.http import call, call_with_body, case_id_of, exhibit_id_of, workspace
from server.api.responses import json_response
from server.auth import Principal
from server.permissions import Action
from server.services import cases, exhibits, log_read, witnessing
from server.services.pagination import Page, PageRequest
from server.services.workspace import Workspace

JSONL = "application/jsonl"


def _page_json(page: Page[Any]) -> dict[str, Any]:
    return {"items": [item.to_json() for item in page.items], "next_cursor": page.next_cursor}


def _page_request(request: Request) -> PageRequest:
    return schemas.page_request(
        request.query_params.get("limit"), request.query_params.get("cursor")
    )


# --- cases ---------------------------------------------------------------------------


async def create_case(request: Request) -> Response:
    created = await call_with_body(
        request, lambda ws, p, body: cases.create_case(ws, p, schemas.new_case(body))
    )
    return json_response(
        created.to_json(), status_code=201, headers={"Location": f"/api/cases/{created.id}"}
    )


async def list_cases(request: Request) -> Response:
    page_request = _page_request(request)
    page = await call(request, lambda ws, p: cases.list_cases(ws, p, page_request))
    return json_response(_page_json(page))


async def get_case(request: Request) -> Response:
    case_id = case_id_of(request)
    detail = await call(request, lambda ws, p: cases.get_case(ws, p, case_id))
    return json_response(detail.to_json())


async def add_party(request: Request) -> Response:
    """A proposal (202 while consents are pending; 201 when the state is a party now)."""
    case_id = case_id_of(request)
    outcome = await call_with_body(
        request,
        first(
            case_id,
            Action.PARTY_ADD,
            lambda ws, p, body: cases.propose_party(ws, p, case_id, schemas.party(body)),
        ),
    )
    return json_response(outcome.to_json(), status_code=outcome.status)


async def approve_party(request: Request) -> Response:
    case_id = case_id_of(request)
    seq = schemas.non_negative(request.path_params["seq"], "proposal")
    assert seq is not None
    outcome = await call(request, lambda ws, p: cases.approve_party(ws, p, case_id, seq))
    return json_response(outcome.to_json(), status_code=outcome.status)


async def remove_party(request: Request) -> Response:
    case_id = case_id_of(request)
    code = schemas.jurisdiction_code(request.path_params["code"])
    recorded = await call(request, lambda ws, p: cases.remove_party(ws, p, case_id, code))
    return json_response(recorded.to_json())


async def grant_access(request: Request) -> Response:
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


async def revoke_access(request: Request) -> Response:
    case_id = case_id_of(request)
    recorded = await call_with_body(
        request,
        first(
            case_id,
            Action.ACCESS_REVOKE,
            lambda ws, p, body: cases.revoke_access(
                ws, p, case_id, schemas.grant(body, scope=False)
            ),
        ),
    )
    return json_response(recorded.to_json())


# --- exhibits and notes --------------------------------------------------------------


async def register_exhibit(request: Request) -> Response:
    case_id = case_id_of(request)
    created = await call_with_body(
        request,
        first(
            case_id,
            Action.EXHIBIT_REGISTER,
            lambda ws, p, body: exhibits.register_exhibit(
                ws, p, case_id, schemas.new_exhibit(body)
            ),
        ),
    )
    return json_response(
        created.to_json(),
        status_code=201,
        headers={"Location": f"/api/cases/{case_id}/exhibits/{created.id}"},
    )


async def list_exhibits(request: Request) -> Response:
    case_id = case_id_of(request)
    page_request = _page_request(request)
    page = await call(request, lambda ws, p: exhibits.list_exhibits(ws, p, case_id, page_request))
    return json_response(_page_json(page))


async def get_exhibit(request: Request) -> Response:
    case_id, exhibit_id = case_id_of(request), exhibit_id_of(request)
    view = await call(request, lambda ws, p: exhibits.get_exhibit(ws, p, case_id, exhibit_id))
    return json_response(view.to_json())


async def seal_exhibit(request: Request) -> Response:
    case_id, exhibit_id = case_id_of(request), exhibit_id_of(request)
    recorded = await call_with_body(
        request,
        first(
            case_id,
            Action.EXHIBIT_SEAL,
            lambda ws, p, body: exhibits.seal_exhibit(
                ws, p, case_id, exhibit_id, schemas.reason(body)
            ),
        ),
    )
    return json_response(recorded.to_json())


async def set_hold(request: Request) -> Response:
    case_id, exhibit_id = case_id_of(request), exhibit_id_of(request)

    def work(ws: Workspace, p: Principal, body: dict[str, Any]) -> exhibits.HoldSet:
        reason, authority = schemas.hold(body)
        return exhibits.set_hold(ws, p, case_id, exhibit_id, reason=reason, authority=authority)

    held = await call_with_body(request, first(case_id, Action.HOLD_SET, work))
    return json_response(held.to_json())


async def release_hold(request: Request) -> Response:
    case_id, exhibit_id = case_id_of(request), exhibit_id_of(request)

    def work(ws: Workspace, p: Principal, body: dict[str, Any]) -> exhibits.HoldReleased:
        reason, hold = schemas.release(body)
        return exhibits.release_hold(ws, p, case_id, exhibit_id, reason=reason, hold=hold)

    released = await call_with_body(request, first(case_id, Action.HOLD_RELEASE, work))
    return json_response(released.to_json())


async def add_note(request: Request) -> Response:
    case_id = case_id_of(request)

    def work(ws: Workspace, p: Principal, body: dict[str, Any]) -> exhibits.NoteCreated:
        exhibit_id, text = schemas.note(body)
        return exhibits.add_note(ws, p, case_id, exhibit_id, text)

    created = await call_with_body(request, first(case_id, Action.NOTE_ADD, work))
    return json_response(created.to_json(), status_code=201)


async def list_notes(request: Request) -> Response:
    case_id = case_id_of(request)
    page_request = _page_request(request)
    page = await call(request, lambda ws, p: exhibits.list_notes(ws, p, case_id, page_request))
    return json_response(_page_json(page))


# --- the custody log -----------------------------------------------------------------


async def read_log(request: Request) -> Response:
    case_id = case_id_of(request)
    first = schemas.non_negative(request.query_params.get("from"), "from") or 0
    end = schemas.non_negative(request.query_params.get("to"), "to")
    page = await call(request, lambda ws, p: log_read.read_entries(ws, p, case_id, first, end))
    headers = {"JITC-Log-Size": str(page.size), "JITC-Log-End": str(page.end)}
    return Response(page.lines, media_type=JSONL, headers=headers)


async def checkpoint(request: Request) -> Response:
    case_id = case_id_of(request)
    # With the cosignatures collected, and whether they meet the case's quorum.
    note, witnessed = await call(
        request, lambda ws, p: witnessing.served_checkpoint(ws, p, case_id)
    )
    return Response(
        note, media_type="text/plain; charset=utf-8", headers={"JITC-Witnessed": witnessed}
    )


async def inclusion_proof(request: Request) -> Response:
    case_id = case_id_of(request)
    seq = schemas.non_negative(request.query_params.get("seq"), "seq")
    if seq is None:
        seq = -1  # refused by the service with the valid range
    size = schemas.non_negative(request.query_params.get("size"), "size")
    proof = await call(request, lambda ws, p: log_read.inclusion(ws, p, case_id, seq, size))
    return json_response(proof.to_json())


async def consistency_proof(request: Request) -> Response:
    case_id = case_id_of(request)
    old = schemas.non_negative(request.query_params.get("from"), "from") or 0
    new = schemas.non_negative(request.query_params.get("to"), "to")
    proof = await call(request, lambda ws, p: log_read.consistency(ws, p, case_id, old, new))
    return json_response(proof.to_json())


async def log_key(request: Request) -> Response:
    ws = workspace(request)
    return json_response({"name": ws.settings.log_name, "vkey": ws.signer.vkey()})


async def openapi(request: Request) -> Response:
    from server.api.openapi import openapi_document  # noqa: PLC0415 - built on demand

    return json_response(openapi_document(request.app.routes))


CASE = "/api/cases/{case_id}"
EXHIBIT = CASE + "/exhibits/{exhibit_id}"


def routes() -> list[BaseRoute]:
    table: list[BaseRoute] = [
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/api/log-key", log_key, methods=["GET"]),
        Route("/api/cases", create_case, methods=["POST"]),
        Route("/api/cases", list_cases, methods=["GET"]),
        Route(CASE, get_case, methods=["GET"]),
        Route(CASE + "/parties", add_party, methods=["POST"]),
        Route(CASE + "/parties/proposals/{seq}/approve", approve_party, methods=["POST"]),
        Route(CASE + "/parties/{code}", remove_party, methods=["DELETE"]),
        Route(CASE + "/grants", grant_access, methods=["POST"]),
        Route(CASE + "/grants/revoke", revoke_access, methods=["POST"]),
        Route(CASE + "/exhibits", register_exhibit, methods=["POST"]),
        Route(CASE + "/exhibits", list_exhibits, methods=["GET"]),
        Route(EXHIBIT, get_exhibit, methods=["GET"]),
        Route(EXHIBIT + "/seal", seal_exhibit, methods=["POST"]),
        Route(EXHIBIT + "/hold", set_hold, methods=["POST"]),
        Route(EXHIBIT + "/hold/release", release_hold, methods=["POST"]),
        Route(CASE + "/notes", add_note, methods=["POST"]),
        Route(CASE + "/notes", list_notes, methods=["GET"]),
        Route(CASE + "/log", read_log, methods=["GET"]),
        Route(CASE + "/checkpoint", checkpoint, methods=["GET"]),
        Route(CASE + "/proof/inclusion", inclusion_proof, methods=["GET"]),
        Route(CASE + "/proof/consistency", consistency_proof, methods=["GET"]),
    ]
    return with_allow(table + sharing.routes() + court.routes() + content.routes())
