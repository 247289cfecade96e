"""`jitc policy show`: the witness policy (C2SP tlog-policy) a server applies to a case.

This module imports only argparse and the options (nothing of the server's extra, not
even server.cli.guard, which loads the evidence store): the client that `show` needs is
loaded when it runs, so that a `policy` command made offline from keys alone can share
this parser without the server's dependencies.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from server.cli.options import client_options

OUR_PACKAGES = frozenset({"custody", "evidence", "server", "witness"})
EXIT_NOT_INSTALLED = 2  # as the front door says it (server/cli/__init__.py)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    policy = subparsers.add_parser(
        "policy", description="A case's witness policy (C2SP tlog-policy)."
    )
    commands = policy.add_subparsers(dest="policy_command", metavar="COMMAND", required=True)
    add_show(commands)


def add_show(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    show = commands.add_parser(
        "show",
        help="the policy the server applies to a case",
        description="Print the case's tlog-policy as the server has it (its log key, the "
        "party states' witnesses and the quorum), or write it to a file for "
        "jitc verify --policy. A court that does not trust the server makes its own from "
        "keys it obtained from each state.",
    )
    show.add_argument("case", metavar="CASE", help="the case id, or its first characters")
    show.add_argument("--out", type=Path, metavar="FILE", help="write the policy to FILE")
    client_options(show)
    show.set_defaults(func=_show)


def _show(args: argparse.Namespace) -> int:
    try:
        from server.cli.cases import policy_show  # noqa: PLC0415 - see the docstring
        from server.cli.client import client_command  # noqa: PLC0415 - same
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in OUR_PACKAGES:
            raise
        print(
            "jitc policy show: this command needs the server: pip install "
            f"'jit-custody[server]' (module {exc.name} is not installed)",
            file=sys.stderr,
        )
        return EXIT_NOT_INSTALLED
    return client_command(policy_show)(args)
