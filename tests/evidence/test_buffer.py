"""PartSender: parts sent side by side are reported in order, as soon as they are sent."""

from __future__ import annotations

import threading

import pytest

from evidence.errors import StorageUnavailableError
from evidence.s3.buffer import PartSender

WAIT = 30  # seconds a test waits for another thread before it fails; never a measurement


def test_parts_are_reported_in_order_while_the_producer_waits() -> None:
    """A tus upload records each part's progress as soon as it and those before it are on
    the server, not when the next part fills: a body that pauses keeps what was sent."""
    release_first = threading.Event()
    reported: list[int] = []
    all_reported = threading.Event()

    def upload(number: int, _part: memoryview) -> None:
        if number == 1:
            assert release_first.wait(WAIT)

    def on_sent(number: int) -> None:
        reported.append(number)
        if number == 3:
            all_reported.set()

    sender = PartSender(upload, 4, on_sent=on_sent)
    try:
        for number in (1, 2, 3):
            assert sender.send(number, bytearray(8)) is None  # room for a fourth
        all_reported.wait(0.2)  # room for a broken order to show; never a measurement
        assert reported == []  # 2 and 3 are sent, but 1 is not
        release_first.set()
        assert all_reported.wait(WAIT)  # no further send, no drain: reported anyway
        assert reported == [1, 2, 3]
    finally:
        sender.close()


def test_nothing_after_a_failed_part_is_reported() -> None:
    reported: list[int] = []

    def upload(number: int, _part: memoryview) -> None:
        if number == 2:
            raise StorageUnavailableError("connection reset by peer")

    sender = PartSender(upload, 3, on_sent=reported.append)
    try:
        for number in (1, 2, 3):
            sender.send(number, bytearray(8))  # the third waits for the first only
        with pytest.raises(StorageUnavailableError):
            sender.drain()
    finally:
        sender.close()
    assert reported == [1]


def test_a_failed_report_is_the_parts_failure_and_stops_the_reports() -> None:
    reported: list[int] = []

    def on_sent(number: int) -> None:
        if number == 2:
            raise StorageUnavailableError("progress record not written")
        reported.append(number)

    sender = PartSender(lambda _n, _p: None, 1, on_sent=on_sent)
    sender.send(1, bytearray(8))
    with pytest.raises(StorageUnavailableError, match="progress record"):
        sender.send(2, bytearray(8))
    sender.send(3, bytearray(8))
    sender.close()
    assert reported == [1]
