"""Keyset pagination: `limit` and an opaque `cursor` naming the last item of the page."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from server.errors import InvalidRequestError

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_MAX_BIGINT = 2**63 - 1
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


def encode_cursor(*parts: str | int) -> str:
    raw = json.dumps(list(parts), separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> list[object]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidRequestError("the cursor is not one this server gave out") from None
    if not isinstance(parts, list):
        raise InvalidRequestError("the cursor is not one this server gave out")
    return parts


def time_id_cursor(created_at: datetime, item_id: str) -> str:
    return encode_cursor(created_at.isoformat(), item_id)


def decode_time_id(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    parts = decode_cursor(cursor)
    if len(parts) != 2 or not all(isinstance(part, str) for part in parts):
        raise InvalidRequestError("the cursor is not one this server gave out")
    try:
        created = datetime.fromisoformat(str(parts[0]))
    except ValueError:
        raise InvalidRequestError("the cursor is not one this server gave out") from None
    if _UUID.fullmatch(str(parts[1])) is None:
        raise InvalidRequestError("the cursor is not one this server gave out")
    return created, str(parts[1])


def decode_int(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    parts = decode_cursor(cursor)
    if len(parts) != 1 or not isinstance(parts[0], int) or isinstance(parts[0], bool):
        raise InvalidRequestError("the cursor is not one this server gave out")
    if not 0 <= parts[0] <= _MAX_BIGINT:  # beyond a BIGINT the database itself would fail
        raise InvalidRequestError("the cursor is not one this server gave out")
    return parts[0]
