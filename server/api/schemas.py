"""Request bodies and parameters, parsed into the services' typed inputs.

Parse, don't validate: a value that comes out of here is well-formed. Anything else
raises InvalidRequestError naming the field, which becomes a 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from custody.canonical import CanonicalFormError, parse_json
from server.errors import InvalidRequestError
from server.services.cases import Grant, NewCase
from server.services.exhibits import NewExhibit
from server.services.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from server.tokens import JURISDICTION_CODE

UUID_TEXT: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MAX_FIELD_NAME: Final = 64  # an acquisition field name (names land in every later log read)
_HASH_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_HEX = re.compile(r"(?:[0-9a-f]{2}){16,64}")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,15}")

MAX_TITLE = 500
MAX_LABEL = 200
MAX_DESCRIPTION = 10_000
MAX_NOTE = 64 * 1024
MAX_REASON = 2_000
MAX_ORDER = 4_000  # a disposal order's reason and authority
MAX_SUB = 200
MAX_PARTIES = 64
MAX_GRANT_EXHIBITS = 1_000
MAX_ACQUISITION_FIELDS = 16
MAX_HASHES = 16
SAFE_INT = 2**53 - 1


def _bad(message: str) -> InvalidRequestError:
    return InvalidRequestError(message)


def body_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object: strict UTF-8, no duplicate keys, no floats."""
    try:
        value = parse_json(raw)
    except CanonicalFormError as exc:
        raise InvalidRequestError(
            f"the body is not acceptable JSON: {exc}", code="invalid_json"
        ) from None
    if not isinstance(value, dict):
        raise InvalidRequestError("the body must be a JSON object", code="invalid_json")
    return value


def _only(body: dict[str, Any], allowed: set[str]) -> None:
    extra = body.keys() - allowed
    if extra:
        raise _bad(f"unknown field(s): {', '.join(sorted(extra))}")


def text(
    body: dict[str, Any], name: str, *, max_length: int, required: bool = True, empty: bool = False
) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _bad(f"{name} must be a string")
    if not empty and not value.strip():
        raise _bad(f"{name} must not be empty")
    if len(value) > max_length:
        raise _bad(f"{name} is longer than {max_length} characters")
    if "\x00" in value:
        raise _bad(f"{name} contains a NUL character")
    return value


def jurisdiction_code(value: object, what: str = "jurisdiction") -> str:
    if not isinstance(value, str) or JURISDICTION_CODE.fullmatch(value) is None:
        raise _bad(f"{what} must be a jurisdiction code like NL or DE-BY")
    return value


def uuid_text(value: str, what: str) -> str:
    if UUID_TEXT.fullmatch(value) is None:
        raise InvalidRequestError(f"{what} must be a lowercase UUID", code="bad_id")
    return value


def new_case(body: dict[str, Any]) -> NewCase:
    _only(body, {"title", "parties", "agreement"})
    parties = body.get("parties")
    if not isinstance(parties, list) or not parties:
        raise _bad("parties must be a non-empty list of jurisdiction codes")
    if len(parties) > MAX_PARTIES:
        raise _bad(f"at most {MAX_PARTIES} parties")
    codes = tuple(jurisdiction_code(code, "each party") for code in parties)
    if len(set(codes)) != len(codes):
        raise _bad("parties must not repeat")
    return NewCase(
        title=text(body, "title", max_length=MAX_TITLE),
        parties=codes,
        agreement=text(body, "agreement", max_length=MAX_TITLE, required=False, empty=True),
    )


def _acquisition(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad("acquisition must be an object with tool, operator, time and hashes")
    if len(value) > MAX_ACQUISITION_FIELDS:
        raise _bad(f"acquisition has more than {MAX_ACQUISITION_FIELDS} fields")
    result: dict[str, Any] = {}
    for name in ("tool", "operator", "time"):
        if not isinstance(value.get(name), str):
            raise _bad(f"acquisition.{name} must be a string")
        result[name] = text(value, name, max_length=MAX_LABEL)
    try:
        when = datetime.fromisoformat(result["time"].replace("Z", "+00:00"))
    except ValueError:
        raise _bad("acquisition.time must be an RFC 3339 date and time") from None
    if when.tzinfo is None:
        raise _bad("acquisition.time must carry a time zone (e.g. Z)")
    hashes = value.get("hashes", {})
    if not isinstance(hashes, dict) or len(hashes) > MAX_HASHES:
        raise _bad(f"acquisition.hashes must be an object of at most {MAX_HASHES} hashes")
    for algorithm, digest in hashes.items():
        if _HASH_NAME.fullmatch(algorithm) is None:
            raise _bad(f"acquisition.hashes: bad algorithm name {algorithm!r}")
        if not isinstance(digest, str) or _HEX.fullmatch(digest) is None:
            raise _bad(f"acquisition.hashes.{algorithm} must be lowercase hex")
    result["hashes"] = dict(hashes)
    for name in value:
        if name in result:
            continue
        if len(name) > MAX_FIELD_NAME or (
            _HASH_NAME.fullmatch(name) is None and not name.replace("_", "").isalnum()
        ):
            raise _bad(f"acquisition: bad field name {name[:MAX_FIELD_NAME]!r}")
        result[name] = text(value, name, max_length=MAX_DESCRIPTION, empty=True)
    return result


def new_exhibit(body: dict[str, Any]) -> NewExhibit:
    _only(body, {"label", "description", "acquisition"})
    return NewExhibit(
        label=text(body, "label", max_length=MAX_LABEL),
        description=text(
            body, "description", max_length=MAX_DESCRIPTION, required=False, empty=True
        ),
        acquisition=_acquisition(body.get("acquisition")),
    )


def note(body: dict[str, Any]) -> tuple[str | None, str]:
    _only(body, {"exhibit", "text"})
    exhibit = body.get("exhibit")
    if exhibit is not None:
        if not isinstance(exhibit, str):
            raise _bad("exhibit must be an exhibit id or null")
        uuid_text(exhibit, "exhibit")
    return exhibit, text(body, "text", max_length=MAX_NOTE)


# Characters that change how the text around them is displayed (bidi embeddings,
# overrides, isolates and marks): in a disposal order, which a court may read in the log,
# "authority" must show what it says.
_BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


@dataclass(frozen=True, slots=True)
class DisposalOrder:
    reason: str
    authority: str


def _shown_as_written(value: str, name: str) -> str:
    if any(c in _BIDI_CONTROLS for c in value):
        raise _bad(f"{name} contains a bidirectional control character")
    return value


def disposal_order(body: dict[str, Any]) -> DisposalOrder:
    """POST …/dispose: `{"reason", "authority"}`, nothing else; no NUL, no bidi controls."""
    _only(body, {"reason", "authority"})
    return DisposalOrder(
        reason=_shown_as_written(text(body, "reason", max_length=MAX_ORDER), "reason"),
        authority=_shown_as_written(text(body, "authority", max_length=MAX_ORDER), "authority"),
    )


def reason(body: dict[str, Any]) -> str:
    _only(body, {"reason"})
    return text(body, "reason", max_length=MAX_REASON)


def party(body: dict[str, Any]) -> str:
    _only(body, {"jurisdiction"})
    return jurisdiction_code(body.get("jurisdiction"))


def grant(body: dict[str, Any], *, scope: bool = True) -> Grant:
    """A grant: whom (jurisdiction, sub, role) and, unless `scope` is False (revoking),
    the exhibits it discloses: a list of exhibit ids, or null/absent for all."""
    _only(
        body,
        {"jurisdiction", "sub", "role", "exhibits"} if scope else {"jurisdiction", "sub", "role"},
    )
    role = body.get("role")
    if role not in ("judge", "defence"):
        raise InvalidRequestError("role must be judge or defence", code="role_not_grantable")
    assert isinstance(role, str)
    return Grant(
        jurisdiction=jurisdiction_code(body.get("jurisdiction")),
        sub=text(body, "sub", max_length=MAX_SUB),
        role=role,
        exhibits=_exhibit_list(body.get("exhibits")),
    )


def _exhibit_list(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or len(value) > MAX_GRANT_EXHIBITS:
        raise _bad(
            f"exhibits must be null or a non-empty list of at most {MAX_GRANT_EXHIBITS} exhibit ids"
        )
    ids = []
    for item in value:
        if not isinstance(item, str):
            raise _bad("exhibits must list exhibit ids (lowercase UUIDs)")
        ids.append(uuid_text(item, "each exhibit"))
    if len(set(ids)) != len(ids):
        raise _bad("exhibits must not repeat")
    return tuple(ids)


def hold(body: dict[str, Any]) -> tuple[str, str]:
    """POST …/hold: (reason, authority), both required (spec 2.1 exhibit.hold_set)."""
    _only(body, {"reason", "authority"})
    return (
        text(body, "reason", max_length=MAX_REASON),
        text(body, "authority", max_length=MAX_REASON),
    )


def release(body: dict[str, Any]) -> tuple[str, int]:
    """POST …/hold/release: (reason, hold), the hold being the seq of its exhibit.hold_set."""
    _only(body, {"reason", "hold"})
    seq = body.get("hold")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= SAFE_INT:
        raise _bad("hold must be the seq (a non-negative integer) of an exhibit.hold_set entry")
    return text(body, "reason", max_length=MAX_REASON), seq


def non_negative(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    if _DECIMAL.fullmatch(value) is None or int(value) > SAFE_INT:
        raise _bad(f"{name} must be a non-negative decimal integer")
    return int(value)


def page_request(limit: str | None, cursor: str | None) -> PageRequest:
    count = non_negative(limit, "limit")
    if count is None:
        count = DEFAULT_LIMIT
    if not 1 <= count <= MAX_LIMIT:
        raise _bad(f"limit must be between 1 and {MAX_LIMIT}")
    if cursor is not None and len(cursor) > 512:
        raise _bad("cursor is too long")
    return PageRequest(limit=count, cursor=cursor)
