"""Choose and open the evidence store from one URL (plus credentials from the environment).

    file:///var/lib/jitc/evidence[?retention_days=N]
    /var/lib/jitc/evidence                  (a bare path: the filesystem store)
    s3://HOST[:PORT]/BUCKET?staging_bucket=NAME[&secure=false][&region=R][&retention_days=N]
                           [&parallel_parts=N][&part_mib=N][&checksum=sha256|md5]
        with JITC_S3_ACCESS_KEY and JITC_S3_SECRET_KEY in the environment

Credentials never go in the URL, so it can be logged and shown in diagnostics.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from evidence.errors import StoreConfigError
from evidence.fs import FilesystemStore
from evidence.locking import PROCESS_LEASES, LeaseBook
from evidence.s3 import DEFAULT_PARALLEL_PARTS, DEFAULT_PART_SIZE, Checksum, S3Store
from evidence.store import BlobStore

ACCESS_KEY_ENV = "JITC_S3_ACCESS_KEY"
SECRET_KEY_ENV = "JITC_S3_SECRET_KEY"  # noqa: S105 -- the variable's name, not a secret

_FS_OPTIONS = frozenset({"retention_days"})
_S3_OPTIONS = frozenset(
    {
        "staging_bucket",
        "secure",
        "region",
        "retention_days",
        "parallel_parts",
        "part_mib",
        "checksum",
    }
)


def _options(query: str, allowed: frozenset[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    for name, values in parse_qs(query, keep_blank_values=True, strict_parsing=False).items():
        if name not in allowed:
            raise StoreConfigError(f"unknown store option {name!r}")
        if len(values) != 1:
            raise StoreConfigError(f"store option {name!r} given more than once")
        options[name] = values[0]
    return options


def _retention(options: Mapping[str, str]) -> int | None:
    value = options.get("retention_days")
    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise StoreConfigError("retention_days must be a positive integer")
    return int(value)


def _parallel_parts(options: Mapping[str, str]) -> int:
    value = options.get("parallel_parts", str(DEFAULT_PARALLEL_PARTS))
    if not value.isdigit() or int(value) < 1:
        raise StoreConfigError("parallel_parts must be a positive integer")
    return int(value)


def _part_size(options: Mapping[str, str]) -> int:
    """Bytes of the first parts (S3Store checks the range); the URL gives whole MiB."""
    value = options.get("part_mib")
    if value is None:
        return DEFAULT_PART_SIZE
    if not value.isdigit():
        raise StoreConfigError("part_mib must be a whole number of MiB")
    return int(value) * 1024 * 1024


def _checksum(options: Mapping[str, str]) -> Checksum:
    value = options.get("checksum", Checksum.SHA256)
    try:
        return Checksum(value)
    except ValueError:
        choices = " or ".join(c.value for c in Checksum)
        raise StoreConfigError(f"checksum must be {choices}, not {value!r}") from None


def _flag(options: Mapping[str, str], name: str, default: bool) -> bool:
    value = options.get(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise StoreConfigError(f"store option {name!r} must be true or false")


def open_store(
    url: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    leases: LeaseBook = PROCESS_LEASES,
) -> BlobStore:
    """The store `url` names; does not touch storage (call `prepare()` at startup).

    `leases` is the S3 store's exclusion (`evidence.locking`): a server with several
    processes passes the one its database keeps; the default holds for one process.
    """
    environ = os.environ if env is None else env
    if isinstance(url, Path) or "://" not in url:
        return FilesystemStore(Path(url))
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise StoreConfigError("file:// URLs name a local path: file:///PATH")
        options = _options(parts.query, _FS_OPTIONS)
        return FilesystemStore(Path(unquote(parts.path)), retention_days=_retention(options))
    if parts.scheme == "s3":
        if parts.username or parts.password:
            raise StoreConfigError(f"put S3 credentials in {ACCESS_KEY_ENV}/{SECRET_KEY_ENV}")
        bucket = parts.path.strip("/")
        if not parts.hostname or not bucket or "/" in bucket:
            raise StoreConfigError("S3 store URL: s3://HOST[:PORT]/BUCKET?staging_bucket=NAME")
        options = _options(parts.query, _S3_OPTIONS)
        staging = options.get("staging_bucket")
        if not staging:
            raise StoreConfigError("S3 store URL needs staging_bucket=NAME (without Object Lock)")
        access_key = environ.get(ACCESS_KEY_ENV)
        secret_key = environ.get(SECRET_KEY_ENV)
        if not access_key or not secret_key:
            raise StoreConfigError(f"S3 store needs {ACCESS_KEY_ENV} and {SECRET_KEY_ENV}")
        return S3Store(
            parts.netloc,
            access_key,
            secret_key,
            bucket,
            staging_bucket=staging,
            secure=_flag(options, "secure", True),
            region=options.get("region") or None,
            retention_days=_retention(options),
            parallel_parts=_parallel_parts(options),
            checksum=_checksum(options),
            part_size=_part_size(options),
            leases=leases,
        )
    raise StoreConfigError(f"unknown evidence store scheme {parts.scheme!r}")
