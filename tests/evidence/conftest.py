"""Fixtures: a moto S3 server on loopback, and every store test run on both stores.

moto runs as its own process (`python -m moto.server`), so none of moto, boto3 or
botocore is imported here and their warnings never meet `filterwarnings=error`;
it also makes a SIGKILLed writer a real separate client of a real HTTP server.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from evidence.keys import ExhibitKey, exhibit_key
from evidence.store import BlobStore
from tests.evidence.support import Harness, MotoServer


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = MotoServer(f"127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{server.url}/moto-api/data.json", timeout=2) as r:
                    r.read()
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start: {log.read_text()}") from None
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
