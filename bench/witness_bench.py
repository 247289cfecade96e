"""Time from an append to a cosigned checkpoint, with two witnesses on loopback.

    .venv/bin/python bench/witness_bench.py                 # SQLite, 200 appends
    .venv/bin/python bench/witness_bench.py --appends 500 --database-url postgresql+psycopg://...

Two real `jitc witness serve` processes (each fsyncs its state before answering) run on
127.0.0.1. Each round appends one custody entry (a note) through the committer, then runs
one submission round of `WitnessSubmitter` (what its thread does when a commit wakes it):
read what is pending, build the consistency proof, POST add-checkpoint to both witnesses
in parallel, verify and store both cosignatures. The time is from the append's return to
both cosignatures being committed. Thread wake-up latency (one Event.set) is not included.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.auth import Principal
from server.cli import main as jitc
from server.config import Settings
from server.services import admin, cases, exhibits
from server.services.witnessing import WitnessSubmitter, register_witness
from server.services.workspace import Workspace
from server.tokens import generate_authority_key, public_jwk

REPO = Path(__file__).resolve().parents[1]
ENTRY = "import sys; from jitc import main; sys.exit(main(sys.argv[1:]))"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                response.read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--appends", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="witness-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'jitc.sqlite3'}"
    settings = Settings(
        data_dir=tmp,
        database_url=url,
        embedded=args.database_url is None,
        log_name="bench.local",
        log_key=None,
    )
    ws = Workspace.open(settings)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for code in ("NL", "DE"):
            admin.add_jurisdiction(
                ws.engine, code, code, public_jwk(generate_authority_key().public_key())
            )
            keys = tmp / f"{code}-keys"
            jitc(["witness", "init", "--name", f"{code}-1", "--out", str(keys)])
            port = free_port()
            argv = [
                "witness",
                "serve",
                "--key",
                str(keys / "witness.key"),
                "--state",
                str(tmp / f"{code}-state"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log",
                ws.signer.vkey(),
            ]
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", ENTRY, *argv],
                    cwd=REPO,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            wait_up(f"http://127.0.0.1:{port}/")
            vkey = (keys / "witness.vkey").read_text().strip()
            register_witness(ws.engine, code, url=f"http://127.0.0.1:{port}", vkey=vkey)
        prosecutor = Principal("NL", "bench", "prosecutor", "jti-bench", 2**40)
        case = cases.create_case(ws, prosecutor, cases.NewCase("bench", ("NL", "DE"), ""))
        submitter = WitnessSubmitter(ws)
        loop = asyncio.new_event_loop()
        loop.run_until_complete(submitter.submit_pending())  # first checkpoint, warm-up
        times: list[float] = []
        for i in range(args.appends):
            exhibits.add_note(ws, prosecutor, case.id, None, f"note {i}")
            start = time.perf_counter()
            outcomes = loop.run_until_complete(submitter.submit_pending())
            elapsed = time.perf_counter() - start
            if len(outcomes) != 2 or any(o.error is not None for o in outcomes):
                raise RuntimeError(f"not cosigned: {outcomes}")
            times.append(elapsed)
        loop.close()
        times.sort()
        p50 = statistics.median(times) * 1000
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1000
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(
            f"{backend}, 2 witnesses on loopback, {args.appends} appends: "
            f"append -> cosigned checkpoint p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
            f"max {times[-1] * 1000:.1f} ms"
        )
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        ws.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
