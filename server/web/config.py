"""The web workspace's own settings: the session key and the proxies trusted for TLS.

Read once, when the workspace is mounted (`server.web.mount_web`):

- JITC_WEB_SESSION_KEY: base64 of 32 random bytes that seal the session cookie
  (AES-256-GCM). Unset: derived from the log key's seed with HKDF (RFC 5869), so every
  process of one deployment (they share the log key) opens the cookies the others made.
- JITC_WEB_TRUSTED_PROXIES: comma-separated addresses of reverse proxies whose
  X-Forwarded-Proto is believed (TLS ends at the proxy; the cookie must still be Secure).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from server.config import trusted_proxies
from server.errors import ConfigError
from server.logkey import load_or_create_seed
from server.services.workspace import Workspace

KEY_SIZE = 32
_SESSION_KEY_INFO = b"jitc web session key v1"


@dataclass(frozen=True, slots=True, kw_only=True)
class WebConfig:
    session_key: bytes
    trusted_proxies: frozenset[str] = frozenset()

    @classmethod
    def for_workspace(cls, ws: Workspace, environ: Mapping[str, str] | None = None) -> WebConfig:
        env = os.environ if environ is None else environ
        raw = env.get("JITC_WEB_SESSION_KEY") or ""
        if raw:
            try:
                key = base64.b64decode(raw.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise ConfigError("JITC_WEB_SESSION_KEY is not base64") from None
            if len(key) != KEY_SIZE:
                raise ConfigError(f"JITC_WEB_SESSION_KEY must be {KEY_SIZE} bytes (base64)")
        else:
            # One-way and labelled: the session key reveals nothing of the log key.
            key = HKDF(
                algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=_SESSION_KEY_INFO
            ).derive(load_or_create_seed(ws.settings))
        return cls(session_key=key, trusted_proxies=trusted_proxies(env))
