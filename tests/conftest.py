"""Fixtures shared by every test package: the S3 server the `s3` tests run against.

By default a moto server on loopback. moto runs as its own process (`python -m
moto.server`), so none of moto, boto3 or botocore is imported here and their warnings
never meet `filterwarnings=error`; it also makes a SIGKILLed writer a real separate
client of a real HTTP server.

With `JITC_TEST_S3=rgw` the same tests run against a real S3 server with Object Lock,
Ceph's RADOS Gateway, which `scripts/s3-rgw start` runs (one per machine, shared by
checkouts). Each test session gets its own RGW user, so its buckets are its own, and
removes it with every bucket at the end (locked objects too: they are test data). A
missing RGW skips the tests locally and fails the run when CI=true.
"""

from __future__ import annotations

import os
import shlex
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

from tests.evidence.support import S3Server

REPO = Path(__file__).resolve().parents[1]
RGW_SCRIPT = REPO / "scripts" / "s3-rgw"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _rgw(*args: str) -> str:
    result = subprocess.run(
        ["bash", str(RGW_SCRIPT), *args], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or f"scripts/s3-rgw {args[0]} failed")
    return result.stdout


def _rgw_endpoint() -> str:
    """The running RGW's host:port; fails (CI) or skips when none runs."""
    try:
        settings = _rgw("env")
    except RuntimeError as exc:
        reason = f"JITC_TEST_S3=rgw but no RGW runs ({exc}); start one with scripts/s3-rgw start"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    for line in settings.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and words[1].startswith("JITC_RGW_ENDPOINT="):
            return words[1].split("=", 1)[1]
    raise RuntimeError(f"scripts/s3-rgw env printed no endpoint: {settings!r}")


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """The S3 server of the `s3` tests (the name is older than the RGW pass)."""
    kind = os.environ.get("JITC_TEST_S3", "moto")
    if kind == "rgw":
        yield from _rgw_server()
    elif kind == "moto":
        yield from _moto_server(tmp_path_factory)
    else:
        raise pytest.UsageError(f"JITC_TEST_S3 must be moto or rgw, not {kind!r}")


def _rgw_server() -> Iterator[S3Server]:
    endpoint = _rgw_endpoint()
    user = f"jitc-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    access_key, secret_key = _rgw("user-add", user).split()
    try:
        yield S3Server(endpoint, kind="rgw", access_key=access_key, secret_key=secret_key)
    finally:
        _rgw("user-rm", user)


def _moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = S3Server(f"127.0.0.1:{port}")
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
