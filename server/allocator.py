"""glibc malloc settings for a server process that lives for weeks (`tune_malloc`).

What an app server allocates in bulk is short-lived and large: 5 MiB S3 part buffers,
1 MiB chunks of content read back, 256 KiB socket reads of an upload body. glibc serves
blocks at or above its mmap threshold (128 KiB) with mmap and gives them back to the
system when they are freed, but the threshold is *dynamic*: freeing such a block raises
it to that block's size (up to 32 MiB). After the first 5 MiB part buffer is freed, every
later buffer of up to 5 MiB comes from the heap arenas instead, where freed memory is
only given back if it ends up at the top of its heap; small objects allocated in between
by the same thread pin it. With the upload and request threads (up to 64 + 32) each
allowed an arena of its own (glibc: up to 8 per core), every thread that once carried an
upload keeps a few of those part-sized holes. Measured under sustained load (docs/
benchmarks.md, "Sustained load"): resident memory rose in steps with large uploads, from
about 100 MiB to 200 MiB in ten minutes, while the Python objects alive did not grow.

`tune_malloc` fixes the threshold (which also turns the dynamic adjustment off, so big
buffers always go back to the system when freed) and caps the number of arenas. The cost
is a page fault per 4 KiB of a fresh big buffer; the bytes it touches are copied or
hashed anyway. An operator's own setting (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_,
GLIBC_TUNABLES in the environment) is left as it is. On another C library (musl,
macOS) nothing is done.

`give_back` (malloc_trim) returns the whole free pages inside the heaps to the system;
the server calls it when an upload request ends, which leaves up to ~10 MiB of body
chunks freed in the heap (measured: docs/benchmarks.md). It walks the free chunks of
the (two) arenas: well under a millisecond, against seconds for an upload.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform
from typing import Final

log = logging.getLogger("jitc.allocator")

MMAP_THRESHOLD: Final = 512 * 1024
"""Blocks from this size on are mmapped, and unmapped when freed. glibc starts at 128 KiB;
512 KiB keeps the socket reads of an upload body (asyncio reads 256 KiB at a time) in the
heap, where they are reused, and sends part buffers and content chunks back."""
ARENA_MAX: Final = 2
"""Arenas for all threads together: the event loop and the worker threads contend a
little more for them, and hold far less free memory between requests."""

# mallopt(3) parameter numbers, from glibc's malloc.h.
_M_MMAP_THRESHOLD: Final = -3
_M_ARENA_MAX: Final = -8
_OVERRIDES: Final = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")


def _glibc() -> ctypes.CDLL | None:
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


_LIBC: Final = _glibc()


def give_back() -> bool:
    """Give the free pages inside the heap arenas back to the system (glibc only); whether
    there were any."""
    return _LIBC is not None and _LIBC.malloc_trim(0) == 1


def tune_malloc(
    *, mmap_threshold: int = MMAP_THRESHOLD, arena_max: int = ARENA_MAX
) -> dict[str, int]:
    """Set glibc's mmap threshold and arena limit for this process; returns what was set
    (empty: not glibc, or the environment already says how malloc should behave)."""
    if _LIBC is None or any(name in os.environ for name in _OVERRIDES):
        return {}
    mallopt = _LIBC.mallopt
    done: dict[str, int] = {}
    for name, param, value in (
        ("mmap_threshold", _M_MMAP_THRESHOLD, mmap_threshold),
        ("arena_max", _M_ARENA_MAX, arena_max),
    ):
        if mallopt(param, value) == 1:  # mallopt returns 1 on success
            done[name] = value
        else:
            log.warning("glibc refused mallopt %s=%d", name, value)
    return done
