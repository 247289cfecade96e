"""What every client command of `jitc` shares: which server and token it uses, how it
calls the API, names cases, exhibits and exports by a unique id prefix, says what the
server refused, and prints for people or (with `--json`) for programs; and, for upload,
download and export, the hashes they compare with the server's, a progress bar and a
partial file that a later run resumes.

Server: `--server`, else JITC_SERVER, else http://127.0.0.1:8000. Token: `--token`, else
JITC_TOKEN, else the one `jitc login` kept for that server (a 0600 file under
$XDG_CONFIG_HOME/jitc/tokens, default ~/.config/jitc/tokens).

Errors are one line on stderr and a non-zero exit (1; 2 for usage and configuration); with
`--json` the same error is also printed on stdout as `{"error": {...}}` (docs/cli.md).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from custody.canonical import CanonicalFormError, parse_json
from custody.report import visible
from server.cli.guard import EXIT_CONFIG, CommandError, Handler, guarded
from server.cli.options import DEFAULT_SERVER, SERVER_ENV, TOKEN_ENV
from server.tokens import JURISDICTION_CODE

READ_SIZE: Final = 1024 * 1024
RETRIES: Final = 5
PAGE_LIMIT: Final = 500  # the API's largest page (server/services/pagination.py)
UUID_TEXT: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ID_PREFIX: Final = re.compile(r"[0-9a-f][0-9a-f-]{0,35}")
SHORT: Final = 8  # characters of an id shown in tables and timelines
_TOKEN_CHARS: Final = re.compile(r"[\x21-\x7e]+")  # what a bearer token may hold


# --- errors -------------------------------------------------------------------------------


class RefusedError(CommandError):
    """The server answered with an error: its status, and its code and message if it gave
    them (`{"error": {"code", "message"}}`)."""

    def __init__(self, message: str, *, status: int, code: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.server_code = code


def error_json(error: CommandError) -> dict[str, Any]:
    """The `--json` form of a failure (docs/cli.md)."""
    doc: dict[str, Any] = {"message": str(error), "exit": error.code}
    if isinstance(error, RefusedError):
        doc["status"] = error.status
        doc["code"] = error.server_code
    return {"error": doc}


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def guarded_client(handler: Handler) -> Handler:
    """`guarded`, and a server that cannot be reached said in one line too; with `--json`
    the failure is also printed as JSON on stdout."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except httpx.HTTPError as exc:
            server = getattr(args, "server_url", None) or "the server"
            error = CommandError(f"cannot reach {server}: {_one_line(exc)}")
        except CommandError as exc:
            error = exc
        if getattr(args, "json", False):
            print(json.dumps(error_json(error), sort_keys=True))
        raise error

    return guarded(run)


def refused(response: httpx.Response, doing: str) -> RefusedError:
    """What the server said when it refused: its message and code, made safe to print."""
    code: str | None = None
    try:
        error = response.json()["error"]
        code = str(error["code"])
        detail = f"{visible(str(error['message']))} ({visible(code, limit=80)})"
    except (ValueError, KeyError, TypeError):
        detail = response.reason_phrase or "no detail"
    return RefusedError(
        f"{doing}: the server answered {response.status_code}: {detail}",
        status=response.status_code,
        code=code,
    )


def print_json(doc: Any) -> None:
    print(json.dumps(doc, sort_keys=True, ensure_ascii=True))


# --- server and token ---------------------------------------------------------------------


def server_of(args: argparse.Namespace) -> str:
    """The server's URL: --server, JITC_SERVER or the default; remembered on `args` for
    the message when it cannot be reached."""
    text = (getattr(args, "server", None) or os.environ.get(SERVER_ENV) or DEFAULT_SERVER).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CommandError(
            f"the server must be a URL like {DEFAULT_SERVER}, not {visible(text, limit=100)!r}",
            EXIT_CONFIG,
        )
    server = text.rstrip("/")
    args.server_url = server
    return server


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "jitc"


def token_file(server: str) -> Path:
    """Where `jitc login` keeps the token for `server`: a readable name and a digest of the
    whole URL, so that two servers never share a file."""
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", server.split("://", 1)[-1])[:80]
    digest = hashlib.sha256(server.encode()).hexdigest()[:12]
    return config_dir() / "tokens" / f"{readable}-{digest}.json"


def checked_token(text: str, where: str) -> str:
    token = text.strip()
    if not _TOKEN_CHARS.fullmatch(token):
        raise CommandError(
            f"the token from {where} is not a token (empty, or spaces or control characters)",
            EXIT_CONFIG,
        )
    return token


def stored_token(server: str) -> str | None:
    """The token `jitc login` kept for `server`, or None. A file others can read is
    refused, as ssh refuses such a key: the token may have been copied."""
    path = token_file(server)
    try:
        mode = path.stat().st_mode
        saved = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {path}: {_one_line(exc)}", EXIT_CONFIG) from None
    if mode & 0o077:
        raise CommandError(
            f"{path} can be read by others: remove it (jitc logout) and log in again",
            EXIT_CONFIG,
        )
    if not isinstance(saved, dict) or saved.get("server") != server:
        return None  # not this server's token: never sent elsewhere
    token = saved.get("token")
    return checked_token(token, str(path)) if isinstance(token, str) else None


def store_token(server: str, token: str) -> Path:
    """Keep `token` for `server` (directory 0700, file 0600, replaced in one rename)."""
    path = token_file(server)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.parent.chmod(0o700)  # ours alone, even if something made it before with more
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)  # a leftover keeps its mode: made anew, never reused
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"server": server, "token": token}, handle)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def token_of(args: argparse.Namespace, server: str) -> str:
    if getattr(args, "token", None):
        return checked_token(args.token, "--token")
    if os.environ.get(TOKEN_ENV):
        return checked_token(os.environ[TOKEN_ENV], TOKEN_ENV)
    token = stored_token(server)
    if token is None:
        raise CommandError(
            f"give an access token with --token or {TOKEN_ENV}, or keep one with "
            f"`jitc login` (none kept for {server})",
            EXIT_CONFIG,
        )
    return token


def claims_of(token: str) -> dict[str, Any]:
    """The token's claims as it states them, for showing who it names (not verified: the
    server checks the signature; this only reads what the token says)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def own_state(api: Api) -> str:
    """The caller's state, as their token names it (grants and withdrawals are made for
    one's own state)."""
    iss = claims_of(api.token).get("iss")
    if not isinstance(iss, str) or not iss:
        raise CommandError("the token names no state (iss): cannot tell which state you act for")
    return iss


# --- the server's API ---------------------------------------------------------------------


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
    server = server_of(args)
    return Api(server, token_of(args, server))


def json_of(response: httpx.Response, doing: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise CommandError(
            f"{doing}: the server's answer is not JSON ({response.status_code}, "
            f"{visible(response.headers.get('content-type', 'no type'), limit=80)})"
        ) from None


def object_of(response: httpx.Response, doing: str) -> dict[str, Any]:
    doc = json_of(response, doing)
    if not isinstance(doc, dict):
        raise CommandError(f"{doing}: the server's answer is not a JSON object")
    return doc


def state_code(text: str) -> str:
    """An argparse type: a jurisdiction code like NL or DE-BY."""
    if JURISDICTION_CODE.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a state's code (like NL or DE-BY)")
    return text


class Session:
    """One command's calls to the API: each answer checked, each id prefix resolved."""

    def __init__(self, api: Api, http: httpx.Client) -> None:
        self.api = api
        self.http = http

    def call(
        self,
        method: str,
        path: str,
        doing: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
        ok: tuple[int, ...] = (200, 201, 202),
    ) -> httpx.Response:
        response = self.http.request(method, path, json=body, params=params)
        if response.status_code not in ok:
            raise refused(response, doing)
        return response

    def get(self, path: str, doing: str, **params: str | int) -> dict[str, Any]:
        return object_of(self.call("GET", path, doing, params=params or None), doing)

    def send(
        self, method: str, path: str, doing: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return object_of(self.call(method, path, doing, body=body), doing)

    def every(self, path: str, doing: str) -> list[dict[str, Any]]:
        """Every item of a list endpoint, page after page."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": PAGE_LIMIT}
            if cursor is not None:
                params["cursor"] = cursor
            page = self.get(path, doing, **params)
            if not isinstance(page.get("items"), list):
                raise CommandError(f"{doing}: the server's answer has no list of items")
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def entries(self, case_id: str, first: int = 0) -> list[dict[str, Any]]:
        """The case's custody entries from seq `first` on, as the server has them now
        (JSON Lines, read in as many requests as the server cuts them into)."""
        found: list[dict[str, Any]] = []
        doing = "reading the log"
        while True:
            response = self.call("GET", f"/api/cases/{case_id}/log", doing, params={"from": first})
            lines = [line for line in response.content.split(b"\n") if line]
            for line in lines:
                try:
                    entry = parse_json(line)
                except CanonicalFormError as exc:
                    raise CommandError(f"{doing}: an entry is not acceptable JSON: {exc}") from None
                if not isinstance(entry, dict):
                    raise CommandError(f"{doing}: an entry is not a JSON object")
                found.append(entry)
            try:
                end = int(response.headers.get("jitc-log-end", first + len(lines)))
                size = int(response.headers.get("jitc-log-size", end))
            except ValueError:
                raise CommandError(
                    f"{doing}: the server's JITC-Log headers are not numbers"
                ) from None
            if not lines or end >= size:
                return found
            first = end

    # --- ids by prefix (as git takes commits) ---

    def case(self, given: str) -> str:
        return resolve("case", given, lambda: self.every("/api/cases", "listing cases"))

    def exhibit(self, case_id: str, given: str) -> str:
        path = f"/api/cases/{case_id}/exhibits"
        return resolve("exhibit", given, lambda: self.every(path, "listing exhibits"))

    def export(self, case_id: str, given: str) -> str:
        path = f"/api/cases/{case_id}/exports"
        return resolve("export", given, lambda: self.every(path, "listing exports"))


def resolve(what: str, given: str, listing: Callable[[], list[dict[str, Any]]]) -> str:
    """A full id as it is; else the one id (of those `listing` gives) that starts with
    `given`. Unknown or ambiguous: one line naming the candidates, exit 1."""
    text = given.strip().lower()
    if UUID_TEXT.fullmatch(text):
        return text
    if not ID_PREFIX.fullmatch(text):
        raise CommandError(
            f"{visible(given, limit=60)!r} is not a {what} id or the start of one "
            "(hexadecimal digits)"
        )
    items = listing()
    matches = [item for item in items if str(item.get("id", "")).startswith(text)]
    if not matches:
        raise CommandError(
            f"no {what} id starts with {text} (of the {plural(len(items), what)} you can see)"
        )
    if len(matches) > 1:
        named = ", ".join(f"{m['id'][:12]} {visible(name_of(m), limit=40)}" for m in matches[:5])
        more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        raise CommandError(
            f"{text} starts {len(matches)} {what} ids ({named}{more}): give more characters"
        )
    found: str = matches[0]["id"]
    return found


def name_of(item: Mapping[str, Any]) -> str:
    """What a person calls a case, exhibit or export: its title, label or recipient."""
    for key in ("title", "label"):
        if isinstance(item.get(key), str):
            return str(item[key])
    request = item.get("request")
    if isinstance(request, dict) and isinstance(request.get("recipient"), str):
        return f"for {request['recipient']}"
    return ""


def client_command(
    work: Callable[[argparse.Namespace, Session], int],
) -> Handler:
    """A client command: the server and token resolved, one HTTP client for the whole
    command, failures said in one line (and as JSON with --json)."""

    def run(args: argparse.Namespace) -> int:
        api = api_of(args)
        with api.client() as http:
            return work(args, Session(api, http))

    return guarded_client(run)


def resolve_exhibit_args(api: Api, args: argparse.Namespace) -> None:
    """`args.case` and `args.exhibit`, given as ids or unique prefixes, made full ids."""
    with api.client() as http:
        session = Session(api, http)
        args.case = session.case(args.case)
        args.exhibit = session.exhibit(args.case, args.exhibit)


def plural(count: int, noun: str, many: str | None = None) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {many or noun + 's'}"


def short(item_id: str) -> str:
    return item_id[:SHORT]


def table(rows: list[list[str]]) -> list[str]:
    """Rows as aligned columns (the last column is not padded)."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join([cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + row[-1:])
        for row in rows
    ]


# --- sizes ------------------------------------------------------------------------------------


def size_text(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover
