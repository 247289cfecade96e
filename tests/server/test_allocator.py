"""server.allocator: a freed part buffer does not turn glibc's later big buffers into heap
memory that stays with the process. Each case runs in a fresh interpreter, so the
allocator of the test process is left alone."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc malloc only")

ROOT = Path(__file__).resolve().parent.parent.parent
PART = 5 * 1024 * 1024  # an S3 part buffer (evidence.s3.store.MIN_PART_SIZE)

PROBE = f"""
import ctypes, ctypes.util, json, sys
from server.allocator import tune_malloc

class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()
    )]

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.mallinfo2.restype = Mallinfo2
tuned = tune_malloc() if sys.argv[1] == "tune" else {{}}
first = bytearray({PART})
del first  # the first part buffer of an upload, freed
before = libc.mallinfo2()
second = bytearray({PART})  # the next upload's
after = libc.mallinfo2()
print(json.dumps({{
    "tuned": tuned,
    "mmapped": after.hblkhd - before.hblkhd,
    "heap": after.arena - before.arena,
}}))
"""


def run_probe(mode: str, **env: str) -> dict[str, Any]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_without_tuning_a_freed_part_buffer_sends_the_next_one_to_the_heap() -> None:
    """The cause of the server's growth (docs/benchmarks.md, "Sustained load"): glibc's
    dynamic mmap threshold rises to the size of a freed big block, so the next one of
    that size is carved from the heap instead of mapped."""
    result = run_probe("plain")
    assert result["tuned"] == {}
    assert result["mmapped"] < PART


def test_tuned_every_part_buffer_is_mapped_and_goes_back_when_freed() -> None:
    result = run_probe("tune")
    assert result["tuned"] == {"mmap_threshold": 512 * 1024, "arena_max": 2}
    assert result["mmapped"] >= PART
    assert result["heap"] < PART


def test_an_operators_own_malloc_setting_is_left_alone() -> None:
    assert run_probe("tune", MALLOC_ARENA_MAX="4")["tuned"] == {}
    assert run_probe("tune", GLIBC_TUNABLES="glibc.malloc.arena_max=4")["tuned"] == {}
