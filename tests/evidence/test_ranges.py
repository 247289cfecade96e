"""Byte ranges (RFC 9110 14.1.2) resolved against an object's size, checked against slicing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.errors import RangeNotSatisfiableError
from evidence.store import ByteRange, resolve_range


def model(size: int, first: int | None, last: int | None) -> range | None:
    """The bytes a range selects, straight from RFC 9110; None when unsatisfiable."""
    if first is None and last is None:
        return range(size)
    if first is None:
        assert last is not None
        return range(max(0, size - last), size) if last > 0 and size > 0 else None
    if first < 0 or first >= size or (last is not None and last < first):
        return None
    return range(first, size if last is None else min(last + 1, size))


@given(
    st.integers(min_value=0, max_value=50),
    st.none() | st.integers(min_value=-2, max_value=60),
    st.none() | st.integers(min_value=-2, max_value=60),
)
def test_resolve_range_matches_the_rfc(size: int, first: int | None, last: int | None) -> None:
    expected = model(size, first, last)
    if expected is None:
        with pytest.raises(RangeNotSatisfiableError):
            resolve_range(size, first, last)
        return
    selected = resolve_range(size, first, last)
    assert range(selected.first, selected.last + 1) == expected
    assert selected.length == len(expected)


def test_whole_empty_object() -> None:
    assert resolve_range(0, None, None) == ByteRange(0, -1)
    assert resolve_range(0, None, None).length == 0
