"""HTTP routes for exhibit content: PUT/GET content, verify, dispose, and tus 1.0 uploads.

Request bodies are streamed: the event loop receives the body into a bounded queue that
the route's worker thread reads (`BodyBridge`) while the store hashes and writes it, so
memory stays constant whatever the size. One worker thread per request, as every route
(ADR 0002).

tus 1.0 (https://tus.io/protocols/resumable-upload): core, creation, termination and
expiration, with X-HTTP-Method-Override. An upload that was finished answers HEAD as
complete (Upload-Offset = Upload-Length), so a client resuming it with a stale record does
not create it again. The checksum extension is not offered: it asks the server to drop a PATCH's
bytes when their checksum fails, and the store keeps bytes as they arrive; the whole
content's SHA-256 can be declared instead (Upload-Metadata `sha256`), checked at the end.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from datetime import UTC
from email.utils import format_datetime
from typing import Any, Final
from urllib.parse import quote, unquote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from evidence.errors import EvidenceError
from server.api import schemas
from server.api.body_bridge import BodyBridge
from server.api.bundles import byte_range
from server.api.errors import handle_server_error
from server.api.http import (
    call,
    call_with_body,
    case_id_of,
    exhibit_id_of,
    workspace,
)
from server.api.responses import json_response
from server.auth import Principal
from server.errors import (
    InvalidRequestError,
    PayloadTooLargeError,
    ServerError,
    UnsupportedMediaTypeError,
)
from server.services import content
from server.services.workspace import Workspace

TUS_VERSION: Final = "1.0.0"
TUS_EXTENSIONS: Final = "creation,termination,expiration"
TUS_HEADERS: Final = {"Tus-Resumable": TUS_VERSION}
# What each tus URL answers (POST on an upload URL only as X-HTTP-Method-Override's carrier)
CREATION_METHODS: Final = ("OPTIONS", "POST")
UPLOAD_METHODS: Final = ("OPTIONS", "HEAD", "PATCH", "DELETE")
# Routed to the dispatcher too: the override may ride on them, and otherwise the 405 says
# what the URL answers.
ANY_OTHER: Final = ("GET", "POST", "PUT")
OFFSET_OCTETS: Final = "application/offset+octet-stream"
CASE: Final = "/api/cases/{case_id}"
EXHIBIT: Final = CASE + "/exhibits/{exhibit_id}"

_REPR_DIGEST_SHA256 = re.compile(r"(?:^|,)\s*sha-256\s*=\s*:([A-Za-z0-9+/=]*):", re.IGNORECASE)
# At most 19 digits: any byte offset fits, and int() never meets Python's digit limit.
_TUS_KEY = re.compile(r"[!-~]+")


def _ids(request: Request) -> tuple[str, str]:
    return case_id_of(request), exhibit_id_of(request)


def _content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit():
        raise InvalidRequestError("Content-Length must be a non-negative integer")
    return int(raw)


def _refuse_too_large(request: Request, length: int | None) -> None:
    limit = workspace(request).settings.max_upload_bytes
    if length is not None and length > limit:
        # 413 before any byte is read or stored
        raise PayloadTooLargeError(
            f"the content is larger than {limit} bytes", code="content_too_large"
        )


def _repr_digest(request: Request) -> str | None:
    """The client's declared SHA-256 from `Repr-Digest: sha-256=:<base64>:` (RFC 9530)."""
    header = request.headers.get("repr-digest")
    if header is None:
        return None
    match = _REPR_DIGEST_SHA256.search(header)
    if match is None:
        raise InvalidRequestError("Repr-Digest must carry sha-256=:<base64>:", code="bad_digest")
    try:
        raw = base64.b64decode(match[1], validate=True)
    except binascii.Error:
        raise InvalidRequestError("Repr-Digest sha-256 is not base64", code="bad_digest") from None
    if len(raw) != 32:
        raise InvalidRequestError("Repr-Digest sha-256 must be 32 bytes", code="bad_digest")
    return raw.hex()


def _disposition_filename(header: str | None) -> str | None:
    """`filename*=UTF-8''…` or `filename="…"` from a Content-Disposition header."""
    if not header:
        return None
    star = re.search(r"filename\*\s*=\s*UTF-8''([^;]*)", header, re.IGNORECASE)
    if star:
        return unquote(star[1].strip(), errors="strict")
    plain = re.search(r'filename\s*=\s*"((?:[^"\\]|\\.)*)"', header, re.IGNORECASE)
    if plain:
        return re.sub(r"\\(.)", r"\1", plain[1])
    return None


def _digest_headers(ingested: content.Ingested) -> dict[str, str]:
    sha = bytes.fromhex(ingested.digests.sha256_hex)
    return {
        "Repr-Digest": f"sha-256=:{base64.b64encode(sha).decode()}:",
        "ETag": f'"{ingested.digests.sha256_hex}"',
        "JITC-Content-SHA256": ingested.digests.sha256_hex,
        "JITC-Content-BLAKE3": ingested.digests.blake3_hex,
        "JITC-Content-Size": str(ingested.digests.size),
        "JITC-Entry-Seq": str(ingested.seq),
    }


def _bridge(request: Request) -> BodyBridge:
    return BodyBridge(request, idle_timeout=workspace(request).settings.body_idle_timeout)


def _disconnected() -> Response:
    # The client is gone; nobody reads this. Not an error of ours.
    return Response(status_code=400)


# --- one-shot content ----------------------------------------------------------------------


async def put_content(request: Request) -> Response:
    case_id, exhibit_id = _ids(request)
    length = _content_length(request)
    _refuse_too_large(request, length)
    bridge = _bridge(request)
    try:
        # The headers are read after the token is checked: no token is a 401, whatever
        # else is wrong with the request.
        ingested = await call(
            request,
            lambda ws, p: content.ingest_stream(
                ws, p, case_id, exhibit_id, _content_meta(request), bridge.chunks()
            ),
            upload=True,
        )
    except ClientDisconnect:
        return _disconnected()
    finally:
        await bridge.aclose()
    return json_response(ingested.to_json(), status_code=201, headers=_digest_headers(ingested))


def _content_meta(request: Request) -> content.ContentMeta:
    """What a PUT declares beside its bytes: filename, media type, SHA-256."""
    filename = request.query_params.get("filename")
    if filename is None:
        try:
            filename = _disposition_filename(request.headers.get("content-disposition"))
        except UnicodeDecodeError:
            raise InvalidRequestError("the filename is not UTF-8", code="bad_filename") from None
    return content.ContentMeta(
        filename=content.parse_filename(filename),
        media_type=content.parse_media_type(request.headers.get("content-type")),
        expected_sha256=_repr_digest(request),
    )


async def get_content(request: Request) -> Response:
    case_id, exhibit_id = _ids(request)
    purpose = content.parse_purpose(
        request.query_params.get("purpose") or request.headers.get("jitc-purpose")
    )
    wanted = byte_range(request)
    if_range = request.headers.get("if-range")
    # HEAD sends no content bytes: checked like a GET, but no exhibit.accessed.
    head = request.method == "HEAD"
    download = await call(
        request,
        lambda ws, p: content.download(
            ws,
            p,
            case_id,
            exhibit_id,
            purpose=purpose,
            byte_range=wanted,
            if_range=if_range,
            record=not head,
        ),
    )
    row = download.content
    safe = content.display_filename(row.filename)
    ascii_name = safe.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    headers = {
        "ETag": f'"{row.sha256}"',
        "Accept-Ranges": "bytes",
        "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(row.sha256)).decode()}:",
        "JITC-Content-BLAKE3": row.blake3,
        "JITC-Entry-Seq": str(download.seq),
        "Content-Disposition": (
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(safe, safe='')}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    status = 200
    if download.selected is None:
        headers["Content-Length"] = str(row.size)
    else:
        status = 206
        selected = download.selected
        headers["Content-Length"] = str(selected.length)
        headers["Content-Range"] = f"bytes {selected.first}-{selected.last}/{row.size}"
    if head:
        del headers["JITC-Entry-Seq"]  # nothing was logged
        return Response(status_code=status, media_type=row.media_type, headers=headers)
    return StreamingResponse(
        download.chunks, status_code=status, media_type=row.media_type, headers=headers
    )


async def verify_content(request: Request) -> Response:
    case_id, exhibit_id = _ids(request)
    verified = await call(request, lambda ws, p: content.verify(ws, p, case_id, exhibit_id))
    return json_response(verified.to_json())


async def dispose_content(request: Request) -> Response:
    case_id, exhibit_id = _ids(request)

    def work(ws: Workspace, p: Principal, body: dict[str, Any]) -> content.Disposed:
        content.precheck_disposal(ws, p, case_id, exhibit_id)  # 403 before 400
        order = schemas.disposal_order(body)
        return content.dispose(
            ws, p, case_id, exhibit_id, reason=order.reason, authority=order.authority
        )

    disposed = await call_with_body(request, work)
    return json_response(disposed.to_json())


# --- tus 1.0 -------------------------------------------------------------------------------


def _tus(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Any]]:
    """Every tus response carries Tus-Resumable; a request without it gets 412 (tus core)."""

    async def run(request: Request) -> Response:
        try:
            if _method(request) != "OPTIONS":
                version = request.headers.get("tus-resumable")
                if version != TUS_VERSION:
                    return Response(
                        status_code=412, headers={**TUS_HEADERS, "Tus-Version": TUS_VERSION}
                    )
            response = await handler(request)
        except (ServerError, EvidenceError) as exc:
            response = await handle_server_error(request, exc)
        except ClientDisconnect:
            response = _disconnected()
        response.headers.update(TUS_HEADERS)
        return response

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def _method(request: Request) -> str:
    """The request's method, or the one X-HTTP-Method-Override names instead (tus core:
    for environments that cannot send PATCH or DELETE; the actual method is ignored)."""
    override = request.headers.get("x-http-method-override")
    return (override or request.method).strip().upper()


def _dispatch(
    allowed: tuple[str, ...], handlers: dict[str, Callable[[Request], Awaitable[Response]]]
) -> Callable[[Request], Awaitable[Response]]:
    """One handler for all of a tus URL's methods, chosen by `_method`; others get 405
    with the Allow the URL really has."""

    async def run(request: Request) -> Response:
        handler = handlers.get(_method(request))
        if handler is None:
            return json_response(
                {
                    "error": {
                        "code": "method_not_allowed",
                        "message": f"this tus URL answers {', '.join(allowed)}",
                    }
                },
                status_code=405,
                headers={**TUS_HEADERS, "Allow": ", ".join(allowed)},
            )
        return await handler(request)

    return run


def _expires(view: content.UploadView) -> str:
    # tus expiration: an RFC 9110 HTTP-date
    return format_datetime(view.expires.astimezone(UTC), usegmt=True)


def parse_upload_metadata(header: str | None) -> dict[str, str]:
    """tus `Upload-Metadata`: `key base64value` pairs, comma-separated; values UTF-8."""
    result: dict[str, str] = {}
    if not header:
        return result
    for item in header.split(","):
        parts = item.strip().split(" ")
        if not parts[0] or len(parts) > 2 or not _TUS_KEY.fullmatch(parts[0]):
            raise InvalidRequestError("Upload-Metadata is malformed", code="bad_metadata")
        if parts[0] in result:
            raise InvalidRequestError("Upload-Metadata repeats a key", code="bad_metadata")
        value = ""
        if len(parts) == 2:
            try:
                value = base64.b64decode(parts[1], validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise InvalidRequestError(
                    f"Upload-Metadata {parts[0]} is not base64 of UTF-8", code="bad_metadata"
                ) from None
        result[parts[0]] = value
    return result


def _non_negative_header(request: Request, name: str) -> int:
    raw = request.headers.get(name)
    if raw is None or not raw.isdigit() or len(raw) > 19:
        raise InvalidRequestError(f"{name} must be a non-negative integer")
    return int(raw)


def _options(allowed: tuple[str, ...]) -> Callable[[Request], Awaitable[Response]]:
    async def tus_options(request: Request) -> Response:
        """tus OPTIONS: the server's tus configuration, on every tus URL."""
        _ids(request)  # malformed ids are refused here as on every other route (400)
        if "upload_id" in request.path_params:
            _upload_id(request)
        limit = workspace(request).settings.max_upload_bytes
        return Response(
            status_code=204,
            headers={
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": TUS_EXTENSIONS,
                "Tus-Max-Size": str(limit),
                "Allow": ", ".join(allowed),
            },
        )

    return tus_options


async def tus_create(request: Request) -> Response:
    case_id, exhibit_id = _ids(request)
    if request.headers.get("upload-defer-length") is not None:
        raise InvalidRequestError("Upload-Defer-Length is not supported: send Upload-Length")
    length = _non_negative_header(request, "upload-length")
    _refuse_too_large(request, length)
    if (_content_length(request) or 0) > 0:
        raise InvalidRequestError("creation-with-upload is not supported: PATCH the bytes")

    def create(ws: Workspace, principal: Principal) -> content.UploadView:
        # Upload-Metadata is read after the token is checked (no token: 401 first).
        metadata = parse_upload_metadata(request.headers.get("upload-metadata"))
        meta = content.ContentMeta(
            filename=content.parse_filename(metadata.get("filename")),
            media_type=content.parse_media_type(metadata.get("filetype") or metadata.get("type")),
            expected_sha256=content.parse_expected_sha256(metadata.get("sha256") or None),
            metadata_header=request.headers.get("upload-metadata") or None,
        )
        return content.create_upload(ws, principal, case_id, exhibit_id, meta, length)

    view = await call(request, create)
    headers = {
        "Location": f"/api/cases/{case_id}/exhibits/{exhibit_id}/uploads/{view.row.id}",
        "Upload-Expires": _expires(view),
        "Upload-Offset": str(view.state.offset),
    }
    if view.ingested is not None:
        headers.update(_digest_headers(view.ingested))
    return Response(status_code=201, headers=headers)


def _upload_id(request: Request) -> str:
    return schemas.uuid_text(request.path_params["upload_id"], "upload id")


async def tus_head(request: Request) -> Response:
    case_id, exhibit_id = _ids(request)
    upload_id = _upload_id(request)
    view = await call(
        request, lambda ws, p: content.upload_status(ws, p, case_id, exhibit_id, upload_id)
    )
    headers = {"Upload-Offset": str(view.offset), "Cache-Control": "no-store"}
    if view.expires is not None:
        headers["Upload-Expires"] = format_datetime(view.expires.astimezone(UTC), usegmt=True)
    if view.length is not None:
        headers["Upload-Length"] = str(view.length)
    if view.metadata_header is not None:
        headers["Upload-Metadata"] = view.metadata_header
    return Response(status_code=200, headers=headers)


async def tus_patch(request: Request) -> Response:
    case_id, exhibit_id = _ids(request)
    upload_id = _upload_id(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != OFFSET_OCTETS:
        raise UnsupportedMediaTypeError(f"a tus PATCH body is {OFFSET_OCTETS}")
    offset = _non_negative_header(request, "upload-offset")
    body_length = _content_length(request)
    bridge = _bridge(request)
    # Marked before the first await, so a HEAD arriving after this request waits for it.
    with content.patching(upload_id):
        try:
            view = await call(
                request,
                lambda ws, p: content.append_upload(
                    ws,
                    p,
                    case_id,
                    exhibit_id,
                    upload_id,
                    offset,
                    bridge.chunks(),
                    body_length=body_length,
                ),
                upload=True,
            )
        finally:
            await bridge.aclose()
    headers = {"Upload-Offset": str(view.state.offset), "Upload-Expires": _expires(view)}
    if view.ingested is not None:
        headers.update(_digest_headers(view.ingested))
    return Response(status_code=204, headers=headers)


async def tus_delete(request: Request) -> Response:
    case_id, exhibit_id = _ids(request)
    upload_id = _upload_id(request)
    await call(
        request, lambda ws, p: content.terminate_upload(ws, p, case_id, exhibit_id, upload_id)
    )
    return Response(status_code=204)


def _tus_routes(
    path: str,
    allowed: tuple[str, ...],
    handlers: dict[str, Callable[[Request], Awaitable[Response]]],
    *,
    documented: tuple[str, ...],
) -> list[BaseRoute]:
    """A tus URL's documented methods, and a second route (not in the API description)
    taking every other method to the same dispatcher: X-HTTP-Method-Override may ride on
    any of them, and otherwise the 405 names the methods the URL answers."""
    endpoint = _dispatch(allowed, handlers)
    others = [m for m in (*allowed, *ANY_OTHER, "PATCH", "DELETE") if m not in documented]
    return [
        Route(path, endpoint, methods=list(documented)),
        Route(path, endpoint, methods=sorted(set(others)), include_in_schema=False),
    ]


def routes() -> list[BaseRoute]:
    return [
        Route(EXHIBIT + "/content", put_content, methods=["PUT"]),
        Route(EXHIBIT + "/content", get_content, methods=["GET"]),
        Route(EXHIBIT + "/verify", verify_content, methods=["POST"]),
        Route(EXHIBIT + "/dispose", dispose_content, methods=["POST"]),
        *_tus_routes(
            EXHIBIT + "/uploads",
            CREATION_METHODS,
            {"OPTIONS": _tus(_options(CREATION_METHODS)), "POST": _tus(tus_create)},
            documented=("OPTIONS", "POST"),
        ),
        *_tus_routes(
            EXHIBIT + "/uploads/{upload_id}",
            UPLOAD_METHODS,
            {
                "OPTIONS": _tus(_options(UPLOAD_METHODS)),
                "HEAD": _tus(tus_head),
                "PATCH": _tus(tus_patch),
                "DELETE": _tus(tus_delete),
            },
            documented=("OPTIONS", "HEAD", "PATCH", "DELETE"),
        ),
    ]
