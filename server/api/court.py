"""Routes for the case's witness policy and court bundles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send

from server.api import schemas
from server.api.guard import first
from server.api.http import call, call_with_body, case_id_of, runtime
from server.api.responses import json_response
from server.api.sharing import CASE
from server.errors import InvalidRequestError
from server.permissions import Action
from server.services import exports, witnessing

POLICY_TYPE = "text/plain; charset=utf-8"


def _quorum(body: dict[str, Any]) -> int | None:
    if set(body) != {"quorum"}:
        raise InvalidRequestError('the body must be {"quorum": k or "all"}')
    value = body["quorum"]
    if value == "all":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError('quorum must be a positive integer or "all"', code="bad_quorum")
    return value


async def get_policy(request: Request) -> Response:
    case_id = case_id_of(request)
    text = await call(request, lambda ws, p: witnessing.get_policy_text(ws, p, case_id))
    return Response(text, media_type=POLICY_TYPE)


async def set_policy(request: Request) -> Response:
    case_id = case_id_of(request)
    text = await call_with_body(
        request, lambda ws, p, body: witnessing.set_quorum(ws, p, case_id, _quorum(body))
    )
    return Response(text, media_type=POLICY_TYPE)


def _export_request(body: dict[str, Any]) -> exports.ExportRequest:
    extra = body.keys() - {"exhibits", "disclosure", "content", "recipient"}
    if extra:
        raise InvalidRequestError(f"unknown field(s): {', '.join(sorted(extra))}")
    chosen = body.get("exhibits")
    if chosen is not None:
        if not isinstance(chosen, list) or not chosen:
            raise InvalidRequestError("exhibits must be a non-empty list of ids, or null")
        chosen = [schemas.uuid_text(x if isinstance(x, str) else "", "exhibit id") for x in chosen]
        if len(set(chosen)) != len(chosen):
            raise InvalidRequestError("exhibits lists an id twice")
    disclosure = body.get("disclosure", "full")
    if disclosure not in ("full", "selective"):
        raise InvalidRequestError('disclosure must be "full" or "selective"')
    content = body.get("content", False)
    if not isinstance(content, bool):
        raise InvalidRequestError("content must be true or false")
    recipient = schemas.text(body, "recipient", max_length=500)
    return exports.ExportRequest(
        exhibits=None if chosen is None else tuple(chosen),
        disclosure=disclosure,
        content=content,
        recipient=recipient,
    )


def _respond_async(request: Request) -> bool:
    """`Prefer: respond-async` (RFC 7240 4.1), among other preferences or alone."""
    preferences = ",".join(request.headers.getlist("prefer")).lower()
    return "respond-async" in [p.split(";")[0].strip() for p in preferences.split(",")]


async def create_export(request: Request) -> Response:
    case_id = case_id_of(request)
    if _respond_async(request):
        background = runtime(request)
        started = await call_with_body(
            request,
            first(
                case_id,
                Action.EXPORT_CREATE,
                lambda ws, p, body: exports.start_export(
                    ws, p, case_id, _export_request(body), background=background
                ),
            ),
        )
        return json_response(
            started.to_json(),
            status_code=202,
            headers={
                "Location": f"/api/cases/{case_id}/exports/{started.row.id}/status",
                "Preference-Applied": "respond-async",
                "Vary": "Prefer",
            },
        )
    made = await call_with_body(
        request,
        first(
            case_id,
            Action.EXPORT_CREATE,
            lambda ws, p, body: exports.create_export(ws, p, case_id, _export_request(body)),
        ),
    )
    return json_response(
        made.to_json(),
        status_code=201,
        headers={"Location": f"/api/cases/{case_id}/exports/{made.id}", "Vary": "Prefer"},
    )


async def list_exports(request: Request) -> Response:
    case_id = case_id_of(request)
    views = await call(request, lambda ws, p: exports.list_exports(ws, p, case_id))
    return json_response({"items": [view.to_json() for view in views]})


async def export_status(request: Request) -> Response:
    case_id = case_id_of(request)
    export_id = schemas.uuid_text(request.path_params["export_id"], "export id")
    view = await call(request, lambda ws, p: exports.export_status(ws, p, case_id, export_id))
    return json_response(view.to_json())


async def download_export(request: Request) -> Response:
    case_id = case_id_of(request)
    export_id = schemas.uuid_text(request.path_params["export_id"], "export id")
    ready = await call(
        request, lambda ws, p: exports.bundle_file(ws, p, case_id, export_id, record=False)
    )

    async def record() -> None:
        await call(request, lambda ws, p: exports.record_bundle_download(ws, p, case_id, export_id))

    # Streamed from disk in chunks: a bundle with GiBs of content never sits in memory.
    return RecordedFileResponse(
        ready.path,
        record=record,
        media_type="application/zip",
        filename=f"jitc-bundle-{export_id}.zip",
        headers={"JITC-Bundle-SHA256": ready.sha256},
    )


class RecordedFileResponse(FileResponse):
    """A file whose sending is an access: `record` runs just before a GET's 200 or 206
    goes out, and only then. HEAD, 304 and 416 (and a malformed Range's 400) send no
    bundle bytes and record nothing. If `record` refuses (a grant revoked meanwhile),
    nothing has been sent yet and the refusal is the answer."""

    def __init__(self, path: Path, *, record: Callable[[], Awaitable[None]], **kw: Any) -> None:
        super().__init__(path, **kw)
        self._record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sends_bytes = scope.get("method") == "GET"

        async def gated(message: Message) -> None:
            start = message["type"] == "http.response.start"
            if sends_bytes and start and message["status"] in (200, 206):
                await self._record()
            await send(message)

        await super().__call__(scope, receive, gated)


def routes() -> list[BaseRoute]:
    return [
        Route(CASE + "/policy", get_policy, methods=["GET"]),
        Route(CASE + "/policy", set_policy, methods=["PUT"]),
        Route(CASE + "/exports", create_export, methods=["POST"]),
        Route(CASE + "/exports", list_exports, methods=["GET"]),
        Route(CASE + "/exports/{export_id}", download_export, methods=["GET"]),
        Route(CASE + "/exports/{export_id}/status", export_status, methods=["GET"]),
    ]
