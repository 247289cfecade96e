"""The pieces /openapi.json is built from: request values exactly as `server.api.schemas`
parses them, and the answers' bodies and headers as the services' `to_json` give them.

A value the server would refuse must not fit the schema, and one it accepts must fit:
schemathesis (tests/server/test_openapi_schemathesis.py) sends both kinds and checks the
answer. Fields that can be null say so.
"""

from __future__ import annotations

from typing import Any, Final

from server.api import schemas

UUID_PATTERN: Final = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# Characters str.strip() removes (Python's whitespace), and NUL, which no text may hold.
_SPACE = (
    "\\t\\n\\u000b\\u000c\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000"
)

STR: Final[dict[str, Any]] = {"type": "string"}
INT: Final[dict[str, Any]] = {"type": "integer", "minimum": 0}
SAFE_INT: Final[dict[str, Any]] = {"type": "integer", "minimum": 0, "maximum": schemas.SAFE_INT}
HEX: Final[dict[str, Any]] = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
BOOL: Final[dict[str, Any]] = {"type": "boolean"}
UUID: Final[dict[str, Any]] = {"type": "string", "format": "uuid", "pattern": UUID_PATTERN}
CODE: Final[dict[str, Any]] = {"type": "string", "pattern": "^[A-Z][A-Z0-9-]{1,31}$"}
TIME: Final[dict[str, Any]] = {"type": "string", "format": "date-time"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` or null (OpenAPI 3.1: a type list)."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def text(max_length: int, *, empty: bool = False) -> dict[str, Any]:
    """A string as `schemas.text` takes it: no NUL, at most `max_length` characters, and
    unless `empty`, something besides whitespace."""
    if empty:
        return {"type": "string", "maxLength": max_length, "pattern": "^[^\\u0000]*$"}
    return {
        "type": "string",
        "maxLength": max_length,
        "pattern": f"[^\\u0000{_SPACE}]",
        "not": {"pattern": "\\u0000"},
    }


def obj(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """An answer's object: every property is always there, except the `optional` ones."""
    return {
        "type": "object",
        "required": [name for name in properties if name not in optional],
        "properties": properties,
    }


def body(properties: dict[str, Any], *, required: tuple[str, ...]) -> dict[str, Any]:
    """A request body: unknown fields are refused (400)."""
    return {
        "type": "object",
        "required": list(required),
        "additionalProperties": False,
        "properties": properties,
    }


def header(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "schema": schema, "required": True}


def query(
    name: str,
    description: str,
    schema: dict[str, Any],
    *,
    required: bool = False,
    example: object = None,
) -> dict[str, Any]:
    parameter = {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }
    if example is not None:
        parameter["example"] = example
    return parameter


def header_param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": schema,
    }


ERROR: Final = obj({"error": obj({"code": STR, "message": STR})})
RECORDED: Final = obj({"seq": INT, "type": STR})
ACTOR: Final = obj({"jurisdiction": STR, "sub": STR, "role": STR, "token": nullable(STR)})

CASE: Final = obj(
    {"id": UUID, "title": STR, "agreement": STR, "created_at": STR, "created_by": STR}
)
CONTENT: Final = obj(
    {
        "size": INT,
        "sha256": HEX,
        "blake3": HEX,
        "filename": STR,
        "filename_display": STR,
        "media_type": STR,
        "ingested_at": STR,
        "ingested_seq": INT,
        "disposed": BOOL,
        "removed": BOOL,
        "retained_until": nullable(STR),
    }
)
SHARE: Final = obj(
    {
        "exhibit": UUID,
        "jurisdiction": STR,
        "conditions": STR,
        "shared_at": STR,
        "shared_seq": INT,
        "revoked_at": nullable(STR),
        "revoked_seq": nullable(INT),
        "active": BOOL,
    }
)
SHARES: Final = obj({"items": {"type": "array", "items": SHARE}})
EXPORT_MADE: Final = obj(
    {
        "id": UUID,
        "seq": INT,
        "tree_size": INT,
        "bundle_sha256": HEX,
        "bundle_size": INT,
        "exhibits": {"type": "array", "items": UUID},
    }
)
EXPORT_VIEW: Final = obj(
    {
        "id": UUID,
        "status": {"enum": ["pending", "ready", "refused"]},
        "requested_by": nullable({"type": "object"}),
        "request": nullable({"type": "object"}),
        "tree_size": nullable(INT),
        "bundle_sha256": nullable(HEX),
        "bundle_size": nullable(INT),
        "seq": nullable(INT),
        "error": nullable(STR),
        "created_at": STR,
    }
)
EXPORTS: Final = obj({"items": {"type": "array", "items": EXPORT_VIEW}})
INGESTED: Final = obj(
    {
        "seq": INT,
        "type": {"const": "exhibit.ingested"},
        "size": INT,
        "sha256": HEX,
        "blake3": HEX,
        "filename": STR,
        "media_type": STR,
    }
)
VERIFIED: Final = obj(
    {
        "seq": INT,
        "type": {"const": "exhibit.verified"},
        "ok": BOOL,
        "size": nullable(INT),
        "sha256": nullable(HEX),
        "blake3": nullable(HEX),
        "recorded": obj({"size": INT, "sha256": HEX, "blake3": HEX}),
    }
)
DISPOSED: Final = obj(
    {
        "seq": INT,
        "type": {"const": "exhibit.disposed"},
        "removed": BOOL,
        "retained_until": nullable(STR),
    }
)
INCLUSION: Final = obj(
    {
        "seq": INT,
        "size": INT,
        "leaf_hash": HEX,
        "root": HEX,
        "proof": {"type": "array", "items": HEX},
    }
)
CONSISTENCY: Final = obj(
    {
        "from": INT,
        "to": INT,
        "from_root": HEX,
        "to_root": HEX,
        "proof": {"type": "array", "items": HEX},
    }
)


def page(item: dict[str, Any]) -> dict[str, Any]:
    return obj({"items": {"type": "array", "items": item}, "next_cursor": nullable(STR)})


# Headers of answers.
LOCATION: Final = header(STR, "where the new resource is")
RETRY_AFTER: Final = header({"type": "integer", "minimum": 0}, "seconds to wait")
TUS_RESUMABLE: Final = header({"const": "1.0.0"}, "tus protocol version")
DIGEST_HEADERS: Final = {
    "Repr-Digest": header(STR, "sha-256 of the content (RFC 9530)"),
    "ETag": header(STR, "the content's SHA-256, quoted"),
    "JITC-Content-SHA256": header(HEX, "SHA-256 of the content"),
    "JITC-Content-BLAKE3": header(HEX, "BLAKE3 of the content"),
    "JITC-Content-Size": header(STR, "size in bytes"),
    "JITC-Entry-Seq": header(STR, "seq of the exhibit.ingested entry"),
}
