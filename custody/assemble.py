"""Assemble a court bundle (spec 5) from a log's entries, its checkpoint and exhibit content.

Pure: the caller hands in entries, the signed (and cosigned) checkpoint note, the policy
text, a node getter for inclusion proofs and, per exhibit, a callable that streams its
content. The server's export and the golden-bundle generator both use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO

from custody.bundle import (
    CHECKPOINT,
    ENTRIES,
    POLICY,
    REPORT,
    BundleWriter,
    Manifest,
    ManifestExhibit,
    append_member,
    safe_content_name,
)
from custody.checkpoint import Checkpoint
from custody.entry import Entry, parse_time
from custody.errors import CustodyError, FormatError
from custody.events import EventType
from custody.merkle import NodeGetter, inclusion_proof, root_from_leaf_hashes
from custody.note import Note
from custody.policy import Policy
from custody.tlogproof import TlogProof

ContentSource = Callable[[], Iterable[bytes]]


class AssemblyError(CustodyError):
    """The inputs cannot make a valid bundle (wrong sizes, an exhibit without entries...)."""


def summarize_exhibits(entries: Iterable[Entry]) -> dict[str, ManifestExhibit]:
    """Each exhibit's manifest line without content: its label (from exhibit.registered)
    and content facts (from its first exhibit.ingested)."""
    found: dict[str, ManifestExhibit] = {}
    for entry in entries:
        if entry.exhibit is None:
            continue
        if entry.type == "exhibit.registered" and entry.exhibit not in found:
            found[entry.exhibit] = ManifestExhibit(
                entry.exhibit, entry.data["label"], "", None, None, None, None
            )
        elif entry.type == "exhibit.ingested" and entry.exhibit in found:
            current = found[entry.exhibit]
            if current.sha256 is None:
                found[entry.exhibit] = replace(
                    current,
                    filename=entry.data["filename"],
                    size=entry.data["size"],
                    sha256=entry.data["sha256"],
                    blake3=entry.data["blake3"],
                )
    return found


def write_bundle(
    out: str | Path | IO[bytes],
    *,
    entries: Sequence[Entry],
    checkpoint_note: Note,
    policy_text: str,
    created: str,
    recipient: str,
    disclosure: str,
    exhibits: Sequence[str] | None,
    contents: dict[str, ContentSource],
    get_node: NodeGetter,
    log_size: int,
) -> Manifest:
    """Write a bundle; `entries` are the log's entries 0..tree_size-1 in seq order.

    `log_size`: how large the log was when the bundle was made (spec 5), at least the
    checkpoint's size; larger when the newest checkpoint that met the case policy is older
    than the newest entry. `policy_text` must be the newest `case.policy_set` in `entries`.

    `exhibits` None means every exhibit. `contents` maps the exhibits whose bytes are to be
    included to a callable streaming them. Returns the manifest written.
    """
    if disclosure not in ("full", "selective"):
        raise AssemblyError("disclosure must be 'full' or 'selective'")
    checkpoint = Checkpoint.parse_body(checkpoint_note.text)
    if checkpoint.size != len(entries):
        raise AssemblyError(
            f"checkpoint size {checkpoint.size} but {len(entries)} entries were given"
        )
    if not entries:
        raise AssemblyError("an empty log has nothing to bundle")
    if log_size < checkpoint.size:
        raise AssemblyError(f"log_size {log_size} is below the checkpoint's size {checkpoint.size}")
    logged = logged_policy(entries)
    if logged is not None and logged != policy_text:
        raise AssemblyError("the policy is not the newest case.policy_set of the log")
    # Refuse to write a bundle that could not verify: wrong root, foreign policy, bad time.
    if root_from_leaf_hashes([entry.leaf_hash() for entry in entries]) != checkpoint.root_hash:
        raise AssemblyError("the entries' Merkle root is not the checkpoint's root")
    try:
        policy = Policy.parse(policy_text)
    except FormatError as exc:
        raise AssemblyError(f"the policy does not parse: {exc}") from None
    if not policy.logs_for_origin(checkpoint.origin):
        raise AssemblyError(f"the policy has no log key named {checkpoint.origin!r}")
    try:
        parse_time(created)
    except FormatError as exc:
        raise AssemblyError(f"created: {exc}") from None
    case = entries[0].case
    summaries = summarize_exhibits(entries)
    chosen = list(summaries) if exhibits is None else list(exhibits)
    for exhibit_id in chosen:
        if exhibit_id not in summaries:
            raise AssemblyError(f"exhibit {exhibit_id} is not registered in this log")
    manifest_exhibits = []
    for exhibit_id in chosen:
        summary = summaries[exhibit_id]
        if exhibit_id in contents:
            if summary.sha256 is None:
                raise AssemblyError(f"exhibit {exhibit_id} has no content ingested")
            summary = replace(summary, content=safe_content_name(exhibit_id, summary.filename))
        manifest_exhibits.append(summary)
    manifest = Manifest(
        case=case,
        origin=checkpoint.origin,
        created=created,
        disclosure=disclosure,
        tree_size=checkpoint.size,
        exhibits=tuple(manifest_exhibits),
        recipient=recipient,
        log_size=log_size,
    )
    disclosed = set(chosen)
    if disclosure == "full":
        included: Sequence[Entry] = entries
    else:
        # spec 5: every entry whose exhibit is null plus every entry of each disclosed exhibit.
        included = [e for e in entries if e.exhibit is None or e.exhibit in disclosed]
    with BundleWriter(out) as writer:
        writer.add_manifest(manifest)
        writer.add_lines(ENTRIES, (entry.canonical_bytes() for entry in included))
        writer.add_bytes(CHECKPOINT, checkpoint_note.to_bytes())
        writer.add_bytes(POLICY, policy_text.encode("utf-8"))
        if disclosure == "selective":
            # Each proof carries the same (cosigned) checkpoint note as `checkpoint`, and the
            # entry's canonical bytes as `extra`, so a proof file can be checked on its own.
            for entry in included:
                proof = TlogProof(
                    index=entry.seq,
                    hashes=tuple(inclusion_proof(entry.seq, checkpoint.size, get_node)),
                    checkpoint=checkpoint_note,
                    extra=entry.canonical_bytes(),
                )
                writer.add_bytes(f"proofs/{entry.seq}.tlog-proof", proof.to_bytes())
        for exhibit in manifest_exhibits:
            if exhibit.content is not None:
                writer.add_stream(exhibit.content, contents[exhibit.id]())
    return manifest


def logged_policy(entries: Iterable[Entry]) -> str | None:
    """The newest `case.policy_set` text among `entries` (spec 5 policy.txt), or None."""
    found = None
    for entry in entries:
        if entry.type == EventType.POLICY_SET:
            found = entry.data["policy"]
    return found


def add_report(path: str | Path, html: str) -> None:
    """Append the export-time report.html to a written bundle."""
    append_member(path, REPORT, html.encode("utf-8"))
