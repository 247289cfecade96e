"""`jitc download`: an exhibit's content from a server, checked against its entry.

Streams into OUT.part, hashes as it writes, compares with the hashes the
exhibit.ingested entry recorded, then renames; a broken connection is resumed with HTTP
Range, in the same run or the next. Any difference fails loudly and keeps nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from evidence.hashing import StreamHasher
from evidence.writeback import Writeback
from server.cli.client import (
    READ_SIZE,
    RETRIES,
    api_of,
    guarded_client,
    print_json,
    refused,
    resolve_exhibit_args,
    size_text,
)
from server.cli.guard import CommandError
from server.cli.options import client_options
from server.cli.transfer import (
    Hashes,
    MismatchError,
    Progress,
    compare,
    exhibit_doc,
    hash_prefix,
    held_bytes,
    locked_partial,
    recorded_hashes,
    resumable,
)


def register(subparsers: Any) -> None:
    download = subparsers.add_parser(
        "download",
        description="Download an exhibit's content into OUT.part and check its size, SHA-256 "
        "and BLAKE3 against the exhibit's entry; OUT appears only if they match. A broken "
        "connection is resumed (HTTP Range) in the same run, or by running the same command "
        "again. Every request is logged by the server as exhibit.accessed with its range.",
    )
    download.add_argument("case", metavar="CASE", help="the case id, or its first characters")
    download.add_argument(
        "exhibit", metavar="EXHIBIT", help="the exhibit id, or its first characters"
    )
    download.add_argument("out", metavar="OUT", help="where to write the content")
    client_options(download, progress=True)
    download.add_argument(
        "--purpose", default="inspection", help="why (logged as exhibit.accessed)"
    )
    download.add_argument("--force", action="store_true", help="replace OUT if it exists")
    download.set_defaults(func=guarded_client(_download))


def _download(args: argparse.Namespace) -> int:
    """Download into OUT.part, resuming it (HTTP Range) after a broken connection, in this
    run or the next; OUT appears only when every byte matches the exhibit's entry."""
    api = api_of(args)
    out = Path(args.out)
    if out.exists() and not args.force:
        raise CommandError(f"{out} exists (use --force to replace it)")
    resolve_exhibit_args(api, args)
    partial = out.with_name(out.name + ".part")
    marker = out.with_name(out.name + ".part.json")
    with api.client() as client:
        recorded = recorded_hashes(exhibit_doc(client, args.case, args.exhibit))
        if recorded is None:
            raise CommandError("the exhibit has no content")
        identity = {
            "server": api.server,
            "case": args.case,
            "exhibit": args.exhibit,
            "sha256": recorded.sha256,
            "size": recorded.size,
        }
        with locked_partial(partial) as f:
            start = resumable(f, partial, marker, identity)
            marker.write_text(json.dumps(identity, sort_keys=True))
            try:
                hasher = _fetch_into(client, f, start, recorded, args)
                local = Hashes.of(hasher)
                try:
                    compare(local, recorded, "the downloaded content")
                except CommandError as exc:
                    raise MismatchError(str(exc)) from None
                on_disk = os.fstat(f.fileno()).st_size
                if on_disk != local.size:
                    raise MismatchError(
                        f"HASH MISMATCH: {partial.name} holds {on_disk} bytes, "
                        f"{local.size} were received and checked"
                    )
            except (MismatchError, _InterruptedError):
                raise
            except CommandError as exc:
                if not held_bytes(f):
                    partial.unlink(missing_ok=True)
                    marker.unlink(missing_ok=True)
                    raise
                # Refused or unavailable: what arrived stays for the next run.
                raise CommandError(
                    f"{exc} ({partial.name} kept: run the same command to resume)", exc.code
                ) from None
            # Still holding the lock: nobody can change the file between check and rename.
            marker.unlink(missing_ok=True)
            partial.replace(out)
    print(
        f"saved {out}: {size_text(local.size)} sha256 {local.sha256} (as recorded)", file=sys.stderr
    )
    if args.json:
        print_json(
            {
                "case": args.case,
                "exhibit": args.exhibit,
                "path": str(out),
                "size": local.size,
                "sha256": local.sha256,
                "blake3": local.blake3,
            }
        )
    return 0


class _InterruptedError(CommandError):
    """The connection kept breaking: what arrived is kept for the next run."""


def _body_chunks(response: httpx.Response) -> Iterator[bytes]:
    return response.iter_bytes(READ_SIZE)


def _fetch_into(
    client: httpx.Client, f: BinaryIO, start: int, recorded: Hashes, args: argparse.Namespace
) -> StreamHasher:
    """Write the content into `f` from byte `start` (the bytes before it are re-hashed from
    the file); after a broken connection go on from the bytes written (Range, If-Range on
    the recorded SHA-256), up to RETRIES times. Every request is an access the server
    logs, with its range."""
    url = f"/api/cases/{args.case}/exhibits/{args.exhibit}/content"
    failures = 0
    hasher = hash_prefix(f, start)
    f.seek(start)
    f.truncate(start)
    progress = Progress("download ", recorded.size, quiet=args.quiet, start=start)
    done = 0 < start == recorded.size  # an earlier run got every byte
    while not done:
        offset = hasher.size
        headers = {"Range": f"bytes={offset}-", "If-Range": f'"{recorded.sha256}"'}
        try:
            with client.stream(
                "GET", url, params={"purpose": args.purpose}, headers=headers if offset else {}
            ) as response:
                offset = _accept_body(response, offset, recorded)
                if offset != hasher.size:  # the server sent it all again: start over
                    f.seek(0)
                    f.truncate(0)
                    hasher = StreamHasher()
                    progress.restart(0)
                writeback = Writeback(f, start=offset)
                for chunk in _body_chunks(response):
                    if hasher.size + len(chunk) > recorded.size:
                        raise MismatchError(
                            f"HASH MISMATCH: the server sends more than the recorded "
                            f"{recorded.size} bytes"
                        )
                    f.write(chunk)
                    writeback.wrote(len(chunk))
                    hasher.update(chunk)
                    progress.advance(len(chunk))
        except httpx.TransportError as exc:
            f.flush()
            if hasher.size == recorded.size:
                break  # every byte arrived before the break: the check decides
            failures += 1
            if failures > RETRIES:
                raise _InterruptedError(
                    f"download interrupted {failures} times ({exc}); {size_text(hasher.size)} "
                    "kept: run the same command again to resume"
                ) from None
            time.sleep(min(2**failures, 30))
            continue
        if hasher.size != recorded.size:
            raise CommandError(
                f"the server sent {size_text(hasher.size)} of {size_text(recorded.size)}; "
                "run the same command again to resume"
            )
        done = True
    f.flush()
    os.fsync(f.fileno())
    progress.finish()
    return hasher


def _accept_body(response: httpx.Response, offset: int, recorded: Hashes) -> int:
    """The offset the response's body starts at, after checking what the server says of it."""
    if response.status_code not in (200, 206):
        response.read()
        raise refused(response, "downloading the content")
    etag = response.headers.get("etag", "").removeprefix("W/").strip('"')  # proxies weaken
    if etag != recorded.sha256:
        raise MismatchError(f"HASH MISMATCH: the server's ETag {etag} is not the recorded hash")
    if response.status_code == 200:
        return 0
    content_range = response.headers.get("content-range", "")
    if content_range != f"bytes {offset}-{recorded.size - 1}/{recorded.size}":
        raise CommandError(f"the server answered range {offset}- with {content_range!r}")
    return offset
