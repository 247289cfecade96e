"""`jitc export` (ask the server for a court bundle and download it) and `jitc audit`
(check a live case end to end, on the server host)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from server.config import Settings
from server.errors import ServerError
from server.services.audit import audit_case
from server.services.workspace import Workspace

DEFAULT_SERVER = "http://127.0.0.1:8000"
TIMEOUT = httpx.Timeout(30.0, read=3600.0)  # a bundle with GiBs of content takes a while


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = subparsers.add_parser(
        "export",
        description="Ask the server for a court bundle of a case, wait while it is written, "
        "download it and check its SHA-256 against the one logged in export.created.",
    )
    export.add_argument("case", metavar="CASE", help="the case id")
    export.add_argument("--out", required=True, type=Path, metavar="FILE", help="bundle .zip")
    export.add_argument("--recipient", required=True, help="who the bundle is for")
    export.add_argument(
        "--exhibit",
        action="append",
        dest="exhibits",
        metavar="ID",
        help="an exhibit to include (repeatable; default: all)",
    )
    export.add_argument(
        "--selective", action="store_true", help="disclose only the chosen exhibits' entries"
    )
    export.add_argument("--content", action="store_true", help="include the exhibits' bytes")
    export.add_argument(
        "--server", default=None, help=f"server URL (JITC_SERVER, default {DEFAULT_SERVER})"
    )
    export.add_argument("--token", default=None, help="access token (default: JITC_TOKEN)")
    export.set_defaults(func=_export)

    audit = subparsers.add_parser(
        "audit",
        description="Check a case's custody rows, checkpoints and stored objects end to end "
        "(on the server host; settings from the environment).",
    )
    audit.add_argument("case", metavar="CASE", help="the case id")
    audit.add_argument("--json", action="store_true", help="print one JSON report")
    audit.add_argument(
        "--no-objects", action="store_true", help="skip re-hashing the stored objects"
    )
    audit.set_defaults(func=_audit)


def _fail(message: str) -> int:
    print(f"jitc: {message}", file=sys.stderr)
    return 1


def _error_text(response: httpx.Response) -> str:
    retry = response.headers.get("retry-after", "")
    later = f" (retry in {retry} s)" if retry.isascii() and retry.isdigit() else ""
    try:
        error = response.json()["error"]
        return f"{response.status_code} {error['code']}: {error['message']}{later}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code}: {response.text[:300]}{later}"


def _export(args: argparse.Namespace) -> int:
    server = (args.server or os.environ.get("JITC_SERVER") or DEFAULT_SERVER).rstrip("/")
    token = args.token or os.environ.get("JITC_TOKEN")
    if not token:
        return _fail("give an access token with --token or JITC_TOKEN")
    if args.selective and not args.exhibits:
        return _fail("a selective bundle needs at least one --exhibit")
    body = {
        "exhibits": args.exhibits,
        "disclosure": "selective" if args.selective else "full",
        "content": bool(args.content),
        "recipient": args.recipient,
    }
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{server}/api/cases/{args.case}/exports"
    try:
        with httpx.Client(timeout=TIMEOUT, headers=headers) as http:
            # Written on the server while we ask how it goes: a bundle of many GiB takes
            # longer than a proxy keeps one request open. A server that ignores the
            # preference answers 201 when the bundle is ready, as before.
            made = http.post(base, json=body, headers={"Prefer": "respond-async"})
            if made.status_code == 202:
                export = _wait_for_bundle(http, base, made.json()["id"])
            elif made.status_code == 201:
                export = made.json()
            else:
                return _fail(f"the server refused the export: {_error_text(made)}")
            part = args.out.with_name(args.out.name + ".part")
            digest = hashlib.sha256()
            with http.stream("GET", f"{base}/{export['id']}") as response:
                if response.status_code != 200:
                    response.read()
                    return _fail(f"download failed: {_error_text(response)}")
                with part.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
                        digest.update(chunk)
            if digest.hexdigest() != export["bundle_sha256"]:
                part.unlink(missing_ok=True)
                return _fail(
                    f"the downloaded bundle's SHA-256 {digest.hexdigest()} is not the one "
                    f"logged in export.created ({export['bundle_sha256']}); nothing kept"
                )
            part.replace(args.out)
    except _ExportRefusedError as refused:
        return _fail(str(refused))
    except httpx.HTTPError as exc:
        return _fail(f"cannot reach {server}: {exc}")
    print(
        f"export {export['id']}: {args.out} ({export['bundle_size']} bytes, sha256 "
        f"{export['bundle_sha256']}, tree size {export['tree_size']}, logged at seq "
        f"{export['seq']})"
    )
    print(f"check it: jitc verify {args.out} --policy POLICY.txt")
    return 0


class _ExportRefusedError(Exception):
    """The server ended the export as refused, or lost it."""


POLL_FIRST = 0.5  # seconds between status checks: first, and at most
POLL_MOST = 10.0
MAX_WAIT = 6 * 3600.0  # seconds: no bundle takes that long; the export id is printed
MAX_HICCUPS = 10  # transient failures in a row (proxy 502, dropped connection) tolerated


def _wait_for_bundle(http: httpx.Client, base: str, export_id: str) -> dict[str, Any]:
    """Ask how the export goes (GET …/exports/{id}/status) until it is ready (returned)
    or refused (raised). A passing 5xx or network failure is asked again."""
    status_url = f"{base}/{export_id}/status"
    pause, started, told, hiccups = POLL_FIRST, time.monotonic(), 0.0, 0
    while True:
        waited = time.monotonic() - started
        if waited > MAX_WAIT:
            raise _ExportRefusedError(
                f"export {export_id} is still being written after {waited:.0f} s; its "
                "status: GET " + status_url
            )
        export = _status(http, status_url, export_id)
        if export is None:
            hiccups += 1
            if hiccups > MAX_HICCUPS:
                raise _ExportRefusedError(
                    f"cannot follow export {export_id}: the server keeps failing"
                )
        else:
            hiccups = 0
            if export.get("status") == "ready":
                return export
            if export.get("status") != "pending":
                raise _ExportRefusedError(f"the server refused the export: {export.get('error')}")
        if waited - told >= 30:
            told = waited
            print(f"export {export_id}: still being written ({waited:.0f} s)", file=sys.stderr)
        time.sleep(pause)
        pause = min(pause * 2, POLL_MOST)


def _status(http: httpx.Client, url: str, export_id: str) -> dict[str, Any] | None:
    """The export's status document; None for a transient failure (asked again)."""
    try:
        response = http.get(url)
    except httpx.TransportError:
        return None
    if response.status_code >= 500:
        return None
    if response.status_code != 200:
        raise _ExportRefusedError(f"cannot follow export {export_id}: {_error_text(response)}")
    try:
        doc = response.json()
    except ValueError:
        return None  # e.g. a proxy's HTML page
    return doc if isinstance(doc, dict) else None


def _audit(args: argparse.Namespace) -> int:
    try:
        ws = Workspace.open(Settings.from_env())
    except ServerError as exc:
        return _fail(exc.message)
    try:
        report = audit_case(ws, args.case, objects=not args.no_objects)
    except ServerError as exc:
        return _fail(exc.message)
    finally:
        ws.close()
    if args.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        for finding in report.findings:
            print(finding.line())
        print(report.summary())
    return 0 if report.ok else 1
