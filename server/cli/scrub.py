"""`jitc scrub`, on the server host: re-read every stored exhibit, recompute its hashes and
log exhibit.verified for each; first finish the ingests a crash interrupted (ADR 0012)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from server.cli.existing import open_existing_workspace
from server.cli.guard import guarded
from server.services import content


def register(subparsers: Any) -> None:
    scrub = subparsers.add_parser(
        "scrub",
        description="Re-verify every stored exhibit (on the server host; settings from the "
        "environment) and log the result of each; exit 1 if any is altered or missing.",
    )
    scrub.add_argument(
        "--no-recover", action="store_true", help="do not first recover interrupted ingests"
    )
    scrub.set_defaults(func=guarded(_scrub))


def _scrub(args: argparse.Namespace) -> int:
    ws = open_existing_workspace()
    try:
        if not args.no_recover:
            recovered = content.sweep(ws)
            if recovered.recovered or recovered.orphans:
                print(
                    f"recovered {recovered.recovered} interrupted ingests; "
                    f"{recovered.orphans} orphan objects (see the server log)",
                    file=sys.stderr,
                )

        def show(result: content.Verified) -> None:
            if not result.ok:
                what = "MISSING" if result.digests is None else "ALTERED"
                print(
                    f"STORAGE {what}: case {result.recorded.case_id} exhibit "
                    f"{result.recorded.exhibit_id} (entry {result.seq})",
                    file=sys.stderr,
                )

        report = content.scrub(ws, progress=show)
    finally:
        ws.close()
    altered, missing = report.altered, report.missing
    print(f"scrub: {report.checked} exhibits checked, {report.ok} intact, "
          f"{len(altered)} altered, {len(missing)} missing")  # fmt: skip
    if report.holds_fixed:
        print(f"scrub: {report.holds_fixed} objects' legal holds set to match their exhibits")
    if altered or missing:
        print("jitc: STORAGE WAS TAMPERED WITH OR LOST: see the lines above", file=sys.stderr)
        return 1
    return 0
