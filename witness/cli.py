"""`jitc witness init` and `jitc witness serve`: a jurisdiction's witness (spec 4)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from custody.checkpoint import Checkpoint
from custody.errors import KeyFormatError
from custody.note import NoteVerifier
from witness.errors import WitnessError
from witness.keys import KEY_FILE, VKEY_FILE, create_witness_key, load_witness_key
from witness.state import hold_state_lock

__all__ = ["main_for_tests", "register"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7380

# main_for_tests only: after a checkpoint of at least this size is durable, say so on
# stdout ("persisted SIZE") and hang instead of answering, so a test can SIGKILL the
# witness between persisting and responding.
STALL_ENV = "JITC_WITNESS_TEST_STALL_AT_SIZE"

Handler = Callable[[argparse.Namespace], int]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    witness = subparsers.add_parser(
        "witness",
        description="Cosign checkpoints of a JIT Custody server's case logs.",
    )
    commands = witness.add_subparsers(dest="witness_command", metavar="COMMAND", required=True)

    init = commands.add_parser(
        "init", help="make a witness key", description="Write DIR/witness.key and witness.vkey."
    )
    init.add_argument("--name", required=True, help="witness name, e.g. NL-1")
    init.add_argument("--out", required=True, type=Path, metavar="DIR", help="key directory")
    init.set_defaults(func=_init)

    serve = commands.add_parser(
        "serve",
        help="run the witness (POST /add-checkpoint)",
        description="Cosign consistent checkpoints of every case of the given logs.",
    )
    serve.add_argument("--key", required=True, type=Path, metavar="FILE", help="witness.key")
    serve.add_argument("--state", required=True, type=Path, metavar="DIR", help="state directory")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"default {DEFAULT_HOST}")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    serve.add_argument(
        "--log",
        required=True,
        action="append",
        dest="logs",
        metavar="LOG_VKEY",
        help="a log's vkey under its log name (GET /api/log-key); repeatable",
    )
    serve.set_defaults(func=_serve)


def _init(args: argparse.Namespace) -> int:
    try:
        signer = create_witness_key(args.out, args.name)
    except WitnessError as exc:
        print(f"jitc: {exc}", file=sys.stderr)
        return 1
    print(signer.vkey())
    print(f"wrote {args.out / KEY_FILE} (secret, 0600) and {args.out / VKEY_FILE}", file=sys.stderr)
    return 0


def _serve(
    args: argparse.Namespace, *, on_persisted: Callable[[Checkpoint], None] | None = None
) -> int:
    import uvicorn  # noqa: PLC0415 - only `serve` needs the web server

    from witness.app import create_witness_app  # noqa: PLC0415 - same

    try:
        log_verifiers = [NoteVerifier.from_vkey(vkey) for vkey in args.logs]
    except KeyFormatError as exc:
        print(f"jitc: --log is not an Ed25519 log vkey: {exc}", file=sys.stderr)
        return 2
    try:
        signer = load_witness_key(args.key)
        with hold_state_lock(args.state):
            app = create_witness_app(
                signer=signer,
                log_verifiers=log_verifiers,
                state_dir=args.state,
                clock=time.time,
                on_persisted=on_persisted,
            )
            print(f"witness {signer.vkey()}", file=sys.stderr, flush=True)
            # The witness's own decisions (a refused submission and why: the old size
            # sent and the size it holds) are logged with a time, next to uvicorn's lines.
            logging.basicConfig(
                level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
            )
            uvicorn.run(app, host=args.host, port=args.port, server_header=False)
    except WitnessError as exc:
        print(f"jitc: {exc}", file=sys.stderr)
        return 1
    return 0


def _stall_hook(at_size: int) -> Callable[[Checkpoint], None]:
    def stall(checkpoint: Checkpoint) -> None:
        if checkpoint.size >= at_size:
            print(f"persisted {checkpoint.size}", flush=True)
            time.sleep(3600)  # until the test kills us

    return stall


def main_for_tests(argv: Sequence[str]) -> int:
    """`jitc` limited to the witness commands, for subprocess tests that must not depend
    on the other CLI areas importing; honours JITC_WITNESS_TEST_STALL_AT_SIZE."""
    parser = argparse.ArgumentParser(prog="jitc")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    stall = os.environ.get(STALL_ENV)
    if args.witness_command == "serve" and stall is not None:
        return _serve(args, on_persisted=_stall_hook(int(stall)))
    handler: Handler = args.func
    return handler(args)
