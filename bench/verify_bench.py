"""Benchmark the offline verifier: a full bundle of N entries (no content), and inclusion proofs.

Run by hand (results go to docs/benchmarks.md):

    .venv/bin/python bench/verify_bench.py --entries 1000000

The bundle is generated once into bench/out/ (reused when present), with the policy a user
would trust beside it (`full-N.policy.txt`); verification runs in a fresh child process so
that its peak RSS is the verifier's alone. It also times the whole process as a user runs
it: Python started, custody imported, the bundle verified and the report printed (`python
-c`, custody only), and `jitc verify BUNDLE --policy POLICY`.

Wall-clock time depends on what else the machine runs; CPU time much less. Each run also
prints the CPU seconds of the verifying process (its main thread alone, and all its
threads) and of the helper it forks (custody.verify.parallel), and from them the wall time
an idle two-core machine would take: the larger of the main thread's CPU, the helper's,
and half of all the CPU used.
Targets: >= 150,000 entries/s as a whole process (issue 9), peak memory <= 500 MB,
inclusion proof <= 50 us (issue 2).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from custody.assemble import write_bundle  # noqa: E402
from custody.checkpoint import Checkpoint  # noqa: E402
from custody.cosignature import CosignatureSigner  # noqa: E402
from custody.entry import SYSTEM_ACTOR, ZERO_HASH, Actor, Entry, make_entry  # noqa: E402
from custody.merkle import MemoryTree, verify_inclusion  # noqa: E402
from custody.note import NoteSigner, sign_note  # noqa: E402
from custody.policy import build_policy  # noqa: E402
from custody.verify import verify_bundle  # noqa: E402

CASE = "5e1f0c3a-9b8d-4e7f-a6c5-b4d3e2f1a0b9"
ORIGIN = f"jitc.bench/case/{CASE}"
ACTORS = [
    Actor("NL", "inv-joris", "investigator", "tok-1"),
    Actor("BE", "inv-marie", "investigator", "tok-2"),
    Actor("NL", "tech-anna", "technician", "tok-3"),
]


def generate(n: int, path: Path) -> None:
    rng = random.Random(1)
    log_key = NoteSigner.from_seed(ORIGIN, bytes(range(32)))
    witness = CosignatureSigner.from_seed("witness.nl.example", bytes(range(1, 33)))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    entries: list[Entry] = []
    heads: dict[str, bytes] = {}
    exhibits: list[str] = []
    tree = MemoryTree()

    def add(i: int, actor: Actor, kind: str, exhibit: str | None, data: dict[str, object]) -> None:
        prev = entries[-1].leaf_hash() if entries else ZERO_HASH
        ex_prev = None if exhibit is None else heads.get(exhibit, ZERO_HASH)
        entry = make_entry(
            case=CASE,
            seq=i,
            prev=prev,
            time=t0 + timedelta(milliseconds=i),
            actor=actor,
            type=kind,
            exhibit=exhibit,
            exhibit_prev=ex_prev,
            data=data,
        )
        entries.append(entry)
        tree.append(entry.leaf_hash())
        if exhibit is not None:
            heads[exhibit] = entry.leaf_hash()

    add(
        0,
        ACTORS[0],
        "case.created",
        None,
        {"title": "bench", "parties": ["NL", "BE"], "agreement": ""},
    )
    # spec 5: policy.txt is the newest case.policy_set, logged at case creation.
    policy = build_policy(log_key.vkey(), [("NL-1", witness.vkey())], quorum="all").to_text()
    add(1, SYSTEM_ACTOR, "case.policy_set", None, {"policy": policy})
    started = time.perf_counter()
    for i in range(2, n):
        roll = rng.random()
        if not exhibits or roll < 0.001:
            exhibit = f"{len(exhibits):08x}-0000-4000-8000-000000000000"
            exhibits.append(exhibit)
            add(
                i,
                ACTORS[2],
                "exhibit.registered",
                exhibit,
                {
                    "label": f"EX-{len(exhibits)}",
                    "owner": "NL",
                    "description": "bench",
                    "acquisition": {"tool": "bench"},
                },
            )
        elif roll < 0.01:
            add(
                i,
                ACTORS[0],
                "exhibit.shared",
                rng.choice(exhibits),
                {"jurisdiction": "BE", "conditions": ""},
            )
        elif roll < 0.05:
            add(i, ACTORS[0], "note.added", rng.choice(exhibits), {"commitment": "ab" * 32})
        else:
            add(
                i,
                ACTORS[0],
                "exhibit.accessed",
                rng.choice(exhibits),
                {"purpose": "analysis", "range": None},
            )
    checkpoint = Checkpoint(ORIGIN, tree.size, tree.root())
    note = sign_note(checkpoint.body(), [log_key])
    note = note.with_signatures([witness.cosign(checkpoint.body(), int(t0.timestamp()))])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bundle(
        path,
        entries=entries,
        checkpoint_note=note,
        policy_text=policy,
        created="2026-01-02T00:00:00.000000Z",
        recipient="bench",
        disclosure="full",
        exhibits=None,
        contents={},
        get_node=tree.get_node,
        log_size=tree.size,
    )
    print(f"generated {n} entries in {time.perf_counter() - started:.1f}s -> {path}")


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def verify_child(path: Path, policy: str) -> None:
    cpu_self, cpu_helper = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    thread = time.thread_time()
    started = time.perf_counter()
    report = verify_bundle(path, policy_text=policy)
    elapsed = time.perf_counter() - started
    thread = time.thread_time() - thread
    cpu_self = _cpu(resource.RUSAGE_SELF) - cpu_self
    cpu_helper = _cpu(resource.RUSAGE_CHILDREN) - cpu_helper
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent.
    status = Path("/proc/self/status").read_text()
    peak_kib = int(
        next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
    )
    print(
        json.dumps(
            {
                "ok": report.ok,
                "entries": report.entries,
                "seconds": elapsed,
                "peak_rss_mib": peak_kib / 1024,
                "helper_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                / 1024,
                "cpu_main_thread": thread,
                "cpu_process": cpu_self,
                "cpu_helper": cpu_helper,
            }
        )
    )


def policy_of(path: Path) -> Path:
    """The policy a user trusts for the bench bundle: its own policy.txt, kept beside it."""
    trusted = path.with_suffix(".policy.txt")
    if not trusted.exists():
        with zipfile.ZipFile(path) as archive:
            trusted.write_bytes(archive.read("policy.txt"))
    return trusted


def inclusion_bench(n: int, samples: int) -> float:
    rng = random.Random(2)
    tree = MemoryTree()
    for i in range(n):
        tree.append(i.to_bytes(32, "big"))
    root = tree.root()
    cases = []
    for _ in range(samples):
        index = rng.randrange(n)
        cases.append((index, tree.inclusion_proof(index)))
    started = time.perf_counter()
    for index, proof in cases:
        verify_inclusion(index.to_bytes(32, "big"), index, n, proof, root)
    return (time.perf_counter() - started) / samples * 1e6


# The whole process as a user runs it, custody alone: start Python, import the verifier,
# verify, print one line per check (what `jitc verify` does, without the CLI's own imports).
WHOLE_PROCESS = (
    "import sys\n"
    "from custody.report import text_lines\n"
    "from custody.verify import verify_bundle\n"
    "policy = open(sys.argv[2], encoding='utf-8').read()\n"
    "report = verify_bundle(sys.argv[1], policy_text=policy)\n"
    "print(*text_lines(report), sep='\\n')\n"
    "sys.exit(0 if report.ok else 1)\n"
)


def whole_process(command: list[str]) -> float:
    cpu = _cpu(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, check=False, capture_output=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    # The process and the helper it forked and waited for, together.
    print(f"  {elapsed:.2f} s wall, {_cpu(resource.RUSAGE_CHILDREN) - cpu:.2f} s CPU")
    return elapsed


def report_runs(label: str, entries: int, seconds: list[float]) -> None:
    rates = sorted(entries / s for s in seconds)
    print(
        f"{label}: best {rates[-1]:,.0f} entries/s ({min(seconds):.2f} s), "
        f"worst {rates[0]:,.0f} entries/s ({max(seconds):.2f} s) over {len(seconds)} runs"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--verify-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.verify_only:
        verify_child(args.verify_only, policy_of(args.verify_only).read_text("utf-8"))
        return 0
    path = args.out / f"full-{args.entries}.zip"
    if not path.exists():
        generate(args.entries, path)
    policy = policy_of(path)
    print(f"bundle: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    in_process: list[float] = []
    for run in range(args.runs):
        out = subprocess.run(
            [sys.executable, __file__, "--verify-only", str(path)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
        result = json.loads(out)
        in_process.append(result["seconds"])
        rate = result["entries"] / result["seconds"]
        idle = max(
            result["cpu_main_thread"],
            result["cpu_helper"],
            (result["cpu_process"] + result["cpu_helper"]) / 2,
        )
        print(
            f"run {run + 1}: ok={result['ok']} {result['entries']} entries in "
            f"{result['seconds']:.2f}s = {rate:,.0f} entries/s, peak RSS "
            f"{result['peak_rss_mib']:.0f} MiB (helper {result['helper_peak_rss_mib']:.0f} MiB); "
            f"CPU: main thread {result['cpu_main_thread']:.2f} s, process "
            f"{result['cpu_process']:.2f} s, helper {result['cpu_helper']:.2f} s; "
            f"idle two cores ~{idle:.2f} s = {result['entries'] / idle:,.0f} entries/s"
        )
    report_runs("in process", args.entries, in_process)
    custody_only = [
        whole_process([sys.executable, "-c", WHOLE_PROCESS, str(path), str(policy)])
        for _ in range(args.runs)
    ]
    report_runs("whole process, custody only (python -c)", args.entries, custody_only)
    jitc = Path(sys.executable).with_name("jitc")
    if jitc.exists():
        command = [str(jitc), "verify", str(path), "--policy", str(policy)]
        cli = [whole_process(command) for _ in range(args.runs)]
        report_runs("whole process, jitc verify", args.entries, cli)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    micro = inclusion_bench(args.entries, 20_000)
    print(f"inclusion proof verification (tree of {args.entries}): {micro:.1f} us each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
