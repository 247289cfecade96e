"""OpenAPI schemas of the JIT rules' requests and answers: grants with their scope, party
proposals and consents, holds named by seq (spec 2.1). Used by `server.api.openapi`."""

from __future__ import annotations

from typing import Any, Final

from server.api import schemas

_STR: Final[dict[str, Any]] = {"type": "string"}
_INT: Final[dict[str, Any]] = {"type": "integer", "minimum": 0}

_GRANT_WHOM = {"jurisdiction": _STR, "sub": _STR, "role": {"enum": ["judge", "defence"]}}
GRANT: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["jurisdiction", "sub", "role"],
    "additionalProperties": False,
    "properties": {
        **_GRANT_WHOM,
        "exhibits": {
            "type": ["array", "null"],
            "items": {**_STR, "format": "uuid"},
            "minItems": 1,
            "maxItems": schemas.MAX_GRANT_EXHIBITS,
            "uniqueItems": True,
            "description": "the exhibits the grant discloses; null or absent: all that the "
            "granting state may read, at each read",
        },
    },
    "description": "jurisdiction must be the granting prosecutor's own state (403 "
    "grant_other_state otherwise); each listed exhibit must be one that state may read (403 "
    "not_shared otherwise)",
}
GRANT_REVOKE: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["jurisdiction", "sub", "role"],
    "additionalProperties": False,
    "properties": _GRANT_WHOM,
}
GRANT_VIEW: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {**_GRANT_WHOM, "exhibits": {"type": ["array", "null"], "items": _STR}},
}
PROPOSAL: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "seq": _INT,
        "jurisdiction": _STR,
        "proposed_by": _STR,
        "consented": {"type": "array", "items": _STR},
        "pending": {"type": "array", "items": _STR},
        "created_at": _STR,
    },
}
PARTY_PENDING: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["proposal", "pending"],
    "properties": {
        "proposal": _INT,
        "pending": {"type": "array", "items": _STR},
        "approved": _INT,
    },
}
PARTY_ADDED: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["proposal", "added", "jurisdiction"],
    "properties": {"proposal": _INT, "added": _INT, "jurisdiction": _STR},
}
HOLD_ANSWER: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["hold", "seq", "type"],
    "properties": {"hold": _INT, "seq": _INT, "type": _STR},
}
HOLD: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "hold": _INT,
        "jurisdiction": _STR,
        "role": _STR,
        "reason": _STR,
        "authority": _STR,
        "set_at": _STR,
    },
}
