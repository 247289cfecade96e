"""The browser's sign-in, kept in one sealed cookie, and the CSRF token derived from it.

The cookie holds the credential the user signed in with (today a state-issued ES256
token), a random per-session nonce and pending flash messages, sealed with AES-256-GCM:
the browser can neither read nor change it, and it is HttpOnly, so page scripts never
see the token. Nothing is kept on the server, so any process of a deployment serves any
request. The credential is re-verified on every request (`server.web.context`), so a
revoked or expired token ends the sign-in at once, whatever the cookie says.

The CSRF token is an HMAC of the session nonce: per session, unguessable without the
cookie, and checked on every unsafe request (synchronizer token pattern; OWASP CSRF
cheat sheet). The nonce is renewed at sign-in, so a token seen before sign-in is no use
after it (session fixation).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field, replace
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

COOKIE: Final = "jitc-session"
SECURE_COOKIE: Final = "__Host-jitc-session"  # RFC 6265bis 4.1.3.2: Secure, Path=/, no Domain
MAX_COOKIE_CHARS: Final = 4000  # browsers keep at least 4096 bytes per cookie
MAX_FLASH: Final = 4
_AAD: Final = b"jitc-web-session/1"
_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class Flash:
    """A message for the next page: `key` names a translated message (server.web.messages);
    `detail` is the server's own words, shown as given."""

    kind: str  # "ok" or "error"
    key: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Session:
    nonce: str
    method: str | None = None
    """The sign-in method that verifies `credential` (server.web.signin)."""
    credential: str | None = None
    expires: int | None = None
    """Unix time the credential ends (the token's exp)."""
    flash: tuple[Flash, ...] = field(default=())

    @property
    def signed_in(self) -> bool:
        return self.method is not None and self.credential is not None

    @classmethod
    def anonymous(cls) -> Session:
        return cls(nonce=secrets.token_urlsafe(18))

    def signed_in_as(self, method: str, credential: str, expires: int) -> Session:
        """A new session (new nonce, so a new CSRF token) holding the credential."""
        return Session(
            nonce=secrets.token_urlsafe(18),
            method=method,
            credential=credential,
            expires=expires,
            flash=self.flash,
        )

    def with_flash(self, flash: Flash) -> Session:
        return replace(self, flash=(*self.flash, flash)[-MAX_FLASH:])

    def without_flash(self) -> Session:
        return replace(self, flash=())


class SessionCodec:
    """Seals sessions into cookie values and opens them; derives CSRF tokens."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(_subkey(key, b"seal"))
        self._csrf_key = _subkey(key, b"csrf")

    def seal(self, session: Session) -> str:
        payload: dict[str, Any] = {"v": _VERSION, "n": session.nonce}
        if session.signed_in:
            payload |= {"m": session.method, "c": session.credential, "x": session.expires}
        if session.flash:
            payload["f"] = [[f.kind, f.key, f.detail[:300]] for f in session.flash]
        raw = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        iv = secrets.token_bytes(12)
        sealed = iv + self._aead.encrypt(iv, raw, _AAD)
        return base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")

    def open(self, value: str | None) -> Session | None:
        """The session in a cookie value, or None for anything this server did not seal."""
        if not value or len(value) > MAX_COOKIE_CHARS:
            return None
        try:
            sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            raw = self._aead.decrypt(sealed[:12], sealed[12:], _AAD)
            payload = json.loads(raw)
        except (binascii.Error, ValueError, InvalidTag):
            return None
        return _session_from(payload)

    def csrf_token(self, session: Session) -> str:
        mac = hmac.new(self._csrf_key, session.nonce.encode("ascii"), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).decode("ascii").rstrip("=")

    def csrf_ok(self, session: Session, presented: str | None) -> bool:
        if not presented:
            return False
        return hmac.compare_digest(self.csrf_token(session), presented)


def _subkey(key: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"jitc web " + label).derive(
        key
    )


def _session_from(payload: object) -> Session | None:
    if not isinstance(payload, dict) or payload.get("v") != _VERSION:
        return None
    nonce = payload.get("n")
    if not isinstance(nonce, str) or not nonce.isascii():
        return None
    flash = [
        Flash(item[0], item[1], item[2])
        for item in payload.get("f", [])
        if isinstance(item, list) and len(item) == 3 and all(isinstance(x, str) for x in item)
    ]
    method, credential, expires = payload.get("m"), payload.get("c"), payload.get("x")
    if isinstance(method, str) and isinstance(credential, str) and isinstance(expires, int):
        return Session(nonce, method, credential, expires, tuple(flash))
    return Session(nonce, flash=tuple(flash))
