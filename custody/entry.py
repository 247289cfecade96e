"""Custody log entries (spec 2): building, canonical bytes, leaf hashes, strict parsing.

An entry is a JSON object stored and hashed as its RFC 8785 canonical bytes. Parsing is
strict and says which field is wrong, so a court report can name the defect.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, NamedTuple, NewType

import orjson

from custody.canonical import (
    MAX_SAFE_INTEGER,
    CanonicalFormError,
    canonical_bytes,
    check_plain,
    parse_canonical,
    parse_json,
)
from custody.errors import EntryFormatError
from custody.events import COURT_ROLES, SYSTEM_ROLE, EventType
from custody.merkle import HASH_SIZE, ZERO_HASH
from custody.merkle import leaf_hash as merkle_leaf_hash

__all__ = [
    "ACTOR_KEYS",
    "ENTRY_KEYS",
    "ENTRY_VERSION",
    "EVENT_TYPES",
    "SYSTEM_ACTOR",
    "ZERO_HASH",
    "ZERO_HEX",
    "Actor",
    "Entry",
    "HexDigest",
    "format_time",
    "make_entry",
    "parse_time",
]

HexDigest = NewType("HexDigest", str)
"""64 lowercase hex characters: a SHA-256 (or BLAKE3-256) digest."""

ENTRY_VERSION: Final = 1
# spec 2: `prev` of entry 0, and `exhibit_prev` of an exhibit's first entry.
ZERO_HEX: Final = HexDigest(ZERO_HASH.hex())

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# spec 2: UTC, RFC 3339 with microseconds and "Z".
# [0-9], never \d: \d matches any Unicode digit, and times are compared as text.
_TIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6}Z"
)

ENTRY_KEYS: Final = frozenset(
    {"v", "case", "seq", "prev", "time", "actor", "type", "exhibit", "exhibit_prev", "data"}
)
ACTOR_KEYS: Final = frozenset({"jurisdiction", "sub", "role", "token"})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted, as their access token said (spec 2 `actor`)."""

    jurisdiction: str
    sub: str
    role: str
    token: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "jurisdiction": self.jurisdiction,
            "sub": self.sub,
            "role": self.role,
            "token": self.token,
        }


SYSTEM_ACTOR: Final = Actor(jurisdiction="-", sub="system", role=SYSTEM_ROLE, token=None)


# --- spec 2.1: event types, whether they name an exhibit, and their required data ---------

_Check = Callable[[Any], bool]


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_size(value: Any) -> bool:
    return _is_int(value) and value >= 0


_fromhex = bytes.fromhex


def _is_hex(value: Any) -> bool:
    """64 lowercase hex characters: a SHA-256 or BLAKE3 digest, or a leaf hash.

    bytes.hex() writes exactly the even-length lowercase hex strings, so a value that
    round-trips through bytes.fromhex() unchanged is one; several times faster than a
    regular expression, and it runs on two fields of every entry."""
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


_REQUIRED = "id"
_FORBIDDEN = "null"
_OPTIONAL = "id or null"

# type -> (exhibit rule, {field: (check, what it must be)})
EVENT_TYPES: Final[Mapping[str, tuple[str, Mapping[str, tuple[_Check, str]]]]] = {
    EventType.CASE_CREATED: (
        _FORBIDDEN,
        {
            "title": (_is_str, "a string"),
            "parties": (_is_str_list, "a list of jurisdiction codes"),
            "agreement": (_is_str, "a string"),
        },
    ),
    EventType.PARTY_PROPOSED: (_FORBIDDEN, {"jurisdiction": (_is_str, "a string")}),
    EventType.PARTY_APPROVED: (
        _FORBIDDEN,
        {"proposal": (_is_size, "the seq of a case.party_proposed entry")},
    ),
    EventType.PARTY_ADDED: (
        _FORBIDDEN,
        {
            "jurisdiction": (_is_str, "a string"),
            "proposal": (_is_size, "the seq of a case.party_proposed entry"),
        },
    ),
    EventType.PARTY_REMOVED: (_FORBIDDEN, {"jurisdiction": (_is_str, "a string")}),
    EventType.ACCESS_GRANTED: (
        _FORBIDDEN,
        {
            "jurisdiction": (_is_str, "a string"),
            "sub": (_is_str, "a string"),
            "role": (_is_court_role, '"judge" or "defence"'),
            "exhibits": (_is_str_list_or_null, "a list of exhibit ids or null"),
        },
    ),
    EventType.ACCESS_REVOKED: (
        _FORBIDDEN,
        {
            "jurisdiction": (_is_str, "a string"),
            "sub": (_is_str, "a string"),
            "role": (_is_str, "a string"),
        },
    ),
    EventType.POLICY_SET: (_FORBIDDEN, {"policy": (_is_str, "a string")}),
    EventType.REGISTERED: (
        _REQUIRED,
        {
            "label": (_is_str, "a string"),
            "owner": (_is_str, "a string"),
            "description": (_is_str, "a string"),
            "acquisition": (_is_object, "an object"),
        },
    ),
    EventType.INGESTED: (
        _REQUIRED,
        {
            "size": (_is_size, "a non-negative integer"),
            "sha256": (_is_hex, "64 lowercase hex characters"),
            "blake3": (_is_hex, "64 lowercase hex characters"),
            "filename": (_is_str, "a string"),
            "media_type": (_is_str, "a string"),
        },
    ),
    EventType.INGEST_REJECTED: (
        _REQUIRED,
        {
            "reason": (_is_str, "a string"),
            "size": (_is_size, "a non-negative integer"),
            "sha256": (_is_hex, "64 lowercase hex characters"),
            "expected_sha256": (_is_hex, "64 lowercase hex characters"),
        },
    ),
    EventType.ACCESSED: (
        _REQUIRED,
        {
            "purpose": (_is_str, "a string"),
            "range": (_is_range, "null or [first, last] byte offsets"),
        },
    ),
    EventType.VERIFIED: (
        _REQUIRED,
        {
            "ok": (_is_bool, "a boolean"),
            "sha256": (_is_hex, "64 lowercase hex characters"),
            "blake3": (_is_hex, "64 lowercase hex characters"),
        },
    ),
    EventType.SHARED: (
        _REQUIRED,
        {"jurisdiction": (_is_str, "a string"), "conditions": (_is_str, "a string")},
    ),
    EventType.SHARE_REVOKED: (
        _REQUIRED,
        {"jurisdiction": (_is_str, "a string"), "conditions": (_is_str, "a string")},
    ),
    EventType.SEALED: (_REQUIRED, {"reason": (_is_str, "a string")}),
    EventType.HOLD_SET: (
        _REQUIRED,
        {"reason": (_is_str, "a string"), "authority": (_is_str, "a string")},
    ),
    EventType.HOLD_RELEASED: (
        _REQUIRED,
        {
            "reason": (_is_str, "a string"),
            "hold": (_is_size, "the seq of an exhibit.hold_set entry"),
        },
    ),
    EventType.DISPOSED: (
        _REQUIRED,
        {"reason": (_is_str, "a string"), "authority": (_is_str, "a string")},
    ),
    EventType.NOTE_ADDED: (
        _OPTIONAL,
        {"commitment": (_is_hex, "64 lowercase hex characters")},
    ),
    EventType.EXPORT_CREATED: (
        _FORBIDDEN,
        {
            "bundle_sha256": (_is_hex, "64 lowercase hex characters"),
            "exhibits": (_is_str_list, "a list of exhibit ids"),
            "disclosure": (_is_disclosure, '"full" or "selective"'),
            "recipient": (_is_str, "a string"),
        },
    ),
}


class Entry(NamedTuple):
    """One custody log entry (spec 2). `raw` is its canonical bytes, `leaf` its leaf hash.

    Immutable. A NamedTuple rather than a frozen dataclass: the verifier builds a million
    of these per run and tuple construction is several times cheaper.
    """

    case: str
    seq: int
    prev: HexDigest
    time: str
    actor: Actor
    type: str
    exhibit: str | None
    exhibit_prev: HexDigest | None
    data: Mapping[str, Any]
    raw: bytes
    leaf: bytes
    v: int = ENTRY_VERSION

    @property
    def known_type(self) -> bool:
        return self.type in EVENT_TYPES

    def to_json(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "case": self.case,
            "seq": self.seq,
            "prev": self.prev,
            "time": self.time,
            "actor": self.actor.to_json(),
            "type": self.type,
            "exhibit": self.exhibit,
            "exhibit_prev": self.exhibit_prev,
            "data": _thaw(self.data),
        }

    def canonical_bytes(self) -> bytes:
        return self.raw

    def leaf_hash(self) -> bytes:
        """RFC 9162 2.1.1: SHA-256(0x00 || canonical bytes)."""
        return self.leaf

    def leaf_hex(self) -> HexDigest:
        return HexDigest(self.leaf.hex())

    @classmethod
    def parse(cls, line: bytes) -> Entry:
        """Parse one canonical entry; raise EntryFormatError naming the bad field."""
        try:
            # Values are type-checked field by field below; `data` is walked there.
            obj = parse_canonical(line, check_values=False)
        except CanonicalFormError as exc:
            raise EntryFormatError(str(exc)) from None
        return _from_json(obj, line)

    @classmethod
    def parse_noncanonical(cls, line: bytes) -> Entry:
        """Parse a well-formed entry whose bytes are not canonical (for reports only).

        The verifier fails such a line in check 1 but still follows it through the other
        checks, keyed by the leaf hash of the bytes as given, so one defect is reported once.
        """
        try:
            obj = parse_json(line)
        except CanonicalFormError as exc:
            raise EntryFormatError(str(exc)) from None
        return _from_json(obj, line)


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(item) for item in value]
    return value


def format_time(moment: datetime) -> str:
    """spec 2 `time`: UTC, RFC 3339 with microseconds and Z."""
    if moment.tzinfo is None:
        raise EntryFormatError("entry time must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    if _TIME.fullmatch(text) is None:
        raise EntryFormatError(f"time {text!r} is not RFC 3339 UTC with microseconds and Z")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise EntryFormatError(f"time {text!r} is not a valid date and time") from None


# Values that recur on every entry of a log (the case id, a handful of dates and actors) are
# validated once. Only values that passed the full check are cached, and the check is a
# pure function of the value, so caching cannot change a verdict.
_CACHE_LIMIT = 4096
_valid_cases: set[str] = set()
_valid_dates: set[str] = set()
# Each distinct actor is checked once, then found by its four values (a value equal to a
# checked one is that same str, or None).
_actors: dict[tuple[Any, ...], Actor] = {}


def _fail(seq: Any, message: str) -> EntryFormatError:
    where = f"entry seq {seq}" if _is_int(seq) else "entry"
    return EntryFormatError(f"{where}: {message}")


# EVENT_TYPES as the parser walks it: (exhibit rule, ((field, check, what), ...)).
_DATA_RULES: Final = {
    kind: (exhibit_rule, tuple((name, check, what) for name, (check, what) in fields.items()))
    for kind, (exhibit_rule, fields) in EVENT_TYPES.items()
}
_MISSING: Final = object()


def _check_data(seq: Any, type_: str, exhibit: Any, data: Mapping[str, Any]) -> None:
    rule = _DATA_RULES.get(type_)
    if rule is None:
        return  # spec 2.1: new types may be added; verifiers report them, not fail
    exhibit_rule, fields = rule
    if exhibit is None:
        if exhibit_rule is _REQUIRED:
            raise _fail(seq, f"type {type_} must name an exhibit")
    elif exhibit_rule is _FORBIDDEN:
        raise _fail(seq, f"type {type_} must have exhibit null")
    for name, check, what in fields:
        value = data.get(name, _MISSING)
        if value is _MISSING:
            raise _fail(seq, f"data.{name} is missing (required for {type_})")
        # The commonest check, a string, without a call.
        valid = type(value) is str if check is _is_str else check(value)
        if not valid:
            raise _fail(seq, f"data.{name} must be {what}")


_tuple_new = tuple.__new__
_TIME_MATCH = _TIME.fullmatch


def _from_json(obj: Any, raw: bytes) -> Entry:
    """The entry `obj` describes, or EntryFormatError naming the first bad field.

    Runs once per entry a verifier reads: exact type tests, recurring values checked once."""
    if type(obj) is not dict:
        raise _fail(None, "is not a JSON object")
    try:
        # Ten fields, each found: exactly ENTRY_KEYS (cheaper than comparing key sets).
        if len(obj) != len(ENTRY_KEYS):
            raise KeyError
        seq, version, case, prev, time = obj["seq"], obj["v"], obj["case"], obj["prev"], obj["time"]
        value, type_, exhibit, exhibit_prev = (
            obj["actor"],
            obj["type"],
            obj["exhibit"],
            obj["exhibit_prev"],
        )
        data = obj["data"]
    except KeyError:
        raise _keys_error(obj) from None
    if type(version) is not int or version != ENTRY_VERSION:
        raise _fail(seq, f"v must be {ENTRY_VERSION}")
    if type(seq) is not int or not 0 <= seq <= MAX_SAFE_INTEGER:
        raise _fail(None, "seq must be a non-negative integer below 2^53")
    if type(case) is not str or case not in _valid_cases:
        _check_case(seq, case)
    if not _is_hex(prev):
        raise _fail(seq, "prev must be 64 lowercase hex characters")
    if seq == 0 and prev != ZERO_HEX:
        raise _fail(seq, "prev of the first entry must be 64 zeros")
    if type(time) is not str or time[:10] not in _valid_dates or _TIME_MATCH(time) is None:
        _check_time(seq, time)
    try:
        # Four fields, each found: exactly ACTOR_KEYS.
        actor = (
            _actors.get((value["jurisdiction"], value["sub"], value["role"], value["token"]))
            if len(value) == len(ACTOR_KEYS)
            else None
        )
    except (KeyError, TypeError):  # not an object, or an unhashable value: _actor says why
        actor = None
    if actor is None:
        actor = _actor(seq, value)
    if type(type_) is not str or not type_:
        raise _fail(seq, "type must be a non-empty string")
    if exhibit is None:
        if exhibit_prev is not None:
            raise _fail(seq, "exhibit_prev must be null when exhibit is null")
    else:
        if type(exhibit) is not str or not exhibit:
            raise _fail(seq, "exhibit must be a non-empty string or null")
        if not _is_hex(exhibit_prev):
            raise _fail(seq, "exhibit_prev must be 64 lowercase hex characters")
    if type(data) is not dict:
        raise _fail(seq, "data must be an object")
    try:
        check_plain(data, 1)
    except CanonicalFormError as exc:
        raise _fail(seq, f"data: {exc}") from None
    _check_data(seq, type_, exhibit, data)
    # Entry(...) field by field, without the NamedTuple's Python-level __new__.
    return _tuple_new(
        Entry,
        (
            case,
            seq,
            prev,
            time,
            actor,
            type_,
            exhibit,
            exhibit_prev,
            MappingProxyType(data),
            raw,
            merkle_leaf_hash(raw),
            ENTRY_VERSION,
        ),
    )


def _keys_error(obj: dict[str, Any]) -> EntryFormatError:
    seq = obj.get("seq")
    missing = ENTRY_KEYS - obj.keys()
    if missing:
        return _fail(seq, f"missing field(s) {', '.join(sorted(missing))}")
    return _fail(seq, f"unknown field(s) {', '.join(sorted(obj.keys() - ENTRY_KEYS))}")


def _check_case(seq: int, case: Any) -> None:
    if type(case) is not str or _UUID.fullmatch(case) is None:
        raise _fail(seq, "case must be a lowercase canonical UUID")
    if len(_valid_cases) < _CACHE_LIMIT:
        _valid_cases.add(case)


def _check_time(seq: int, time: Any) -> None:
    """spec 2 `time`, in full; remembers each valid day so later entries skip the calendar."""
    if not isinstance(time, str):
        raise _fail(seq, "time must be a string")
    try:
        parse_time(time)
    except EntryFormatError as exc:
        raise _fail(seq, str(exc)) from None
    if len(_valid_dates) < _CACHE_LIMIT:
        _valid_dates.add(time[:10])


def _actor(seq: int, value: Any) -> Actor:
    if type(value) is not dict or value.keys() != ACTOR_KEYS:
        raise _fail(seq, "actor must be an object with jurisdiction, sub, role, token")
    for name in ("jurisdiction", "sub", "role"):
        if type(value[name]) is not str or not value[name]:
            raise _fail(seq, f"actor.{name} must be a non-empty string")
    if value["token"] is not None and type(value["token"]) is not str:
        raise _fail(seq, "actor.token must be a string or null")
    key = (value["jurisdiction"], value["sub"], value["role"], value["token"])
    actor = Actor(*key)
    if len(_actors) < _CACHE_LIMIT:
        _actors[key] = actor
    return actor


def make_entry(
    *,
    case: str,
    seq: int,
    prev: bytes,
    time: datetime | str,
    actor: Actor,
    type: str,  # noqa: A002 - the spec's field name
    exhibit: str | None,
    exhibit_prev: bytes | None,
    data: Mapping[str, Any],
) -> Entry:
    """Build an entry and its canonical bytes; raise EntryFormatError if it breaks spec 2."""
    if len(prev) != HASH_SIZE or (exhibit_prev is not None and len(exhibit_prev) != HASH_SIZE):
        raise EntryFormatError("prev and exhibit_prev must be 32-byte hashes")
    obj = {
        "v": ENTRY_VERSION,
        "case": case,
        "seq": seq,
        "prev": prev.hex(),
        "time": time if isinstance(time, str) else format_time(time),
        "actor": actor.to_json(),
        "type": type,
        "exhibit": exhibit,
        "exhibit_prev": None if exhibit_prev is None else exhibit_prev.hex(),
        "data": _thaw(data),
    }
    try:
        raw = canonical_bytes(obj)
    except CanonicalFormError as exc:
        raise EntryFormatError(f"entry seq {seq}: {exc}") from None
    # Parsed back from its bytes, so the entry holds plain JSON values (a caller's
    # EventType or Role member becomes the str a reader of the log would see).
    return _from_json(orjson.loads(raw), raw)
