"""`jitc login` and `jitc logout`: keep an access token for a server, so that the client
commands need no --token or JITC_TOKEN.

The token is checked with the server, then kept in a file only its owner can read
(mode 0600, in a 0700 directory) under $XDG_CONFIG_HOME/jitc/tokens (default
~/.config/jitc/tokens), one file per server. A token names its bearer until it expires
(at most 12 hours): `jitc logout` removes the file.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from custody.report import visible
from server.cli.client import (
    Api,
    Session,
    checked_token,
    claims_of,
    guarded_client,
    print_json,
    server_of,
    store_token,
    token_file,
)
from server.cli.guard import EXIT_CONFIG, CommandError
from server.cli.options import json_option, server_option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    login = subparsers.add_parser(
        "login",
        description="Keep an access token for a server (checked with it first), so that the "
        "client commands need no --token. The token is read from --token, else from stdin "
        "(asked for without echo on a terminal).",
    )
    server_option(login)
    login.add_argument(
        "--token",
        metavar="TOKEN",
        help="the token to keep (default: read it from stdin, e.g. jitc token issue ... | "
        "jitc login)",
    )
    json_option(login)
    login.set_defaults(func=guarded_client(_login))

    logout = subparsers.add_parser(
        "logout", description="Remove the token `jitc login` kept for a server."
    )
    server_option(logout)
    json_option(logout)
    logout.set_defaults(func=guarded_client(_logout))


def _read_token(args: argparse.Namespace) -> str:
    if args.token is not None:
        return checked_token(args.token, "--token")
    if sys.stdin.isatty():
        return checked_token(getpass.getpass("access token: "), "the terminal")
    return checked_token(sys.stdin.read(), "stdin")


def _login(args: argparse.Namespace) -> int:
    server = server_of(args)
    token = _read_token(args)
    api = Api(server, token, timeout=60.0)
    with api.client() as http:
        # Any call that needs a valid token: a refused one is not kept.
        Session(api, http).get("/api/cases", "checking the token", limit=1)
    path = store_token(server, token)
    claims = claims_of(token)
    expires = claims.get("exp")
    until = (
        datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M UTC")
        if isinstance(expires, int)
        else "?"
    )
    if args.json:
        print_json(
            {
                "server": server,
                "path": str(path),
                "jurisdiction": claims.get("iss"),
                "sub": claims.get("sub"),
                "role": claims.get("role"),
                "expires": expires,
            }
        )
        return 0
    who = f"{visible(str(claims.get('iss', '?')), limit=20)}/{visible(str(claims.get('sub', '?')))}"
    print(
        f"logged in to {server} as {who} ({visible(str(claims.get('role', '?')), limit=20)}) "
        f"until {until}; token kept in {path}"
    )
    return 0


def _logout(args: argparse.Namespace) -> int:
    server = server_of(args)
    path = token_file(server)
    try:
        path.unlink()
        removed = True
    except FileNotFoundError:
        removed = False
    except OSError as exc:
        raise CommandError(f"cannot remove {path}: {exc.strerror}", EXIT_CONFIG) from None
    if args.json:
        print_json({"server": server, "removed": removed})
    elif removed:
        print(f"logged out of {server}")
    else:
        print(f"no token was kept for {server}")
    return 0
