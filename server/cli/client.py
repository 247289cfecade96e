"""`jitc upload`, `jitc download` (clients of a server) and `jitc scrub` (on the server host).

upload: hashes the file (SHA-256, BLAKE3), declares the SHA-256 to the server, sends the
bytes with tus 1.0 (resuming an interrupted upload from a small state file in
~/.cache/jitc/uploads), hashes them again as they are sent, and compares the server's
hashes with its own. download: streams to OUT.part, hashes as it writes, compares with the
hashes the exhibit.ingested entry recorded, then renames. Any difference fails loudly.

Errors are one line on stderr and a non-zero exit (1; 2 for usage and configuration).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

import httpx

from evidence.hashing import StreamHasher
from evidence.writeback import Writeback
from server.errors import ConfigError, ServerError

SERVER_ENV: Final = "JITC_SERVER"
TOKEN_ENV: Final = "JITC_TOKEN"  # noqa: S105 - the variable's name
READ_SIZE: Final = 1024 * 1024
TUS: Final = {"Tus-Resumable": "1.0.0"}
RETRIES: Final = 5

Handler = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A failure to report in one line; `code` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _guarded(handler: Handler) -> Handler:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except CommandError as exc:
            print(f"jitc: {exc}", file=sys.stderr)
            return exc.code
        except ConfigError as exc:
            print(f"jitc: {exc.message}", file=sys.stderr)
            return 2
        except ServerError as exc:
            print(f"jitc: {exc.message}", file=sys.stderr)
            return 1
        except httpx.HTTPError as exc:
            print(f"jitc: cannot reach the server: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(
                f"jitc: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr
            )
            return 1
        except KeyboardInterrupt:
            print("jitc: interrupted", file=sys.stderr)
            return 130

    return run


# --- progress -------------------------------------------------------------------------------


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """A one-line progress bar on stderr: bytes, rate and time left."""

    def __init__(self, label: str, total: int, *, quiet: bool = False, start: int = 0) -> None:
        self.label = label
        self.total = total
        self.done = start
        self._base = start
        self._quiet = quiet
        self._tty = sys.stderr.isatty()
        self._started = time.monotonic()
        self._shown = 0.0 if self._tty else self._started  # a log gets a line every 5 s

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._shown >= (0.25 if self._tty else 5.0):
            self._shown = now
            self._show(now)

    def _show(self, now: float, *, end: str = "") -> None:
        if self._quiet:
            return
        elapsed = max(now - self._started, 1e-6)
        rate = (self.done - self._base) / elapsed
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        fraction = self.done / self.total if self.total else 1.0
        bar = "#" * int(fraction * 24)
        line = (
            f"{self.label} [{bar:<24}] {_size(self.done)} / {_size(self.total)}"
            f"  {_size(rate)}/s  "
            + (f"ETA {_duration(left)}" if end == "" else f"in {_duration(elapsed)}")
        )
        print(("\r" if self._tty else "") + line, end=end or ("" if self._tty else "\n"),
              file=sys.stderr, flush=True)  # fmt: skip

    def restart(self, done: int) -> None:
        """Count again from `done` bytes (the server sent everything again)."""
        self.done = self._base = done
        self._started = time.monotonic()

    def finish(self) -> None:
        self._show(time.monotonic(), end="\n")


# --- the server's API ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Api:
    server: str
    token: str
    timeout: float = 600.0

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=httpx.Timeout(60.0, read=self.timeout, write=self.timeout),
        )


def _api(args: argparse.Namespace) -> Api:
    server = args.server or os.environ.get(SERVER_ENV)
    token = args.token or os.environ.get(TOKEN_ENV)
    if not server:
        raise CommandError(f"name the server with --server or {SERVER_ENV}", 2)
    if not token:
        raise CommandError(f"give an access token with --token or {TOKEN_ENV}", 2)
    return Api(server.rstrip("/"), token.strip())


def _refused(response: httpx.Response, doing: str) -> CommandError:
    try:
        error = response.json()["error"]
        detail = f"{error['message']} ({error['code']})"
    except (ValueError, KeyError, TypeError):
        detail = response.reason_phrase or "no detail"
    return CommandError(f"{doing}: the server answered {response.status_code}: {detail}")


def _exhibit(client: httpx.Client, case_id: str, exhibit_id: str) -> dict[str, Any]:
    response = client.get(f"/api/cases/{case_id}/exhibits/{exhibit_id}")
    if response.status_code != 200:
        raise _refused(response, "reading the exhibit")
    doc: dict[str, Any] = response.json()
    return doc


@dataclass(frozen=True)
class Hashes:
    size: int
    sha256: str
    blake3: str

    @classmethod
    def of(cls, hasher: StreamHasher) -> Hashes:
        d = hasher.digests()
        return cls(d.size, d.sha256_hex, d.blake3_hex)


def _compare(local: Hashes, remote: Hashes, what: str) -> None:
    differences = [
        f"{name}: local {mine}, server {theirs}"
        for name, mine, theirs in (
            ("size", local.size, remote.size),
            ("SHA-256", local.sha256, remote.sha256),
            ("BLAKE3", local.blake3, remote.blake3),
        )
        if mine != theirs
    ]
    if differences:
        raise CommandError(f"HASH MISMATCH for {what}: " + "; ".join(differences))


def _recorded(exhibit: dict[str, Any]) -> Hashes | None:
    stored = exhibit.get("content")
    if not stored:
        return None
    return Hashes(int(stored["size"]), str(stored["sha256"]), str(stored["blake3"]))


# --- upload -----------------------------------------------------------------------------------


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
    api = _api(args)
    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"no such file: {path}")
    stat = path.stat()
    filename = args.filename if args.filename is not None else path.name
    local = _hash_file(path, quiet=args.quiet)
    state_file = _state_path(api, args.case, args.exhibit, path)
    fingerprint = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": local.sha256}
    base = f"/api/cases/{args.case}/exhibits/{args.exhibit}"
    with api.client() as client:
        exhibit = _exhibit(client, args.case, args.exhibit)
        recorded = _recorded(exhibit)
        if recorded is not None:
            _compare(local, recorded, "the exhibit's stored content")
            print(f"already stored: {args.exhibit} sha256 {recorded.sha256}", file=sys.stderr)
            state_file.unlink(missing_ok=True)
            return 0
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
                print(f"resuming at {_size(offset)}", file=sys.stderr)
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
                raise _refused(created, "creating the upload")
            location = created.headers["location"]
            state_file.parent.mkdir(parents=True, exist_ok=True)
            state_file.write_text(json.dumps({"location": location, "fingerprint": fingerprint}))
            if stat.st_size == 0:
                return _uploaded(local, created, state_file, args)
        final = _send(client, path, location, offset, stat.st_size, args)
        if final is None:
            state_file.unlink(missing_ok=True)
            recorded = _recorded(_exhibit(client, args.case, args.exhibit))
            if recorded is None:
                raise CommandError("the upload expired or was removed: run the command again")
            _compare(local, recorded, "the exhibit's stored content")
            print(f"stored {args.exhibit}: sha256 {recorded.sha256}", file=sys.stderr)
            return 0
    return _uploaded(local, final, state_file, args)


def _hash_prefix(f: BinaryIO, offset: int) -> StreamHasher:
    """Hash the file's first `offset` bytes (those the server holds) and stop there."""
    hasher = StreamHasher()
    f.seek(0)
    while f.tell() < offset:
        chunk = f.read(min(READ_SIZE, offset - f.tell()))
        if not chunk:
            break
        hasher.update(chunk)
    return hasher


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
        hasher = _hash_prefix(f, offset)
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
                    raise _refused(status, "resuming the upload") from None
                offset = int(status.headers["upload-offset"])
                hasher = _hash_prefix(f, offset)
                progress.done = offset
                continue
            if response.status_code != 204:
                raise _refused(response, "sending the content")
            if "jitc-content-sha256" in response.headers:
                progress.finish()
                _check_sent(hasher, size)
                return response
            offset = int(response.headers["upload-offset"])
            if hasher.size != offset:
                hasher = _hash_prefix(f, offset)


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
    _compare(local, remote, "the uploaded content")
    print(
        f"stored {args.exhibit}: {_size(remote.size)} "
        f"sha256 {remote.sha256} blake3 {remote.blake3}",
        file=sys.stderr,
    )
    return 0


# --- download -------------------------------------------------------------------------------------


def _download(args: argparse.Namespace) -> int:
    """Download into OUT.part, resuming it (HTTP Range) after a broken connection, in this
    run or the next; OUT appears only when every byte matches the exhibit's entry."""
    api = _api(args)
    out = Path(args.out)
    if out.exists() and not args.force:
        raise CommandError(f"{out} exists (use --force to replace it)")
    partial = out.with_name(out.name + ".part")
    marker = out.with_name(out.name + ".part.json")
    with api.client() as client:
        recorded = _recorded(_exhibit(client, args.case, args.exhibit))
        if recorded is None:
            raise CommandError("the exhibit has no content")
        identity = {
            "server": api.server,
            "case": args.case,
            "exhibit": args.exhibit,
            "sha256": recorded.sha256,
            "size": recorded.size,
        }
        with _locked_partial(partial) as f:
            start = _resumable(f, partial, marker, identity)
            marker.write_text(json.dumps(identity, sort_keys=True))
            try:
                hasher = _fetch_into(client, f, start, recorded, args)
                local = Hashes.of(hasher)
                try:
                    _compare(local, recorded, "the downloaded content")
                except CommandError as exc:
                    raise _MismatchError(str(exc)) from None
                on_disk = os.fstat(f.fileno()).st_size
                if on_disk != local.size:
                    raise _MismatchError(
                        f"HASH MISMATCH: {partial.name} holds {on_disk} bytes, "
                        f"{local.size} were received and checked"
                    )
            except (_MismatchError, _InterruptedError):
                raise
            except CommandError as exc:
                if not _held(f):
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
    print(f"saved {out}: {_size(local.size)} sha256 {local.sha256} (as recorded)", file=sys.stderr)
    return 0


def _held(f: BinaryIO) -> int:
    return os.fstat(f.fileno()).st_size


@contextlib.contextmanager
def _locked_partial(partial: Path) -> Iterator[BinaryIO]:
    """OUT.part open for reading and writing, held under an exclusive lock for the whole
    run: a second download into the same OUT is refused, not interleaved. A mismatch
    removes the partial copy (its bytes are known bad) and its marker."""
    f = _open_locked(partial)
    try:
        try:
            yield f
        except _MismatchError:
            partial.unlink(missing_ok=True)
            partial.with_name(partial.name + ".json").unlink(missing_ok=True)
            raise
    finally:
        f.close()


def _open_locked(partial: Path) -> BinaryIO:
    """OUT.part, opened (created if missing) and locked. The lock belongs to the open
    file, so it counts only if the name still leads to that file once the lock is held:
    a run that finished meanwhile renamed it to OUT, which must not be written again."""
    for _ in range(3):
        f = os.fdopen(os.open(partial, os.O_RDWR | os.O_CREAT, 0o600), "r+b")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise CommandError(
                f"another download is writing {partial.name}; wait for it to end"
            ) from None
        held = os.fstat(f.fileno())
        try:
            named = os.stat(partial)
        except FileNotFoundError:
            named = None
        if named is not None and (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino):
            return f
        f.close()  # renamed away under us: open the name again
    raise CommandError(f"{partial.name} keeps being replaced; is another download running?")


def _resumable(f: BinaryIO, partial: Path, marker: Path, identity: dict[str, Any]) -> int:
    """Bytes of OUT.part to keep: all of them if an earlier run of this same download
    left them (its marker says so) and they are not too many; else none."""
    held = _held(f)
    try:
        earlier = json.loads(marker.read_text())
    except (OSError, ValueError):
        return 0
    if earlier != identity or held > int(identity["size"]):
        return 0
    if held:
        print(f"resuming at {_size(held)} (from {partial.name})", file=sys.stderr)
    return held


class _InterruptedError(CommandError):
    """The connection kept breaking: what arrived is kept for the next run."""


class _MismatchError(CommandError):
    """The bytes are not the recorded ones: no partial copy is kept."""


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
    hasher = _hash_prefix(f, start)
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
                        raise _MismatchError(
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
                    f"download interrupted {failures} times ({exc}); {_size(hasher.size)} "
                    "kept: run the same command again to resume"
                ) from None
            time.sleep(min(2**failures, 30))
            continue
        if hasher.size != recorded.size:
            raise CommandError(
                f"the server sent {_size(hasher.size)} of {_size(recorded.size)}; "
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
        raise _refused(response, "downloading the content")
    etag = response.headers.get("etag", "").removeprefix("W/").strip('"')  # proxies weaken
    if etag != recorded.sha256:
        raise _MismatchError(f"HASH MISMATCH: the server's ETag {etag} is not the recorded hash")
    if response.status_code == 200:
        return 0
    content_range = response.headers.get("content-range", "")
    if content_range != f"bytes {offset}-{recorded.size - 1}/{recorded.size}":
        raise CommandError(f"the server answered range {offset}- with {content_range!r}")
    return offset


# --- scrub ----------------------------------------------------------------------------------------


def _scrub(args: argparse.Namespace) -> int:
    from server.config import Settings  # noqa: PLC0415 - server side only
    from server.services import content  # noqa: PLC0415
    from server.services.workspace import Workspace  # noqa: PLC0415

    ws = Workspace.open(Settings.from_env())
    try:
        if not args.no_recover:
            recovered = content.sweep(ws)
            if recovered.recovered or recovered.orphans:
                print(
                    f"recovered {recovered.recovered} interrupted ingests; "
                    f"{recovered.orphans} orphan objects (see the server log)",
                    file=sys.stderr,
                )

        def show(result: content.Verified) -> None:
            if not result.ok:
                what = "MISSING" if result.digests is None else "ALTERED"
                print(
                    f"STORAGE {what}: case {result.recorded.case_id} exhibit "
                    f"{result.recorded.exhibit_id} (entry {result.seq})",
                    file=sys.stderr,
                )

        report = content.scrub(ws, progress=show)
    finally:
        ws.close()
    altered, missing = report.altered, report.missing
    print(f"scrub: {report.checked} exhibits checked, {report.ok} intact, "
          f"{len(altered)} altered, {len(missing)} missing")  # fmt: skip
    if report.holds_fixed:
        print(f"scrub: {report.holds_fixed} objects' legal holds set to match their exhibits")
    if altered or missing:
        print("jitc: STORAGE WAS TAMPERED WITH OR LOST: see the lines above", file=sys.stderr)
        return 1
    return 0


# --- registration ---------------------------------------------------------------------------------


def _client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", help=f"server URL (default: ${SERVER_ENV})")
    parser.add_argument("--token", help=f"access token (default: ${TOKEN_ENV})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _non_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError("a number of bytes")
    return int(text)


def register(subparsers: Any) -> None:
    upload = subparsers.add_parser(
        "upload", help="upload an exhibit's content (tus, resumable, hashes compared)"
    )
    upload.add_argument("case", help="case id")
    upload.add_argument("exhibit", help="exhibit id")
    upload.add_argument("file", help="the file to upload")
    _client_options(upload)
    upload.add_argument(
        "--chunk-size",
        type=_non_negative,
        default=0,
        help="bytes per PATCH request (default: the whole file in one streamed request)",
    )
    upload.add_argument("--filename", help="the name to record (default: the file's name)")
    upload.add_argument("--media-type", default="application/octet-stream")
    upload.set_defaults(func=_guarded(_upload))

    download = subparsers.add_parser(
        "download",
        help="download an exhibit's content and check it against its entry",
        description="Download an exhibit's content into OUT.part and check its size, SHA-256 "
        "and BLAKE3 against the exhibit's entry; OUT appears only if they match. A broken "
        "connection is resumed (HTTP Range) in the same run, or by running the same command "
        "again. Every request is logged by the server as exhibit.accessed with its range.",
    )
    download.add_argument("case", help="case id")
    download.add_argument("exhibit", help="exhibit id")
    download.add_argument("out", help="where to write the content")
    _client_options(download)
    download.add_argument(
        "--purpose", default="inspection", help="why (logged as exhibit.accessed)"
    )
    download.add_argument("--force", action="store_true", help="replace OUT if it exists")
    download.set_defaults(func=_guarded(_download))

    scrub = subparsers.add_parser(
        "scrub", help="re-verify every stored exhibit (on the server host; settings from env)"
    )
    scrub.add_argument(
        "--no-recover", action="store_true", help="do not first recover interrupted ingests"
    )
    scrub.set_defaults(func=_guarded(_scrub))
