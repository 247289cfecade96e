"""Streaming ingest through the HTTP API, against the same bytes sent to a discard endpoint.

Starts the workspace app with the bench endpoints (bench/app.py: uvicorn, one worker,
embedded SQLite) in a subprocess, registers a state and an exhibit per run, then for each
size (default 1 GiB and 4 GiB), in the same run:

  discard   PUT /api/bench/discard           authenticated, reads the body, keeps nothing
  ingest    PUT /api/cases/{c}/exhibits/{e}/content
            hashes (SHA-256 + BLAKE3) and stores it in the filesystem store, logs the entry
  write     the same bytes written to a file on the same disk with fsync, no HTTP, no
            hashing: the floor of any durable store there (plain, and with the early
            writeback the filesystem store uses)

and prints the throughputs, their ratio (target >= 0.7), the server's peak RSS while the
body was being received (sampled from /proc every 20 ms; target <= 150 MB for 4 GiB), and
the CPU time per GiB each request cost the server (user, kernel) and this client.

With --s3, the same 1 GiB (by default) also goes through the API into the S3 store on a
moto server, against a direct put_object of the same file into the same moto server.

    .venv/bin/python bench/ingest_bench.py [--sizes 1,4] [--s3] [--s3-size 1] [--dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evidence.writeback import Writeback  # noqa: E402
from server import migrate  # noqa: E402
from server.services import admin  # noqa: E402
from server.tokens import (  # noqa: E402
    TokenRequest,
    generate_authority_key,
    issue_token,
    public_jwk,
)

GiB = 1024**3
MiB = 1024**2
LOG_NAME = "bench.localhost"
READ = 4 * MiB
ACQUISITION = {
    "tool": "dd",
    "operator": "bench",
    "time": "2026-11-27T00:00:00Z",
    "hashes": {},
}
S3_KEYS = {"JITC_S3_ACCESS_KEY": "bench", "JITC_S3_SECRET_KEY": "bench-secret"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def make_file(path: Path, size: int) -> None:
    """`size` bytes of a repeated 64 MiB random block (hashing cost does not care)."""
    block = os.urandom(64 * MiB)
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(READ):
            yield chunk


@dataclass
class RssSampler:
    pid: int
    peak_kib: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _rss(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def __enter__(self) -> RssSampler:
        self.peak_kib = self._rss()

        def run() -> None:
            while not self._stop.wait(0.02):
                self.peak_kib = max(self.peak_kib, self._rss())

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self.peak_kib = max(self.peak_kib, self._rss())


class Server:
    def __init__(self, data: Path, extra_env: dict[str, str]) -> None:
        self.data = data
        self.port = free_port()
        key = generate_authority_key()
        engine = create_engine(f"sqlite:///{data / 'jitc.sqlite3'}")
        data.mkdir(parents=True, exist_ok=True)
        try:
            migrate.upgrade(engine)
            admin.add_jurisdiction(engine, "NL", "Netherlands", public_jwk(key.public_key()))
        finally:
            engine.dispose()
        self.tokens = {
            role: issue_token(
                key,
                TokenRequest(iss="NL", sub=f"{role}-1", role=role, aud=LOG_NAME, ttl_seconds=7200),
            )
            for role in ("prosecutor", "investigator", "technician")
        }
        env = {
            **os.environ,
            "JITC_DATA_DIR": str(data),
            "JITC_LOG_NAME": LOG_NAME,
            **extra_env,
        }
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "app.py"), "--port", str(self.port)],
            env=env,
            cwd=ROOT,
        )
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/api/log-key", timeout=2).read()
                break
            except OSError:
                if time.time() > deadline or self.process.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, role: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            timeout=httpx.Timeout(60.0, read=3600.0, write=3600.0),
        )

    def new_exhibit(self) -> tuple[str, str]:
        with self.client("prosecutor") as c:
            case = c.post("/api/cases", json={"title": "bench", "parties": ["NL"]}).json()["id"]
        with self.client("investigator") as c:
            body = {"label": "image", "description": "", "acquisition": ACQUISITION}
            response = c.post(f"/api/cases/{case}/exhibits", json=body)
            if response.status_code != 201:
                raise SystemExit(f"registering an exhibit: {response.text}")
            exhibit = response.json()["id"]
        return case, exhibit

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def process_cpu(pid: int) -> tuple[float, float]:
    """(user, kernel) CPU seconds of a process so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_put(server: Server, path: str, source: Path) -> tuple[float, int, httpx.Response]:
    """Seconds and server peak RSS of one PUT; prints where the CPU time went."""
    size = source.stat().st_size
    with server.client("technician") as client, RssSampler(server.process.pid) as rss:
        server_before, client_before = process_cpu(server.process.pid), own_cpu()
        started = time.perf_counter()
        response = client.put(
            path,
            content=file_chunks(source),
            headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"},
        )
        elapsed = time.perf_counter() - started
        server_after, client_after = process_cpu(server.process.pid), own_cpu()
    if response.status_code not in (200, 201):
        raise SystemExit(f"{path}: {response.status_code} {response.text}")
    gib = size / GiB
    print(
        f"  cpu per GiB, {path.rsplit('/', 1)[-1]}: server user "
        f"{(server_after[0] - server_before[0]) / gib:.2f} s, kernel "
        f"{(server_after[1] - server_before[1]) / gib:.2f} s; client "
        f"{(client_after - client_before) / gib:.2f} s; wall {elapsed / gib:.2f} s",
        flush=True,
    )
    return elapsed, rss.peak_kib, response


def disk_copy(source: Path, target: Path, *, writeback: bool) -> float:
    """Seconds to write the same bytes to a file beside the store's, with fsync: the
    floor any durable store on this disk pays, hashing aside. With `writeback`, as the
    filesystem store writes (evidence.writeback: early writeback, written pages dropped)."""
    started = time.perf_counter()
    with target.open("wb") as out:
        early = Writeback(out) if writeback else None
        for chunk in file_chunks(source):
            out.write(chunk)
            if early is not None:
                early.wrote(len(chunk))
        out.flush()
        os.fsync(out.fileno())
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def sha256_of(source: Path) -> str:
    h = hashlib.sha256()
    for chunk in file_chunks(source):
        h.update(chunk)
    return h.hexdigest()


def run_fs(work: Path, sizes: list[int]) -> None:
    work.mkdir(parents=True, exist_ok=True)
    server = Server(work / "fs-data", {})
    try:
        for gib in sizes:
            source = work / f"{gib}g.bin"
            make_file(source, gib * GiB)
            expected = sha256_of(source)
            discard_s, discard_rss, _ = timed_put(server, "/api/bench/discard", source)
            case, exhibit = server.new_exhibit()
            ingest_s, ingest_rss, response = timed_put(
                server, f"/api/cases/{case}/exhibits/{exhibit}/content", source
            )
            assert response.json()["sha256"] == expected, "hash differs"
            shutil.rmtree(work / "fs-data" / "evidence" / "objects", ignore_errors=True)
            disk_s = disk_copy(source, work / "fs-data" / "disk-copy.bin", writeback=False)
            early_s = disk_copy(source, work / "fs-data" / "disk-copy.bin", writeback=True)
            mb = gib * GiB / 1e6
            print(
                f"fs {gib} GiB: discard {mb / discard_s:7.1f} MB/s ({discard_s:.1f} s, "
                f"peak RSS {discard_rss / 1024:.0f} MiB) | ingest {mb / ingest_s:7.1f} MB/s "
                f"({ingest_s:.1f} s, peak RSS {ingest_rss / 1024:.0f} MiB) | "
                f"ratio {discard_s / ingest_s:.2f} | plain write+fsync {mb / disk_s:7.1f} MB/s, "
                f"with early writeback {mb / early_s:7.1f} MB/s",
                flush=True,
            )
            source.unlink()
            shutil.rmtree(work / "fs-data" / "evidence" / "objects", ignore_errors=True)
    finally:
        server.stop()


def run_s3(work: Path, gib: int) -> None:
    from minio import Minio  # noqa: PLC0415 - only this measurement needs it

    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server: Server | None = None
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/data.json").read()
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("moto did not start") from None
                time.sleep(0.2)
        work.mkdir(parents=True, exist_ok=True)
        source = work / f"{gib}g-s3.bin"
        make_file(source, gib * GiB)
        minio = Minio(
            f"127.0.0.1:{port}",
            access_key=S3_KEYS["JITC_S3_ACCESS_KEY"],
            secret_key=S3_KEYS["JITC_S3_SECRET_KEY"],
            secure=False,
            region="us-east-1",
        )
        minio.make_bucket("direct")
        started = time.perf_counter()
        minio.fput_object("direct", "object", str(source), part_size=5 * MiB)
        direct_s = time.perf_counter() - started
        minio.remove_object("direct", "object")
        url = f"s3://127.0.0.1:{port}/evidence?staging_bucket=staging&secure=false"
        server = Server(work / "s3-data", {"JITC_STORE_URL": url, **S3_KEYS})
        case, exhibit = server.new_exhibit()
        ingest_s, rss, _ = timed_put(
            server, f"/api/cases/{case}/exhibits/{exhibit}/content", source
        )
        mb = gib * GiB / 1e6
        print(
            f"s3 {gib} GiB: direct put_object {mb / direct_s:7.1f} MB/s ({direct_s:.1f} s) | "
            f"ingest {mb / ingest_s:7.1f} MB/s ({ingest_s:.1f} s, peak RSS {rss / 1024:.0f} MiB)"
            f" | ratio {direct_s / ingest_s:.2f}",
            flush=True,
        )
        source.unlink()
    finally:
        if server is not None:
            server.stop()
        moto.terminate()
        moto.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,4", help="GiB sizes for the fs store")
    parser.add_argument("--s3", action="store_true", help="also measure the S3 store (moto)")
    parser.add_argument("--s3-size", type=int, default=1, help="GiB for the S3 measurement")
    parser.add_argument("--dir", help="work directory (default: a temporary one)")
    args = parser.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="jitc-ingest-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        if sizes:
            run_fs(work / uuid.uuid4().hex[:8], sizes)
        if args.s3:
            run_s3(work / uuid.uuid4().hex[:8], args.s3_size)
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
