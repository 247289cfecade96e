"""Export time and peak memory for a court bundle with 4 GiB of content.

    .venv/bin/python bench/export_bench.py              # one 4 GiB exhibit, filesystem store
    .venv/bin/python bench/export_bench.py --gib 1 --exhibits 2

The content is ingested first through the content service (PUT …/content's code path),
from one random 1 MiB block yielded again and again. The export then does all it does for
`POST …/exports`: stream the content from the store into the ZIP, verify the written
bundle (every content byte re-hashed), append report.html, take the bundle's SHA-256 and
log export.created. Peak memory is the process's resident set size, sampled every 20 ms
during the export, against its size just before.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.auth import Principal
from server.config import Settings
from server.services import admin, cases, content, exhibits, exports
from server.services.workspace import Workspace
from server.tokens import generate_authority_key, public_jwk

MiB = 1024 * 1024
GiB = 1024 * MiB


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def body(size: int) -> Iterator[bytes]:
    block = os.urandom(MiB)
    for _ in range(size // MiB):
        yield block


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gib", type=float, default=4.0, help="content per exhibit, GiB")
    parser.add_argument("--exhibits", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: tmp)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="export-bench-", dir=args.dir))
    settings = Settings(
        data_dir=tmp,
        database_url=f"sqlite:///{tmp / 'jitc.sqlite3'}",
        embedded=True,
        log_name="bench.local",
        log_key=None,
    )
    ws = Workspace.open(settings)
    try:
        admin.add_jurisdiction(
            ws.engine, "NL", "NL", public_jwk(generate_authority_key().public_key())
        )
        prosecutor = Principal("NL", "bench", "prosecutor", "jti-p", 2**40)
        technician = Principal("NL", "tech", "technician", "jti-t", 2**40)
        case = cases.create_case(ws, prosecutor, cases.NewCase("bench", ("NL",), ""))
        size = int(args.gib * GiB) // MiB * MiB
        start = time.perf_counter()
        for i in range(args.exhibits):
            exhibit = exhibits.register_exhibit(
                ws,
                technician,
                case.id,
                exhibits.NewExhibit(
                    f"disk {i}", "", {"tool": "dd", "operator": "b", "time": "2026-11-27T00:00:00Z"}
                ),
            )
            meta = content.ContentMeta(f"disk{i}.img", "application/octet-stream", None)
            content.ingest_stream(ws, technician, case.id, exhibit.id, meta, body(size))
        ingest = time.perf_counter() - start
        total = size * args.exhibits

        baseline = rss()
        peak = [baseline]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.02):
                peak[0] = max(peak[0], rss())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        made = exports.create_export(
            ws,
            prosecutor,
            case.id,
            exports.ExportRequest(
                exhibits=None, disclosure="full", content=True, recipient="bench"
            ),
        )
        elapsed = time.perf_counter() - start
        done.set()
        sampler.join()
        print(
            f"{total / GiB:.2f} GiB of content in {args.exhibits} exhibit(s): "
            f"ingest {ingest:.1f} s; "
            f"export {elapsed:.1f} s ({total / MiB / elapsed:.0f} MiB/s of content: write, "
            f"verify, report, SHA-256), bundle {made.bundle_size / GiB:.2f} GiB; "
            f"RSS before {baseline / MiB:.0f} MiB, peak during export {peak[0] / MiB:.0f} MiB "
            f"(+{(peak[0] - baseline) / MiB:.0f} MiB)"
        )
    finally:
        ws.close()
        for path in tmp.rglob("*"):  # stored evidence is read-only
            path.chmod(0o700 if path.is_dir() else 0o600)
        shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
