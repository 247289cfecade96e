"""The exhibit pages: registering one, its page, and the actions on it (seal, holds,
re-verification, disposal, shares, download); the browser upload is the exhibit page's
(it calls the tus API with the session, server.web.apiauth)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import quote

from starlette.responses import Response, StreamingResponse

from server.api import schemas
from server.api.sharing import share_request
from server.auth import Principal
from server.errors import (
    ConflictError,
    InvalidRequestError,
)
from server.services import cases, content, exhibits, sharing
from server.services.workspace import Workspace
from server.web import views
from server.web.context import Web, page
from server.web.pagekit import CONTENT_CSP, act, case_id_of, exhibit_id_of, exhibit_url
from server.web.security import UPLOAD_CSP

_LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?")
HASH_FIELDS: Final = ("sha256", "sha1", "md5")


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
    case_id = case_id_of(web)
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
    case_id = case_id_of(web)
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
    return web.redirect(exhibit_url(case_id, created.id))


@page
async def exhibit_page(web: Web) -> Response:
    case_id, exhibit_id = case_id_of(web), exhibit_id_of(web)
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
    case_id, exhibit_id = case_id_of(web), exhibit_id_of(web)
    reason = await web.field("reason")
    return await act(
        web,
        lambda ws, p: exhibits.seal_exhibit(
            ws, p, case_id, exhibit_id, schemas.reason({"reason": reason})
        ),
        "sealed",
        exhibit_url(case_id, exhibit_id),
    )


def _hold_action(hold: bool) -> Callable[[Web], Any]:
    async def handler(web: Web) -> Response:
        case_id, exhibit_id = case_id_of(web), exhibit_id_of(web)
        reason = await web.field("reason")
        authority = await web.field("authority")
        named = await web.field("hold")

        def work(ws: Workspace, p: Principal) -> object:
            if hold:
                text, order = schemas.hold({"reason": reason, "authority": authority})
                return exhibits.set_hold(ws, p, case_id, exhibit_id, reason=text, authority=order)
            # Each release form names its hold (several may be open); the API's rule reads it.
            seq = schemas.non_negative(named, "hold") if named else None
            text, which = schemas.release({"reason": reason, "hold": seq})
            return exhibits.release_hold(ws, p, case_id, exhibit_id, reason=text, hold=which)

        return await act(
            web,
            work,
            "hold_set" if hold else "hold_released",
            exhibit_url(case_id, exhibit_id),
        )

    handler.__name__ = "set_hold" if hold else "release_hold"
    return handler


@page
async def verify_content(web: Web) -> Response:
    case_id, exhibit_id = case_id_of(web), exhibit_id_of(web)
    back = exhibit_url(case_id, exhibit_id)
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
    case_id, exhibit_id = case_id_of(web), exhibit_id_of(web)
    reason, authority = await web.field("reason"), await web.field("authority")
    return await act(
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
        exhibit_url(case_id, exhibit_id),
    )


@page
async def share(web: Web) -> Response:
    case_id, exhibit_id = case_id_of(web), exhibit_id_of(web)
    body = {
        "jurisdiction": await web.field("jurisdiction"),
        "conditions": await web.field("conditions"),
    }
    return await act(
        web,
        lambda ws, p: sharing.share_exhibit(ws, p, case_id, exhibit_id, share_request(body)),
        "shared",
        exhibit_url(case_id, exhibit_id),
    )


@page
async def revoke_share(web: Web) -> Response:
    case_id, exhibit_id = case_id_of(web), exhibit_id_of(web)
    code = await web.field("jurisdiction")
    return await act(
        web,
        lambda ws, p: sharing.revoke_share(
            ws, p, case_id, exhibit_id, schemas.jurisdiction_code(code)
        ),
        "share_revoked",
        exhibit_url(case_id, exhibit_id),
    )


@page
async def download_content(web: Web) -> Response:
    """A POST (it writes exhibit.accessed, so it carries the CSRF token like any change)."""
    case_id, exhibit_id = case_id_of(web), exhibit_id_of(web)
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
        return web.redirect(exhibit_url(case_id, exhibit_id))
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
