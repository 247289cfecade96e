"""Server settings, read once from the environment (JITC_*).

With no configuration at all the server is embedded: SQLite and files under ./jitc-data,
a log key created on first start, and the schema upgraded automatically.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from server.errors import ConfigError

DEFAULT_LOG_NAME = "jitc.localhost"
DEFAULT_DATA_DIR = "./jitc-data"
SQLITE_FILENAME = "jitc.sqlite3"
LOG_KEY_FILENAME = "log-key.seed"
SECURITY_LOG_FILENAME = "security.log"
MAX_JSON_BODY = 1024 * 1024  # 1 MiB for every JSON request body


# Evidence content, exports and re-verification: the defaults.
DEFAULT_MAX_UPLOAD = 64 * 1024**3
DEFAULT_UPLOAD_EXPIRY = 24 * 3600.0
DEFAULT_RECOVERY_GRACE = 300.0
DEFAULT_MAX_CONCURRENT_EXPORTS = 2
DEFAULT_EXPORT_RESERVE = 1024**3
DEFAULT_MAX_CONCURRENT_VERIFIES = 2
DEFAULT_BODY_IDLE_TIMEOUT = 60.0


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name) or ""
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds") from None
    if not 0 <= value < 10**9:
        raise ConfigError(f"{name} must be a non-negative number of seconds")
    return value


def _evidence_options(env: Mapping[str, str]) -> dict[str, object]:
    return {
        "store_url": env.get("JITC_STORE_URL") or None,
        "max_upload_bytes": _count(env, "JITC_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD, minimum=0),
        "upload_expiry": _seconds(env, "JITC_UPLOAD_EXPIRY", DEFAULT_UPLOAD_EXPIRY),
        "recovery_grace": _seconds(env, "JITC_RECOVERY_GRACE", DEFAULT_RECOVERY_GRACE),
        "max_concurrent_exports": _count(
            env, "JITC_MAX_CONCURRENT_EXPORTS", DEFAULT_MAX_CONCURRENT_EXPORTS, minimum=1
        ),
        "export_reserve_bytes": _count(
            env, "JITC_EXPORT_RESERVE_BYTES", DEFAULT_EXPORT_RESERVE, minimum=0
        ),
        "max_concurrent_verifies": _count(
            env, "JITC_MAX_CONCURRENT_VERIFIES", DEFAULT_MAX_CONCURRENT_VERIFIES, minimum=1
        ),
        "body_idle_timeout": _body_idle_timeout(env),
    }


def _body_idle_timeout(env: Mapping[str, str]) -> float:
    value = _seconds(env, "JITC_BODY_IDLE_TIMEOUT", DEFAULT_BODY_IDLE_TIMEOUT)
    if value <= 0:
        raise ConfigError("JITC_BODY_IDLE_TIMEOUT must be a positive number of seconds")
    return value


def _count(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name) or ""
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or int(raw) < minimum:
        what = "a non-negative integer" if minimum == 0 else f"an integer of at least {minimum}"
        raise ConfigError(f"{name} must be {what}")
    return int(raw)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    data_dir: Path
    database_url: str
    embedded: bool
    """True when no JITC_DATABASE_URL was given: SQLite under data_dir, self-upgrading."""
    log_name: str
    """The server's log name: the prefix of every case origin and the token audience."""
    log_key: str | None
    """Base64 of the 32-byte Ed25519 seed from JITC_LOG_KEY; None means the key file."""
    max_json_body: int = MAX_JSON_BODY
    db_pool_size: int = 16
    revocation_refresh: float = 1.0
    """Seconds between checks for newly revoked tokens (0: check on every request)."""
    store_url: str | None = None
    """JITC_STORE_URL (evidence.open_store); None: the filesystem store in data_dir/evidence."""
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    """JITC_MAX_UPLOAD_BYTES: the largest exhibit content accepted (413 above it)."""
    upload_expiry: float = DEFAULT_UPLOAD_EXPIRY
    """JITC_UPLOAD_EXPIRY seconds: an idle tus upload is removed after this long."""
    recovery_grace: float = DEFAULT_RECOVERY_GRACE
    """JITC_RECOVERY_GRACE seconds before an interrupted ingest is recovered (ADR 0012)."""
    max_concurrent_exports: int = DEFAULT_MAX_CONCURRENT_EXPORTS
    """JITC_MAX_CONCURRENT_EXPORTS: bundles written at once by this process (503 beyond)."""
    export_reserve_bytes: int = DEFAULT_EXPORT_RESERVE
    """JITC_EXPORT_RESERVE_BYTES: disk left free after an export's estimated size (507)."""
    max_concurrent_verifies: int = DEFAULT_MAX_CONCURRENT_VERIFIES
    """JITC_MAX_CONCURRENT_VERIFIES: POST …/verify re-reads at once in this process (503)."""
    body_idle_timeout: float = DEFAULT_BODY_IDLE_TIMEOUT
    """JITC_BODY_IDLE_TIMEOUT seconds: a request body that sends no byte for this long is
    answered 408 and its worker freed."""

    @property
    def evidence_url(self) -> str:
        return self.store_url or str(self.data_dir / "evidence")

    @property
    def log_key_path(self) -> Path:
        return self.data_dir / LOG_KEY_FILENAME

    @property
    def security_log_path(self) -> Path:
        return self.data_dir / SECURITY_LOG_FILENAME

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("JITC_DATA_DIR") or DEFAULT_DATA_DIR)
        url = env.get("JITC_DATABASE_URL") or ""
        embedded = not url
        if embedded:
            url = f"sqlite:///{(data_dir / SQLITE_FILENAME).as_posix()}"
        elif not url.startswith(("postgresql+psycopg://", "sqlite:///")):
            raise ConfigError(
                "JITC_DATABASE_URL must be postgresql+psycopg://... (or sqlite:///PATH)"
            )
        log_name = env.get("JITC_LOG_NAME") or DEFAULT_LOG_NAME
        if any(c.isspace() or c == "+" for c in log_name):
            raise ConfigError("JITC_LOG_NAME must not contain spaces or '+'")  # note key names
        pool = env.get("JITC_DB_POOL_SIZE") or "16"
        if not pool.isdigit() or int(pool) < 1:
            raise ConfigError("JITC_DB_POOL_SIZE must be a positive integer")
        refresh = env.get("JITC_REVOCATION_REFRESH") or "1"
        try:
            revocation_refresh = float(refresh)
        except ValueError:
            raise ConfigError("JITC_REVOCATION_REFRESH must be a number of seconds") from None
        if not 0 <= revocation_refresh <= 60:
            raise ConfigError("JITC_REVOCATION_REFRESH must be between 0 and 60 seconds")
        return cls(
            revocation_refresh=revocation_refresh,
            data_dir=data_dir,
            database_url=url,
            embedded=embedded,
            log_name=log_name,
            log_key=env.get("JITC_LOG_KEY") or None,
            db_pool_size=int(pool),
            **_evidence_options(env),  # type: ignore[arg-type]
        )


def trusted_proxies(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """JITC_WEB_TRUSTED_PROXIES: the addresses whose X-Forwarded-* headers are believed,
    by the web pages (Secure cookies) and by the HTTP server alike (`jitc serve`)."""
    env = os.environ if environ is None else environ
    return _proxies(env.get("JITC_WEB_TRUSTED_PROXIES"))


def _proxies(raw: str | None) -> frozenset[str]:
    found: set[str] = set()
    for item in (raw or "").split(","):
        address = item.strip()
        if not address:
            continue
        try:
            found.add(str(ipaddress.ip_address(address)))
        except ValueError:
            raise ConfigError(
                f"JITC_WEB_TRUSTED_PROXIES: {address!r} is not an IP address"
            ) from None
    return frozenset(found)
