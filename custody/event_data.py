"""spec 2.1: the event types, whether each names an exhibit, and the data each requires.

The table the entry parser (custody.entry) checks every entry's `data` against, with its
value checks. Adding an event type to the format means adding it here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from custody.events import COURT_ROLES, EventType

__all__ = [
    "EVENT_TYPES",
    "FORBIDDEN",
    "OPTIONAL",
    "REQUIRED",
    "Check",
    "is_hex",
    "is_int",
    "is_str",
]

Check = Callable[[Any], bool]


def is_str(value: Any) -> bool:
    return isinstance(value, str)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_size(value: Any) -> bool:
    return is_int(value) and value >= 0


_fromhex = bytes.fromhex


def is_hex(value: Any) -> bool:
    """64 lowercase hex characters: a SHA-256 or BLAKE3 digest, or a leaf hash.

    bytes.hex() writes exactly the even-length lowercase hex strings, so a value that
    round-trips through bytes.fromhex() unchanged is one; several times faster than a
    regular expression. The entry parser writes it out for `prev` and `exhibit_prev`."""
    if type(value) is not str or len(value) != 64:
        return False
    try:
        return _fromhex(value).hex() == value
    except ValueError:  # not hex, or not ASCII
        return False


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_range(value: Any) -> bool:
    return value is None or (
        isinstance(value, list)
        and len(value) == 2
        and all(_is_size(item) for item in value)
        and value[0] <= value[1]
    )


def _is_str_list_or_null(value: Any) -> bool:
    return value is None or _is_str_list(value)


def _is_court_role(value: Any) -> bool:
    return value in COURT_ROLES


def _is_disclosure(value: Any) -> bool:
    return value in ("full", "selective")


REQUIRED = "id"
FORBIDDEN = "null"
OPTIONAL = "id or null"

# type -> (exhibit rule, {field: (check, what it must be)})
EVENT_TYPES: Final[Mapping[str, tuple[str, Mapping[str, tuple[Check, str]]]]] = {
    EventType.CASE_CREATED: (
        FORBIDDEN,
        {
            "title": (is_str, "a string"),
            "parties": (_is_str_list, "a list of jurisdiction codes"),
            "agreement": (is_str, "a string"),
        },
    ),
    EventType.PARTY_PROPOSED: (FORBIDDEN, {"jurisdiction": (is_str, "a string")}),
    EventType.PARTY_APPROVED: (
        FORBIDDEN,
        {"proposal": (_is_size, "the seq of a case.party_proposed entry")},
    ),
    EventType.PARTY_ADDED: (
        FORBIDDEN,
        {
            "jurisdiction": (is_str, "a string"),
            "proposal": (_is_size, "the seq of a case.party_proposed entry"),
        },
    ),
    EventType.PARTY_REMOVED: (FORBIDDEN, {"jurisdiction": (is_str, "a string")}),
    EventType.ACCESS_GRANTED: (
        FORBIDDEN,
        {
            "jurisdiction": (is_str, "a string"),
            "sub": (is_str, "a string"),
            "role": (_is_court_role, '"judge" or "defence"'),
            "exhibits": (_is_str_list_or_null, "a list of exhibit ids or null"),
        },
    ),
    EventType.ACCESS_REVOKED: (
        FORBIDDEN,
        {
            "jurisdiction": (is_str, "a string"),
            "sub": (is_str, "a string"),
            "role": (is_str, "a string"),
        },
    ),
    EventType.POLICY_SET: (FORBIDDEN, {"policy": (is_str, "a string")}),
    EventType.REGISTERED: (
        REQUIRED,
        {
            "label": (is_str, "a string"),
            "owner": (is_str, "a string"),
            "description": (is_str, "a string"),
            "acquisition": (_is_object, "an object"),
        },
    ),
    EventType.INGESTED: (
        REQUIRED,
        {
            "size": (_is_size, "a non-negative integer"),
            "sha256": (is_hex, "64 lowercase hex characters"),
            "blake3": (is_hex, "64 lowercase hex characters"),
            "filename": (is_str, "a string"),
            "media_type": (is_str, "a string"),
        },
    ),
    EventType.INGEST_REJECTED: (
        REQUIRED,
        {
            "reason": (is_str, "a string"),
            "size": (_is_size, "a non-negative integer"),
            "sha256": (is_hex, "64 lowercase hex characters"),
            "expected_sha256": (is_hex, "64 lowercase hex characters"),
        },
    ),
    EventType.ACCESSED: (
        REQUIRED,
        {
            "purpose": (is_str, "a string"),
            "range": (_is_range, "null or [first, last] byte offsets"),
        },
    ),
    EventType.VERIFIED: (
        REQUIRED,
        {
            "ok": (_is_bool, "a boolean"),
            "sha256": (is_hex, "64 lowercase hex characters"),
            "blake3": (is_hex, "64 lowercase hex characters"),
        },
    ),
    EventType.SHARED: (
        REQUIRED,
        {"jurisdiction": (is_str, "a string"), "conditions": (is_str, "a string")},
    ),
    EventType.SHARE_REVOKED: (
        REQUIRED,
        {"jurisdiction": (is_str, "a string"), "conditions": (is_str, "a string")},
    ),
    EventType.SEALED: (REQUIRED, {"reason": (is_str, "a string")}),
    EventType.HOLD_SET: (
        REQUIRED,
        {"reason": (is_str, "a string"), "authority": (is_str, "a string")},
    ),
    EventType.HOLD_RELEASED: (
        REQUIRED,
        {
            "reason": (is_str, "a string"),
            "hold": (_is_size, "the seq of an exhibit.hold_set entry"),
        },
    ),
    EventType.DISPOSED: (
        REQUIRED,
        {"reason": (is_str, "a string"), "authority": (is_str, "a string")},
    ),
    EventType.NOTE_ADDED: (
        OPTIONAL,
        {"commitment": (is_hex, "64 lowercase hex characters")},
    ),
    EventType.EXPORT_CREATED: (
        FORBIDDEN,
        {
            "bundle_sha256": (is_hex, "64 lowercase hex characters"),
            "exhibits": (_is_str_list, "a list of exhibit ids"),
            "disclosure": (_is_disclosure, '"full" or "selective"'),
            "recipient": (is_str, "a string"),
        },
    ),
}
