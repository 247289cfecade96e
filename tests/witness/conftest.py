"""Fixtures: a witness app on a fresh state directory, and case logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.witness.helpers import CaseLog, Harness, harness


@pytest.fixture
def wit(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path / "state") as h:
        yield h


@pytest.fixture
def log() -> CaseLog:
    return CaseLog().grow_to(10)
