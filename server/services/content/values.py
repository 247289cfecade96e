"""What a client says about content, parsed; and how stored content is shown.

The client's filename and media type are kept exactly as given and used only as data:
objects are named by ids, never by anything a client sends.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Final

from evidence import InvalidDigestError, parse_sha256_hex
from server.errors import InvalidRequestError
from server.repositories import content as content_repo

MAX_FILENAME_CHARS: Final = 4096
MAX_MEDIA_TYPE_CHARS: Final = 255
MAX_PURPOSE_CHARS: Final = 1000
DEFAULT_MEDIA_TYPE: Final = "application/octet-stream"
DEFAULT_PURPOSE: Final = "inspection"

# Characters that change how text around them is displayed (bidirectional overrides and
# isolates, e.g. U+202E RIGHT-TO-LEFT OVERRIDE turning "gpj.exe" into "exe.jpg").
_BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


@dataclass(frozen=True, slots=True)
class ContentMeta:
    """What the client says about the content: kept as given, used only as data."""

    filename: str
    media_type: str
    expected_sha256: str | None
    metadata_header: str | None = None  # tus Upload-Metadata, as sent


def parse_filename(value: str | None) -> str:
    """The client's filename, stored exactly as given (spec 2.1 data.filename).

    It is never used in a path (objects are named by ids only), so `../`, control
    characters and bidi overrides are kept; only NUL (which PostgreSQL text cannot
    hold) and absurd lengths are refused."""
    if value is None:
        return ""
    if len(value) > MAX_FILENAME_CHARS:
        raise InvalidRequestError(
            f"the filename is longer than {MAX_FILENAME_CHARS} characters", code="bad_filename"
        )
    if "\x00" in value:
        raise InvalidRequestError("the filename contains a NUL character", code="bad_filename")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise InvalidRequestError("the filename is not valid Unicode", code="bad_filename")
    return value


def parse_media_type(value: str | None) -> str:
    if not value:
        return DEFAULT_MEDIA_TYPE
    media = value.strip()
    if len(media) > MAX_MEDIA_TYPE_CHARS or not media.isprintable() or not media.isascii():
        raise InvalidRequestError("the media type is not a printable ASCII string")
    return media


def parse_expected_sha256(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_sha256_hex(value)
    except InvalidDigestError:
        raise InvalidRequestError(
            "the declared SHA-256 must be 32 bytes", code="bad_digest"
        ) from None


def parse_purpose(value: str | None) -> str:
    purpose = DEFAULT_PURPOSE if value is None else value.strip()
    if not purpose or len(purpose) > MAX_PURPOSE_CHARS or not purpose.isprintable():
        raise InvalidRequestError(
            f"the purpose must be 1 to {MAX_PURPOSE_CHARS} printable characters",
            code="bad_purpose",
        )
    return purpose


def display_filename(filename: str, *, limit: int = 255) -> str:
    """A filename safe to show or to offer as a download name: no path separators,
    control or bidi characters, no leading dots, at most `limit` characters."""
    unsafe = _BIDI_CONTROLS | frozenset("/\\")
    safe = "".join(
        "_" if c in unsafe or unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
        for c in filename
    )
    safe = safe.lstrip(".").strip()
    return safe[:limit] or "content"


def content_json(row: content_repo.ContentRow) -> dict[str, Any]:
    """An exhibit's content as the exhibit views show it."""
    return {
        "size": row.size,
        "sha256": row.sha256,
        "blake3": row.blake3,
        "filename": row.filename,
        "filename_display": display_filename(row.filename),
        "media_type": row.media_type,
        "ingested_at": row.ingested_at.isoformat(),
        "ingested_seq": row.ingested_seq,
        "disposed": row.disposed,
        "removed": row.removed,
        "retained_until": row.retained_until.isoformat() if row.retained_until else None,
    }
