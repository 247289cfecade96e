"""Custody log entries (spec 2): building, canonical bytes, leaf hashes, strict parsing.

An entry is a JSON object stored and hashed as its RFC 8785 canonical bytes. Parsing is
strict and says which field is wrong, so a court report can name the defect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, NamedTuple, NewType

import orjson

from custody.canonical import (
    DIVERGENT,
    MAX_SAFE_INTEGER,
    CanonicalFormError,
    canonical_bytes,
    check_plain,
    parse_canonical,
    parse_json,
)
from custody.errors import EntryFormatError
from custody.event_data import EVENT_TYPES, FORBIDDEN, REQUIRED, is_int, is_str
from custody.events import SYSTEM_ROLE
from custody.merkle import HASH_SIZE, ZERO_HASH
from custody.merkle import new_leaf_hasher as _leaf_hasher

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
    "canonical_object",
    "entry_from_object",
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
    def parse(cls, line: bytes, expected_prev: str = "") -> Entry:
        """Parse one canonical entry; raise EntryFormatError naming the bad field.

        `expected_prev`: a string known to be 64 lowercase hex characters (a reader of a log
        passes the leaf hash of the line before, as `.hex()` wrote it). A `prev` equal to it
        is then known to be well formed without the format check; any other `prev` gets the
        full check, so the verdict is the same with or without it."""
        # Two halves, which custody.verify.parallel runs on two processes: the bytes are
        # canonical (canonical_object), and the value they hold is an entry
        # (entry_from_object). Values are type-checked field by field in the second.
        return _from_json(canonical_object(line), line, expected_prev)

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


def canonical_object(line: bytes) -> Any:
    """The JSON value of `line`, which must be its RFC 8785 canonical bytes; raise
    EntryFormatError saying why they are not (Entry.parse's first half)."""
    # parse_canonical's fast path, inlined (it runs once per entry a verifier reads): bytes
    # that orjson re-encodes to themselves, with no byte where orjson's key order can differ
    # from RFC 8785's, are canonical. Anything else, including bytes that are not JSON at
    # all, goes through parse_canonical, which gives the verdict and the reason; its value
    # is orjson's too.
    try:
        obj = _loads(line)
    except _JSONDecodeError:
        obj = _NOT_PARSED
    if (
        obj is _NOT_PARSED
        or _dumps(obj, option=_SORT_KEYS) != line
        or not (line.isascii() or _divergent(line) is None)
    ):
        try:
            obj = parse_canonical(line, check_values=False)
        except CanonicalFormError as exc:
            raise EntryFormatError(str(exc)) from None
    return obj


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
    where = f"entry seq {seq}" if is_int(seq) else "entry"
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
        if exhibit_rule is REQUIRED:
            raise _fail(seq, f"type {type_} must name an exhibit")
    elif exhibit_rule is FORBIDDEN:
        raise _fail(seq, f"type {type_} must have exhibit null")
    for name, check, what in fields:
        value = data.get(name, _MISSING)
        if value is _MISSING:
            raise _fail(seq, f"data.{name} is missing (required for {type_})")
        # The commonest check, a string, without a call.
        valid = type(value) is str if check is is_str else check(value)
        if not valid:
            raise _fail(seq, f"data.{name} must be {what}")


_tuple_new = tuple.__new__
_loads = orjson.loads
_dumps = orjson.dumps
_SORT_KEYS: Final = orjson.OPT_SORT_KEYS
_JSONDecodeError = orjson.JSONDecodeError
_NOT_PARSED: Final = object()
_ENTRY_KEY_COUNT: Final = len(ENTRY_KEYS)
_ACTOR_KEY_COUNT: Final = len(ACTOR_KEYS)
_divergent = DIVERGENT.search
_TIME_MATCH = _TIME.fullmatch
_fromhex = bytes.fromhex


def _from_json(obj: Any, raw: bytes, expected_prev: str = "") -> Entry:
    """The entry `obj` describes, or EntryFormatError naming the first bad field.

    Runs once per entry a verifier reads: exact type tests, recurring values checked once."""
    if type(obj) is not dict:
        raise _fail(None, "is not a JSON object")
    try:
        # Ten fields, each found: exactly ENTRY_KEYS (cheaper than comparing key sets).
        if len(obj) != _ENTRY_KEY_COUNT:
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
    if prev != expected_prev:  # else known well formed (see Entry.parse)
        # event_data.is_hex, written out here and for exhibit_prev below (every entry).
        try:
            prev_ok = type(prev) is str and len(prev) == 64 and _fromhex(prev).hex() == prev
        except ValueError:
            prev_ok = False
        if not prev_ok:
            raise _fail(seq, "prev must be 64 lowercase hex characters")
    if seq == 0 and prev != ZERO_HEX:
        raise _fail(seq, "prev of the first entry must be 64 zeros")
    if type(time) is not str or time[:10] not in _valid_dates or _TIME_MATCH(time) is None:
        _check_time(seq, time)
    try:
        # Four fields, each found: exactly ACTOR_KEYS.
        actor = (
            _actors.get((value["jurisdiction"], value["sub"], value["role"], value["token"]))
            if len(value) == _ACTOR_KEY_COUNT
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
        try:
            exhibit_prev_ok = (
                type(exhibit_prev) is str
                and len(exhibit_prev) == 64
                and _fromhex(exhibit_prev).hex() == exhibit_prev
            )
        except ValueError:
            exhibit_prev_ok = False
        if not exhibit_prev_ok:
            raise _fail(seq, "exhibit_prev must be 64 lowercase hex characters")
    if type(data) is not dict:
        raise _fail(seq, "data must be an object")
    # check_plain's walk is needed only for a value other than a string or null (keys are
    # strings: orjson parsed them); most entries' data hold nothing else.
    for item in data.values():
        if type(item) is not str and item is not None:
            try:
                check_plain(data, 1)
            except CanonicalFormError as exc:
                raise _fail(seq, f"data: {exc}") from None
            break
    _check_data(seq, type_, exhibit, data)
    # merkle.leaf_hash inlined: RFC 9162 2.1.1, SHA-256(0x00 || canonical bytes).
    leaf = _leaf_hasher()
    leaf.update(raw)
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
            leaf.digest(),
            ENTRY_VERSION,
        ),
    )


# Entry.parse's second half: the entry that the JSON value `obj` of the line `raw` holds
# (every field checked, the leaf hash of `raw` computed), or EntryFormatError naming the
# first bad field. Whether `raw` is canonical is canonical_object's question.
entry_from_object: Final = _from_json


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
