"""Sending a court bundle: byte ranges (a resumed download) and the response itself,
shared by the API and the web workspace. The bundle's ETag is its quoted SHA-256, the
value `export.created` logged, so If-Range resumes only the same bundle."""

from __future__ import annotations

import re
from typing import Final

from starlette.requests import Request
from starlette.responses import StreamingResponse

from server.services.exports import BundleFile

_RANGE: Final = re.compile(r"bytes=([0-9]{0,19})-([0-9]{0,19})")


def byte_range(request: Request) -> tuple[int | None, int | None] | None:
    """A single `bytes=` range (RFC 9110 14.1.2); anything else means the whole
    representation (a server may ignore a Range it does not support, 14.2)."""
    header = request.headers.get("range")
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or (not match[1] and not match[2]):
        return None
    first = int(match[1]) if match[1] else None
    last = int(match[2]) if match[2] else None
    if first is None:
        return (None, last)  # suffix: the last `last` bytes
    return (first, last)


def bundle_response(
    ready: BundleFile, export_id: str, extra: dict[str, str] | None = None
) -> StreamingResponse:
    headers = {
        "JITC-Bundle-SHA256": ready.sha256,
        "ETag": f'"{ready.sha256}"',
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="jitc-bundle-{export_id}.zip"',
        "Cache-Control": "no-store",
        **(extra or {}),
    }
    status = 200
    if ready.selected is None:
        headers["Content-Length"] = str(ready.size)
    else:
        status = 206
        selected = ready.selected
        headers["Content-Length"] = str(selected.length)
        headers["Content-Range"] = f"bytes {selected.first}-{selected.last}/{ready.size}"
    return StreamingResponse(
        ready.chunks, status_code=status, media_type="application/zip", headers=headers
    )
