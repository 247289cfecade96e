"""`jitc`: one console script, one sub-command module per area.

Each module in COMMAND_MODULES defines `register(subparsers)`, which adds its sub-commands
and sets `func` on each parser to a callable taking the parsed namespace and returning
the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "server.cli.verify",  # jitc verify (offline, custody library only)
    "server.cli.admin",  # jitc serve, db, authority, jurisdiction, token, log-key
    "server.cli.evidence",  # jitc upload, download, scrub
    "witness.cli",  # jitc witness init / serve
    "server.cli.court",  # jitc export, audit
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jitc", description="JIT Custody: chain of custody for joint investigation teams."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that area is not built yet
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
