"""Where a server process's memory goes, sampled from inside it (bench/load.py --probe).

`install(path, every)` starts a daemon thread that appends one JSON line to `path` every
`every` seconds: VmRSS and /proc/self/smaps_rollup (anonymous vs file pages), the thread
count, glibc's mallinfo2() (bytes the heap arenas hold from the system and how much of it
is free inside them, bytes in mmapped chunks), the arenas malloc_info() lists, and, if
tracemalloc runs, what Python objects hold. With tracemalloc, a snapshot is also written
next to `path` every `snapshot_every` seconds, for `diff` to compare:

    .venv/bin/python -m bench.memprobe diff first.snap last.snap [--top 25]

The numbers answer one question: is growing RSS held by live Python objects (a leak:
tracemalloc grows with it), or free memory the allocator keeps (mallinfo2's fordblks and
the arenas grow, tracemalloc does not)?
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import re
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",  # bytes of the heap arenas (sbrk and mmapped heaps), from the system
            "ordblks",  # free chunks
            "smblks",
            "hblks",  # mmapped chunks (big blocks)
            "hblkhd",  # bytes in mmapped chunks
            "usmblks",
            "fsmblks",
            "uordblks",  # bytes in use in the arenas
            "fordblks",  # bytes free in the arenas
            "keepcost",  # bytes at the top that malloc_trim could give back
        )
    ]


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "mallinfo2"):
        return None
    libc.mallinfo2.restype = _Mallinfo2
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    return libc


MiB = 1024 * 1024

ENTRY = (
    "import os, sys; from pathlib import Path\n"
    "from bench.memprobe import install\n"
    "install(Path(os.environ['LOADPROBE_PATH']), float(os.environ['LOADPROBE_EVERY']),\n"
    "        frames=int(os.environ.get('LOADPROBE_FRAMES', '0')),\n"
    "        trim=os.environ.get('LOADPROBE_TRIM') == '1')\n"
    "from server.cli import main; sys.exit(main(sys.argv[1:]))"
)
"""A `jitc` entry point (python -c) that runs the probe inside the server process."""


def _proc(path: str, fields: tuple[str, ...]) -> dict[str, float]:
    found: dict[str, float] = {}
    try:
        for line in Path(path).read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in fields:
                found[key] = round(int(rest.split()[0]) / 1024, 1)  # kB -> MiB
    except OSError:
        pass
    return found


def _arenas(libc: ctypes.CDLL) -> dict[str, Any]:
    """malloc_info's per-arena totals: how many arenas, and MiB from the system in each."""
    with tempfile.NamedTemporaryFile(suffix=".xml") as tmp:
        stream = libc.fopen(tmp.name.encode(), b"w")
        if not stream:
            return {}
        libc.malloc_info(0, stream)
        libc.fclose(stream)
        xml = Path(tmp.name).read_text()
    heaps = re.findall(r'<heap nr="\d+">(.*?)</heap>', xml, re.S)
    system = [
        int(m.group(1)) / MiB
        for h in heaps
        if (m := re.search(r'<system type="current" size="(\d+)"/>', h))
    ]
    free = [
        int(m.group(1)) / MiB
        for h in heaps
        if (m := re.search(r'<total type="rest" count="\d+" size="(\d+)"/>', h))
    ]
    return {
        "arenas": len(heaps),
        "arena_system_mib": [round(s, 1) for s in system],
        "arena_free_mib": [round(f, 1) for f in free],
    }


def sample(libc: ctypes.CDLL | None) -> dict[str, Any]:
    record: dict[str, Any] = {"t": round(time.time(), 1)}
    record.update(_proc("/proc/self/status", ("VmRSS", "VmHWM", "RssAnon", "RssFile")))
    record.update(_proc("/proc/self/smaps_rollup", ("Private_Dirty", "Anonymous")))
    record["threads"] = threading.active_count()
    record["os_threads"] = len(os.listdir("/proc/self/task"))
    if libc is not None:
        info = libc.mallinfo2()
        for name in ("arena", "hblkhd", "uordblks", "fordblks", "keepcost"):
            record[f"{name}_mib"] = round(getattr(info, name) / MiB, 1)
        record["hblks"] = info.hblks
        record.update(_arenas(libc))
    if tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        record["traced_mib"] = round(current / MiB, 1)
        record["traced_peak_mib"] = round(peak / MiB, 1)
    return record


TRACE_AFTER = 20.0
"""Seconds before tracemalloc starts: tracing the imports would slow the server's start
past the bench's patience, and only growth under load matters."""


def install(
    path: Path, every: float, *, frames: int = 0, trim: bool = False, snapshot_every: float = 60.0
) -> None:
    """`trim`: call malloc_trim(0) before each sample, to measure how much of the resident
    memory is free memory the allocator would give back."""
    libc = _libc()
    started = time.monotonic()

    def run() -> None:
        next_snapshot = TRACE_AFTER
        while True:
            late = time.monotonic() - started >= TRACE_AFTER
            if frames and late and not tracemalloc.is_tracing():
                tracemalloc.start(frames)
            if trim and libc is not None:
                libc.malloc_trim(0)
            with path.open("a") as out:
                out.write(json.dumps(sample(libc)) + "\n")
            elapsed = time.monotonic() - started
            if tracemalloc.is_tracing() and elapsed >= next_snapshot:
                snap = path.with_name(f"{path.stem}-{int(elapsed):05d}.snap")
                tracemalloc.take_snapshot().dump(str(snap))
                next_snapshot += snapshot_every
            time.sleep(every)

    threading.Thread(target=run, name="memprobe", daemon=True).start()


def diff(first: Path, last: Path, top: int, key: str) -> None:
    a = tracemalloc.Snapshot.load(str(first))
    b = tracemalloc.Snapshot.load(str(last))
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = b.filter_traces(ignore).compare_to(a.filter_traces(ignore), key)
    total = sum(s.size_diff for s in stats)
    print(f"{first.name} -> {last.name}: {total / MiB:+.2f} MiB traced")
    for stat in stats[:top]:
        print(f"{stat.size_diff / 1024:+10.1f} KiB {stat.count_diff:+7d}  {stat.traceback}")
        if key == "traceback":
            for line in stat.traceback.format()[-8:]:
                print("      " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("diff", help="what grew between two snapshots")
    d.add_argument("first", type=Path)
    d.add_argument("last", type=Path)
    d.add_argument("--top", type=int, default=25)
    d.add_argument("--key", default="lineno", choices=("lineno", "traceback", "filename"))
    args = parser.parse_args()
    diff(args.first, args.last, args.top, args.key)


if __name__ == "__main__":
    sys.exit(main())
