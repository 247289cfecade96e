"""`jitc upload`: an exhibit's content to a server, with tus 1.0.

Hashes the file (SHA-256, BLAKE3), declares the SHA-256 to the server, sends the bytes
with tus (resuming an interrupted upload from a small state file in
~/.cache/jitc/uploads), hashes them again as they are sent, and compares the server's
hashes with its own. Any difference fails loudly.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final

import httpx

from evidence.hashing import StreamHasher
from server.cli.client import (
    READ_SIZE,
    RETRIES,
    Api,
    api_of,
    guarded_client,
    print_json,
    refused,
    resolve_exhibit_args,
    size_text,
)
from server.cli.guard import CommandError
from server.cli.options import client_options
from server.cli.transfer import Hashes, Progress, compare, exhibit_doc, hash_prefix, recorded_hashes

TUS: Final = {"Tus-Resumable": "1.0.0"}


def register(subparsers: Any) -> None:
    upload = subparsers.add_parser(
        "upload",
        description="Upload an exhibit's content (tus, resumable): the file is hashed "
        "before and while it is sent, and the server's SHA-256 and BLAKE3 must match.",
    )
    upload.add_argument("case", metavar="CASE", help="the case id, or its first characters")
    upload.add_argument(
        "exhibit", metavar="EXHIBIT", help="the exhibit id, or its first characters"
    )
    upload.add_argument("file", help="the file to upload")
    client_options(upload, progress=True)
    upload.add_argument(
        "--chunk-size",
        type=_non_negative,
        default=0,
        help="bytes per PATCH request (default: the whole file in one streamed request)",
    )
    upload.add_argument("--filename", help="the name to record (default: the file's name)")
    upload.add_argument(
        "--media-type",
        default="application/octet-stream",
        metavar="TYPE",
        help="the media type to record (default: application/octet-stream)",
    )
    upload.set_defaults(func=guarded_client(_upload))


def _non_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError("a number of bytes")
    return int(text)


def _hash_file(path: Path, *, quiet: bool) -> Hashes:
    hasher = StreamHasher()
    size = path.stat().st_size
    progress = Progress("hashing  ", size, quiet=quiet)
    with path.open("rb") as f:
        while chunk := f.read(READ_SIZE):
            hasher.update(chunk)
            progress.advance(len(chunk))
    progress.finish()
    return Hashes.of(hasher)


def _state_path(api: Api, case_id: str, exhibit_id: str, path: Path) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jitc" / "uploads"
    name = hashlib.sha256(
        "\n".join([api.server, case_id, exhibit_id, str(path.resolve())]).encode()
    ).hexdigest()[:32]
    return base / f"{name}.json"


def _metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _file_chunks(
    f: BinaryIO, end: int, limit: int, hasher: StreamHasher, progress: Progress
) -> Iterator[bytes]:
    """Up to `limit` bytes from the file's position, hashed and counted as they are sent."""
    sent = 0
    while sent < limit:
        chunk = f.read(min(READ_SIZE, limit - sent, end - f.tell()))
        if not chunk:
            return
        hasher.update(chunk)
        progress.advance(len(chunk))
        sent += len(chunk)
        yield chunk


def _upload(args: argparse.Namespace) -> int:
    api = api_of(args)
    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"no such file: {path}")
    resolve_exhibit_args(api, args)
    stat = path.stat()
    filename = args.filename if args.filename is not None else path.name
    local = _hash_file(path, quiet=args.quiet)
    state_file = _state_path(api, args.case, args.exhibit, path)
    fingerprint = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": local.sha256}
    base = f"/api/cases/{args.case}/exhibits/{args.exhibit}"
    with api.client() as client:
        exhibit = exhibit_doc(client, args.case, args.exhibit)
        recorded = recorded_hashes(exhibit)
        if recorded is not None:
            compare(local, recorded, "the exhibit's stored content")
            print(f"already stored: {args.exhibit} sha256 {recorded.sha256}", file=sys.stderr)
            state_file.unlink(missing_ok=True)
            return _result(args, recorded, already=True)
        location = None
        if state_file.is_file():
            saved = json.loads(state_file.read_text())
            if saved.get("fingerprint") == fingerprint:
                location = saved.get("location")
        offset = 0
        if location is not None:
            status = client.head(location, headers=TUS)
            if status.status_code == 200:
                offset = int(status.headers["upload-offset"])
                print(f"resuming at {size_text(offset)}", file=sys.stderr)
            else:
                location = None
        if location is None:
            created = client.post(
                f"{base}/uploads",
                headers={
                    **TUS,
                    "Upload-Length": str(stat.st_size),
                    "Upload-Metadata": _metadata(
                        filename=filename, filetype=args.media_type, sha256=local.sha256
                    ),
                },
            )
            if created.status_code != 201:
                raise refused(created, "creating the upload")
            location = created.headers["location"]
            state_file.parent.mkdir(parents=True, exist_ok=True)
            state_file.write_text(json.dumps({"location": location, "fingerprint": fingerprint}))
            if stat.st_size == 0:
                return _uploaded(local, created, state_file, args)
        final = _send(client, path, location, offset, stat.st_size, args)
        if final is None:
            state_file.unlink(missing_ok=True)
            recorded = recorded_hashes(exhibit_doc(client, args.case, args.exhibit))
            if recorded is None:
                raise CommandError("the upload expired or was removed: run the command again")
            compare(local, recorded, "the exhibit's stored content")
            print(f"stored {args.exhibit}: sha256 {recorded.sha256}", file=sys.stderr)
            return _result(args, recorded, already=False)
    return _uploaded(local, final, state_file, args)


def _send(
    client: httpx.Client,
    path: Path,
    location: str,
    offset: int,
    size: int,
    args: argparse.Namespace,
) -> httpx.Response | None:
    """PATCH the bytes from `offset`; after a broken connection, ask the server how many
    bytes it kept (HEAD) and go on from there. None: the upload is gone (look at the
    exhibit)."""
    failures = 0
    with path.open("rb") as f:
        hasher = hash_prefix(f, offset)
        progress = Progress("uploading", size, quiet=args.quiet, start=offset)
        while True:
            try:
                response = client.patch(
                    location,
                    content=_file_chunks(f, size, args.chunk_size or size, hasher, progress),
                    headers={
                        **TUS,
                        "Upload-Offset": str(offset),
                        "Content-Type": "application/offset+octet-stream",
                    },
                )
            except httpx.TransportError as exc:
                failures += 1
                if failures > RETRIES:
                    raise CommandError(f"upload interrupted {failures} times: {exc}") from None
                time.sleep(min(2**failures, 30))
                status = client.head(location, headers=TUS)
                if status.status_code == 404:
                    return None  # finished before the answer was lost, or expired
                if status.status_code != 200:
                    raise refused(status, "resuming the upload") from None
                offset = int(status.headers["upload-offset"])
                hasher = hash_prefix(f, offset)
                progress.done = offset
                continue
            if response.status_code != 204:
                raise refused(response, "sending the content")
            if "jitc-content-sha256" in response.headers:
                progress.finish()
                _check_sent(hasher, size)
                return response
            offset = int(response.headers["upload-offset"])
            if hasher.size != offset:
                hasher = hash_prefix(f, offset)


def _check_sent(hasher: StreamHasher, size: int) -> None:
    if hasher.size != size:
        raise CommandError(f"the file changed while it was sent ({hasher.size} of {size} bytes)")


def _uploaded(
    local: Hashes, response: httpx.Response, state_file: Path, args: argparse.Namespace
) -> int:
    remote = Hashes(
        int(response.headers["jitc-content-size"]),
        response.headers["jitc-content-sha256"],
        response.headers["jitc-content-blake3"],
    )
    state_file.unlink(missing_ok=True)
    compare(local, remote, "the uploaded content")
    print(
        f"stored {args.exhibit}: {size_text(remote.size)} "
        f"sha256 {remote.sha256} blake3 {remote.blake3}",
        file=sys.stderr,
    )
    return _result(args, remote, already=False)


def _result(args: argparse.Namespace, stored: Hashes, *, already: bool) -> int:
    if args.json:
        print_json(
            {
                "case": args.case,
                "exhibit": args.exhibit,
                "size": stored.size,
                "sha256": stored.sha256,
                "blake3": stored.blake3,
                "already_stored": already,
            }
        )
    return 0
