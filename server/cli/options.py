"""The options every client command takes (--server, --token, --json), with nothing to
import but argparse: a command may declare them before it needs the client itself."""

from __future__ import annotations

import argparse
from typing import Final

SERVER_ENV: Final = "JITC_SERVER"
TOKEN_ENV: Final = "JITC_TOKEN"  # noqa: S105 - the variable's name
DEFAULT_SERVER: Final = "http://127.0.0.1:8000"


def server_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        metavar="URL",
        help=f"the server (default: ${SERVER_ENV}, else {DEFAULT_SERVER})",
    )


def json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print JSON for programs (see docs/cli.md)"
    )


def client_options(parser: argparse.ArgumentParser, *, progress: bool = False) -> None:
    """--server, --token and --json (and --quiet for commands with a progress bar)."""
    server_option(parser)
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help=f"access token (default: ${TOKEN_ENV}, else the one `jitc login` kept for the server)",
    )
    json_option(parser)
    if progress:
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
