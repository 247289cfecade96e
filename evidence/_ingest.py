"""Pieces both stores share: size limits, digest checks, the stored upload record."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar
from uuid import UUID

from evidence.errors import DigestMismatchError, TooLargeError, UploadCorruptError
from evidence.hashing import Digests, Sha256Hex, StreamHasher, parse_sha256_hex
from evidence.keys import ExhibitKey
from evidence.store import UploadState


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_expected(expected_sha256: str | None) -> Sha256Hex | None:
    return None if expected_sha256 is None else parse_sha256_hex(expected_sha256)


def check_size(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise ValueError("a size limit cannot be negative")


def metered(chunks: Iterable[bytes], hasher: StreamHasher, limit: int | None) -> Iterator[bytes]:
    """Yield the non-empty chunks after hashing them; refuse the first byte over `limit`."""
    for chunk in chunks:
        if not chunk:
            continue
        if limit is not None and hasher.size + len(chunk) > limit:
            raise TooLargeError(limit)
        hasher.update(chunk)
        yield chunk


def check_expected(digests: Digests, expected: Sha256Hex | None) -> None:
    if expected is not None and digests.sha256_hex != expected:
        raise DigestMismatchError(digests, expected)


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadInfo:
    """What `begin_upload` records; stored as JSON beside the upload's bytes."""

    key: ExhibitKey
    length: int | None
    max_size: int | None
    metadata: Mapping[str, str] = field(default_factory=dict)
    created: datetime

    @property
    def limit(self) -> int | None:
        """The most bytes this upload may ever hold."""
        limits = [n for n in (self.length, self.max_size) if n is not None]
        return min(limits) if limits else None

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "v": 1,
                "key": self.key.path,
                "length": self.length,
                "max_size": self.max_size,
                "metadata": dict(self.metadata),
                "created": self.created.isoformat(),
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_json(cls, upload_id: UUID, raw: bytes) -> UploadInfo:
        try:
            doc = json.loads(raw)
            metadata = doc["metadata"]
            if not isinstance(metadata, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
            ):
                raise TypeError("metadata")
            for name in ("length", "max_size"):
                if doc[name] is not None and not isinstance(doc[name], int):
                    raise TypeError(name)
            created = datetime.fromisoformat(doc["created"])
            return cls(
                key=ExhibitKey.parse(doc["key"]),
                length=doc["length"],
                max_size=doc["max_size"],
                metadata=metadata,
                created=created,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise UploadCorruptError(upload_id, f"unreadable upload record: {exc}") from exc

    def state(self, upload_id: UUID, *, offset: int, updated: datetime) -> UploadState:
        return UploadState(
            upload_id=upload_id,
            key=self.key,
            offset=offset,
            length=self.length,
            max_size=self.max_size,
            metadata=dict(self.metadata),
            created=self.created,
            updated=updated,
        )


class _Sized(Protocol):
    @property
    def size(self) -> int: ...


H = TypeVar("H", bound=_Sized)


class HasherCache(Generic[H]):
    """Hash state of uploads this process has seen, so appends don't re-read old bytes.

    Valid only while its size equals the bytes it is kept for; a store catches a
    stale entry up from the bytes stored since (appends only ever add bytes), or
    rebuilds it after a restart.
    """

    def __init__(self) -> None:
        self._hashers: dict[UUID, H] = {}

    def take(self, upload_id: UUID) -> H | None:
        return self._hashers.pop(upload_id, None)

    def keep(self, upload_id: UUID, hasher: H, stored: int) -> None:
        if hasher.size == stored:
            self._hashers[upload_id] = hasher
        else:
            self._hashers.pop(upload_id, None)

    def drop(self, upload_id: UUID) -> None:
        self._hashers.pop(upload_id, None)
