"""`jitc policy`: the witness policy (C2SP tlog-policy) of a case.

`show` asks a server for the policy it applies to a case. `make` builds one offline from
keys alone (a log vkey, witness vkeys, a quorum), for a court that obtained each key from
the state concerned and will not take the policy from the server or the bundle it checks.

This module imports only argparse and the options (nothing of the server's extra, not
even server.cli.guard, which loads the evidence store): the client that `show` needs and
the custody library that `make` needs are loaded when they run, so that `make` works in an
install of the verifier alone.
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
    add_make(commands)


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


EXIT_BAD_KEYS = 2  # as argparse says a usage error


def add_make(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    make = commands.add_parser(
        "make",
        help="build a policy from keys you obtained yourself (offline)",
        description="Print a C2SP tlog-policy built only from the keys given: the log's "
        "vkey, each witness's vkey (named by its key name) and the quorum, for jitc verify "
        "--policy. Obtain each key from the state concerned, not from the server or the "
        "bundle you mean to check.",
    )
    make.add_argument(
        "--log", required=True, metavar="VKEY", help="the log's verifier key (type 0x01)"
    )
    make.add_argument(
        "--origin",
        metavar="ORIGIN",
        help="the case's origin (<log name>/case/<case id>): the log key is named after it, "
        "as tlog-policy requires (one server key serves every case); default: the key's own "
        "name",
    )
    make.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="VKEY",
        help="a witness's cosignature verifier key (type 0x04); repeat for each witness",
    )
    make.add_argument(
        "--quorum",
        metavar="K",
        help="how many of the witnesses must cosign: a number from 1 to their count, "
        "'any' or 'all' (default: all; with no witness the policy says quorum none)",
    )
    make.set_defaults(func=_make)


def _make(args: argparse.Namespace) -> int:
    # custody only, loaded here: `jitc --help` imports no command's dependencies.
    from custody.errors import FormatError  # noqa: PLC0415 - see the module docstring
    from custody.policy import make_policy  # noqa: PLC0415 - same

    try:
        policy = make_policy(args.log, args.witness, quorum=args.quorum, origin=args.origin)
    except FormatError as exc:
        print(f"jitc policy make: {exc}", file=sys.stderr)
        return EXIT_BAD_KEYS
    sys.stdout.write(policy.to_text())
    return 0
