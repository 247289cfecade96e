"""custody.bundle's reading helpers: lines in blocks and the read-ahead thread."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import TypeVar

import pytest

from custody.bundle import BundleReader, BundleWriter, read_ahead
from custody.errors import BundleFormatError

T = TypeVar("T")


def _read_ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "jitc-read-ahead"]


def _source(
    chunks: list[bytes], closed: list[bool], fail_at: int | None = None
) -> Generator[bytes]:
    try:
        for number, chunk in enumerate(chunks):
            if number == fail_at:
                raise BundleFormatError("member 'x' is corrupt")
            yield chunk
    finally:
        closed.append(True)


def _take(items: Iterable[T], into: list[T]) -> None:
    """Collect what a generator yields before it raises."""
    into.extend(items)


def test_read_ahead_yields_every_chunk_in_order() -> None:
    chunks = [bytes([n]) * 1000 for n in range(50)]
    closed: list[bool] = []
    assert list(read_ahead(_source(chunks, closed))) == chunks
    assert closed == [True]
    assert _read_ahead_threads() == []


def test_read_ahead_raises_the_producers_error_in_the_reader() -> None:
    closed: list[bool] = []
    seen: list[bytes] = []
    with pytest.raises(BundleFormatError, match="corrupt"):
        _take(read_ahead(_source([b"a", b"b", b"c", b"d"], closed, fail_at=2)), seen)
    assert seen == [b"a", b"b"]
    assert closed == [True]
    assert _read_ahead_threads() == []


def test_closing_the_reader_early_stops_the_producer_and_closes_the_source() -> None:
    closed: list[bool] = []
    reader = read_ahead(_source([b"x"] * 1000, closed), depth=2)
    assert next(reader) == b"x"
    reader.close()
    # The producer was blocked on a full hand-off: it is released, closes the source and
    # ends before close() returns (the ZIP member is never left open for the collector).
    assert closed == [True]
    assert _read_ahead_threads() == []


def test_line_blocks_give_the_lines_of_lines(tmp_path: Path) -> None:
    lines = [f"line {n}".encode() * (n % 7 + 1) for n in range(60_000)]
    path = tmp_path / "b.zip"
    with BundleWriter(path) as writer:
        writer.add_lines("entries.jsonl", lines)
    with BundleReader(path) as reader:
        blocks = list(reader.line_blocks("entries.jsonl"))
        assert [line for block in blocks for line in block] == lines
        assert list(reader.lines("entries.jsonl")) == lines
    assert len(blocks) > 1  # more than one chunk's worth: blocks are per chunk


def test_line_blocks_yield_the_lines_before_an_over_long_one(tmp_path: Path) -> None:
    path = tmp_path / "b.zip"
    with BundleWriter(path) as writer:
        writer.add_lines("entries.jsonl", [b"short", b"also short", b"x" * 100, b"after"])
    blocks: list[list[bytes]] = []
    with (
        BundleReader(path) as reader,
        pytest.raises(BundleFormatError, match="line 3 is longer than 50 bytes"),
    ):
        _take(reader.line_blocks("entries.jsonl", max_line=50), blocks)
    assert [line for block in blocks for line in block] == [b"short", b"also short"]
