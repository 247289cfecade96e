"""Custody append throughput through the HTTP API, against a fresh PostgreSQL database.

Starts the workspace app with the bench endpoints (bench/app.py, uvicorn) in a subprocess,
registers a state, issues one token per client, and runs four measurements in the same run,
each with N concurrent clients (default 32) for a fixed time:

  custody, one case      POST /api/cases/{id}/exhibits, every client on the same case
  custody, N cases       the same, each client on its own case
  plain, one case        POST /api/bench/cases/{id}/exhibits: the same authenticated insert
  plain, N cases         without the custody work (bench/app.py)

and prints events/s, p50 and p99 latency, and the custody/plain ratio. Afterwards the
one-case log is fetched and verified with the custody library (chain, root, checkpoint).

The load generator is a minimal HTTP/1.1 keep-alive client on asyncio, so that on a small
machine the clients take as little CPU from the server as they can.

    .venv/bin/python bench/append_bench.py [--clients 32] [--seconds 10] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from custody.checkpoint import Checkpoint  # noqa: E402
from custody.entry import Entry  # noqa: E402
from custody.merkle import root_from_leaf_hashes  # noqa: E402
from custody.note import Note, NoteVerifier, open_note  # noqa: E402
from server import migrate  # noqa: E402
from server.services import admin  # noqa: E402
from server.tokens import (  # noqa: E402
    TokenRequest,
    generate_authority_key,
    issue_token,
    public_jwk,
)

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
LOG_NAME = "bench.localhost"
BODY = json.dumps(
    {
        "label": "Laptop",
        "description": "seized at the scene",
        "acquisition": {
            "tool": "FTK Imager 4.7",
            "operator": "J. Jansen",
            "time": "2026-11-20T09:15:00Z",
            "hashes": {"sha256": "ab" * 32},
        },
    }
).encode()


@dataclass
class Result:
    name: str
    count: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


class Connection:
    """One keep-alive HTTP/1.1 connection; just enough protocol for this bench."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, token: str, body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        payload = await self.reader.readexactly(length)
        return status, payload


async def _client(
    port: int, token: str, path: str, stop_at: float, record_from: float, out: Result
) -> None:
    conn = Connection(port)
    while True:
        started = time.perf_counter()
        if started >= stop_at:
            break
        status, payload = await conn.request("POST", path, token, BODY)
        done = time.perf_counter()
        if status != 201:
            out.errors += 1
            if out.errors < 3:
                print(f"  error {status}: {payload[:200]!r}", file=sys.stderr)
            continue
        if started >= record_from:
            out.count += 1
            out.latencies.append(done - started)
    if conn.writer is not None:
        conn.writer.close()


async def _run(
    name: str, port: int, tokens: list[str], paths: list[str], seconds: float, warmup: float
) -> Result:
    out = Result(name, 0, seconds, [], 0)
    now = time.perf_counter()
    record_from = now + warmup
    stop_at = record_from + seconds
    await asyncio.gather(
        *(
            _client(port, tok, path, stop_at, record_from, out)
            for tok, path in zip(tokens, paths, strict=True)
        )
    )
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http(
    port: int, method: str, path: str, token: str, body: dict[str, object] | None = None
) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return bytes(response.read())


def _verify_log(port: int, token: str, case_id: str) -> int:
    """Fetch the whole log (in pages) and check chain, times, root and checkpoint."""
    note = Note.parse(_http(port, "GET", f"/api/cases/{case_id}/checkpoint", token))
    vkey = json.loads(_http(port, "GET", "/api/log-key", token))["vkey"]
    origin = f"{LOG_NAME}/case/{case_id}"
    open_note(note, NoteVerifier.from_vkey(vkey).for_name(origin))
    checkpoint = Checkpoint.parse_body(note.text)
    assert checkpoint.origin == origin
    entries: list[Entry] = []
    while len(entries) < checkpoint.size:
        path = f"/api/cases/{case_id}/log?from={len(entries)}&to={checkpoint.size}"
        entries += [Entry.parse(line) for line in _http(port, "GET", path, token).splitlines()]
    for seq, entry in enumerate(entries):
        assert entry.seq == seq, f"gap at {seq}"
        if seq:
            assert entry.prev == entries[seq - 1].leaf_hex(), f"chain broken at {seq}"
            assert entry.time >= entries[seq - 1].time, f"time reversed at {seq}"
    assert checkpoint.root_hash == root_from_leaf_hashes([e.leaf_hash() for e in entries])
    return len(entries)


def _report(results: list[Result], n: int) -> None:
    print()
    print(f"{'scenario':<26}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for r in results:
        p50, p99 = r.percentile(0.5), r.percentile(0.99)
        print(f"{r.name:<26}{r.rate:>10.0f}{p50:>9.1f}{p99:>9.1f}{r.errors:>8}")
    custody_one, custody_many, plain_one, plain_many = results
    print()
    print("custody overhead = plain events/s / custody events/s (target <= 2.0x)")
    print(f"  one case: {plain_one.rate / custody_one.rate:.2f}x")
    print(f"  {n} cases: {plain_many.rate / custody_many.rate:.2f}x")
    print("targets on a 2-core machine:")
    print(f"  one case  >=  500/s: {'met' if custody_one.rate >= 500 else 'MISSED'}")
    print(f"  {n} cases >= 1000/s: {'met' if custody_many.rate >= 1000 else 'MISSED'}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    dbname = f"jitc_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"
    server: subprocess.Popen[bytes] | None = None
    data_dir = tempfile.mkdtemp(prefix="jitc-bench-")
    try:
        engine = create_engine(url)
        migrate.upgrade(engine)
        key = generate_authority_key()
        admin.add_jurisdiction(engine, "NL", "Netherlands", public_jwk(key.public_key()))
        engine.dispose()

        def token(role: str, sub: str) -> str:
            request = TokenRequest(iss="NL", sub=sub, role=role, aud=LOG_NAME, ttl_seconds=3600)
            return issue_token(key, request)

        port = _free_port()
        env = {
            **os.environ,
            "JITC_DATABASE_URL": url,
            "JITC_DATA_DIR": data_dir,
            "JITC_LOG_NAME": LOG_NAME,
            "JITC_DB_POOL_SIZE": str(max(8, args.clients // args.workers + 4)),
        }
        command = [
            sys.executable,
            str(ROOT / "bench" / "app.py"),
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ]
        server = subprocess.Popen(command, env=env, cwd=ROOT)
        prosecutor = token("prosecutor", "bench-prosecutor")
        deadline = time.time() + 30
        while True:
            try:
                _http(port, "GET", "/api/log-key", prosecutor)
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)

        def new_case(title: str) -> str:
            body = {"title": title, "parties": ["NL"], "agreement": "JIT-bench"}
            return str(json.loads(_http(port, "POST", "/api/cases", prosecutor, body))["id"])

        n = args.clients
        tokens = [token("investigator", f"bench-{i}") for i in range(n)]
        one = new_case("one case")
        many = [new_case(f"case {i}") for i in range(n)]
        plain_one = new_case("plain one case")
        plain_many = [new_case(f"plain case {i}") for i in range(n)]
        print(
            f"PostgreSQL database {dbname}; {n} clients; {args.seconds:.0f} s each; "
            f"{args.workers} uvicorn worker(s); {os.cpu_count()} CPUs"
        )
        runs = [
            ("custody, one case", [f"/api/cases/{one}/exhibits"] * n),
            (f"custody, {n} cases", [f"/api/cases/{c}/exhibits" for c in many]),
            ("plain insert, one case", [f"/api/bench/cases/{plain_one}/exhibits"] * n),
            (f"plain insert, {n} cases", [f"/api/bench/cases/{c}/exhibits" for c in plain_many]),
        ]
        results = [
            asyncio.run(_run(name, port, tokens, paths, args.seconds, args.warmup))
            for name, paths in runs
        ]
        _report(results, n)
        size = _verify_log(port, prosecutor, one)
        print(f"one-case log verified with the custody library: {size} entries")
        print("(chain, times, RFC 9162 root and the checkpoint signature)")
        return 0 if all(r.errors == 0 for r in results) else 1
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
        if not args.keep_db:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(dbname)
                    )
                )


if __name__ == "__main__":
    raise SystemExit(main())
