"""/openapi.json: the OpenAPI 3.1 description of every endpoint and every answer.

Each operation lists its success answers (status, body, headers) and the errors it can
give; the errors every operation of a kind shares (401/403 with a token, 404 with ids in
the path, 413/415 with a JSON body, 503 when the database or store is down or busy) are
added by `openapi_parts.operation`. tests/server/test_api.py checks that every route is
described, and tests/server/test_openapi_schemathesis.py that every answer fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from starlette.routing import BaseRoute, Route

from server.api import schemas
from server.api.openapi_content import CONTENT_OPERATIONS
from server.api.openapi_parts import (
    BOOL,
    CASE,
    CODE,
    CONSISTENCY,
    CONTENT,
    ERROR,
    EXPORT_MADE,
    EXPORT_VIEW,
    EXPORTS,
    HEX,
    INCLUSION,
    INT,
    LOCATION,
    RECORDED,
    SAFE_INT,
    SHARES,
    STR,
    UUID,
    body,
    header,
    nullable,
    obj,
    operation,
    optional_header,
    page,
    query,
    text,
)
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
from server.services.sharing import MAX_CONDITIONS

_EXHIBIT = obj(
    {
        "content": nullable(CONTENT),
        "id": UUID,
        "case": UUID,
        "label": STR,
        "description": STR,
        "owner": STR,
        "acquisition": {"type": "object"},
        "sealed": BOOL,
        "legal_hold": BOOL,
        "holds": {"type": "array", "items": obj(HOLD["properties"])},
        "created_at": STR,
    }
)
_NOTE = obj(
    {
        "id": UUID,
        "exhibit": nullable(UUID),
        "text": STR,
        "salt": nullable(HEX),
        "commitment": HEX,
        "check": {
            "type": "string",
            "description": "how to check the commitment: SHA-256(salt || UTF-8 text)",
        },
        "seq": INT,
        "created_at": STR,
    }
)
_NOTE_CREATED = obj({"id": UUID, "commitment": HEX, "salt": HEX, "seq": INT, "check": STR})
_CASE_DETAIL = obj(
    {
        **CASE["properties"],
        "origin": STR,
        "parties": {"type": "array", "items": CODE},
        "grants": {"type": "array", "items": obj(GRANT_VIEW["properties"])},
        "proposals": {"type": "array", "items": obj(PROPOSAL["properties"])},
        "log_size": INT,
    }
)
_EXHIBIT_EXAMPLE = {
    "label": "Laptop",
    "description": "seized at the address",
    "acquisition": {
        "tool": "FTK Imager 4.7",
        "operator": "J. Jansen",
        "time": "2026-11-20T09:15:00Z",
        "hashes": {"sha256": "ab" * 32},
    },
}
_REASON = body({"reason": text(schemas.MAX_REASON)}, required=("reason",))


_PAGING = [
    query(
        "limit", f"page size, 1 to {MAX_LIMIT}", {**SAFE_INT, "minimum": 1, "maximum": MAX_LIMIT}
    ),
    query("cursor", "next_cursor of the previous page", {**STR, "maxLength": 512}),
]
_TEXT_PLAIN = "text/plain; charset=utf-8"

# (method, path) -> summary, request body schema, success status, schema and headers,
# further successes, query and header parameters, the operation's own errors.
_OPERATIONS: Final[dict[tuple[str, str], dict[str, Any]]] = {
    ("get", "/openapi.json"): {"summary": "This document", "auth": False},
    ("get", "/api/log-key"): {
        "summary": "The log's verifier key (vkey) under the log name",
        "auth": False,
        "response": obj({"name": STR, "vkey": STR}),
    },
    ("post", "/api/cases"): {
        "summary": "Create a case (prosecutor); appends case.created",
        "example": {
            "title": "Operation Tulip",
            "parties": ["NL", "DE"],
            "agreement": "JIT-2026-001",
        },
        "body": body(
            {
                "title": text(schemas.MAX_TITLE),
                "parties": {
                    "type": "array",
                    "items": CODE,
                    "minItems": 1,
                    "maxItems": schemas.MAX_PARTIES,
                    "uniqueItems": True,
                },
                "agreement": nullable(text(schemas.MAX_TITLE, empty=True)),
            },
            required=("title", "parties"),
        ),
        "status": "201",
        "response": CASE,
        "headers": {"Location": LOCATION},
    },
    ("get", "/api/cases"): {
        "summary": "Cases the caller may see",
        "query": _PAGING,
        "response": page(CASE),
    },
    ("get", "/api/cases/{case_id}"): {
        "summary": "One case, its parties, grants and pending party proposals",
        "response": _CASE_DETAIL,
    },
    ("post", "/api/cases/{case_id}/parties"): {
        "summary": "Propose a party (prosecutor of a party); appends case.party_proposed. "
        "202 while other parties' consent is pending; 201 (and case.party_added) in a case "
        "with one party",
        "example": {"jurisdiction": "FR"},
        "body": body({"jurisdiction": CODE}, required=("jurisdiction",)),
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
        "response": RECORDED,
        "errors": [("409", "a case keeps at least one party")],
    },
    ("post", "/api/cases/{case_id}/grants"): {
        "summary": "Grant one of the caller's own state's judges or defence lawyers access "
        "to the listed exhibits (or all); appends case.access_granted",
        "example": {"jurisdiction": "NL", "sub": "judge-nl", "role": "judge", "exhibits": None},
        "body": GRANT,
        "status": "201",
        "response": RECORDED,
        "errors": [("409", "already granted")],
    },
    ("post", "/api/cases/{case_id}/grants/revoke"): {
        "summary": "Revoke a grant the caller's state gave; takes effect at once; appends "
        "case.access_revoked",
        "example": {"jurisdiction": "NL", "sub": "judge-nl", "role": "judge"},
        "body": GRANT_REVOKE,
        "response": RECORDED,
    },
    ("post", "/api/cases/{case_id}/exhibits"): {
        "summary": "Register an exhibit owned by the caller's state; appends exhibit.registered",
        "example": _EXHIBIT_EXAMPLE,
        "body": body(
            {
                "label": text(schemas.MAX_LABEL),
                "description": nullable(text(schemas.MAX_DESCRIPTION, empty=True)),
                "acquisition": {
                    "type": "object",
                    "required": ["tool", "operator", "time"],
                    "maxProperties": schemas.MAX_ACQUISITION_FIELDS,
                    "properties": {
                        "tool": text(schemas.MAX_LABEL),
                        "operator": text(schemas.MAX_LABEL),
                        "time": {**text(schemas.MAX_LABEL), "format": "date-time"},
                        "hashes": {
                            "type": "object",
                            "maxProperties": schemas.MAX_HASHES,
                            "propertyNames": {"pattern": "^[a-z0-9][a-z0-9-]{0,31}$"},
                            "additionalProperties": {
                                "type": "string",
                                "pattern": "^([0-9a-f]{2}){16,64}$",
                            },
                        },
                    },
                    "propertyNames": {"pattern": "^[A-Za-z0-9_-]{1,64}$"},
                    "additionalProperties": text(schemas.MAX_DESCRIPTION, empty=True),
                },
            },
            required=("label", "acquisition"),
        ),
        "status": "201",
        "response": obj({"id": UUID, "seq": INT}),
        "headers": {"Location": LOCATION},
    },
    ("get", "/api/cases/{case_id}/exhibits"): {
        "summary": "The case's exhibits",
        "query": _PAGING,
        "response": page(_EXHIBIT),
    },
    ("get", "/api/cases/{case_id}/exhibits/{exhibit_id}"): {
        "summary": "One exhibit",
        "response": _EXHIBIT,
    },
    ("post", "/api/cases/{case_id}/exhibits/{exhibit_id}/seal"): {
        "summary": "Seal an exhibit (its owner state); appends exhibit.sealed",
        "example": {"reason": "imaging finished"},
        "body": _REASON,
        "response": RECORDED,
        "errors": [("409", "already sealed, or disposed of")],
    },
    ("post", "/api/cases/{case_id}/exhibits/{exhibit_id}/hold"): {
        "summary": "Set a hold (several may be open); appends exhibit.hold_set, whose seq "
        "names the hold",
        "example": {"reason": "appeal pending", "authority": "District Court of Rotterdam"},
        "body": body(
            {"reason": text(schemas.MAX_REASON), "authority": text(schemas.MAX_REASON)},
            required=("reason", "authority"),
        ),
        "response": HOLD_ANSWER,
        "errors": [("409", "the exhibit was disposed of")],
    },
    ("post", "/api/cases/{case_id}/exhibits/{exhibit_id}/hold/release"): {
        "summary": "Release one hold: only the state that set it, and a judge's hold only a "
        "judge of that state (403 hold_other_state / hold_set_by_judge); appends "
        "exhibit.hold_released",
        "example": {"reason": "appeal decided", "hold": 12},
        "body": body(
            {"reason": text(schemas.MAX_REASON), "hold": SAFE_INT}, required=("reason", "hold")
        ),
        "response": HOLD_ANSWER,
        "errors": [("409", "the exhibit was disposed of")],
    },
    ("post", "/api/cases/{case_id}/notes"): {
        "summary": "Add a note; appends note.added with a salted commitment to the text "
        "(SHA-256(salt || text)); the answer gives the salt",
        "example": {"exhibit": None, "text": "The phone was found switched off."},
        "body": body(
            {"exhibit": nullable(UUID), "text": text(schemas.MAX_NOTE)}, required=("text",)
        ),
        "status": "201",
        "response": _NOTE_CREATED,
        "errors": [("409", "the exhibit was disposed of")],
    },
    ("get", "/api/cases/{case_id}/notes"): {
        "summary": "The case's notes",
        "query": _PAGING,
        "response": page(_NOTE),
    },
    ("get", "/api/cases/{case_id}/log"): {
        "summary": "Custody entries from..to-1 as JSON Lines of canonical entries",
        "query": [
            query("from", "first seq (default 0)", SAFE_INT, example=0),
            query("to", "end seq, exclusive", SAFE_INT, example=2),
        ],
        "media": "application/jsonl",
        "response": STR,
        "headers": {
            "JITC-Log-Size": header(STR, "the log's size"),
            "JITC-Log-End": header(STR, "seq after the last entry sent"),
        },
    },
    ("get", "/api/cases/{case_id}/checkpoint"): {
        "summary": "The latest signed checkpoint (C2SP signed note), with cosignatures",
        "media": _TEXT_PLAIN,
        "response": STR,
        "headers": {"JITC-Witnessed": header(STR, "whether the cosignatures meet the quorum")},
    },
    ("get", "/api/cases/{case_id}/proof/inclusion"): {
        "summary": "RFC 9162 inclusion proof of entry seq in the tree of size",
        "query": [
            query("seq", "entry", SAFE_INT, required=True, example=0),
            query("size", "tree size", SAFE_INT, example=2),
        ],
        "response": INCLUSION,
    },
    ("get", "/api/cases/{case_id}/proof/consistency"): {
        "summary": "RFC 9162 consistency proof between tree sizes from and to",
        "query": [
            query("from", "old size (default 0)", SAFE_INT, example=1),
            query("to", "new size", SAFE_INT, example=2),
        ],
        "response": CONSISTENCY,
    },
}


# Sharing, court and defence access, the witness policy, court bundles.
_BYTES = {"type": "string", "format": "binary"}
_EXPORT_ID = {"name": "export_id", "in": "path", "required": True, "schema": UUID}
_OPERATIONS.update(
    {
        ("post", "/api/cases/{case_id}/exhibits/{exhibit_id}/shares"): {
            "summary": "Share an exhibit with a party state (owner); appends exhibit.shared",
            "example": {"jurisdiction": "DE", "conditions": "for analysis only"},
            "body": body(
                {"jurisdiction": CODE, "conditions": nullable(text(MAX_CONDITIONS, empty=True))},
                required=("jurisdiction",),
            ),
            "status": "201",
            "response": RECORDED,
            "errors": [("409", "already shared, or the exhibit was disposed of")],
        },
        ("get", "/api/cases/{case_id}/exhibits/{exhibit_id}/shares"): {
            "summary": "With whom the exhibit is (or was) shared, on what conditions",
            "response": SHARES,
        },
        ("delete", "/api/cases/{case_id}/exhibits/{exhibit_id}/shares/{code}"): {
            "summary": "Revoke a share (owner); appends exhibit.share_revoked",
            "response": RECORDED,
            "errors": [("409", "the exhibit was disposed of")],
        },
        ("get", "/api/cases/{case_id}/shares"): {
            "summary": "Every share of the case's exhibits",
            "response": SHARES,
        },
        ("post", "/api/cases/{case_id}/access"): {
            "summary": "Court or defence access for the caller's own state's judge or defence "
            "lawyer (as POST /grants); appends case.access_granted with `exhibits`",
            "example": {
                "jurisdiction": "NL",
                "sub": "lawyer-nl",
                "role": "defence",
                "exhibits": None,
            },
            "body": GRANT,
            "status": "201",
            "response": RECORDED,
            "errors": [("409", "already granted")],
        },
        ("get", "/api/cases/{case_id}/policy"): {
            "summary": "The case's tlog-policy: log key, party witnesses, quorum",
            "media": _TEXT_PLAIN,
            "response": STR,
        },
        ("put", "/api/cases/{case_id}/policy"): {
            "summary": "Set the witness quorum: k of n, or all (prosecutor)",
            "example": {"quorum": "all"},
            "body": body(
                {"quorum": {"oneOf": [{"type": "integer"}, {"const": "all"}]}},
                required=("quorum",),
            ),
            "media": _TEXT_PLAIN,
            "response": STR,
            "errors": [("409", "the quorum cannot be met by the case's witnesses")],
        },
        ("post", "/api/cases/{case_id}/exports"): {
            "summary": (
                "Make a court bundle (prosecutor); appends export.created. With "
                "'Prefer: respond-async': 202 at once, the export pending until it is ready "
                "or refused (GET …/exports)"
            ),
            "example": {
                "recipient": "District Court of Rotterdam",
                "exhibits": None,
                "disclosure": "full",
                "content": False,
            },
            "query": [
                {
                    "name": "Prefer",
                    "in": "header",
                    "required": False,
                    "description": "respond-async (RFC 7240): answer 202 at once",
                    "schema": STR,
                    "example": "respond-async",
                }
            ],
            "body": body(
                {
                    "exhibits": nullable(
                        {"type": "array", "items": UUID, "minItems": 1, "uniqueItems": True}
                    ),
                    "disclosure": {"enum": ["full", "selective"]},
                    "content": BOOL,
                    "recipient": text(500),
                },
                required=("recipient",),
            ),
            "status": "201",
            "response": EXPORT_MADE,
            "headers": {"Location": LOCATION, "Vary": header(STR, "Prefer")},
            "successes": [
                (
                    "202",
                    "Prefer: respond-async: the export is pending",
                    EXPORT_VIEW,
                    {
                        "Location": LOCATION,
                        "Preference-Applied": header(STR, "respond-async"),
                        "Vary": header(STR, "Prefer"),
                    },
                )
            ],
            "errors": (
                ("409", "refused (not witnessed, fails verification, access changed)"),
                ("507", "not enough disk for the bundle (export_no_room)"),
            ),
        },
        ("get", "/api/cases/{case_id}/exports"): {
            "summary": "The case's exports the caller may receive",
            "response": EXPORTS,
        },
        ("get", "/api/cases/{case_id}/exports/{export_id}/status"): {
            "summary": "How one export goes: pending, ready or refused (no bundle, no entry)",
            "query": [_EXPORT_ID],
            "response": EXPORT_VIEW,
        },
        ("get", "/api/cases/{case_id}/exports/{export_id}"): {
            "summary": "Download a court bundle (ZIP, streamed)",
            "query": [
                _EXPORT_ID,
                optional_header("Range", "byte ranges of the bundle (206)"),
                optional_header("If-None-Match", "the bundle's ETag: 304 if it matches"),
            ],
            "media": "application/zip",
            "response": _BYTES,
            "headers": {"JITC-Bundle-SHA256": header(HEX, "SHA-256 of the bundle")},
            "successes": [
                ("206", "one range (application/zip) or several (multipart/byteranges)", _BYTES)
            ],
            "errors": [("409", "the export is not ready, or was refused")],
            # A Range the file server cannot parse or meet is answered by it, in plain text.
            "answers": {
                "304": {"description": "If-None-Match matched: not sent again"},
                "400": {
                    "description": "bad input; a malformed Range in plain text",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}},
                        "text/plain": {"schema": STR},
                    },
                },
                "416": {
                    "description": "the Range is outside the bundle",
                    "headers": {"Content-Range": header(STR, "bytes */size")},
                    "content": {"text/plain": {"schema": STR}},
                },
            },
        },
    }
)

_OPERATIONS.update(CONTENT_OPERATIONS)


def documented_operations() -> set[tuple[str, str]]:
    return set(_OPERATIONS)


def openapi_document(app_routes: Sequence[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in app_routes:
        if not isinstance(route, Route):
            continue
        for method in sorted(route.methods or ()):
            key = (method.lower(), route.path)
            if key in _OPERATIONS:
                paths.setdefault(route.path, {})[key[0]] = operation(route.path, _OPERATIONS[key])
    return {
        "openapi": "3.1.0",
        "info": {"title": "JIT Custody workspace", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
