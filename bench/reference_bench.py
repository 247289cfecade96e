"""Ingest through the API against a plain reference app doing the same irreducible work,
side by side in one run (bench/reference_app.py: receive, SHA-256 and BLAKE3, then write
and fsync, or put_object into S3).

Filesystem store (default): the workspace app (bench/app.py, embedded SQLite, the
filesystem store) and the reference app writing to the same disk; each run PUTs the same
file to both, in alternating order.

With --rgw (the Ceph RGW of `scripts/s3-rgw`, a user made for the run): per run,
  direct    minio put_object of the file from this process into a plain bucket (minio's
            defaults: 3 parts in flight), no hashing: what ingest is measured against
  reference the reference app: receive, hash, put_object into a plain bucket
  ingest    PUT …/content through the API into the S3 store (Object Lock bucket)
  tus       POST …/uploads, one PATCH of the whole file, through the API

Besides the speeds, the CPU seconds per GiB of the app server (ingest, tus), of the
reference app and, with --rgw, of the gateway (radosgw) in each case; the last line,
starting SUMMARY, gives the medians of the ratios and of those CPU figures in one line.

    .venv/bin/python bench/reference_bench.py [--size 1] [--runs 3] [--rgw] [--store-query Q]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest_bench import (  # noqa: E402
    GiB,
    Server,
    file_chunks,
    free_port,
    make_file,
    process_cpu,
    sha256_of,
    timed_put,
)
from bench.store_bench import _rgw, start_rgw_user  # noqa: E402


class Reference:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "reference_app.py"),
                "--port",
                str(self.port),
                *args,
            ],
            env={**os.environ, **env},
            cwd=ROOT,
        )
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/", timeout=2)
            except urllib.error.HTTPError:
                break  # 404: it listens
            except OSError:
                if time.time() > deadline or self.process.poll() is not None:
                    raise SystemExit("the reference app did not start") from None
                time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def put(self, source: Path, expected: str) -> float:
        size = source.stat().st_size
        with httpx.Client(base_url=self.url, timeout=httpx.Timeout(60, read=3600)) as client:
            started = time.perf_counter()
            response = client.put(
                f"/ref/{uuid.uuid4().hex}",
                content=file_chunks(source),
                headers={"Content-Length": str(size)},
            )
            elapsed = time.perf_counter() - started
        if response.status_code != 201 or response.json()["sha256"] != expected:
            raise SystemExit(f"reference: {response.status_code} {response.text}")
        return elapsed

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def ingest(server: Server, source: Path, expected: str) -> float:
    case, exhibit = server.new_exhibit()
    elapsed, _rss, response = timed_put(
        server, f"/api/cases/{case}/exhibits/{exhibit}/content", source
    )
    if response.json()["sha256"] != expected:
        raise SystemExit("ingest: hash differs")
    return elapsed


def tus(server: Server, source: Path, expected: str) -> float:
    size = source.stat().st_size
    case, exhibit = server.new_exhibit()
    tus_headers = {"Tus-Resumable": "1.0.0"}
    with server.client("technician") as client:
        started = time.perf_counter()
        created = client.post(
            f"/api/cases/{case}/exhibits/{exhibit}/uploads",
            headers={**tus_headers, "Upload-Length": str(size)},
        )
        if created.status_code != 201:
            raise SystemExit(f"tus create: {created.status_code} {created.text}")
        patched = client.patch(
            created.headers["location"],
            content=file_chunks(source),
            headers={
                **tus_headers,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(size),
            },
        )
        elapsed = time.perf_counter() - started
    if patched.status_code != 204 or patched.headers["jitc-content-sha256"] != expected:
        raise SystemExit(f"tus patch: {patched.status_code} {patched.text}")
    return elapsed


def report(
    name: str, seconds: list[float], size: int, base: list[float] | None, against: str = ""
) -> float | None:
    """One line of speeds (and ratios to `base`); the median ratio."""
    mbs = [size / s / 1e6 for s in seconds]
    line = f"{name:10} " + " ".join(f"{m:7.1f}" for m in mbs) + " MB/s"
    line += f" | median {statistics.median(mbs):7.1f} MB/s"
    median = None
    if base is not None:
        ratios = [b / s for b, s in zip(base, seconds, strict=True)]
        median = statistics.median(ratios)
        line += f" | vs {against} " + " ".join(f"{r:.2f}" for r in ratios)
        line += f" (median {median:.2f})"
    print(line, flush=True)
    return median


class Cpu:
    """CPU seconds (user + kernel) per GiB that processes spent in each measured case."""

    def __init__(self, pids: dict[str, int | None], size: int) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid is not None}
        self.size = size
        self.spent: dict[tuple[str, str], list[float]] = {}

    def _now(self) -> dict[str, float]:
        now = {}
        for name, pid in self.pids.items():
            try:
                now[name] = sum(process_cpu(pid))
            except OSError:
                now[name] = float("nan")
        return now

    def measure(self, case: str, call: Callable[[], float]) -> float:
        before = self._now()
        seconds = call()
        after = self._now()
        for name in self.pids:
            per_gib = (after[name] - before[name]) / (self.size / GiB)
            self.spent.setdefault((case, name), []).append(per_gib)
        return seconds

    def median(self, case: str, process: str) -> float:
        return statistics.median(self.spent.get((case, process), [float("nan")]))

    def print(self) -> None:
        print("CPU s/GiB (median of runs) by case and process:")
        for (case, name), values in sorted(self.spent.items()):
            runs = " ".join(f"{v:.2f}" for v in values)
            print(f"  {case:10} {name:10} {statistics.median(values):6.2f}  ({runs})")


def run_fs(work: Path, size: int, runs: int) -> None:
    source = work / "body.bin"
    make_file(source, size)
    expected = sha256_of(source)
    server = Server(work / "fs-data", {})
    reference = Reference(["--dir", str(work / "ref")], {})
    times: dict[str, list[float]] = {"reference": [], "ingest": []}
    try:
        for n in range(runs):
            order = ["reference", "ingest"] if n % 2 == 0 else ["ingest", "reference"]
            for what in order:
                if what == "reference":
                    times[what].append(reference.put(source, expected))
                else:
                    times[what].append(ingest(server, source, expected))
                    shutil.rmtree(work / "fs-data" / "evidence" / "objects", ignore_errors=True)
    finally:
        reference.stop()
        server.stop()
    print(f"filesystem store, {size / GiB:g} GiB, {runs} runs (each value one run):")
    report("reference", times["reference"], size, None)
    report("ingest", times["ingest"], size, times["reference"], "reference")


def run_rgw(work: Path, size: int, runs: int, store_query: str) -> None:
    from minio import Minio  # noqa: PLC0415 - only this measurement needs it

    endpoint, user = start_rgw_user()
    keys = {
        "BENCH_S3_ACCESS_KEY": os.environ["BENCH_S3_ACCESS_KEY"],
        "BENCH_S3_SECRET_KEY": os.environ["BENCH_S3_SECRET_KEY"],
    }
    suffix = uuid.uuid4().hex[:8]
    source = work / "body.bin"
    make_file(source, size)
    expected = sha256_of(source)
    minio = Minio(
        endpoint,
        access_key=keys["BENCH_S3_ACCESS_KEY"],
        secret_key=keys["BENCH_S3_SECRET_KEY"],
        secure=False,
    )
    minio.make_bucket(f"direct-{suffix}")
    url = (
        f"s3://{endpoint}/evidence-{suffix}?staging_bucket=staging-{suffix}&secure=false"
        f"&retention_days=1{store_query}"
    )
    env = {
        "JITC_STORE_URL": url,
        "JITC_S3_ACCESS_KEY": keys["BENCH_S3_ACCESS_KEY"],
        "JITC_S3_SECRET_KEY": keys["BENCH_S3_SECRET_KEY"],
    }
    server = Server(work / "s3-data", env)
    reference = Reference(["--s3", endpoint, "--bucket", f"ref-{suffix}"], keys)
    cpu = Cpu({"app": server.process.pid, "reference": reference.process.pid, **ceph_pids()}, size)
    times: dict[str, list[float]] = {"direct": [], "reference": [], "ingest": [], "tus": []}

    def direct() -> float:
        started = time.perf_counter()
        minio.fput_object(f"direct-{suffix}", uuid.uuid4().hex, str(source))
        return time.perf_counter() - started

    cases: dict[str, Callable[[], float]] = {
        "direct": direct,
        "reference": lambda: reference.put(source, expected),
        "ingest": lambda: ingest(server, source, expected),
        "tus": lambda: tus(server, source, expected),
    }
    try:
        for n in range(runs):
            # Alternate the order, so that neither side always runs on a warmer machine.
            order = list(cases) if n % 2 == 0 else list(reversed(cases))
            for case in order:
                times[case].append(cpu.measure(case, cases[case]))
    finally:
        reference.stop()
        server.stop()
        _rgw("user-rm", user)
    print(f"Ceph RGW ({endpoint}), {size / GiB:g} GiB, {runs} runs, store query {url}:")
    report("direct", times["direct"], size, None)
    report("reference", times["reference"], size, times["direct"], "direct")
    vs_direct = report("ingest", times["ingest"], size, times["direct"], "direct")
    tus_direct = report("tus", times["tus"], size, times["direct"], "direct")
    vs_reference = report("ingest", times["ingest"], size, times["reference"], "reference")
    cpu.print()
    print(
        f"SUMMARY rgw {size / GiB:g} GiB x{runs} store{store_query or ' defaults'}: "
        f"ingest/direct {vs_direct:.2f}, ingest/reference {vs_reference:.2f}, "
        f"tus/direct {tus_direct:.2f}; CPU s/GiB: app ingest {cpu.median('ingest', 'app'):.2f}, "
        f"app tus {cpu.median('tus', 'app'):.2f}, "
        f"reference app {cpu.median('reference', 'reference'):.2f}, "
        f"radosgw+osd ingest {cpu.median('ingest', 'radosgw') + cpu.median('ingest', 'osd'):.2f} "
        f"direct {cpu.median('direct', 'radosgw') + cpu.median('direct', 'osd'):.2f}; "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def ceph_pids() -> dict[str, int | None]:
    """The gateway's and the OSD's processes, for their CPU time (None: not found)."""
    settings = dict(
        line.removeprefix("export ").split("=", 1)
        for line in _rgw("env").splitlines()
        if "=" in line
    )
    pids: dict[str, int | None] = {}
    for name, daemon in (("radosgw", "client.rgw.a"), ("osd", "osd.0")):
        try:
            run = Path(settings["JITC_RGW_DIR"]) / "run"
            pids[name] = int((run / f"{daemon}.pid").read_text())
        except (KeyError, OSError, ValueError):
            pids[name] = None
    return pids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=float, default=1.0, help="GiB per body")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rgw", action="store_true", help="the S3 store on Ceph RGW instead")
    parser.add_argument(
        "--store-query", default="", help="appended to the S3 store URL, e.g. &parallel_parts=3"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="jitc-reference-bench-"))
    size = int(args.size * GiB) // 64 * 64
    print(f"load average before: {os.getloadavg()}", flush=True)
    try:
        if args.rgw:
            run_rgw(work, size, args.runs, args.store_query)
        else:
            run_fs(work, size, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        print(f"load average after: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
