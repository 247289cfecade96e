"""RFC 8785 canonical JSON: the orjson fast path must equal the reference encoder."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.canonical import (
    MAX_SAFE_INTEGER,
    CanonicalFormError,
    canonical_bytes,
    parse_canonical,
    parse_json,
    reference_canonical_bytes,
)

# Strings over the whole of Unicode except lone surrogates (not encodable as UTF-8),
# weighted towards the characters where JSON encoders disagree: controls, quotes, escapes,
# U+2028/9, U+E000..U+FFFF and astral characters (RFC 8785 3.2.3 sorts keys by UTF-16).
_tricky = st.sampled_from(
    ["\x00", "\x1f", "\x7f", '"', "\\", "/", "\u2028", "\u2029", "\ue000", "\uffff", "😀", "é"]
)
_text = st.lists(st.one_of(_tricky, st.characters(exclude_categories=["Cs"])), max_size=12).map(
    "".join
)
_ints = st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
_json = st.recursive(
    st.none() | st.booleans() | _ints | _text,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_text, children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_fast_path_equals_reference_encoder(value: Any) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_text, _json, max_size=6))
def test_parse_canonical_round_trips(value: dict[str, Any]) -> None:
    encoded = reference_canonical_bytes(value)
    assert parse_canonical(encoded) == value


def test_key_order_is_utf16_not_code_point() -> None:
    # U+E000 sorts after U+1F600 by code point but before it by UTF-16 code unit.
    value = {"\ue000": 1, "😀": 2}
    assert canonical_bytes(value) == '{"😀":2,"\ue000":1}'.encode()
    assert parse_canonical('{"😀":2,"\ue000":1}'.encode()) == value
    with pytest.raises(CanonicalFormError, match="canonical"):
        parse_canonical('{"\ue000":1,"😀":2}'.encode())


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a": 1}', "canonical"),
        (b'{"b":1,"a":2}', "canonical"),
        (b'{"a":1,"a":1}', "duplicate object key"),
        (b'{"a":1.0}', "floating-point"),
        (b'{"a":1e2}', "floating-point"),
        (b'{"a":9007199254740992}', "beyond 2\\^53"),
        (b'{"a":-9007199254740992}', "beyond 2\\^53"),
        (b'{"a":18446744073709551616}', "floating-point"),
        (b'{"a":"\\u0041"}', "canonical"),
        (b'{"a":"\xff"}', "UTF-8"),
        (b'{"a":"\\ud800"}', "JSON"),
        (b"[" * 2000 + b"]" * 2000, "JSON"),
        (b"[" * 100 + b"]" * 100, "nested deeper"),
        (b'{"a":1}\n', "canonical"),
        (b"", "JSON"),
        (b"NaN", "JSON"),
    ],
)
def test_non_canonical_input_is_refused_with_reason(data: bytes, reason: str) -> None:
    with pytest.raises(CanonicalFormError, match=reason):
        parse_canonical(data)


def test_encoder_refuses_floats_and_unsafe_integers() -> None:
    with pytest.raises(CanonicalFormError, match="floating-point"):
        canonical_bytes({"a": 0.5})
    with pytest.raises(CanonicalFormError, match="beyond"):
        canonical_bytes([2**53])
    with pytest.raises(CanonicalFormError, match="keys must be strings"):
        canonical_bytes({1: "a"})


def test_parse_json_refuses_duplicates_and_constants() -> None:
    with pytest.raises(CanonicalFormError, match="duplicate"):
        parse_json(b'{"x": 1, "x": 2}')
    with pytest.raises(CanonicalFormError, match="JSON"):
        parse_json(b'{"x": NaN}')
    assert parse_json(b'{ "x" : [1, 2] }') == {"x": [1, 2]}
