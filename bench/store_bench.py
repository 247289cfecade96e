"""Evidence store throughput and memory: 1 GiB / 4 GiB generated on the fly.

    .venv/bin/python bench/store_bench.py                      # 1 GiB and 4 GiB, every case
    .venv/bin/python bench/store_bench.py --sizes 1 --cases fs,s3
    .venv/bin/python bench/store_bench.py --rgw --sizes 1 --cases s3-direct,s3,s3-tus
    .venv/bin/python bench/store_bench.py --s3-endpoint HOST:PORT  # another S3 server
    .venv/bin/python bench/store_bench.py --rgw --cases s3 --store parallel_parts=3,part_mib=16

Cases, each in a fresh child process so its peak RSS is its own:

    hash          SHA-256 + BLAKE3 of the stream only (the CPU ceiling)
    fs            FilesystemStore.put_stream (hash, write, fsync, link)
    s3            S3Store.put_stream into the Object Lock bucket (hash, MD5, multipart)
    s3-p3         the same with parallel_parts=3 (two parts sent while a third fills)
    s3-tus        S3Store resumable upload: begin, one append of everything, finish
    s3-tus-p3     the same with parallel_parts=3
    s3-tus-moved  the same, but finished by another store object (another process):
                  no BLAKE3 state, so the finish re-reads the object (ADR 0025)
    s3-direct     minio put_object of the same stream into a plain bucket (no hashing)

The body is one random 1 MiB block yielded again and again: nothing is kept in
memory, and every byte is still hashed, sent and stored. Without --s3-endpoint or
--rgw a moto server is started on loopback; moto keeps objects in memory and on local
temporary files, so its numbers measure this code plus moto, not a real server.
--rgw uses the Ceph RGW that `scripts/s3-rgw start` runs, under a user made for the run.
--store sets S3Store options for the s3 cases (parallel_parts, part_mib, checksum; the
-p3 cases keep parallel_parts=3). "cpu s/GiB" is the child process's own CPU time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minio import Minio

from evidence.fs import FilesystemStore
from evidence.hashing import hash_chunks
from evidence.keys import exhibit_key
from evidence.locking import LocalLeaseBook
from evidence.s3 import Checksum, S3Store

MiB = 1024 * 1024
GiB = 1024 * MiB
ACCESS_KEY = "bench"
SECRET_KEY = "bench-secret"
REGION = "us-east-1"


def body(size: int) -> Iterator[bytes]:
    block = os.urandom(MiB)
    full, rest = divmod(size, MiB)
    for _ in range(full):
        yield block
    if rest:
        yield block[:rest]


class _Stream(io.RawIOBase):
    """The generated body as a file for minio's put_object."""

    def __init__(self, size: int) -> None:
        self._chunks = body(size)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self._pending:
            self._pending = memoryview(next(self._chunks, b""))
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _access_key() -> str:
    return os.environ.get("BENCH_S3_ACCESS_KEY", ACCESS_KEY)


def _secret_key() -> str:
    return os.environ.get("BENCH_S3_SECRET_KEY", SECRET_KEY)


def _store_options() -> dict[str, Any]:
    """S3Store options from --store (passed to the child in BENCH_STORE_OPTIONS)."""
    options: dict[str, Any] = {}
    for item in filter(None, os.environ.get("BENCH_STORE_OPTIONS", "").split(",")):
        name, value = item.split("=", 1)
        if name == "part_mib":
            options["part_size"] = int(value) * MiB
        elif name == "parallel_parts":
            options["parallel_parts"] = int(value)
        elif name == "checksum":
            options["checksum"] = Checksum(value)
        else:
            raise SystemExit(f"unknown store option {name}")
    return options


def _s3_store(endpoint: str, suffix: str, *, parallel_parts: int | None = None) -> S3Store:
    options = _store_options()
    if parallel_parts is not None:
        options["parallel_parts"] = parallel_parts
    return S3Store(
        endpoint,
        _access_key(),
        _secret_key(),
        f"bench-evidence-{suffix}",
        staging_bucket=f"bench-staging-{suffix}",
        secure=False,
        region=REGION,
        retention_days=1,
        leases=LocalLeaseBook(),  # a second store object stands for another process
        **options,
    )


def run_case(case: str, size: int, endpoint: str) -> dict[str, float]:
    key = exhibit_key(uuid.uuid4(), uuid.uuid4())
    suffix = uuid.uuid4().hex[:10]
    tracemalloc.start()
    started = time.perf_counter()
    cpu_started = _own_cpu()
    with tempfile.TemporaryDirectory(prefix="store-bench-", dir=os.environ.get("BENCH_DIR")) as tmp:
        if case == "hash":
            hash_chunks(body(size))
        elif case == "fs":
            FilesystemStore(Path(tmp)).put_stream(key, body(size))
        elif case in {"s3", "s3-p3", "s3-tus", "s3-tus-p3", "s3-tus-moved"}:
            parallel = 3 if case.endswith("-p3") else None
            store = _s3_store(endpoint, suffix, parallel_parts=parallel)
            store.prepare()
            started = time.perf_counter()
            cpu_started = _own_cpu()
            if case in {"s3", "s3-p3"}:
                store.put_stream(key, body(size))
            else:
                upload_id = uuid.uuid4()
                store.begin_upload(upload_id, key, size)
                store.append(upload_id, 0, body(size))
                if case == "s3-tus-moved":
                    store = _s3_store(endpoint, suffix, parallel_parts=parallel)
                store.finish(upload_id)
        elif case == "s3-direct":
            client = Minio(
                endpoint,
                access_key=_access_key(),
                secret_key=_secret_key(),
                secure=False,
                region=REGION,
            )
            bucket = f"bench-plain-{suffix}"
            client.make_bucket(bucket)
            started = time.perf_counter()
            cpu_started = _own_cpu()
            client.put_object(bucket, key.path, io.BufferedReader(_Stream(size)), size)
        else:
            raise SystemExit(f"unknown case {case}")
        elapsed = time.perf_counter() - started
        cpu = _own_cpu() - cpu_started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "seconds": elapsed,
        "mb_per_s": size / 1e6 / elapsed,
        "cpu_per_gib": cpu / (size / GiB),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "traced_peak_mib": traced_peak / MiB,
    }


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=2):
                return process, f"127.0.0.1:{port}"
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    process.kill()
    raise SystemExit("moto server did not start")


def _rgw(*args: str) -> str:
    script = Path(__file__).resolve().parents[1] / "scripts" / "s3-rgw"
    return subprocess.run(
        ["bash", str(script), *args], capture_output=True, text=True, check=True
    ).stdout


def start_rgw_user() -> tuple[str, str]:
    """The running RGW's endpoint and a user of this run, whose keys the children use."""
    settings = dict(
        line.removeprefix("export ").split("=", 1)
        for line in _rgw("env").splitlines()
        if "=" in line
    )
    user = f"bench-{uuid.uuid4().hex[:8]}"
    access_key, secret_key = _rgw("user-add", user).split()
    os.environ["BENCH_S3_ACCESS_KEY"] = access_key
    os.environ["BENCH_S3_SECRET_KEY"] = secret_key
    return settings["JITC_RGW_ENDPOINT"], user


def reset_moto(endpoint: str) -> None:
    request = urllib.request.Request(f"http://{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=60):
        pass


def _child(case: str, gib: int, endpoint: str) -> dict[str, float]:
    """One case in a fresh process; prints its row."""
    os.sync()  # write back the previous case's files before timing the next
    result = subprocess.run(
        [sys.executable, __file__, "--child", case, str(gib * GiB), endpoint],
        capture_output=True,
        text=True,
        check=True,
    )
    r: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    print(
        f"| {case} | {gib} GiB | {r['seconds']:.1f} | {r['mb_per_s']:.0f} "
        f"| {r['cpu_per_gib']:.2f} | {r['peak_rss_mib']:.0f} | {r['traced_peak_mib']:.1f} |",
        flush=True,
    )
    return r


def _summary(
    seconds: dict[tuple[str, int], list[float]], cpu: dict[tuple[str, int], list[float]]
) -> None:
    """One line: each case's median speed ratio to s3-direct of the same size (run by run)
    and its median CPU seconds per GiB."""
    parts = []
    for (case, gib), times in seconds.items():
        item = f"{case} {gib} GiB cpu {statistics.median(cpu[(case, gib)]):.2f} s/GiB"
        direct = seconds.get(("s3-direct", gib))
        if direct is not None and case != "s3-direct":
            ratios = [d / t for d, t in zip(direct, times, strict=True)]
            item += f" vs s3-direct {statistics.median(ratios):.2f}"
        parts.append(item)
    store = os.environ.get("BENCH_STORE_OPTIONS") or "defaults"
    load = os.getloadavg()[0]
    print(f"SUMMARY store {store}: " + "; ".join(parts) + f"; load {load:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,4", help="GiB, comma-separated (default 1,4)")
    parser.add_argument("--cases", default="hash,fs,s3,s3-direct")
    parser.add_argument("--s3-sizes", help="GiB for the S3 cases if different (moto is slow)")
    parser.add_argument("--s3-endpoint", help="HOST:PORT of an S3 server (default: start moto)")
    parser.add_argument("--rgw", action="store_true", help="the RGW of scripts/s3-rgw")
    parser.add_argument("--store", default="", help="S3Store options: name=value,...")
    parser.add_argument("--runs", type=int, default=1, help="each case this many times")
    parser.add_argument(
        "--child", nargs=3, metavar=("CASE", "BYTES", "ENDPOINT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()

    if args.child:
        case, size, endpoint = args.child
        print(json.dumps(run_case(case, int(size), endpoint)))
        return

    cases = args.cases.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    s3_sizes = [int(s) for s in (args.s3_sizes or args.sizes).split(",")]
    moto = None
    rgw_user = None
    endpoint = args.s3_endpoint or "-"
    if args.rgw:
        endpoint, rgw_user = start_rgw_user()
    elif any(c.startswith("s3") for c in cases) and not args.s3_endpoint:
        moto, endpoint = start_moto()
    os.environ["BENCH_STORE_OPTIONS"] = args.store
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, S3 at {endpoint}")
    print(f"store options: {args.store or 'defaults'}; load average {os.getloadavg()}")
    print("| case | size | seconds | MB/s | cpu s/GiB | peak RSS MiB | traced peak MiB |")
    print("|---|---|---|---|---|---|---|")
    seconds: dict[tuple[str, int], list[float]] = {}
    cpu: dict[tuple[str, int], list[float]] = {}
    try:
        for run in range(args.runs):
            # Alternate the order, so that no case always runs on a warmer machine.
            for case in cases if run % 2 == 0 else list(reversed(cases)):
                for gib in s3_sizes if case.startswith("s3") else sizes:
                    r = _child(case, gib, endpoint)
                    seconds.setdefault((case, gib), []).append(r["seconds"])
                    cpu.setdefault((case, gib), []).append(r["cpu_per_gib"])
                    if moto is not None and case.startswith("s3"):
                        reset_moto(endpoint)
        _summary(seconds, cpu)
    finally:
        if moto is not None:
            moto.terminate()
            moto.wait()
        if rgw_user is not None:
            _rgw("user-rm", rgw_user)


if __name__ == "__main__":
    main()
