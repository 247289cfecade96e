"""The static files the workspace serves, and what was vendored into them (with licences).

`web/workspace/build.mjs` writes `static/manifest.json`: every served file's SHA-256 and,
for each vendored npm package, its version, licence and licence text file.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Final

from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

STATIC_DIR: Final = Path(__file__).parent / "static"
VERIFY_PAGE: Final = STATIC_DIR / "verify.html"
LONG_CACHE: Final = b"public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class Vendored:
    package: str
    version: str
    license: str
    files: list[str]
    license_file: str
    bundles: list[str]


def manifest() -> dict[str, Any]:
    path = STATIC_DIR / "manifest.json"
    loaded: dict[str, Any] = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    return loaded


def vendored() -> list[Vendored]:
    return [
        Vendored(
            package=item["package"],
            version=item["version"],
            license=item["license"],
            files=list(item["files"]),
            license_file=item["license_file"],
            bundles=list(item.get("bundles", [])),
        )
        for item in manifest().get("vendored", [])
    ]


class Static:
    """StaticFiles, cached for a year when the URL names the file's version (`?v=`, set
    by `templating.asset`), else revalidated each time."""

    def __init__(self) -> None:
        self._files = StaticFiles(directory=STATIC_DIR)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        versioned = b"v=" in scope.get("query_string", b"")

        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(n, v) for n, v in message.get("headers", []) if n != b"cache-control"]
                headers.append((b"cache-control", LONG_CACHE if versioned else b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self._files(scope, receive, send_cached)


class _InlineCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._in: str | None = None
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style") and not any(name == "src" for name, _ in attrs):
            self._in, self._buffer = tag, []

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self._buffer.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._in == tag:
            (self.scripts if tag == "script" else self.styles).append("".join(self._buffer))
            self._in = None


def _hashes(blocks: list[str]) -> str:
    digests = (base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() for b in blocks)
    return " ".join(f"'sha256-{digest}'" for digest in digests)


@cache
def verify_page() -> tuple[bytes, str] | None:
    """The offline verifier page (built by web/verifier) and a CSP that allows exactly its
    own inline scripts and styles by hash (CSP 3 hash-source) and no network at all: the
    page checks a bundle without talking to anyone, this server included."""
    if not VERIFY_PAGE.is_file():
        return None
    body = VERIFY_PAGE.read_bytes()
    collector = _InlineCollector()
    collector.feed(body.decode("utf-8", "replace"))
    scripts, styles = _hashes(collector.scripts), _hashes(collector.styles)
    csp = (
        f"default-src 'none'; script-src 'self' 'wasm-unsafe-eval' {scripts}; "
        f"style-src 'self' {styles}; img-src 'self' data: blob:; connect-src 'none'; "
        "form-action 'none'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ).replace("  ", " ")
    return body, csp
