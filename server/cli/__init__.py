"""The `jitc` front door: every command, the module that implements it, and what it needs.

A command's module is imported only when that command runs (`jitc verify` loads the
custody library and nothing of the server), so the verifier works in an install of
`jit-custody` alone. A command whose dependencies are not installed says which extra
brings them, instead of a traceback.

Each module defines `register(subparsers)`, which adds its commands and sets `func` on each
parser to a callable taking the parsed namespace and returning the exit code.

A usage error is one line on stderr (exit 2), like every other failure of a command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, NoReturn

EXIT_NOT_INSTALLED: Final = 2
OUR_PACKAGES: Final = frozenset({"custody", "evidence", "migrations", "server", "witness"})


@dataclass(frozen=True, slots=True)
class Area:
    module: str
    """Defines `register(subparsers)` for the commands below."""
    extra: str | None
    """The extra of jit-custody its dependencies come with (None: the verifier's own)."""
    commands: dict[str, str]
    """Each command's one-line summary, for `jitc --help`."""
    implied: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Commands with subcommands whose first one may be left out: `jitc export CASE ...`
    is `jitc export create CASE ...` (the word after the command is none of them)."""


AREAS: Final = (
    Area(
        "server.cli.verify", None, {"verify": "verify a court bundle (or one .tlog-proof) offline"}
    ),
    Area(
        "server.cli.admin",
        "server",
        {
            "serve": "run the workspace server (uvicorn)",
            "db": "database schema (Alembic)",
            "authority": "a state authority's token key",
            "jurisdiction": "states in this workspace",
            "token": "access tokens",
            "log-key": "print the log's verifier key (vkey)",
        },
    ),
    Area(
        "server.cli.session",
        "server",
        {
            "login": "keep an access token for a server (checked with it first)",
            "logout": "remove the token kept for a server",
        },
    ),
    Area(
        "server.cli.cases",
        "server",
        {
            "case": "cases: list, show, create; propose, approve or withdraw a party",
            "grant": "grant one of your state's judges or defence lawyers access to a case",
            "ungrant": "revoke a judge's or defence lawyer's access",
        },
    ),
    Area(
        "server.cli.exhibits",
        "server",
        {
            "exhibit": "exhibits: list, show, add; seal, hold, release, verify, dispose",
            "share": "share an exhibit with another party state",
            "unshare": "stop sharing an exhibit with a state",
            "note": "add a note to a case or an exhibit",
        },
    ),
    Area("server.cli.upload", "server", {"upload": "upload an exhibit's content (tus, resumable)"}),
    Area(
        "server.cli.download",
        "server",
        {"download": "download an exhibit's content and check it against its entry"},
    ),
    Area("server.cli.timeline", "server", {"log": "a case's custody log, one line per entry"}),
    Area("server.cli.policy", "server", {"policy": "a case's witness policy (tlog-policy)"}),
    Area("server.cli.scrub", "server", {"scrub": "re-verify every stored exhibit (server host)"}),
    Area("witness.cli", "witness", {"witness": "a jurisdiction's witness (C2SP tlog-witness)"}),
    Area(
        "server.cli.court",
        "server",
        {
            "export": "court bundles: make one and download it; list them; fetch one again",
            "audit": "check a case's custody rows, checkpoints and stored objects (server host)",
        },
        implied={"export": ("create", "list", "get")},
    ),
)


def _needs(command: str, area: Area, missing: str) -> str:
    extra = f"the {area.extra}" if area.extra else "the verifier"
    install = f"'jit-custody[{area.extra}]'" if area.extra else "jit-custody"
    return (
        f"jitc {command}: this command needs {extra}: pip install {install} "
        f"(module {missing} is not installed)"
    )


def _missing_dependency(exc: ModuleNotFoundError) -> str | None:
    """The name of a missing third-party module, or None if one of ours is missing (a bug,
    raised as it is)."""
    name = exc.name or ""
    return None if name.split(".")[0] in OUR_PACKAGES else name


def _chosen(argv: Sequence[str]) -> tuple[str, Area] | None:
    """The command named by the first argument, and its area (None: no command given)."""
    if not argv or argv[0].startswith("-"):
        return None
    for area in AREAS:
        if argv[0] in area.commands:
            return argv[0], area
    return None


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error said in one line that points to --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _with_implied(argv: list[str], area: Area) -> list[str]:
    """`jitc export CASE ...` as `jitc export create CASE ...` (Area.implied)."""
    subcommands = area.implied.get(argv[0])
    if not subcommands or (len(argv) > 1 and argv[1] in (*subcommands, "-h", "--help")):
        return argv
    if len(argv) == 1:
        return argv  # the command alone: argparse names its subcommands
    return [argv[0], subcommands[0], *argv[1:]]


def build_parser(chosen: Area | None) -> argparse.ArgumentParser:
    """The parser: the chosen area's module registers its commands; every other command is
    only named (with its summary), so nothing else is imported."""
    parser = _Parser(
        prog="jitc", description="JIT Custody: chain of custody for joint investigation teams."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for area in AREAS:
        if area is chosen:
            importlib.import_module(area.module).register(subparsers)
        else:
            for name, summary in area.commands.items():
                subparsers.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    chosen = _chosen(args_list)
    if chosen is not None:
        args_list = _with_implied(args_list, chosen[1])
    try:
        args = build_parser(None if chosen is None else chosen[1]).parse_args(args_list)
        code: int = args.func(args)
    except ModuleNotFoundError as exc:
        # The command's module, or a module it loads as it runs, is not installed.
        missing = _missing_dependency(exc)
        if chosen is None or missing is None:
            raise
        print(_needs(*chosen, missing), file=sys.stderr)
        return EXIT_NOT_INSTALLED
    return code
