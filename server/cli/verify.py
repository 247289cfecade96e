"""`jitc verify`: the offline verifier of court bundles and tlog-proofs (spec 6).

Exit 0 when every check passes, 1 when any fails, 2 when the input cannot be read at all.
Uses only the custody library: no server, database or network.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from custody.errors import FormatError
from custody.report import text_lines, visible
from custody.tlogproof import MAX_PROOF_BYTES
from custody.verify import VerificationReport, verify_bundle, verify_proof

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNREADABLE = 2
MAX_POLICY_BYTES = 1024 * 1024


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "verify",
        description=(
            "Verify a court bundle offline (spec 6), or one .tlog-proof against a policy. "
            "Exit 0: every check passed; 1: a check failed; 2: the input cannot be read."
        ),
    )
    parser.add_argument("path", type=Path, help="BUNDLE.zip, or a .tlog-proof file")
    parser.add_argument(
        "--policy",
        type=Path,
        help="a C2SP tlog-policy you trust (default: the bundle's own policy.txt)",
    )
    parser.add_argument(
        "--entry",
        type=Path,
        help="with a .tlog-proof: the canonical entry it proves (default: the proof's extra)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON report")
    parser.set_defaults(func=run)


def _unreadable(message: str, *, as_json: bool) -> int:
    # One line on stderr for the person at the terminal, JSON mode or not.
    print(f"jitc verify: cannot read input: {visible(message, limit=500)}", file=sys.stderr)
    if as_json:
        print(json.dumps({"ok": False, "unreadable": True, "error": message}))
    return EXIT_UNREADABLE


def _read_small(path: Path, limit: int, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise FormatError(f"{what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise FormatError(f"{what} {path} is larger than {limit} bytes")
    return data


def run(args: argparse.Namespace) -> int:
    as_json: bool = args.json
    now = datetime.now(UTC)
    try:
        policy_text = None
        if args.policy is not None:
            try:
                policy_text = _read_small(args.policy, MAX_POLICY_BYTES, "policy").decode("utf-8")
            except UnicodeDecodeError:
                raise FormatError(f"policy {args.policy} is not UTF-8") from None
        path: Path = args.path
        if not path.is_file():
            raise FormatError(f"{path}: no such file")
        if path.suffix == ".tlog-proof":
            if policy_text is None:
                raise FormatError("checking a .tlog-proof alone needs --policy")
            entry = None if args.entry is None else _read_small(args.entry, 1 << 20, "entry")
            report: VerificationReport = verify_proof(
                _read_small(path, MAX_PROOF_BYTES, "proof"),
                policy_text=policy_text,
                entry_line=entry,
                subject=str(path),
                now=now,
            )
        else:
            report = verify_bundle(path, policy_text=policy_text, now=now)
    except FormatError as exc:
        return _unreadable(str(exc), as_json=as_json)
    except (OSError, MemoryError) as exc:
        return _unreadable(f"{type(exc).__name__}: {exc}", as_json=as_json)
    except Exception as exc:  # noqa: BLE001 - a court gets one line and exit 2, never a traceback
        return _unreadable(
            f"unexpected {type(exc).__name__} while reading the input ({exc}); no verdict "
            "was reached. Please report this with the file.",
            as_json=as_json,
        )
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=True, indent=None))
    else:
        for line in text_lines(report):
            print(line)
    return EXIT_OK if report.ok else EXIT_FAILED
