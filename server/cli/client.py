"""What `jitc upload` and `jitc download` share as clients of a server: the server's API
(JITC_SERVER, JITC_TOKEN), the hashes they compare with the server's, a progress bar.

Errors are one line on stderr and a non-zero exit (1; 2 for usage and configuration).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

import httpx

from evidence.hashing import StreamHasher
from server.cli.guard import CommandError, Handler, guarded

SERVER_ENV: Final = "JITC_SERVER"
TOKEN_ENV: Final = "JITC_TOKEN"  # noqa: S105 - the variable's name
READ_SIZE: Final = 1024 * 1024
RETRIES: Final = 5


def guarded_client(handler: Handler) -> Handler:
    """`guarded`, and a server that cannot be reached said in one line too."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except httpx.HTTPError as exc:
            raise CommandError(f"cannot reach the server: {exc}") from None

    return guarded(run)


def client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", help=f"server URL (default: ${SERVER_ENV})")
    parser.add_argument("--token", help=f"access token (default: ${TOKEN_ENV})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


# --- progress -------------------------------------------------------------------------------


def size_text(n: float) -> str:
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
            f"{self.label} [{bar:<24}] {size_text(self.done)} / {size_text(self.total)}"
            f"  {size_text(rate)}/s  "
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


def api_of(args: argparse.Namespace) -> Api:
    server = args.server or os.environ.get(SERVER_ENV)
    token = args.token or os.environ.get(TOKEN_ENV)
    if not server:
        raise CommandError(f"name the server with --server or {SERVER_ENV}", 2)
    if not token:
        raise CommandError(f"give an access token with --token or {TOKEN_ENV}", 2)
    return Api(server.rstrip("/"), token.strip())


def refused(response: httpx.Response, doing: str) -> CommandError:
    try:
        error = response.json()["error"]
        detail = f"{error['message']} ({error['code']})"
    except (ValueError, KeyError, TypeError):
        detail = response.reason_phrase or "no detail"
    return CommandError(f"{doing}: the server answered {response.status_code}: {detail}")


def exhibit_doc(client: httpx.Client, case_id: str, exhibit_id: str) -> dict[str, Any]:
    response = client.get(f"/api/cases/{case_id}/exhibits/{exhibit_id}")
    if response.status_code != 200:
        raise refused(response, "reading the exhibit")
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


def compare(local: Hashes, remote: Hashes, what: str) -> None:
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


def recorded_hashes(exhibit: dict[str, Any]) -> Hashes | None:
    stored = exhibit.get("content")
    if not stored:
        return None
    return Hashes(int(stored["size"]), str(stored["sha256"]), str(stored["blake3"]))


def hash_prefix(f: BinaryIO, offset: int) -> StreamHasher:
    """Hash the file's first `offset` bytes (those the server holds) and stop there."""
    hasher = StreamHasher()
    f.seek(0)
    while f.tell() < offset:
        chunk = f.read(min(READ_SIZE, offset - f.tell()))
        if not chunk:
            break
        hasher.update(chunk)
    return hasher
