"""RFC 8785 JSON Canonicalization Scheme (JCS) for custody entries and bundle manifests.

`canonical_bytes` encodes a value; `parse_canonical` parses bytes and proves they are
canonical by re-encoding them. The reference encoder is the `rfc8785` package. A fast path
through `orjson` is used when it provably gives the same bytes (see `_fast_path_applies`);
tests check the two byte-for-byte on generated values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import orjson
import rfc8785

from custody.errors import FormatError

# RFC 8785 3.2.2.3 / I-JSON (RFC 7493 2.2): integers must be exactly representable as IEEE 754
# doubles. Entries hold no floats at all (spec 2), so every number is an integer in this range.
MAX_SAFE_INTEGER = 2**53 - 1

# orjson sorts object keys by code point (UTF-8 byte order); RFC 8785 3.2.3 sorts by UTF-16 code
# units. The two orders agree unless a key holds a character at or above U+E000 next to one
# outside the BMP. Such characters start with UTF-8 lead byte 0xEE or higher, so a document
# without those bytes sorts identically under both.
DIVERGENT = re.compile(rb"[\xee-\xff]")

# JSON nesting deeper than this is refused before any recursive walk (orjson stops at 1024).
MAX_DEPTH = 64


class CanonicalFormError(FormatError):
    """Bytes that are not the RFC 8785 canonical form of a JSON value we accept."""


def check_plain(value: Any, depth: int = 0) -> None:
    """Refuse what JCS or our format cannot carry: floats, unsafe integers, deep nesting.

    Written for speed (it runs on every entry's `data`): exact type dispatch, strings first.
    """
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return
    if kind is int:
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalFormError(f"integer {value} is beyond 2^53-1 (RFC 8785 3.2.2.3)")
        return
    if kind is float:
        raise CanonicalFormError("floating-point numbers are not allowed (spec 2)")
    if depth >= MAX_DEPTH:
        raise CanonicalFormError(f"JSON nested deeper than {MAX_DEPTH} levels")
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise CanonicalFormError("object keys must be strings")
            if type(item) is not str and item is not None:
                check_plain(item, depth + 1)
        return
    if kind is list or kind is tuple:
        for item in value:
            if type(item) is not str:
                check_plain(item, depth + 1)
        return
    if isinstance(value, Mapping):
        check_plain(dict(value), depth)
        return
    if isinstance(value, str):  # a StrEnum member (EventType, Role) encodes as its text
        return
    raise CanonicalFormError(f"value of type {kind.__name__} cannot be encoded as JSON")


def _fast_path_applies(encoded: bytes) -> bool:
    return encoded.isascii() or DIVERGENT.search(encoded) is None


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value (integers only, no floats)."""
    check_plain(value)
    try:
        fast = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise CanonicalFormError(f"cannot encode value: {exc}") from None
    if _fast_path_applies(fast):
        return fast
    return reference_canonical_bytes(value)


def reference_canonical_bytes(value: Any) -> bytes:
    """RFC 8785 bytes from the reference encoder alone (no fast path)."""
    try:
        encoded: bytes = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalFormError(f"cannot canonicalize: {exc}") from None
    return encoded


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in pairs:
        if key in result:
            raise CanonicalFormError(f"duplicate object key {key!r}")
        result[key] = item
    return result


def parse_json(data: bytes) -> Any:
    """Parse JSON strictly: UTF-8, no duplicate keys, bounded depth, no NaN/Infinity.

    Used for input that need not be canonical (API bodies, user files)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalFormError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None

    def _no_constant(name: str) -> Any:
        raise CanonicalFormError(f"{name} is not valid JSON")

    try:
        orjson.loads(data)  # cheap depth (1024) and syntax gate before the slow parser
        value = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_no_constant)
    except orjson.JSONDecodeError as exc:
        raise CanonicalFormError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise CanonicalFormError("JSON nested too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        if isinstance(exc, CanonicalFormError):
            raise
        raise CanonicalFormError(f"not valid JSON: {exc}") from None
    check_plain(value)
    return value


def parse_canonical(data: bytes, *, check_values: bool = True) -> Any:
    """Parse bytes that must be RFC 8785 canonical; raise CanonicalFormError saying why not.

    Canonical bytes can hold no duplicate keys, whitespace or escapes beyond the minimal
    ones, so re-encoding the parsed value and comparing bytes proves canonicity.
    `check_values=False` skips the walk for floats and unsafe integers: only for callers
    that type-check every value themselves (the entry parser walks `data` alone).
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if isinstance(exc.__cause__, UnicodeDecodeError) or "UTF-8" in str(exc):
            raise CanonicalFormError(f"not valid UTF-8 JSON: {exc}") from None
        raise CanonicalFormError(f"not valid JSON: {exc}") from None
    if check_values:
        check_plain(value)
    fast = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    if fast == data and _fast_path_applies(data):
        return value
    if reference_canonical_bytes(value) != data:
        parse_json(data)  # raises the precise reason where there is one (duplicate key...)
        raise CanonicalFormError("not in RFC 8785 canonical form (re-encoding differs)")
    return value
