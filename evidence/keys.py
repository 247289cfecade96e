"""Object keys: `cases/<case id>/exhibits/<exhibit id>` for evidence and
`bundles/<case id>/<export id>.zip` for court bundles, built in one place.

Ids are UUIDs in lowercase canonical form, so a key can never hold `..`, `/`,
a NUL or anything else that escapes its case. Keys are per case: the same bytes
ingested into two cases are two objects (no deduplication across cases).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

from evidence._error_root import InvalidKeyError

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_KEY = re.compile(rf"cases/({_CANONICAL_UUID.pattern})/exhibits/({_CANONICAL_UUID.pattern})")
_BUNDLE = re.compile(rf"bundles/({_CANONICAL_UUID.pattern})/({_CANONICAL_UUID.pattern})\.zip")


def parse_id(value: str | UUID) -> UUID:
    """A UUID from its lowercase canonical text (spec 1: ids are canonical lowercase)."""
    if isinstance(value, UUID):
        return value
    if not _CANONICAL_UUID.fullmatch(value):
        raise InvalidKeyError(f"not a canonical lowercase UUID: {value!r}")
    return UUID(value)


@dataclass(frozen=True, slots=True)
class ExhibitKey:
    """Where one exhibit's content lives; the only way to name a stored object."""

    case_id: UUID
    exhibit_id: UUID

    def __post_init__(self) -> None:
        if not isinstance(self.case_id, UUID) or not isinstance(self.exhibit_id, UUID):
            raise InvalidKeyError("case_id and exhibit_id must be UUIDs")

    @property
    def path(self) -> str:
        return f"cases/{self.case_id}/exhibits/{self.exhibit_id}"

    @classmethod
    def parse(cls, path: str) -> ExhibitKey:
        match = _KEY.fullmatch(path)
        if match is None:
            raise InvalidKeyError(f"not an exhibit key: {path!r}")
        return cls(UUID(match[1]), UUID(match[2]))

    def __str__(self) -> str:
        return self.path


def exhibit_key(case_id: str | UUID, exhibit_id: str | UUID) -> ExhibitKey:
    """The key of an exhibit's content in its case."""
    return ExhibitKey(parse_id(case_id), parse_id(exhibit_id))


@dataclass(frozen=True, slots=True)
class BundleKey:
    """Where one export's court bundle lives (ADR 0039): outside `cases/`, so no listing
    of evidence ever meets a bundle, and no bundle name can be taken for an exhibit's."""

    case_id: UUID
    export_id: UUID

    def __post_init__(self) -> None:
        if not isinstance(self.case_id, UUID) or not isinstance(self.export_id, UUID):
            raise InvalidKeyError("case_id and export_id must be UUIDs")

    @property
    def path(self) -> str:
        return f"bundles/{self.case_id}/{self.export_id}.zip"

    @classmethod
    def parse(cls, path: str) -> BundleKey:
        match = _BUNDLE.fullmatch(path)
        if match is None:
            raise InvalidKeyError(f"not a bundle key: {path!r}")
        return cls(UUID(match[1]), UUID(match[2]))

    def __str__(self) -> str:
        return self.path


def bundle_key(case_id: str | UUID, export_id: str | UUID) -> BundleKey:
    """The key of an export's bundle in its case."""
    return BundleKey(parse_id(case_id), parse_id(export_id))
