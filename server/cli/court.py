"""`jitc export` (ask the server for a court bundle and download it; list a case's bundles;
fetch one again) and `jitc audit` (check a live case end to end, on the server host)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from custody.report import visible
from server.cli.client import (
    READ_SIZE,
    RETRIES,
    Session,
    api_of,
    client_command,
    guarded_client,
    print_json,
    short,
    size_text,
    table,
)
from server.cli.existing import open_existing_workspace
from server.cli.guard import CommandError, guarded
from server.cli.options import client_options
from server.cli.transfer import MismatchError, Progress, held_bytes, locked_partial, resumable
from server.errors import ServerError
from server.services.audit import audit_case

TIMEOUT = httpx.Timeout(30.0, read=3600.0)  # a bundle with GiBs of content takes a while


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = subparsers.add_parser(
        "export",
        description="Court bundles of a case: make one (`jitc export CASE ...` is short for "
        "`jitc export create CASE ...`), list them, or fetch one again.",
    )
    commands = export.add_subparsers(dest="export_command", metavar="COMMAND", required=True)
    create = commands.add_parser(
        "create",
        help="make a court bundle on the server and download it",
        description="Ask the server for a court bundle of a case, wait while it is written, "
        "download it and check its SHA-256 against the one logged in export.created.",
    )
    create.add_argument("case", metavar="CASE", help="the case id, or its first characters")
    create.add_argument("--out", required=True, type=Path, metavar="FILE", help="bundle .zip")
    create.add_argument("--recipient", required=True, help="who the bundle is for")
    create.add_argument(
        "--exhibit",
        action="append",
        dest="exhibits",
        metavar="ID",
        help="an exhibit to include (id or first characters; repeatable; default: all)",
    )
    create.add_argument(
        "--selective", action="store_true", help="disclose only the chosen exhibits' entries"
    )
    create.add_argument("--content", action="store_true", help="include the exhibits' bytes")
    client_options(create)
    create.set_defaults(func=guarded_client(_export))

    listing = commands.add_parser("list", help="a case's court bundles that you may receive")
    listing.add_argument("case", metavar="CASE", help="the case id, or its first characters")
    client_options(listing)
    listing.set_defaults(func=client_command(_list))

    get = commands.add_parser(
        "get",
        help="download a bundle made before, checked against its export record",
        description="Download a court bundle made before into FILE.part, resuming an "
        "interrupted download (HTTP Range, in this run or the next), and check its SHA-256 "
        "against the export's record; FILE appears only if it matches. Each download of a "
        "bundle with content is logged as exhibit.accessed.",
    )
    get.add_argument("case", metavar="CASE", help="the case id, or its first characters")
    get.add_argument("export", metavar="EXPORT", help="the export id, or its first characters")
    get.add_argument("--out", required=True, type=Path, metavar="FILE", help="bundle .zip")
    get.add_argument("--force", action="store_true", help="replace FILE if it exists")
    client_options(get, progress=True)
    get.set_defaults(func=client_command(_get))

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
    audit.set_defaults(func=guarded(_audit))  # a store error (no Object Lock...): one line


def _fail(message: str) -> int:
    print(f"jitc: {message}", file=sys.stderr)
    return 1


def _error_text(response: httpx.Response) -> str:
    retry = response.headers.get("retry-after", "")
    later = f" (retry in {retry} s)" if retry.isascii() and retry.isdigit() else ""
    try:
        error = response.json()["error"]
        return f"{response.status_code} {error['code']}: {visible(str(error['message']))}{later}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code}: {visible(response.text[:300])}{later}"


def _export(args: argparse.Namespace) -> int:
    api = api_of(args)
    if args.selective and not args.exhibits:
        raise CommandError("a selective bundle needs at least one --exhibit")
    with httpx.Client(
        base_url=api.server, timeout=TIMEOUT, headers={"Authorization": f"Bearer {api.token}"}
    ) as http:
        server = Session(api, http)
        case_id = server.case(args.case)
        chosen = None
        if args.exhibits:
            chosen = [server.exhibit(case_id, given) for given in args.exhibits]
        body = {
            "exhibits": chosen,
            "disclosure": "selective" if args.selective else "full",
            "content": bool(args.content),
            "recipient": args.recipient,
        }
        base = f"/api/cases/{case_id}/exports"
        try:
            # Written on the server while we ask how it goes: a bundle of many GiB takes
            # longer than a proxy keeps one request open. A server that ignores the
            # preference answers 201 when the bundle is ready, as before.
            made = http.post(base, json=body, headers={"Prefer": "respond-async"})
            if made.status_code == 202:
                export = _wait_for_bundle(http, base, made.json()["id"])
            elif made.status_code == 201:
                export = made.json()
            else:
                raise CommandError(f"the server refused the export: {_error_text(made)}")
        except _ExportRefusedError as refused:
            raise CommandError(str(refused)) from None
        part = args.out.with_name(args.out.name + ".part")
        digest = hashlib.sha256()
        with http.stream("GET", f"{base}/{export['id']}") as response:
            if response.status_code != 200:
                response.read()
                raise CommandError(f"download failed: {_error_text(response)}")
            with part.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    digest.update(chunk)
        if digest.hexdigest() != export["bundle_sha256"]:
            part.unlink(missing_ok=True)
            raise CommandError(
                f"the downloaded bundle's SHA-256 {digest.hexdigest()} is not the one "
                f"logged in export.created ({export['bundle_sha256']}); nothing kept"
            )
        part.replace(args.out)
    if args.json:
        print_json({**export, "case": case_id, "path": str(args.out)})
        return 0
    print(
        f"export {export['id']}: {args.out} ({export['bundle_size']} bytes, sha256 "
        f"{export['bundle_sha256']}, tree size {export['tree_size']}, logged at seq "
        f"{export['seq']})"
    )
    for line in coverage_lines(export):
        print(line)
    print(f"check it: jitc verify {args.out} --policy POLICY.txt")
    return 0


def coverage_lines(export: dict[str, Any]) -> list[str]:
    """How far the bundle reaches and what witnessed it, in words (spec 6 warnings): a
    bundle stops at the newest checkpoint that met the case policy, which may be before
    the newest entry; with no witness in that policy it rests on the log key alone."""
    tree_size, log_size = export.get("tree_size"), export.get("log_size")
    missing = [str(name) for name in export.get("not_cosigned") or []]
    who = ", ".join(visible(name, limit=80) for name in missing)
    if not isinstance(tree_size, int) or not isinstance(log_size, int):
        return []
    lines: list[str] = []
    if export.get("witnesses") == []:
        lines.append(
            "no witness cosigned this bundle: the case's policy had none, so it rests on "
            "the log operator's key alone"
        )
    if tree_size < log_size:
        behind = log_size - tree_size
        lines += [
            f"the bundle stops before the newest entry: it holds entries 0..{tree_size - 1} "
            f"of {log_size}; the {behind} newest are not in it, because the newest checkpoint "
            "has not met the case's witness policy" + (f" (not cosigned by {who})" if who else ""),
            "export again once the witnesses have cosigned to include them",
        ]
        return lines
    line = f"the bundle holds every entry of the log ({log_size})"
    if who:
        line += f" (the quorum was met; not cosigned by {who})"
    return [*lines, line]


def _list(args: argparse.Namespace, server: Session) -> int:
    case_id = server.case(args.case)
    exports = server.every(f"/api/cases/{case_id}/exports", "listing exports")
    if args.json:
        print_json({"items": exports})
        return 0
    rows = [_export_row(export) for export in exports]
    for line in table(rows):
        print(line)
    if not exports:
        print(f"no court bundles of case {short(case_id)} that you may receive")
    return 0


def _export_row(export: dict[str, Any]) -> list[str]:
    request = export.get("request") or {}
    by = export.get("requested_by") or {}
    what = f"{request.get('disclosure', '?')}" + (", content" if request.get("content") else "")
    size = export.get("bundle_size")
    return [
        short(str(export["id"])),
        str(export.get("created_at", ""))[:19].replace("T", " "),
        str(export.get("status", "?")),
        "-" if size is None else size_text(int(size)),
        what,
        f"by {by.get('jurisdiction', '?')}/{visible(str(by.get('sub', '?')), limit=40)}",
        f"for {visible(str(request.get('recipient', '?')), limit=60)}",
    ]


def _get(args: argparse.Namespace, server: Session) -> int:
    """Download a ready bundle into FILE.part, resuming what an earlier run left (HTTP
    Range); FILE appears only when the whole file has the SHA-256 of the export record."""
    out: Path = args.out
    if out.exists() and not args.force:
        raise CommandError(f"{out} exists (use --force to replace it)")
    case_id = server.case(args.case)
    export_id = server.export(case_id, args.export)
    record = server.get(f"/api/cases/{case_id}/exports/{export_id}/status", "reading the export")
    if record.get("status") != "ready" or not record.get("bundle_sha256"):
        raise CommandError(
            f"export {short(export_id)} is {record.get('status')}: "
            f"{visible(str(record.get('error') or 'no bundle'))}"
        )
    sha256, size = str(record["bundle_sha256"]), int(record["bundle_size"])
    partial = out.with_name(out.name + ".part")
    marker = out.with_name(out.name + ".part.json")
    identity = {
        "server": server.api.server,
        "case": case_id,
        "export": export_id,
        "sha256": sha256,
        "size": size,
    }
    url = f"/api/cases/{case_id}/exports/{export_id}"
    with locked_partial(partial) as f:
        start = resumable(f, partial, marker, identity)
        marker.write_text(json.dumps(identity, sort_keys=True))
        _fetch_bundle(server.http, url, f, start, sha256, size, quiet=args.quiet)
        marker.unlink(missing_ok=True)
        partial.replace(out)  # still locked: nothing changed it since the check
    if args.json:
        print_json({**record, "case": case_id, "path": str(out)})
        return 0
    print(f"export {export_id}: {out} ({size} bytes, sha256 {sha256}, as recorded)")
    for line in coverage_lines(record):
        print(line)
    print(f"check it: jitc verify {out} --policy POLICY.txt")
    return 0


def _fetch_bundle(
    http: httpx.Client, url: str, f: BinaryIO, start: int, sha256: str, size: int, *, quiet: bool
) -> None:
    """Bytes `start`.. of the bundle into `f` (the bytes before are hashed from the file),
    resumed after a broken connection up to RETRIES times; then the whole file must have
    the recorded SHA-256 (a mismatch keeps nothing)."""
    digest = hashlib.sha256()
    f.seek(0)
    while f.tell() < start and (chunk := f.read(min(READ_SIZE, start - f.tell()))):
        digest.update(chunk)
    f.seek(start)
    f.truncate(start)
    done, failures = start, 0
    progress = Progress("bundle   ", size, quiet=quiet, start=start)
    while done < size:
        headers = {"Range": f"bytes={done}-"} if done else {}
        try:
            with http.stream("GET", url, headers=headers) as response:
                if response.status_code not in (200, 206):
                    response.read()
                    raise CommandError(f"downloading the bundle: {_error_text(response)}")
                if response.headers.get("jitc-bundle-sha256", sha256) != sha256:
                    raise MismatchError("the server sends another bundle than the recorded one")
                if response.status_code == 200 and done:  # sent whole again: start over
                    f.seek(0)
                    f.truncate(0)
                    digest, done = hashlib.sha256(), 0
                    progress.restart(0)
                for chunk in response.iter_bytes(READ_SIZE):
                    if done + len(chunk) > size:
                        raise MismatchError(f"the server sends more than the recorded {size} bytes")
                    f.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    progress.advance(len(chunk))
        except httpx.TransportError as exc:
            failures += 1
            if failures > RETRIES:
                f.flush()
                raise CommandError(
                    f"download interrupted {failures} times ({exc}); {size_text(done)} kept: "
                    "run the same command again to resume"
                ) from None
            time.sleep(min(2**failures, 30))
            continue
        if done < size:
            raise CommandError(
                f"the server sent {size_text(done)} of {size_text(size)}; run the same command "
                "again to resume"
            )
    f.flush()
    os.fsync(f.fileno())
    progress.finish()
    if held_bytes(f) != size or digest.hexdigest() != sha256:
        raise MismatchError(
            f"HASH MISMATCH: the downloaded bundle's SHA-256 {digest.hexdigest()} is not the "
            f"recorded {sha256}; nothing kept"
        )


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
        ws = open_existing_workspace()  # never a new database or log key
    except CommandError as exc:
        _fail(str(exc))
        return exc.code
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
