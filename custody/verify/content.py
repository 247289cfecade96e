"""spec 6 check 6: each included content file against the manifest and its exhibit.ingested."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import blake3

from custody.bundle import BundleReader, Manifest, ManifestExhibit
from custody.errors import BundleFormatError, ContentMismatchError
from custody.replay import CaseState
from custody.verify.results import CheckId, Recorder

CONTENT = CheckId.CONTENT
Facts = tuple[int | None, str | None, str | None]  # size, sha256, blake3


def hash_stream(chunks: Iterator[bytes]) -> tuple[int, str, str]:
    """Size, SHA-256 and BLAKE3 (lowercase hex) of a stream, in one pass (spec 3)."""
    sha = hashlib.sha256()
    b3 = blake3.blake3()
    size = 0
    for chunk in chunks:
        size += len(chunk)
        sha.update(chunk)
        b3.update(chunk)
    return size, sha.hexdigest(), b3.hexdigest()


def check_content(
    reader: BundleReader,
    manifest: Manifest,
    case: CaseState,
    rec: Recorder,
    *,
    entries_read: bool,
) -> None:
    """spec 6.6: content files against the manifest and the exhibit.ingested entry.

    `entries_read` is False when entries.jsonl is missing or could not be read to its end:
    a missing exhibit.ingested entry then proves nothing and is not reported."""
    for exhibit in manifest.exhibits:
        state = case.exhibits.get(exhibit.id)
        ingested = None if state is None else state.ingested
        recorded: Facts | None = (
            None if ingested is None else (ingested["size"], ingested["sha256"], ingested["blake3"])
        )
        claimed: Facts = (exhibit.size, exhibit.sha256, exhibit.blake3)
        if recorded is not None and claimed != recorded:
            rec.fail(
                CONTENT,
                ContentMismatchError,
                f"exhibit {exhibit.id}: manifest size/hashes differ from its exhibit.ingested "
                "entry",
            )
        if exhibit.content is not None:
            _check_file(reader, exhibit, exhibit.content, claimed, recorded, rec, entries_read)


def _check_file(
    reader: BundleReader,
    exhibit: ManifestExhibit,
    path: str,
    claimed: Facts,
    recorded: Facts | None,
    rec: Recorder,
    entries_read: bool,
) -> None:
    if not path.startswith(f"exhibits/{exhibit.id}/"):
        rec.fail(
            CONTENT,
            ContentMismatchError,
            f"exhibit {exhibit.id}: content path {path!r} is outside exhibits/{exhibit.id}/",
        )
        return
    if not reader.has(path):
        rec.fail(
            CONTENT,
            ContentMismatchError,
            f"exhibit {exhibit.id}: content file {path!r} is missing",
        )
        return
    if recorded is None and entries_read:
        rec.fail(
            CONTENT,
            ContentMismatchError,
            f"exhibit {exhibit.id}: content is included but no exhibit.ingested entry "
            "records its hashes",
        )
    try:
        actual = hash_stream(reader.stream(path))
    except BundleFormatError as exc:
        rec.fail(CONTENT, ContentMismatchError, f"exhibit {exhibit.id}: {exc}")
        return
    if actual != claimed:
        rec.fail(
            CONTENT,
            ContentMismatchError,
            f"exhibit {exhibit.id}: content is {actual[0]} bytes, sha256 {actual[1]}, "
            f"blake3 {actual[2]}; the manifest says {claimed[0]} bytes, sha256 "
            f"{claimed[1]}, blake3 {claimed[2]}",
        )
    elif recorded is not None and actual != recorded:
        rec.fail(
            CONTENT,
            ContentMismatchError,
            f"exhibit {exhibit.id}: content differs from its exhibit.ingested entry",
        )
