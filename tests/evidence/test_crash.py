"""A writer killed with SIGKILL mid-body never leaves a complete-looking object."""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from evidence._ingest import utc_now
from evidence.keys import ExhibitKey
from tests.evidence._writer import TOTAL, WRITTEN, crash_content
from tests.evidence.support import Harness
from tests.evidence.test_store import expected_digests, read_all

REPO = Path(__file__).resolve().parents[2]


def run_and_kill(harness: Harness, mode: str, key: ExhibitKey, upload_id: uuid.UUID) -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.evidence._writer",
            json.dumps(harness.config()),
            mode,
            key.path,
            str(upload_id),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        readable, _, _ = select.select([child.stdout], [], [], 120)
        assert readable, "the writer never got going"
        assert child.stdout.readline() == b"ready\n"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL


def assert_no_object(harness: Harness, key: ExhibitKey) -> None:
    assert not harness.store.exists(key)
    if harness.kind == "fs":
        assert f"objects/{key.path}" not in harness.traces()
    else:
        # An unfinished multipart upload may remain: it is not an object.
        assert not [t for t in harness.traces() if t.startswith(f"{harness.bucket}/")]


@pytest.mark.slow
def test_sigkill_during_put_stream(harness: Harness, key: ExhibitKey) -> None:
    run_and_kill(harness, "put", key, uuid.uuid4())
    assert_no_object(harness, key)
    harness.store.expire(utc_now() + timedelta(minutes=1))  # sweeps the debris
    assert harness.traces() == []


@pytest.mark.slow
def test_sigkill_during_append_then_resume(harness: Harness, key: ExhibitKey) -> None:
    upload_id = uuid.uuid4()
    data = crash_content()
    harness.store.begin_upload(upload_id, key, TOTAL)
    run_and_kill(harness, "append", key, upload_id)
    assert_no_object(harness, key)
    # A restarted server; its clock is past the dead writer's S3 lease.
    restarted = harness.make(clock=lambda: utc_now() + timedelta(hours=1))
    offset = restarted.status(upload_id).offset
    assert 0 < offset <= WRITTEN  # S3 loses the part of a segment still in memory
    restarted.append(upload_id, offset, [data[offset:]])
    digests = restarted.finish(upload_id, hashlib.sha256(data).hexdigest())
    assert digests == expected_digests(data)
    assert read_all(restarted, key) == data
