"""The workspace's pages: each parses its input, re-verifies the sign-in and calls the
same service functions as the API (so the same permissions apply and the same custody
entries are written), then renders a template or redirects (POST, then 303, then GET).

Form values are parsed by the API's own parsers (server.api.schemas) wherever one exists:
one set of input rules for both doors.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import quote

from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from server.api import schemas
from server.api.sharing import share_request
from server.auth import Principal
from server.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    ServerError,
)
from server.services import cases, content, exhibits, exports, sharing, witnessing
from server.services.exports.jobs import Background
from server.services.workspace import Workspace
from server.web import views
from server.web.context import SignedOut, Web, log_sign_in, page, remote_of, safe_next
from server.web.security import UPLOAD_CSP
from server.web.session import Session
from server.web.signin import MAX_TOKEN_CHARS, StateToken, token_from_form

_LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?")
HASH_FIELDS: Final = ("sha256", "sha1", "md5")
CONTENT_CSP: Final = "sandbox; default-src 'none'"
"""Evidence sent to a browser never runs as a page of this origin (an HTML exhibit)."""


def _case_id(web: Web) -> str:
    return _id(web.request.path_params["case_id"], "case_not_found")


def _exhibit_id(web: Web) -> str:
    return _id(web.request.path_params["exhibit_id"], "exhibit_not_found")


def _id(value: str, code: str) -> str:
    if schemas.UUID_TEXT.fullmatch(value) is None:
        raise NotFoundError("no such id", code=code)
    return value


def _case_url(case_id: str) -> str:
    return f"/cases/{case_id}"


def _exhibit_url(case_id: str, exhibit_id: str) -> str:
    return f"/cases/{case_id}/exhibits/{exhibit_id}"


async def _act(
    web: Web, work: Callable[[Workspace, Principal], object], done: str, back: str
) -> Response:
    """Run an action; on a refusal the user can mend (conflict, bad input), go back to
    the page with the reason; 403, 404 and a sign-in that ended are pages of their own."""
    try:
        await web.run(work)
    except (ConflictError, InvalidRequestError) as exc:
        web.flash("error", exc.code, exc.message)
        return web.redirect(back)
    web.flash("ok", done)
    return web.redirect(back)


# --- signing in and out ----------------------------------------------------------------


@page
async def home(web: Web) -> Response:
    return web.redirect("/cases" if web.session.signed_in else "/sign-in")


@page
async def sign_in_form(web: Web) -> Response:
    if await web.identify() is not None:
        return web.redirect(safe_next(web.request.query_params.get("next")))
    return web.page(
        "sign_in.html", next=safe_next(web.request.query_params.get("next")), problem=None
    )


@page
async def sign_in(web: Web) -> Response:
    target = safe_next(await web.field("next"))
    token = token_from_form(await web.field("token"), await web.file_bytes("token_file"))
    problem = None
    if not token:
        problem = "token_missing"
    elif len(token) > MAX_TOKEN_CHARS:
        problem = "token_too_long"
    if problem is None:
        method = StateToken()
        try:
            principal = await web.verify(method, token)
        except SignedOut as out:
            problem = out.reason
        else:
            web.set_session(web.session.signed_in_as(method.name, token, principal.expires))
            log_sign_in("web_sign_in", principal, remote_of(web.request))
            return web.redirect(target)
    return web.page("sign_in.html", status=400, next=target, problem=web.refusal_text(problem))


@page
async def sign_out(web: Web) -> Response:
    principal = await web.identify()
    log_sign_in("web_sign_out", principal, remote_of(web.request))
    web.set_session(Session.anonymous())
    web.flash("ok", "signed_out")
    return web.redirect("/sign-in")


# --- cases -------------------------------------------------------------------------------


@page
async def case_list(web: Web) -> Response:
    query = web.request.query_params.get("q", "")[:200]
    found, cut = await web.run(lambda ws, p: views.case_list(ws, p, query))
    assert web.principal is not None
    return web.page(
        "cases.html",
        cases=found,
        q=query,
        cut=cut,
        may_create=views.may_create_case(web.principal),
    )


@page
async def new_case_form(web: Web) -> Response:
    states = await web.run(lambda ws, _p: views.jurisdictions(ws))
    assert web.principal is not None
    if not views.may_create_case(web.principal):
        return web.error(403, "forbidden")
    return web.page("case_new.html", states=states, values={}, problem=None)


@page
async def create_case(web: Web) -> Response:
    values = {
        "title": await web.field("title"),
        "agreement": await web.field("agreement"),
        "parties": await web.fields("parties"),
    }
    try:
        created = await web.run(
            lambda ws, p: cases.create_case(ws, p, schemas.new_case(dict(values)))
        )
    except (InvalidRequestError, ConflictError) as exc:
        states = await web.run(lambda ws, _p: views.jurisdictions(ws))
        problem = web.refusal_text(exc.code, exc.message)
        return web.page("case_new.html", status=400, states=states, values=values, problem=problem)
    web.flash("ok", "case_created")
    return web.redirect(_case_url(created.id))


@page
async def case_page(web: Web) -> Response:
    case_id = _case_id(web)
    cursor = web.request.query_params.get("cursor")
    view = await web.run(lambda ws, p: views.case_page(ws, p, case_id, cursor))
    return web.page("case.html", view=view, case=view.detail)


@page
async def add_party(web: Web) -> Response:
    case_id = _case_id(web)
    body = {"jurisdiction": await web.field("jurisdiction")}
    return await _act(
        web,
        lambda ws, p: cases.propose_party(ws, p, case_id, schemas.party(body)),
        "party_added",
        _case_url(case_id),
    )


@page
async def remove_party(web: Web) -> Response:
    case_id = _case_id(web)
    code = await web.field("jurisdiction")
    return await _act(
        web,
        lambda ws, p: cases.remove_party(ws, p, case_id, schemas.jurisdiction_code(code)),
        "party_removed",
        _case_url(case_id),
    )


async def _grant_body(web: Web) -> dict[str, Any]:
    return {
        "jurisdiction": await web.field("jurisdiction"),
        "sub": await web.field("sub"),
        "role": await web.field("role"),
    }


@page
async def grant_access(web: Web) -> Response:
    case_id = _case_id(web)
    body = await _grant_body(web)
    return await _act(
        web,
        lambda ws, p: cases.grant_access(ws, p, case_id, schemas.grant(body)),
        "access_granted",
        _case_url(case_id),
    )


@page
async def revoke_access(web: Web) -> Response:
    case_id = _case_id(web)
    body = await _grant_body(web)
    return await _act(
        web,
        lambda ws, p: cases.revoke_access(ws, p, case_id, schemas.grant(body)),
        "access_revoked",
        _case_url(case_id),
    )


def _quorum(raw: str) -> int | None:
    if raw == "all":
        return None
    value = schemas.non_negative(raw.strip(), "quorum")
    if value is None:
        raise InvalidRequestError("choose a quorum", code="bad_quorum")
    return value


@page
async def set_policy(web: Web) -> Response:
    case_id = _case_id(web)
    raw = await web.field("quorum")
    return await _act(
        web,
        lambda ws, p: witnessing.set_quorum(ws, p, case_id, _quorum(raw)),
        "quorum_set",
        _case_url(case_id),
    )


# --- exhibits --------------------------------------------------------------------------------


def _acquisition_time(raw: str) -> str:
    """RFC 3339 as the API takes it; a browser's datetime-local value is read as UTC (the
    form says so) and given its zone explicitly."""
    value = raw.strip()
    if _LOCAL_TIME.fullmatch(value):
        return value + (":00Z" if len(value) == 16 else "Z")
    return value


async def _exhibit_body(web: Web) -> dict[str, Any]:
    hashes = {}
    for name in HASH_FIELDS:
        value = (await web.field(f"hash_{name}")).strip().lower()
        if value:
            hashes[name] = value
    return {
        "label": await web.field("label"),
        "description": await web.field("description"),
        "acquisition": {
            "tool": await web.field("tool"),
            "operator": await web.field("operator"),
            "time": _acquisition_time(await web.field("time")),
            "hashes": hashes,
        },
    }


@page
async def new_exhibit_form(web: Web) -> Response:
    case_id = _case_id(web)
    detail, may = await web.run(
        lambda ws, p: (cases.get_case(ws, p, case_id), views.case_may(ws, p, case_id))
    )
    if "exhibit.register" not in may:
        return web.error(403, "forbidden")
    assert web.principal is not None
    values = {"operator": web.principal.sub}
    return web.page("exhibit_new.html", case=detail, values=values, problem=None)


@page
async def register_exhibit(web: Web) -> Response:
    case_id = _case_id(web)
    body = await _exhibit_body(web)
    try:
        created = await web.run(
            lambda ws, p: exhibits.register_exhibit(ws, p, case_id, schemas.new_exhibit(body))
        )
    except (InvalidRequestError, ConflictError) as exc:
        detail = await web.run(lambda ws, p: cases.get_case(ws, p, case_id))
        values = {
            k: await web.field(k) for k in ("label", "description", "tool", "operator", "time")
        }
        values |= {f"hash_{n}": await web.field(f"hash_{n}") for n in HASH_FIELDS}
        return web.page(
            "exhibit_new.html",
            status=400,
            case=detail,
            values=values,
            problem=web.refusal_text(exc.code, exc.message),
        )
    web.flash("ok", "exhibit_registered")
    return web.redirect(_exhibit_url(case_id, created.id))


@page
async def exhibit_page(web: Web) -> Response:
    case_id, exhibit_id = _case_id(web), _exhibit_id(web)
    view = await web.run(lambda ws, p: views.exhibit_page(ws, p, case_id, exhibit_id))
    web.csp = UPLOAD_CSP  # hash-wasm compiles WebAssembly (security.py)
    return web.page(
        "exhibit.html",
        view=view,
        case=view.detail,
        exhibit=view.exhibit,
        upload_messages=_upload_messages(web),
    )


def _upload_messages(web: Web) -> dict[str, str]:
    """What upload.js says, in the reader's language; {name} is filled in by the script."""
    _ = web.gettext
    return {
        "hashing": _("Computing the file's SHA-256 in your browser: {percent}"),
        "starting": _("Starting the upload"),
        "resuming": _("Resuming the earlier upload from {offset}"),
        "uploading": _("Uploading: {percent}"),
        "paused": _("Paused. Press Resume, or choose the same file again later."),
        "retrying": _("The connection dropped; trying again"),
        "stored": _("Stored. The server computed SHA-256 {sha256}; it equals your file's."),
        "mismatch": _("The server stored SHA-256 {sha256}, not your file's: report this."),
        "failed": _("The upload failed: {error}. Choose the same file again to resume it."),
        "refused": _("The server refused the upload: {error}"),
        "left": _("about {time}"),
        "per_second": _("{size}/s"),
        "of": _("{sent} of {total}"),
    }


@page
async def seal_exhibit(web: Web) -> Response:
    case_id, exhibit_id = _case_id(web), _exhibit_id(web)
    reason = await web.field("reason")
    return await _act(
        web,
        lambda ws, p: exhibits.seal_exhibit(
            ws, p, case_id, exhibit_id, schemas.reason({"reason": reason})
        ),
        "sealed",
        _exhibit_url(case_id, exhibit_id),
    )


def _hold_action(hold: bool) -> Callable[[Web], Any]:
    async def handler(web: Web) -> Response:
        case_id, exhibit_id = _case_id(web), _exhibit_id(web)
        reason = await web.field("reason")
        # The hold form asks for the reason and the order it rests on in one field, which
        # is then also the hold's authority; a release ends the one open hold.
        authority = await web.field("authority") or reason

        def work(ws: Workspace, p: Principal) -> object:
            if hold:
                text, order = schemas.hold({"reason": reason, "authority": authority})
                return exhibits.set_hold(ws, p, case_id, exhibit_id, reason=text, authority=order)
            text = schemas.reason({"reason": reason})
            return exhibits.release_hold(ws, p, case_id, exhibit_id, reason=text, hold=None)

        return await _act(
            web,
            work,
            "hold_set" if hold else "hold_released",
            _exhibit_url(case_id, exhibit_id),
        )

    handler.__name__ = "set_hold" if hold else "release_hold"
    return handler


@page
async def verify_content(web: Web) -> Response:
    case_id, exhibit_id = _case_id(web), _exhibit_id(web)
    back = _exhibit_url(case_id, exhibit_id)
    try:
        verified = await web.run(lambda ws, p: content.verify(ws, p, case_id, exhibit_id))
    except (ConflictError, InvalidRequestError) as exc:
        web.flash("error", exc.code, exc.message)
        return web.redirect(back)
    web.flash("ok", "verified_ok" if verified.ok else "verified_altered")
    return web.redirect(back)


def _statement(value: str, what: str) -> str:
    # The same bounds the API's dispose route applies (server.api.content).
    if not value.strip() or len(value) > 4000:
        raise InvalidRequestError(f"{what} must be 1 to 4000 characters")
    return value


@page
async def dispose(web: Web) -> Response:
    case_id, exhibit_id = _case_id(web), _exhibit_id(web)
    reason, authority = await web.field("reason"), await web.field("authority")
    return await _act(
        web,
        lambda ws, p: content.dispose(
            ws,
            p,
            case_id,
            exhibit_id,
            reason=_statement(reason, "reason"),
            authority=_statement(authority, "authority"),
        ),
        "disposed",
        _exhibit_url(case_id, exhibit_id),
    )


@page
async def share(web: Web) -> Response:
    case_id, exhibit_id = _case_id(web), _exhibit_id(web)
    body = {
        "jurisdiction": await web.field("jurisdiction"),
        "conditions": await web.field("conditions"),
    }
    return await _act(
        web,
        lambda ws, p: sharing.share_exhibit(ws, p, case_id, exhibit_id, share_request(body)),
        "shared",
        _exhibit_url(case_id, exhibit_id),
    )


@page
async def revoke_share(web: Web) -> Response:
    case_id, exhibit_id = _case_id(web), _exhibit_id(web)
    code = await web.field("jurisdiction")
    return await _act(
        web,
        lambda ws, p: sharing.revoke_share(
            ws, p, case_id, exhibit_id, schemas.jurisdiction_code(code)
        ),
        "share_revoked",
        _exhibit_url(case_id, exhibit_id),
    )


@page
async def download_content(web: Web) -> Response:
    """A POST (it writes exhibit.accessed, so it carries the CSRF token like any change)."""
    case_id, exhibit_id = _case_id(web), _exhibit_id(web)
    purpose_text = await web.field("purpose")
    try:
        got = await web.run(
            lambda ws, p: content.download(
                ws,
                p,
                case_id,
                exhibit_id,
                purpose=content.parse_purpose(purpose_text or None),
                byte_range=None,
                if_range=None,
            )
        )
    except (ConflictError, InvalidRequestError) as exc:
        web.flash("error", exc.code, exc.message)
        return web.redirect(_exhibit_url(case_id, exhibit_id))
    row = got.content
    safe = content.display_filename(row.filename)
    ascii_name = safe.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    headers = {
        "Content-Length": str(row.size),
        "Content-Disposition": (
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(safe, safe='')}"
        ),
        "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(row.sha256)).decode()}:",
        "JITC-Entry-Seq": str(got.seq),
        "Content-Security-Policy": CONTENT_CSP,
    }
    return StreamingResponse(got.chunks, media_type="application/octet-stream", headers=headers)


# --- notes -----------------------------------------------------------------------------------


@page
async def notes(web: Web) -> Response:
    case_id = _case_id(web)
    view = await web.run(lambda ws, p: views.notes_page(ws, p, case_id))
    return web.page("notes.html", view=view, case=view.detail)


@page
async def add_note(web: Web) -> Response:
    case_id = _case_id(web)
    exhibit = await web.field("exhibit") or None
    text = await web.field("text")
    back = _exhibit_url(case_id, exhibit) if exhibit else f"/cases/{case_id}/notes"
    if exhibit is not None:
        _id(exhibit, "exhibit_not_found")

    def work(ws: Workspace, p: Principal) -> object:
        exhibit_id, body = schemas.note({"exhibit": exhibit, "text": text})
        return exhibits.add_note(ws, p, case_id, exhibit_id, body)

    return await _act(web, work, "note_added", back)


# --- the custody log ----------------------------------------------------------------------


@page
async def log_page(web: Web) -> Response:
    case_id = _case_id(web)
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
    case_id, seq = _case_id(web), _seq(web)
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
    case_id, seq = _case_id(web), _seq(web)
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
    case_id = _case_id(web)
    view = await web.run(lambda ws, p: views.exports_page(ws, p, case_id))
    if "export.read" not in view.may and "export.create" not in view.may:
        return web.error(403, "forbidden")
    return web.page("exports.html", view=view, case=view.detail)


@page
async def create_export(web: Web) -> Response:
    case_id = _case_id(web)
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
    return _id(web.request.path_params["export_id"], "export_not_found")


@page
async def export_page(web: Web) -> Response:
    case_id, export_id = _case_id(web), _export_id(web)
    (detail, line), may = await web.run(
        lambda ws, p: (
            views.export_page(ws, p, case_id, export_id),
            views.case_may(ws, p, case_id),
        )
    )
    return web.page("export.html", case=detail, export=line, case_may=may)


@page
async def download_bundle(web: Web) -> Response:
    case_id, export_id = _case_id(web), _export_id(web)
    try:
        ready = await web.run(lambda ws, p: exports.bundle_file(ws, p, case_id, export_id))
    except ConflictError as exc:
        web.flash("error", exc.code, exc.message)
        return web.redirect(f"/cases/{case_id}/exports/{export_id}")
    return FileResponse(
        ready.path,
        media_type="application/zip",
        filename=f"jitc-bundle-{export_id}.zip",
        headers={"JITC-Bundle-SHA256": ready.sha256, "Content-Security-Policy": CONTENT_CSP},
    )


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


CASE: Final = "/cases/{case_id}"
EXHIBIT: Final = CASE + "/exhibits/{exhibit_id}"


def page_routes() -> list[BaseRoute]:
    def get(path: str, endpoint: Any) -> Route:
        return Route(path, endpoint, methods=["GET"], include_in_schema=False)

    def post(path: str, endpoint: Any) -> Route:
        return Route(path, endpoint, methods=["POST"], include_in_schema=False)

    return [
        get("/", home),
        get("/sign-in", sign_in_form),
        post("/sign-in", sign_in),
        post("/sign-out", sign_out),
        get("/cases", case_list),
        get("/cases/new", new_case_form),
        post("/cases", create_case),
        get(CASE, case_page),
        post(CASE + "/parties", add_party),
        post(CASE + "/parties/remove", remove_party),
        post(CASE + "/grants", grant_access),
        post(CASE + "/grants/revoke", revoke_access),
        post(CASE + "/policy", set_policy),
        get(CASE + "/exhibits/new", new_exhibit_form),
        post(CASE + "/exhibits", register_exhibit),
        get(EXHIBIT, exhibit_page),
        post(EXHIBIT + "/seal", seal_exhibit),
        post(EXHIBIT + "/hold", page(_hold_action(hold=True))),
        post(EXHIBIT + "/hold/release", page(_hold_action(hold=False))),
        post(EXHIBIT + "/verify", verify_content),
        post(EXHIBIT + "/dispose", dispose),
        post(EXHIBIT + "/shares", share),
        post(EXHIBIT + "/shares/revoke", revoke_share),
        post(EXHIBIT + "/content", download_content),
        get(CASE + "/notes", notes),
        post(CASE + "/notes", add_note),
        get(CASE + "/log", log_page),
        get(CASE + "/log/{seq}", entry_page),
        get(CASE + "/log/{seq}/proof.json", proof_json),
        get(CASE + "/exports", exports_page),
        post(CASE + "/exports", create_export),
        get(CASE + "/exports/{export_id}", export_page),
        post(CASE + "/exports/{export_id}/bundle", download_bundle),
        get("/verify-bundle", verify_help),
        get("/licenses", licenses),
    ]
