"""A sustained-load run: two app servers on one PostgreSQL and one evidence store (Ceph RGW
by default), two witnesses, mixed work for a while; then every case log is verified and
`jitc audit` run on every case.

Work (worker threads, each picking one operation at a time, servers chosen at random):

  append     register an exhibit (one custody entry) on one of --cases cases
  upload     PUT an exhibit's content, 10 MB .. --max-upload, log-uniform (at most
             --upload-slots at once); every third upload goes by tus (one PATCH)
  range      GET a 1 MiB range of an uploaded exhibit's content
  export     POST a court bundle (hashes only, synchronous) through one server, then
  bundle     GET it through the other, as a resumed download (bytes=N-)

The servers submit checkpoints to both witnesses as they go (cosigning); the witnesses'
logs are read for refused submissions. Every `--sample` seconds the resident set (VmRSS)
of each server and witness process is recorded.

With --probe N, each app server samples its own memory every N s (bench/memprobe.py:
allocator arenas, threads, and with --tracemalloc F what Python objects hold), written to
bench/out/load-<name>-server-<n>.probe.jsonl. --server-env [N:]KEY=VALUE sets a variable
for both app servers (or server N only): e.g. glibc's MALLOC_ARENA_MAX, to compare
allocator settings side by side in one run.

With --kill, one app server is killed (SIGKILL) half-way and started again 3 s later.
Requests in flight to it fail: they are counted apart, as errors caused by the kill.
Afterwards: every response that said an entry was committed (201) must find its entry in
the verified log (no committed entry lost), and `jitc audit` must report no error.

Writes bench/out/load-<name>.json and docs/load-<name>.svg (latency and memory over time).

    eval "$(bash scripts/s3-rgw start)"   # or let the script find the running one
    .venv/bin/python bench/load.py --minutes 10 --name steady
    .venv/bin/python bench/load.py --minutes 10 --name kill --kill
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load_report import Probed, refusals, summarise  # noqa: E402
from bench.load_svg import plot  # noqa: E402
from bench.store_bench import _rgw, start_rgw_user  # noqa: E402
from server import migrate  # noqa: E402
from server.cli import main as jitc  # noqa: E402
from tests.server.helpers import ACQUISITION, World  # noqa: E402
from tests.server.logcheck import fetch_and_verify  # noqa: E402
from tests.server.test_e2e import ENTRY, LOG_SEED, Process, free_port, wait_for  # noqa: E402

LOG_NAME = "load.localhost"
MB = 1_000_000
MiB = 1024 * 1024
BLOCK = os.urandom(64 * MiB)
TUS = {"Tus-Resumable": "1.0.0"}


def body(size: int, seed: bytes) -> Iterator[bytes]:
    """`size` bytes: a seed, then slices of one random block (distinct hashes, no memory)."""
    yield seed
    left, offset = size - len(seed), 0
    while left > 0:
        n = min(MiB, left)
        yield BLOCK[offset : offset + n]
        offset = (offset + n) % (len(BLOCK) - MiB)
        left -= n


@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    samples: list[tuple[float, str, float, str]] = field(default_factory=list)
    rss: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)
    killed_at: float | None = None
    restarted_at: float | None = None

    def record(self, op: str, seconds: float, outcome: str) -> None:
        with self.lock:
            self.samples.append((time.monotonic() - self.started, op, seconds, outcome))


@dataclass
class Committed:
    """What the servers said they committed: checked against the logs at the end."""

    registered: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    ingested: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    exports: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    uploaded: list[tuple[str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Deployment:
    def __init__(
        self, work: Path, store: str, env_extra: dict[str, str], args: argparse.Namespace
    ) -> None:
        self.work = work
        name = f"jitc_load_{uuid.uuid4().hex[:8]}"
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        self.db_name = name
        self.db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        engine = create_engine(self.db_url)
        migrate.upgrade(engine)
        self.env = {
            **os.environ,
            "JITC_DATABASE_URL": self.db_url,
            "JITC_LOG_NAME": LOG_NAME,
            "JITC_LOG_KEY": LOG_SEED,
            "JITC_STORE_URL": store,
            "JITC_DATA_DIR": str(work / "cli"),
            **env_extra,
        }
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("JITC_")})
        self.world = World.create(engine, audience=LOG_NAME, codes=("NL", "DE"))
        engine.dispose()
        self.servers: list[Process] = []
        for n in range(2):
            env = {**self.env, "JITC_DATA_DIR": str(work / f"server-{n}")}
            kind = Probed if args.probe else Process
            if args.probe:
                env["LOADPROBE_PATH"] = str(work / f"server-{n}.probe.jsonl")
                env["LOADPROBE_EVERY"] = str(args.probe)
                env["LOADPROBE_FRAMES"] = str(args.tracemalloc)
            for setting in args.server_env:  # KEY=VALUE for both, N:KEY=VALUE for server N
                key, _, value = setting.partition("=")
                only, _, key = key.rpartition(":")
                if only in ("", str(n)):
                    env[key] = value
            argv = ["serve", "--host", "127.0.0.1", "--port", str(free_port())]
            self.servers.append(kind(argv, env, work / f"server-{n}.log", int(argv[-1])))
        for server in self.servers:
            server.start()
        for server in self.servers:
            wait_for(lambda s=server: s.up("/api/log-key"), "a server")  # type: ignore[misc]
        vkey = httpx.get(self.servers[0].url + "/api/log-key", timeout=5).json()["vkey"]
        self.witnesses: dict[str, Process] = {}
        for code in ("NL", "DE"):
            keys = work / f"{code}-keys"
            assert jitc(["witness", "init", "--name", f"{code}-1", "--out", str(keys)]) == 0
            port = free_port()
            argv = ["witness", "serve", "--key", str(keys / "witness.key"), "--log", vkey]
            argv += ["--state", str(work / f"{code}-state"), "--host", "127.0.0.1"]
            argv += ["--port", str(port)]
            witness = Process(argv, self.env, work / f"{code}-witness.log", port)
            witness.start()
            wait_for(lambda w=witness: w.up("/"), f"witness {code}")  # type: ignore[misc]
            self.witnesses[code] = witness
            wkey = (keys / "witness.vkey").read_text().strip()
            assert (
                jitc(["jurisdiction", "witness", code, "--url", witness.url, "--vkey", wkey]) == 0
            )

    def processes(self) -> dict[str, Process]:
        named = {f"server-{n}": s for n, s in enumerate(self.servers)}
        named.update({f"witness-{c}": w for c, w in self.witnesses.items()})
        return named

    def kill_and_restart(self, n: int, stats: Stats) -> None:
        server = self.servers[n]
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        stats.killed_at = time.monotonic() - stats.started
        time.sleep(3)
        server.start()
        wait_for(lambda: server.up("/api/log-key"), "the restarted server")
        stats.restarted_at = time.monotonic() - stats.started

    def stop(self) -> None:
        for process in self.processes().values():
            process.stop()

    def drop(self) -> None:
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def sample_memory(
    deployment: Deployment, stats: Stats, every: float, stop: threading.Event
) -> None:
    while not stop.wait(every):
        now = time.monotonic() - stats.started
        for name, process in deployment.processes().items():
            if process.proc is not None and process.proc.poll() is None:
                value = rss_mib(process.proc.pid)
                if value is not None:
                    stats.rss[name].append((now, value))


class Worker:
    def __init__(
        self, n: int, dep: Deployment, cases: list[str], args: argparse.Namespace, stats: Stats
    ) -> None:
        self.rng = random.Random(n)
        self.dep, self.cases, self.args, self.stats = dep, cases, args, stats
        self.world = dep.world
        self.timeout = httpx.Timeout(60.0, read=1800.0, write=1800.0)

    def server(self) -> tuple[int, str]:
        n = self.rng.randrange(2)
        return n, self.dep.servers[n].url

    def timed(self, op: str, call: Any) -> Any:
        started = time.perf_counter()
        try:
            result, outcome = call()
        except httpx.TransportError as exc:
            result, outcome = None, f"transport:{type(exc).__name__}"
        self.stats.record(op, time.perf_counter() - started, outcome)
        return result

    def append(self, committed: Committed) -> None:
        case = self.rng.choice(self.cases)
        _, url = self.server()
        headers = self.world.headers("NL", "investigator", sub=f"inv-{self.rng.randrange(50)}")

        def call() -> tuple[Any, str]:
            r = httpx.post(
                f"{url}/api/cases/{case}/exhibits",
                json={"label": "item", "description": "", "acquisition": dict(ACQUISITION)},
                headers=headers,
                timeout=self.timeout,
            )
            if r.status_code == 201:
                with committed.lock:
                    committed.registered[case].add(r.json()["id"])
            return r, "ok" if r.status_code == 201 else f"http:{r.status_code}"

        self.timed("append", call)

    def upload(self, committed: Committed, slots: threading.Semaphore) -> None:
        low, high = math.log(10 * MB), math.log(self.args.max_upload * MB)
        size = int(math.exp(self.rng.uniform(low, high)))
        case = self.rng.choice(self.cases)
        _, url = self.server()
        with httpx.Client(base_url=url, timeout=self.timeout) as client:
            made = client.post(
                f"/api/cases/{case}/exhibits",
                json={"label": "image", "description": "", "acquisition": dict(ACQUISITION)},
                headers=self.world.headers("NL", "investigator"),
            )
            if made.status_code != 201:
                self.stats.record("upload", 0.0, f"http:{made.status_code} (register)")
                return
            exhibit = made.json()["id"]
            with committed.lock:
                committed.registered[case].add(exhibit)
        seed = uuid.uuid4().bytes
        digest = hashlib.sha256()
        for chunk in body(size, seed):
            digest.update(chunk)
        sha256 = digest.hexdigest()
        tus = self.rng.randrange(3) == 0
        op = "upload-tus" if tus else "upload"
        technician = self.world.headers("NL", "technician")
        with slots:
            _, url = self.server()

            def call() -> tuple[Any, str]:
                with httpx.Client(base_url=url, timeout=self.timeout) as client:
                    if tus:
                        begun = client.post(
                            f"/api/cases/{case}/exhibits/{exhibit}/uploads",
                            headers={**technician, **TUS, "Upload-Length": str(size)},
                        )
                        if begun.status_code != 201:
                            return begun, f"http:{begun.status_code}"
                        r = client.patch(
                            begun.headers["location"],
                            content=body(size, seed),
                            headers={
                                **technician,
                                **TUS,
                                "Upload-Offset": "0",
                                "Content-Type": "application/offset+octet-stream",
                                "Content-Length": str(size),
                            },
                        )
                        ok = r.status_code == 204
                    else:
                        r = client.put(
                            f"/api/cases/{case}/exhibits/{exhibit}/content?filename=image.bin",
                            content=body(size, seed),
                            headers={
                                **technician,
                                "Content-Type": "application/octet-stream",
                                "Content-Length": str(size),
                            },
                        )
                        ok = r.status_code == 201
                if ok:
                    with committed.lock:
                        committed.ingested[case][exhibit] = sha256
                        committed.uploaded.append((case, exhibit, size))
                return r, "ok" if ok else f"http:{r.status_code}"

            self.timed(op, call)

    def ranged(self, committed: Committed) -> None:
        with committed.lock:
            if not committed.uploaded:
                return
            case, exhibit, size = self.rng.choice(committed.uploaded)
        first = self.rng.randrange(max(1, size - MiB))
        _, url = self.server()
        headers = {
            **self.world.headers("NL", "investigator"),
            "Range": f"bytes={first}-{first + MiB - 1}",
        }

        def call() -> tuple[Any, str]:
            r = httpx.get(
                f"{url}/api/cases/{case}/exhibits/{exhibit}/content?purpose=load",
                headers=headers,
                timeout=self.timeout,
            )
            ok = r.status_code == 206 and len(r.content) == min(MiB, size - first)
            return r, "ok" if ok else f"http:{r.status_code}"

        self.timed("range", call)

    def export(self, committed: Committed) -> None:
        case = self.rng.choice(self.cases)
        n, url = self.server()
        prosecutor = self.world.headers("NL", "prosecutor")
        request = {"exhibits": None, "disclosure": "full", "content": False, "recipient": "court"}

        def call() -> tuple[Any, str]:
            r = httpx.post(
                f"{url}/api/cases/{case}/exports",
                json=request,
                headers=prosecutor,
                timeout=self.timeout,
            )
            if r.status_code == 201:
                with committed.lock:
                    committed.exports[case].add(r.json()["bundle_sha256"])
                return r, "ok"
            if r.status_code == 503:
                return r, "busy"  # exports_busy: refused for load, with Retry-After
            return r, f"http:{r.status_code}"

        made = self.timed("export", call)
        if made is None or made.status_code != 201:
            return
        export_id, size = made.json()["id"], made.json()["bundle_size"]
        other = self.dep.servers[1 - n].url
        first = size // 2

        def fetch() -> tuple[Any, str]:
            r = httpx.get(
                f"{other}/api/cases/{case}/exports/{export_id}",
                headers={**prosecutor, "Range": f"bytes={first}-"},
                timeout=self.timeout,
            )
            ok = r.status_code == 206 and len(r.content) == size - first
            return r, "ok" if ok else f"http:{r.status_code}"

        self.timed("bundle", fetch)

    def run(self, deadline: float, committed: Committed, slots: threading.Semaphore) -> None:
        ops = ["append"] * 10 + ["upload"] * 2 + ["range"] * 5 + ["export"] * 2
        while time.monotonic() < deadline:
            op = self.rng.choice(ops)
            if op == "upload" and not slots.acquire(blocking=False):
                op = "append"  # the upload slots are taken
            elif op == "upload":
                slots.release()
            try:
                if op == "append":
                    self.append(committed)
                elif op == "upload":
                    self.upload(committed, slots)
                elif op == "range":
                    self.ranged(committed)
                else:
                    self.export(committed)
            except httpx.TransportError as exc:
                self.stats.record(op, 0.0, f"transport:{type(exc).__name__}")


def verify(dep: Deployment, cases: list[str], committed: Committed) -> dict[str, Any]:
    """Every case log verifies and holds what the servers said they committed; audit."""
    lost: list[str] = []
    entries_total = 0
    headers = dep.world.headers("DE", "investigator")
    with httpx.Client(base_url=dep.servers[0].url, timeout=120) as client:
        for case in cases:
            entries = fetch_and_verify(client, headers, case)
            entries_total += len(entries)
            registered = {e.exhibit for e in entries if e.type == "exhibit.registered"}
            ingested = {
                e.exhibit: e.data["sha256"] for e in entries if e.type == "exhibit.ingested"
            }
            bundles = {e.data["bundle_sha256"] for e in entries if e.type == "export.created"}
            lost += [f"{case} registered {x}" for x in committed.registered[case] - registered]
            lost += [
                f"{case} ingested {x}"
                for x, sha in committed.ingested[case].items()
                if ingested.get(x) != sha
            ]
            lost += [f"{case} export {x}" for x in committed.exports[case] - bundles]
    audits: dict[str, Any] = {}
    for case in cases:
        done = subprocess.run(
            [sys.executable, "-c", ENTRY, "audit", case, "--json"],
            env=dep.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        report = json.loads(done.stdout)
        audits[case] = {
            "exit": done.returncode,
            "ok": report["ok"],
            "objects": report["objects"],
            "findings": report["findings"],
        }
    refused = Counter()
    for code, witness in dep.witnesses.items():
        for line in witness.log.read_text().splitlines():
            if '"POST /add-checkpoint' in line and '" 200' not in line:
                refused[code] += 1
    return {
        "entries": entries_total,
        "lost": lost,
        "audit": audits,
        "witness_refusals": dict(refused),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--name", default="run")
    parser.add_argument("--kill", action="store_true", help="SIGKILL server 1 half-way")
    parser.add_argument("--cases", type=int, default=16)
    parser.add_argument("--workers", type=int, default=12)
    parser.add_argument("--max-upload", type=int, default=1000, help="largest upload, MB")
    parser.add_argument("--upload-slots", type=int, default=2)
    parser.add_argument("--sample", type=float, default=2.0, help="seconds between RSS samples")
    parser.add_argument("--fs", action="store_true", help="the filesystem store, not RGW")
    parser.add_argument("--probe", type=float, default=0, help="bench.memprobe every N s")
    parser.add_argument("--tracemalloc", type=int, default=0, help="frames (with --probe)")
    parser.add_argument("--server-env", action="append", default=[], help="[N:]KEY=VALUE")
    args = parser.parse_args()
    load_before = os.getloadavg()
    work = Path(f"/tmp/jitc-load-{args.name}-{uuid.uuid4().hex[:6]}")
    work.mkdir(parents=True)
    rgw_user = None
    if args.fs:
        store, extra = str(work / "evidence"), {}
    else:
        endpoint, rgw_user = start_rgw_user()
        suffix = uuid.uuid4().hex[:8]
        store = (
            f"s3://{endpoint}/evidence-{suffix}?staging_bucket=staging-{suffix}"
            "&secure=false&retention_days=1"
        )
        extra = {
            "JITC_S3_ACCESS_KEY": os.environ["BENCH_S3_ACCESS_KEY"],
            "JITC_S3_SECRET_KEY": os.environ["BENCH_S3_SECRET_KEY"],
        }
    dep = Deployment(work, store, extra, args)
    stats = Stats()
    committed = Committed()
    stop = threading.Event()
    try:
        cases = []
        for i in range(args.cases):
            r = httpx.post(
                f"{dep.servers[i % 2].url}/api/cases",
                json={"title": f"load {i}", "parties": ["NL", "DE"], "agreement": "JIT"},
                headers=dep.world.headers("NL", "prosecutor"),
                timeout=60,
            )
            assert r.status_code == 201, r.text
            cases.append(r.json()["id"])
        stats.started = time.monotonic()
        sampler = threading.Thread(
            target=sample_memory, args=(dep, stats, args.sample, stop), daemon=True
        )
        sampler.start()
        deadline = time.monotonic() + args.minutes * 60
        slots = threading.Semaphore(args.upload_slots)
        workers = [
            threading.Thread(
                target=Worker(n, dep, cases, args, stats).run,
                args=(deadline, committed, slots),
            )
            for n in range(args.workers)
        ]
        for w in workers:
            w.start()
        if args.kill:
            time.sleep(args.minutes * 30)
            dep.kill_and_restart(1, stats)
        for w in workers:
            w.join()
        stop.set()
        sampler.join()
        run_seconds = time.monotonic() - stats.started
        time.sleep(5)  # the last checkpoints reach the witnesses
        checked = verify(dep, cases, committed)
        logs = {code: w.log for code, w in dep.witnesses.items()}
        checked["refusals"] = refusals(logs, f"host=127.0.0.1 user=postgres dbname={dep.db_name}")
        result = {
            "name": args.name,
            "args": vars(args),
            "store": store.split("?")[0],
            "seconds": round(run_seconds, 1),
            "killed_at": stats.killed_at,
            "restarted_at": stats.restarted_at,
            "operations": summarise(stats.samples),
            "rss_mib": {
                name: {
                    "first": points[0][1],
                    "after_warmup": next((v for t, v in points if t >= 60), points[-1][1]),
                    "max": max(v for _, v in points),
                    "last": points[-1][1],
                }
                for name, points in stats.rss.items()
                if points
            },
            "load_average": {"before": load_before, "after": os.getloadavg()},
            "work": str(work),
            **checked,
        }
        out = ROOT / "bench" / "out"
        out.mkdir(exist_ok=True)
        (out / f"load-{args.name}.json").write_text(json.dumps(result, indent=1))
        for n in range(2):  # --probe: what each server's memory was made of, over time
            probe = work / f"server-{n}.probe.jsonl"
            if probe.exists():
                (out / f"load-{args.name}-server-{n}.probe.jsonl").write_bytes(probe.read_bytes())
        with (out / f"load-{args.name}.samples.json").open("w") as f:
            json.dump({"samples": stats.samples, "rss": stats.rss}, f)
        plot(
            ROOT / "docs" / f"load-{args.name}.svg",
            stats.samples,
            dict(stats.rss),
            title=f"bench/load.py --name {args.name}: {run_seconds / 60:.1f} min",
            marks=[
                (t, label)
                for t, label in ((stats.killed_at, "SIGKILL"), (stats.restarted_at, "restart"))
                if t is not None
            ],
        )
        print(json.dumps({k: v for k, v in result.items() if k != "audit"}, indent=1))
        bad = {c: a for c, a in checked["audit"].items() if not a["ok"]}
        print(f"audit: {len(cases) - len(bad)} of {len(cases)} cases clean; {bad}")
    finally:
        stop.set()
        dep.stop()
        dep.drop()
        if rgw_user is not None:
            _rgw("user-rm", rgw_user)


if __name__ == "__main__":
    main()
