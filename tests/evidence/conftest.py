"""Fixtures: every store test run on both stores (the moto S3 server: tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from evidence.keys import ExhibitKey, exhibit_key
from evidence.store import BlobStore
from tests.evidence.support import Harness, MotoServer


@pytest.fixture(params=["fs", pytest.param("s3", marks=pytest.mark.s3)])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "fs":
        yield Harness("fs", root=tmp_path / "evidence")
        return
    moto_server: MotoServer = request.getfixturevalue("moto_server")  # only S3 starts moto
    suffix = uuid.uuid4().hex[:12]
    try:
        yield Harness(
            "s3", moto=moto_server, bucket=f"evidence-{suffix}", staging_bucket=f"staging-{suffix}"
        )
    finally:
        moto_server.reset()  # moto keeps everything in memory


@pytest.fixture
def store(harness: Harness) -> BlobStore:
    return harness.store


@pytest.fixture
def key() -> ExhibitKey:
    return exhibit_key(uuid.uuid4(), uuid.uuid4())


@pytest.fixture
def moto(moto_server: MotoServer) -> Iterator[MotoServer]:
    """The S3 server, for tests that build their own S3 stores (`make_store`)."""
    try:
        yield moto_server
    finally:
        moto_server.reset()
