"""Response headers for every answer of the app, and where a request comes from.

The Content-Security-Policy allows scripts, styles and connections from this origin only,
no inline script or style, no plugins, no framing, forms posting only here. The exhibit
page, which hashes files in WebAssembly (hash-wasm), adds 'wasm-unsafe-eval' (CSP 3:
compiling WebAssembly, never JavaScript eval) for itself alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BASE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
UPLOAD_CSP: Final = BASE_CSP.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'")

HEADERS: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)


class SecurityHeaders:
    """Pure ASGI (streamed bodies pass through untouched): adds the headers above and the
    base CSP to every response that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [(n, v) for n, v in HEADERS if n not in present]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", BASE_CSP.encode("ascii")))
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_secure(conn: HTTPConnection, trusted_proxies: Iterable[str]) -> bool:
    """HTTPS here, or at a trusted proxy in front of us that says so (X-Forwarded-Proto)."""
    if conn.url.scheme == "https":
        return True
    client = conn.client.host if conn.client else None
    if client is None or client not in trusted_proxies:
        return False
    forwarded = conn.headers.get("x-forwarded-proto", "")
    return forwarded.split(",")[0].strip().lower() == "https"


def own_origin(conn: HTTPConnection, *, secure: bool) -> str:
    host = conn.headers.get("host", "")
    return f"{'https' if secure else 'http'}://{host}".lower()


def same_origin(conn: HTTPConnection, *, secure: bool) -> bool:
    """Fetch Metadata and Origin, where the browser sends them, say this page sent it.

    A browser that sends neither (old ones, or a form posted by a non-browser) is judged
    by the CSRF token alone."""
    site = conn.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = conn.headers.get("origin")
    return origin is None or origin.lower() == own_origin(conn, secure=secure)
