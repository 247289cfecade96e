"""Pieces of bench/load.py: the per-operation table, an app server with bench.memprobe
inside it (--probe), and the witnesses' refused submissions explained."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.memprobe import ENTRY as PROBE_ENTRY
from tests.server.test_e2e import Process

ROOT = Path(__file__).resolve().parent.parent


class Probed(Process):
    """An app server with bench.memprobe sampling its memory from inside (--probe)."""

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", PROBE_ENTRY, *self.argv],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )


def summarise(samples: list[tuple[float, str, float, str]]) -> dict[str, Any]:
    """Per operation: how many ended ok, their p50 and p99, and every outcome counted."""
    by_op: dict[str, list[float]] = defaultdict(list)
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    for _t, op, seconds, outcome in samples:
        outcomes[op][outcome] += 1
        if outcome == "ok":
            by_op[op].append(seconds)
    table = {}
    for op in sorted(outcomes):
        times = sorted(by_op[op])
        table[op] = {
            "ok": len(times),
            "p50_ms": round(statistics.median(times) * 1000, 1) if times else None,
            "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))] * 1000, 1)
            if times
            else None,
            "outcomes": dict(outcomes[op]),
        }
    return table


_REFUSED = re.compile(
    r"^(\S+ \S+) witness\.service INFO witness: (\S+)/case/(\S+): old size (\d+), "
    r"latest cosigned (\d+) \(checkpoint size (\d+)\)"
)


def refusals(witness_logs: dict[str, Path], conninfo: str) -> list[dict[str, Any]]:
    """Every 409 a witness logged (`jitc witness serve` logs the old size it was sent and
    the size it holds), with what the database holds of that witness's cosignature of the
    size it holds: stored before the refusal (the sender read a stale view: two servers at
    once) or never stored (the witness cosigned, the sender died or gave up before
    storing it: a cosignature lost, which the protocol's 409 resynchronises)."""
    found: list[dict[str, Any]] = []
    with psycopg.connect(conninfo) as conn:
        for code, path in witness_logs.items():
            for line in path.read_text().splitlines():
                m = _REFUSED.match(line)
                if m is None:
                    continue
                at = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").astimezone(UTC)
                case, old, held, size = m[3], int(m[4]), int(m[5]), int(m[6])
                row = conn.execute(
                    "SELECT received_at FROM checkpoint_cosignatures"
                    " WHERE case_id = %s AND key_name = %s AND size = %s",
                    (case, f"{code}-1", held),
                ).fetchone()
                stored = None if row is None else row[0].astimezone(UTC)
                if stored is None:
                    cause = "never stored (lost)"
                elif stored <= at:
                    cause = "stored before the refusal (stale view)"
                else:
                    cause = "stored after the refusal"
                found.append(
                    {
                        "at": at.isoformat(),
                        "witness": code,
                        "case": case,
                        "old_size": old,
                        "witness_size": held,
                        "checkpoint_size": size,
                        "cause": cause,
                    }
                )
    return found
