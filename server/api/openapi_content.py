"""/openapi.json, the exhibit content operations: PUT/GET content, verify, dispose, and
the tus 1.0 uploads (`server.api.content`). Used by `server.api.openapi`."""

from __future__ import annotations

from typing import Any, Final

from server.api.openapi_parts import (
    DIGEST_HEADERS,
    DISPOSED,
    HEX,
    INGESTED,
    LOCATION,
    STR,
    TUS_RESUMABLE,
    UUID,
    VERIFIED,
    body,
    header,
    header_param,
    optional_header,
    query,
    text,
)
from server.services.content.values import MAX_FILENAME_CHARS, MAX_PURPOSE_CHARS

# Exhibit content, tus 1.0 uploads, verification, disposal.
_EX = "/api/cases/{case_id}/exhibits/{exhibit_id}"
_UPLOAD_ID = {"name": "upload_id", "in": "path", "required": True, "schema": UUID}
_BYTES = {"type": "string", "format": "binary"}
_TUS = header_param("Tus-Resumable", "tus protocol version (412 otherwise)", {"const": "1.0.0"})
_UPLOAD_STATE = {
    "Upload-Offset": header(STR, "bytes received"),
    "Upload-Expires": header(STR, "when an unfinished upload is removed (HTTP-date)"),
}
_CONTENT_HEADERS = {
    "ETag": header(STR, "the content's SHA-256, quoted"),
    "Accept-Ranges": header(STR, "bytes"),
    "Repr-Digest": header(STR, "sha-256 of the whole content (RFC 9530)"),
    "JITC-Content-BLAKE3": header(HEX, "BLAKE3 of the whole content"),
    "JITC-Entry-Seq": header(STR, "seq of the exhibit.accessed entry"),
    "Content-Disposition": header(STR, "attachment, with the filename"),
}
CONTENT_OPERATIONS: Final[dict[tuple[str, str], dict[str, Any]]] = {
    ("put", _EX + "/content"): {
        "summary": (
            "Store the exhibit's content, streamed (owner's investigator or technician); "
            "optional Repr-Digest sha-256 and ?filename=; appends exhibit.ingested, or "
            "exhibit.ingest_rejected and 422 when the declared SHA-256 differs"
        ),
        "query": [
            query("filename", "the file's name", text(MAX_FILENAME_CHARS, empty=True)),
            optional_header(
                "Repr-Digest", "sha-256=:<base64>: of the whole content (RFC 9530), checked"
            ),
            optional_header("Content-Disposition", "the filename, when ?filename= is absent"),
        ],
        "raw_body": {"*/*": _BYTES},
        "status": "201",
        "response": INGESTED,
        "headers": DIGEST_HEADERS,
        "errors": [
            ("409", "the exhibit already has content, or is being written"),
            ("422", "the content's SHA-256 differs from the declared one"),
        ],
    },
    ("get", _EX + "/content"): {
        "summary": (
            "Download the content, whole or one Range (206), ETag = SHA-256; owner state, "
            "a state it is shared with, or a granted judge or defence; appends "
            "exhibit.accessed with ?purpose= and the range"
        ),
        "query": [
            query(
                "purpose",
                f"why it is read: up to {MAX_PURPOSE_CHARS} printable characters (400 for "
                "others); absent or empty: JITC-Purpose, else 'inspection'",
                {"type": "string", "maxLength": MAX_PURPOSE_CHARS},
            ),
            optional_header("JITC-Purpose", "why it is read, when ?purpose= is not given"),
            optional_header(
                "Range",
                "one bytes= range (206); any other Range is ignored (200)",
                example="bytes=0-3",
            ),
            optional_header("If-Range", "the ETag the range is valid for"),
        ],
        "media": "*/*",
        "response": _BYTES,
        "headers": _CONTENT_HEADERS,
        "successes": [
            (
                "206",
                "the requested range",
                _BYTES,
                {**_CONTENT_HEADERS, "Content-Range": header(STR, "bytes first-last/size")},
            )
        ],
        "errors": [
            ("409", "the exhibit has no content, or it was disposed of"),
            (
                "416",
                "the range is outside the content",
                {"Content-Range": header(STR, "bytes */size")},
            ),
        ],
    },
    ("post", _EX + "/verify"): {
        "summary": "Re-read the content, recompute both hashes; appends exhibit.verified",
        "response": VERIFIED,
        "errors": (("409", "no content, or this exhibit is being re-verified"),),
    },
    ("post", _EX + "/dispose"): {
        "summary": (
            "Dispose of the content (owner's prosecutor, no legal hold); removes it or "
            "records that retention keeps it; appends exhibit.disposed"
        ),
        "example": {"reason": "retention ended", "authority": "order of the public prosecutor"},
        "body": body(
            {"reason": text(4000), "authority": text(4000)}, required=("reason", "authority")
        ),
        "response": DISPOSED,
        "errors": [("409", "under a hold, no content, or already disposed of")],
    },
    ("options", _EX + "/uploads"): {
        "summary": "tus 1.0: versions, extensions and the largest upload",
        "auth": False,
        "status": "204",
        "media": None,
        "headers": {
            "Tus-Resumable": TUS_RESUMABLE,
            "Tus-Version": header(STR, "1.0.0"),
            "Tus-Extension": header(STR, "creation,termination,expiration"),
            "Tus-Max-Size": header(STR, "the largest upload in bytes"),
        },
    },
    ("post", _EX + "/uploads"): {
        "summary": (
            "tus creation: Upload-Length, Upload-Metadata (filename, filetype, sha256 hex); "
            "Location of the new upload"
        ),
        "query": [
            _TUS,
            header_param(
                "Upload-Length",
                "the content's size in bytes",
                {"type": "string", "pattern": "^[0-9]{1,19}$"},
            ),
            optional_header(
                "Upload-Metadata", "tus: filename, filetype and sha256 (hex), base64 values"
            ),
        ],
        "status": "201",
        "media": None,
        "headers": {"Location": LOCATION, "Tus-Resumable": TUS_RESUMABLE, **_UPLOAD_STATE},
        "tus": True,
        "errors": [
            ("409", "the exhibit already has content, or is being written"),
            ("413", "Upload-Length is larger than Tus-Max-Size"),
        ],
    },
    ("options", _EX + "/uploads/{upload_id}"): {
        "summary": "tus 1.0 on an upload URL: versions, extensions and the largest upload",
        "query": [_UPLOAD_ID],
        "auth": False,
        "status": "204",
        "media": None,
        "headers": {
            "Tus-Resumable": TUS_RESUMABLE,
            "Tus-Version": header(STR, "1.0.0"),
            "Tus-Extension": header(STR, "creation,termination,expiration"),
            "Tus-Max-Size": header(STR, "the largest upload in bytes"),
        },
    },
    ("head", _EX + "/uploads/{upload_id}"): {
        "summary": "tus: how far an upload is (Upload-Offset), its length and expiry",
        "query": [_UPLOAD_ID, _TUS],
        "media": None,
        "headers": {
            "Tus-Resumable": TUS_RESUMABLE,
            **_UPLOAD_STATE,
            "Upload-Length": {**header(STR, "the declared length"), "required": False},
            "Cache-Control": header(STR, "no-store"),
        },
        "tus": True,
    },
    ("patch", _EX + "/uploads/{upload_id}"): {
        "summary": (
            "tus: append application/offset+octet-stream at Upload-Offset (409 if wrong or "
            "busy); the last bytes ingest the content (headers JITC-Content-SHA256/BLAKE3)"
        ),
        "query": [
            _UPLOAD_ID,
            _TUS,
            header_param(
                "Upload-Offset",
                "where these bytes go",
                {"type": "string", "pattern": "^[0-9]{1,19}$"},
            ),
        ],
        "raw_body": {"application/offset+octet-stream": _BYTES},
        "status": "204",
        "media": None,
        "headers": {"Tus-Resumable": TUS_RESUMABLE, **_UPLOAD_STATE},
        "tus": True,
        "errors": [
            ("409", "Upload-Offset is not the upload's offset, or another request writes"),
            ("422", "the content's SHA-256 differs from the declared one"),
        ],
    },
    ("delete", _EX + "/uploads/{upload_id}"): {
        "summary": "tus termination: remove the upload and its bytes",
        "query": [_UPLOAD_ID, _TUS],
        "status": "204",
        "media": None,
        "headers": {"Tus-Resumable": TUS_RESUMABLE},
        "tus": True,
    },
}
