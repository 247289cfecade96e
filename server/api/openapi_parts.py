"""The pieces /openapi.json is built from: request values exactly as `server.api.schemas`
parses them, and the answers' bodies and headers as the services' `to_json` give them.

A value the server would refuse must not fit the schema, and one it accepts must fit:
schemathesis (tests/server/test_openapi_schemathesis.py) sends both kinds and checks the
answer. Fields that can be null say so. `operation` turns a row of the table in
`server.api.openapi` into an OpenAPI operation.
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
        "log_size": INT,  # the log's size when the bundle was made (spec 5)
        "not_cosigned": {"type": "array", "items": STR},  # witnesses missing at tree_size
        "witnesses": {"type": "array", "items": STR},  # of the bundle's policy
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
        "log_size": nullable(INT),
        "not_cosigned": nullable({"type": "array", "items": STR}),
        "witnesses": nullable({"type": "array", "items": STR}),
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


def optional_header(name: str, description: str, *, example: str | None = None) -> dict[str, Any]:
    """A request header the client may send (any string: the server ignores what it
    cannot use, or answers as described)."""
    parameter: dict[str, Any] = {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": STR,
    }
    if example is not None:
        parameter["example"] = example
    return parameter


_PATH_PARAMETERS: Final = {
    "case_id": UUID,
    "exhibit_id": UUID,
    "upload_id": UUID,
    "export_id": UUID,
    "code": CODE,
    "seq": SAFE_INT,
}
_ERROR_CONTENT: Final = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": _ERROR_CONTENT}
    if headers:
        answer["headers"] = headers
    return answer


def _answer(
    description: str, media: str | None, schema: dict[str, Any], headers: dict[str, Any]
) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if media is not None:
        answer["content"] = {media: {"schema": schema}}
    if headers:
        answer["headers"] = headers
    return answer


def operation(path: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI operation of one row of the table in `server.api.openapi`: its own
    answers, and those every operation of its kind shares."""
    by_name = {p["name"] for p in spec.get("query", []) if p["in"] == "path"}
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": schema}
        | ({"example": "DE"} if name == "code" else {})
        for name, schema in _PATH_PARAMETERS.items()
        if "{" + name + "}" in path and name not in by_name
    ] + list(spec.get("query", []))
    media = spec.get("media", "application/json")
    responses: dict[str, Any] = {
        spec.get("status", "200"): _answer(
            "success", media, spec.get("response", {"type": "object"}), spec.get("headers", {})
        )
    }
    for success in spec.get("successes", ()):
        code, description, schema = success[:3]
        headers = success[3] if len(success) > 3 else {}
        responses[code] = _answer(description, media, schema, headers)
    tus = {"Tus-Resumable": TUS_RESUMABLE} if spec.get("tus") else {}
    responses["400"] = _error("bad input", tus)
    if spec.get("auth", True):
        responses["401"] = _error(
            "no token, or the token is refused",
            {**tus, "WWW-Authenticate": header(STR, "Bearer error=...")},
        )
        responses["403"] = _error("not allowed", tus)
    if "{" in path:
        responses["404"] = _error("not found", tus)
    if "body" in spec or "raw_body" in spec:
        responses["408"] = _error(
            "no byte of the body came for JITC_BODY_IDLE_TIMEOUT seconds",
            {**tus, "Connection": header(STR, "close: the rest of the body is not read")},
        )
        responses["413"] = _error("the body is larger than the limit", tus)
    if "body" in spec or (spec.get("tus") and "raw_body" in spec):
        responses["415"] = _error("the body's media type is not the one described", tus)
    if spec.get("tus"):
        responses["412"] = {
            "description": "Tus-Resumable is not 1.0.0",
            "headers": {"Tus-Resumable": TUS_RESUMABLE, "Tus-Version": header(STR, "1.0.0")},
        }
    for code, description, *headers in spec.get("errors", ()):
        responses[code] = _error(description, {**tus, **(headers[0] if headers else {})})
    if spec.get("auth", True):
        responses["503"] = _error(
            "busy, or the database or evidence store is unavailable (Retry-After when busy)",
            {**tus, "Retry-After": {**RETRY_AFTER, "required": False}},
        )
    responses.update(spec.get("answers", {}))
    result: dict[str, Any] = {
        "summary": spec["summary"],
        "parameters": parameters,
        "responses": responses,
    }
    if spec.get("auth", True):
        result["security"] = [{"bearer": []}]
    if "body" in spec:
        described: dict[str, Any] = {"schema": spec["body"]}
        if "example" in spec:
            described["example"] = spec["example"]
        result["requestBody"] = {"required": True, "content": {"application/json": described}}
    elif "raw_body" in spec:
        result["requestBody"] = {
            "required": True,
            "content": {media: {"schema": schema} for media, schema in spec["raw_body"].items()},
        }
    return result
