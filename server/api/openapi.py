"""/openapi.json: the OpenAPI 3.1 description of every endpoint (tests check coverage)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from starlette.routing import BaseRoute, Route

from server.api import schemas
from server.api.openapi_rules import (
    GRANT,
    GRANT_REVOKE,
    GRANT_VIEW,
    HOLD,
    HOLD_ANSWER,
    PARTY_ADDED,
    PARTY_PENDING,
    PROPOSAL,
)
from server.services.pagination import MAX_LIMIT

_ERROR: Final = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}

_STR = {"type": "string"}
_INT = {"type": "integer", "minimum": 0}
_HEX = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_RECORDED = {"type": "object", "properties": {"seq": _INT, "type": _STR}}
_REASON = {
    "type": "object",
    "required": ["reason"],
    "properties": {"reason": {**_STR, "maxLength": schemas.MAX_REASON}},
}
_CASE = {
    "type": "object",
    "properties": {
        "id": _STR,
        "title": _STR,
        "agreement": _STR,
        "created_at": _STR,
        "created_by": _STR,
    },
}
_EXHIBIT = {
    "type": "object",
    "properties": {
        "id": _STR,
        "case": _STR,
        "label": _STR,
        "description": _STR,
        "owner": _STR,
        "acquisition": {"type": "object"},
        "sealed": {"type": "boolean"},
        "legal_hold": {"type": "boolean"},
        "holds": {"type": "array", "items": HOLD},
        "created_at": _STR,
    },
}
_NOTE = {
    "type": "object",
    "properties": {
        "id": _STR,
        "exhibit": {"type": ["string", "null"]},
        "text": _STR,
        "salt": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
        "commitment": _HEX,
        "check": {
            "type": "string",
            "description": "how to check the commitment: SHA-256(salt || UTF-8 text)",
        },
        "seq": _INT,
        "created_at": _STR,
    },
}


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"items": {"type": "array", "items": item}, "next_cursor": _STR},
    }


def _query(name: str, description: str, *, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": _STR if name == "cursor" else _INT,
    }


_PAGING = [
    _query("limit", f"page size, 1 to {MAX_LIMIT}"),
    _query("cursor", "next_cursor of the previous page"),
]

# (method, path) -> summary, request body schema, success status and schema, query params
_OPERATIONS: Final[dict[tuple[str, str], dict[str, Any]]] = {
    ("get", "/openapi.json"): {"summary": "This document", "auth": False},
    ("get", "/api/log-key"): {
        "summary": "The log's verifier key (vkey) under the log name",
        "auth": False,
        "response": {"type": "object", "properties": {"name": _STR, "vkey": _STR}},
    },
    ("post", "/api/cases"): {
        "summary": "Create a case (prosecutor); appends case.created",
        "body": {
            "type": "object",
            "required": ["title", "parties"],
            "properties": {
                "title": _STR,
                "parties": {"type": "array", "items": _STR, "minItems": 1},
                "agreement": _STR,
            },
        },
        "status": "201",
        "response": _CASE,
    },
    ("get", "/api/cases"): {
        "summary": "Cases the caller may see",
        "query": _PAGING,
        "response": _page(_CASE),
    },
    ("get", "/api/cases/{case_id}"): {
        "summary": "One case, its parties, grants and pending party proposals",
        "response": {
            **_CASE,
            "properties": {
                **_CASE["properties"],  # type: ignore[dict-item]
                "origin": _STR,
                "parties": {"type": "array", "items": _STR},
                "grants": {"type": "array", "items": GRANT_VIEW},
                "proposals": {"type": "array", "items": PROPOSAL},
                "log_size": _INT,
            },
        },
    },
    ("post", "/api/cases/{case_id}/parties"): {
        "summary": "Propose a party (prosecutor of a party); appends case.party_proposed. "
        "202 while other parties' consent is pending; 201 (and case.party_added) in a case "
        "with one party",
        "body": {
            "type": "object",
            "required": ["jurisdiction"],
            "additionalProperties": False,
            "properties": {"jurisdiction": _STR},
        },
        "status": "202",
        "response": PARTY_PENDING,
        "successes": [("201", "the state is a party now", PARTY_ADDED)],
        "errors": [("409", "already a party, or already proposed")],
    },
    ("post", "/api/cases/{case_id}/parties/proposals/{seq}/approve"): {
        "summary": "Consent to a proposal (prosecutor of another party that was a party when "
        "it was made); appends case.party_approved, and with the last consent "
        "case.party_added (201)",
        "status": "202",
        "response": PARTY_PENDING,
        "successes": [("201", "the last consent: the state is a party now", PARTY_ADDED)],
        "errors": [("409", "already consented, or the state is already a party")],
    },
    ("delete", "/api/cases/{case_id}/parties/{code}"): {
        "summary": "Withdraw from a case: only the state {code} itself (403 "
        "remove_other_state otherwise); appends case.party_removed, and revokes the shares "
        "held by and the grants given by that state",
        "response": _RECORDED,
        "errors": [("409", "a case keeps at least one party")],
    },
    ("post", "/api/cases/{case_id}/grants"): {
        "summary": "Grant one of the caller's own state's judges or defence lawyers access "
        "to the listed exhibits (or all); appends case.access_granted",
        "body": GRANT,
        "status": "201",
        "response": _RECORDED,
        "errors": [("409", "already granted")],
    },
    ("post", "/api/cases/{case_id}/grants/revoke"): {
        "summary": "Revoke a grant the caller's state gave; takes effect at once; appends "
        "case.access_revoked",
        "body": GRANT_REVOKE,
        "response": _RECORDED,
    },
    ("post", "/api/cases/{case_id}/exhibits"): {
        "summary": "Register an exhibit owned by the caller's state; appends exhibit.registered",
        "body": {
            "type": "object",
            "required": ["label", "acquisition"],
            "properties": {
                "label": _STR,
                "description": _STR,
                "acquisition": {
                    "type": "object",
                    "required": ["tool", "operator", "time"],
                    "properties": {
                        "tool": _STR,
                        "operator": _STR,
                        "time": {**_STR, "format": "date-time"},
                        "hashes": {"type": "object", "additionalProperties": _STR},
                    },
                },
            },
        },
        "status": "201",
        "response": {"type": "object", "properties": {"id": _STR, "seq": _INT}},
    },
    ("get", "/api/cases/{case_id}/exhibits"): {
        "summary": "The case's exhibits",
        "query": _PAGING,
        "response": _page(_EXHIBIT),
    },
    ("get", "/api/cases/{case_id}/exhibits/{exhibit_id}"): {
        "summary": "One exhibit",
        "response": _EXHIBIT,
    },
    ("post", "/api/cases/{case_id}/exhibits/{exhibit_id}/seal"): {
        "summary": "Seal an exhibit (its owner state); appends exhibit.sealed",
        "body": _REASON,
        "response": _RECORDED,
    },
    ("post", "/api/cases/{case_id}/exhibits/{exhibit_id}/hold"): {
        "summary": "Set a hold (several may be open); appends exhibit.hold_set, whose seq "
        "names the hold",
        "body": {
            "type": "object",
            "required": ["reason", "authority"],
            "additionalProperties": False,
            "properties": {
                "reason": {**_STR, "maxLength": schemas.MAX_REASON},
                "authority": {**_STR, "maxLength": schemas.MAX_REASON},
            },
        },
        "response": HOLD_ANSWER,
        "errors": [("409", "the exhibit was disposed of")],
    },
    ("post", "/api/cases/{case_id}/exhibits/{exhibit_id}/hold/release"): {
        "summary": "Release one hold: only the state that set it, and a judge's hold only a "
        "judge of that state (403 hold_other_state / hold_set_by_judge); appends "
        "exhibit.hold_released",
        "body": {
            "type": "object",
            "required": ["reason", "hold"],
            "additionalProperties": False,
            "properties": {"reason": {**_STR, "maxLength": schemas.MAX_REASON}, "hold": _INT},
        },
        "response": HOLD_ANSWER,
        "errors": [("409", "the exhibit was disposed of")],
    },
    ("post", "/api/cases/{case_id}/notes"): {
        "summary": "Add a note; appends note.added with a salted commitment to the text "
        "(SHA-256(salt || text)); the answer gives the salt",
        "body": {
            "type": "object",
            "required": ["text"],
            "properties": {"exhibit": {"type": ["string", "null"]}, "text": _STR},
        },
        "status": "201",
        "response": _NOTE,
    },
    ("get", "/api/cases/{case_id}/notes"): {
        "summary": "The case's notes",
        "query": _PAGING,
        "response": _page(_NOTE),
    },
    ("get", "/api/cases/{case_id}/log"): {
        "summary": "Custody entries from..to-1 as JSON Lines of canonical entries",
        "query": [_query("from", "first seq (default 0)"), _query("to", "end seq, exclusive")],
        "media": "application/jsonl",
    },
    ("get", "/api/cases/{case_id}/checkpoint"): {
        "summary": "The latest signed checkpoint (C2SP signed note), with cosignatures",
        "media": "text/plain",
    },
    ("get", "/api/cases/{case_id}/proof/inclusion"): {
        "summary": "RFC 9162 inclusion proof of entry seq in the tree of size",
        "query": [_query("seq", "entry", required=True), _query("size", "tree size")],
        "response": {
            "type": "object",
            "properties": {
                "seq": _INT,
                "size": _INT,
                "leaf_hash": _HEX,
                "root": _HEX,
                "proof": {"type": "array", "items": _HEX},
            },
        },
    },
    ("get", "/api/cases/{case_id}/proof/consistency"): {
        "summary": "RFC 9162 consistency proof between tree sizes from and to",
        "query": [_query("from", "old size", required=True), _query("to", "new size")],
        "response": {
            "type": "object",
            "properties": {
                "from": _INT,
                "to": _INT,
                "from_root": _HEX,
                "to_root": _HEX,
                "proof": {"type": "array", "items": _HEX},
            },
        },
    },
}


# Sharing, court and defence access, the witness policy, court bundles.
_SHARE = {
    "type": "object",
    "properties": {
        "exhibit": _STR,
        "jurisdiction": _STR,
        "conditions": _STR,
        "shared_at": _STR,
        "shared_seq": _INT,
        "revoked_at": {"type": ["string", "null"]},
        "revoked_seq": {"type": ["integer", "null"]},
        "active": {"type": "boolean"},
    },
}
_SHARES = {"type": "object", "properties": {"items": {"type": "array", "items": _SHARE}}}
_EXPORT_ID = {"name": "export_id", "in": "path", "required": True, "schema": _STR}
_EXPORT = {
    "type": "object",
    "properties": {
        "id": _STR,
        "seq": _INT,
        "tree_size": _INT,
        "bundle_sha256": _HEX,
        "bundle_size": _INT,
        "exhibits": {"type": "array", "items": _STR},
    },
}
_EXPORT_VIEW = {
    "type": "object",
    "properties": {
        "id": _STR,
        "status": {"enum": ["pending", "ready", "refused"]},
        "error": {"type": ["string", "null"]},
        "bundle_sha256": {"type": ["string", "null"]},
        "bundle_size": {"type": ["integer", "null"]},
        "seq": {"type": ["integer", "null"]},
        "tree_size": {"type": ["integer", "null"]},
    },
}
_OPERATIONS.update(
    {
        ("post", "/api/cases/{case_id}/exhibits/{exhibit_id}/shares"): {
            "summary": "Share an exhibit with a party state (owner); appends exhibit.shared",
            "body": {
                "type": "object",
                "required": ["jurisdiction"],
                "properties": {"jurisdiction": _STR, "conditions": _STR},
            },
            "status": "201",
            "response": _RECORDED,
        },
        ("get", "/api/cases/{case_id}/exhibits/{exhibit_id}/shares"): {
            "summary": "With whom the exhibit is (or was) shared, on what conditions",
            "response": _SHARES,
        },
        ("delete", "/api/cases/{case_id}/exhibits/{exhibit_id}/shares/{code}"): {
            "summary": "Revoke a share (owner); appends exhibit.share_revoked",
            "response": _RECORDED,
        },
        ("get", "/api/cases/{case_id}/shares"): {
            "summary": "Every share of the case's exhibits",
            "response": _SHARES,
        },
        ("post", "/api/cases/{case_id}/access"): {
            "summary": "Court or defence access for the caller's own state's judge or defence "
            "lawyer (as POST /grants); appends case.access_granted with `exhibits`",
            "body": GRANT,
            "status": "201",
            "response": _RECORDED,
            "errors": [("409", "already granted")],
        },
        ("get", "/api/cases/{case_id}/policy"): {
            "summary": "The case's tlog-policy: log key, party witnesses, quorum",
            "media": "text/plain",
        },
        ("put", "/api/cases/{case_id}/policy"): {
            "summary": "Set the witness quorum: k of n, or all (prosecutor)",
            "body": {
                "type": "object",
                "required": ["quorum"],
                "properties": {"quorum": {"oneOf": [{"type": "integer"}, {"enum": ["all"]}]}},
            },
            "media": "text/plain",
        },
        ("post", "/api/cases/{case_id}/exports"): {
            "summary": (
                "Make a court bundle (prosecutor); appends export.created. With "
                "'Prefer: respond-async': 202 at once, the export pending until it is ready "
                "or refused (GET …/exports)"
            ),
            "body": {
                "type": "object",
                "required": ["recipient"],
                "properties": {
                    "exhibits": {"type": ["array", "null"], "items": _STR},
                    "disclosure": {"enum": ["full", "selective"]},
                    "content": {"type": "boolean"},
                    "recipient": _STR,
                },
            },
            "status": "201",
            "response": _EXPORT,
            "errors": (
                ("409", "refused (not witnessed, fails verification, access changed)"),
                ("503", "JITC_MAX_CONCURRENT_EXPORTS exports are being written (Retry-After)"),
                ("507", "not enough disk for the bundle (export_no_room)"),
            ),
        },
        ("get", "/api/cases/{case_id}/exports"): {
            "summary": "The case's exports the caller may receive",
        },
        ("get", "/api/cases/{case_id}/exports/{export_id}/status"): {
            "summary": "How one export goes: pending, ready or refused (no bundle, no entry)",
            "query": [_EXPORT_ID],
            "response": _EXPORT_VIEW,
        },
        ("get", "/api/cases/{case_id}/exports/{export_id}"): {
            "summary": "Download a court bundle (ZIP, streamed)",
            "query": [_EXPORT_ID],
            "media": "application/zip",
        },
    }
)

# Exhibit content, tus 1.0 uploads, verification, disposal.
_EX = "/api/cases/{case_id}/exhibits/{exhibit_id}"
_UPLOAD_ID = {"name": "upload_id", "in": "path", "required": True, "schema": _STR}
_CONTENT_RESULT = {
    "type": "object",
    "properties": {
        "seq": _INT,
        "type": _STR,
        "size": _INT,
        "sha256": _HEX,
        "blake3": _HEX,
        "filename": _STR,
        "media_type": _STR,
    },
}
_OPERATIONS.update(
    {
        ("put", _EX + "/content"): {
            "summary": (
                "Store the exhibit's content, streamed (owner's investigator or technician); "
                "optional Repr-Digest sha-256 and ?filename=; appends exhibit.ingested, or "
                "exhibit.ingest_rejected and 422 when the declared SHA-256 differs"
            ),
            "query": [{"name": "filename", "in": "query", "required": False, "schema": _STR}],
            "status": "201",
            "response": _CONTENT_RESULT,
        },
        ("get", _EX + "/content"): {
            "summary": (
                "Download the content, whole or one Range (206), ETag = SHA-256; owner state, "
                "a state it is shared with, or a granted judge or defence; appends "
                "exhibit.accessed with ?purpose= and the range"
            ),
            "query": [{"name": "purpose", "in": "query", "required": False, "schema": _STR}],
            "media": "application/octet-stream",
        },
        ("post", _EX + "/verify"): {
            "summary": "Re-read the content, recompute both hashes; appends exhibit.verified",
            "errors": (
                ("409", "this exhibit is being re-verified (verification_in_progress)"),
                ("503", "JITC_MAX_CONCURRENT_VERIFIES re-reads are running (Retry-After)"),
            ),
        },
        ("post", _EX + "/dispose"): {
            "summary": (
                "Dispose of the content (owner's prosecutor, no legal hold); removes it or "
                "records that retention keeps it; appends exhibit.disposed"
            ),
            "body": {
                "type": "object",
                "required": ["reason", "authority"],
                "properties": {"reason": _STR, "authority": _STR},
            },
        },
        ("options", _EX + "/uploads"): {
            "summary": "tus 1.0: versions, extensions and the largest upload",
            "auth": False,
            "status": "204",
        },
        ("post", _EX + "/uploads"): {
            "summary": (
                "tus creation: Upload-Length, Upload-Metadata (filename, filetype, sha256 hex); "
                "Location of the new upload"
            ),
            "status": "201",
        },
        ("patch", _EX + "/uploads/{upload_id}"): {
            "summary": (
                "tus: append application/offset+octet-stream at Upload-Offset (409 if wrong or "
                "busy); the last bytes ingest the content (headers JITC-Content-SHA256/BLAKE3)"
            ),
            "query": [_UPLOAD_ID],
            "status": "204",
        },
        ("delete", _EX + "/uploads/{upload_id}"): {
            "summary": "tus termination: remove the upload and its bytes",
            "query": [_UPLOAD_ID],
            "status": "204",
        },
    }
)


def documented_operations() -> set[tuple[str, str]]:
    return set(_OPERATIONS)


def _operation(path: str, spec: dict[str, Any]) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _INT if name == "seq" else _STR}
        for name in ("case_id", "exhibit_id", "code", "seq")
        if "{" + name + "}" in path
    ] + list(spec.get("query", []))
    status = spec.get("status", "200")
    media = spec.get("media", "application/json")
    success: dict[str, Any] = {"description": "success"}
    success["content"] = {media: {"schema": spec.get("response", {"type": "object"})}}
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    responses: dict[str, Any] = {status: success}
    for code, text, schema in spec.get("successes", ()):
        responses[code] = {"description": text, "content": {media: {"schema": schema}}}
    for code, text in (
        ("400", "bad input"),
        ("401", "token refused"),
        ("403", "not allowed"),
        ("404", "not found"),
    ):
        responses[code] = {"description": text, **error}
    for code, text in spec.get("errors", ()):
        responses[code] = {"description": text, **error}
    operation: dict[str, Any] = {
        "summary": spec["summary"],
        "parameters": parameters,
        "responses": responses,
    }
    if spec.get("auth", True):
        operation["security"] = [{"bearer": []}]
    if "body" in spec:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": spec["body"]}},
        }
    return operation


def openapi_document(app_routes: Sequence[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in app_routes:
        if not isinstance(route, Route):
            continue
        for method in sorted(route.methods or ()):
            key = (method.lower(), route.path)
            if key in _OPERATIONS:
                paths.setdefault(route.path, {})[key[0]] = _operation(route.path, _OPERATIONS[key])
    return {
        "openapi": "3.1.0",
        "info": {"title": "JIT Custody workspace", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERROR},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
