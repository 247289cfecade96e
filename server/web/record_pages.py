"""The pages of a case's record: notes, the custody timeline and each entry's proof,
court bundles (exports), and the page telling a bundle's recipient how to verify it."""

from __future__ import annotations

import time

from starlette.responses import JSONResponse, Response

from server.api import schemas
from server.api.bundles import bundle_response
from server.auth import Principal
from server.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    ServerError,
)
from server.services import exhibits, exports
from server.services.exports.jobs import Background
from server.services.workspace import Workspace
from server.web import views
from server.web.context import Web, page
from server.web.pagekit import CONTENT_CSP, act, case_id_of, checked_id, exhibit_url

# --- notes -----------------------------------------------------------------------------------


@page
async def notes(web: Web) -> Response:
    case_id = case_id_of(web)
    view = await web.run(lambda ws, p: views.notes_page(ws, p, case_id))
    return web.page("notes.html", view=view, case=view.detail)


@page
async def add_note(web: Web) -> Response:
    case_id = case_id_of(web)
    exhibit = await web.field("exhibit") or None
    text = await web.field("text")
    back = exhibit_url(case_id, exhibit) if exhibit else f"/cases/{case_id}/notes"
    if exhibit is not None:
        checked_id(exhibit, "exhibit_not_found")

    def work(ws: Workspace, p: Principal) -> object:
        exhibit_id, body = schemas.note({"exhibit": exhibit, "text": text})
        return exhibits.add_note(ws, p, case_id, exhibit_id, body)

    return await act(web, work, "note_added", back)


# --- the custody log ----------------------------------------------------------------------


@page
async def log_page(web: Web) -> Response:
    case_id = case_id_of(web)
    params = web.request.query_params
    filters = views.LogFilters(
        type=params.get("type", "")[:100],
        exhibit=params.get("exhibit", "")[:100],
        state=params.get("state", "")[:40],
    )
    raw_page = params.get("page", "1")
    number = int(raw_page) if raw_page.isdigit() and len(raw_page) < 9 else 1
    view = await web.run(lambda ws, p: views.log_page(ws, p, case_id, filters, number))
    return web.page("log.html", view=view, case=view.detail)


def _seq(web: Web) -> int:
    raw = web.request.path_params["seq"]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFoundError("no such entry", code="not_found")
    return int(raw)


@page
async def entry_page(web: Web) -> Response:
    case_id, seq = case_id_of(web), _seq(web)
    try:
        (detail, entry, proof), may = await web.run(
            lambda ws, p: (
                views.entry_with_proof(ws, p, case_id, seq),
                views.case_may(ws, p, case_id),
            )
        )
    except InvalidRequestError:
        return web.error(404, "not_found")
    return web.page("entry.html", case=detail, entry=entry, proof=proof, case_may=may)


@page
async def proof_json(web: Web) -> Response:
    case_id, seq = case_id_of(web), _seq(web)
    try:
        _detail, _entry, proof = await web.run(
            lambda ws, p: views.entry_with_proof(ws, p, case_id, seq)
        )
    except InvalidRequestError:
        return web.error(404, "not_found")
    return JSONResponse(
        proof.to_json(),
        headers={"Content-Disposition": f'attachment; filename="inclusion-{seq}.json"'},
    )


# --- exports -------------------------------------------------------------------------------


def _export_request(
    disclosure: str, with_content: str, recipient: str, chosen: list[str]
) -> exports.ExportRequest:
    if disclosure not in ("full", "selective"):
        raise InvalidRequestError('disclosure must be "full" or "selective"')
    ids = tuple(schemas.uuid_text(x, "exhibit id") for x in chosen)
    if len(set(ids)) != len(ids):
        raise InvalidRequestError("exhibits lists an id twice")
    return exports.ExportRequest(
        exhibits=ids or None,
        disclosure=disclosure,
        content=with_content == "yes",
        recipient=schemas.text({"recipient": recipient}, "recipient", max_length=500),
    )


@page
async def exports_page(web: Web) -> Response:
    case_id = case_id_of(web)
    view = await web.run(lambda ws, p: views.exports_page(ws, p, case_id))
    if "export.read" not in view.may and "export.create" not in view.may:
        return web.error(403, "forbidden")
    return web.page("exports.html", view=view, case=view.detail)


@page
async def create_export(web: Web) -> Response:
    case_id = case_id_of(web)
    disclosure = await web.field("disclosure")
    with_content = await web.field("content")
    recipient = await web.field("recipient")
    chosen = await web.fields("exhibits")
    back = f"/cases/{case_id}/exports"
    # The app's background work writes the bundle, as for the API's respond-async.
    background: Background = web.request.app.state.runtime
    try:
        started = await web.run(
            lambda ws, p: exports.start_export(
                ws,
                p,
                case_id,
                _export_request(disclosure, with_content, recipient, chosen),
                background=background,
            )
        )
    except (ConflictError, InvalidRequestError, PayloadTooLargeError) as exc:
        web.flash("error", exc.code, exc.message)
        return web.redirect(back)
    except ServerError as exc:
        if exc.code in ("exports_busy", "export_no_room"):
            web.flash("error", exc.code, exc.message)
            return web.redirect(back)
        raise
    web.flash("ok", "export_started")
    return web.redirect(f"{back}/{started.row.id}")


def _export_id(web: Web) -> str:
    return checked_id(web.request.path_params["export_id"], "export_not_found")


@page
async def export_page(web: Web) -> Response:
    case_id, export_id = case_id_of(web), _export_id(web)
    (detail, line), may = await web.run(
        lambda ws, p: (
            views.export_page(ws, p, case_id, export_id),
            views.case_may(ws, p, case_id),
        )
    )
    return web.page("export.html", case=detail, export=line, case_may=may)


@page
async def download_bundle(web: Web) -> Response:
    case_id, export_id = case_id_of(web), _export_id(web)
    try:
        # HEAD sends no bundle bytes: checked alike, no access logged (as the API).
        sends = web.request.method != "HEAD"
        ready = await web.run(
            lambda ws, p: exports.bundle_file(ws, p, case_id, export_id, record=sends)
        )
    except ConflictError as exc:
        web.flash("error", exc.code, exc.message)
        return web.redirect(f"/cases/{case_id}/exports/{export_id}")
    return bundle_response(ready, export_id, {"Content-Security-Policy": CONTENT_CSP})


# --- for recipients of a bundle -------------------------------------------------------------


@page
async def verify_help(web: Web) -> Response:
    await web.identify()
    log_name = web.ws.settings.log_name
    return web.page("verify_help.html", log_name=log_name, year=time.gmtime().tm_year)


@page
async def licenses(web: Web) -> Response:
    await web.identify()
    from server.web.assets import vendored  # noqa: PLC0415

    return web.page("licenses.html", assets=vendored())
