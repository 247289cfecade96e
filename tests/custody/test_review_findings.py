"""Regression tests for the findings of the spec-conformance review (one per attack)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from custody.assemble import AssemblyError, write_bundle
from custody.bundle import Manifest
from custody.canonical import canonical_bytes
from custody.entry import Entry
from custody.errors import EntryFormatError
from custody.merkle import MemoryTree
from custody.verify import verify_bundle
from tests.custody.golden import generator
from tests.custody.golden.generator import (
    NL_INV,
    Bundle,
    policy_for,
    render,
    sign_checkpoint,
    standard_log,
)


def test_time_with_non_ascii_digits_is_refused() -> None:
    entry = standard_log().entries[3]
    obj = entry.to_json()
    obj["time"] = obj["time"][:11] + "1\u0660" + obj["time"][13:]  # ARABIC-INDIC DIGIT ZERO
    with pytest.raises(EntryFormatError, match="RFC 3339"):
        Entry.parse(canonical_bytes(obj))


def test_unhashable_case_is_a_finding_not_a_crash() -> None:
    obj = standard_log().entries[3].to_json()
    obj["case"] = []
    with pytest.raises(EntryFormatError, match="case must be"):
        Entry.parse(canonical_bytes(obj))


def test_selective_bundle_with_a_large_entry_verifies(tmp_path: Path) -> None:
    def extra(log: generator.LogBuilder) -> None:
        log.add(
            NL_INV,
            "note.added",
            generator.PHONE,
            {"sha256": hashlib.sha256(b"x").hexdigest(), "pad": "x" * 800_000},
        )

    bundle = Bundle(
        standard_log(extra=extra).entries,
        disclosure="selective",
        exhibits=[generator.PHONE],
        content={generator.PHONE: generator.PHONE_BYTES},
    )
    path = tmp_path / "big.zip"
    path.write_bytes(render(bundle))
    report = verify_bundle(path)
    assert report.ok, [f.message for f in report.failures()]


def test_writer_refuses_a_bad_created_time(tmp_path: Path) -> None:
    entries = standard_log().entries
    tree = MemoryTree()
    for entry in entries:
        tree.append(entry.leaf_hash())
    bundle = Bundle(entries)
    with pytest.raises(AssemblyError, match="created"):
        write_bundle(
            tmp_path / "b.zip",
            entries=entries,
            checkpoint_note=sign_checkpoint(bundle, tree),
            policy_text=policy_for(bundle),
            created="20 Nov 2026 10:00",
            recipient="r",
            disclosure="full",
            exhibits=None,
            contents={},
            get_node=tree.get_node,
        )


def test_writer_refuses_entries_that_do_not_match_the_checkpoint(tmp_path: Path) -> None:
    entries = standard_log().entries
    tree = MemoryTree()
    for entry in entries[:-1]:
        tree.append(entry.leaf_hash())
    tree.append(bytes(32))
    bundle = Bundle(entries)
    with pytest.raises(AssemblyError, match="Merkle root"):
        write_bundle(
            tmp_path / "b.zip",
            entries=entries,
            checkpoint_note=sign_checkpoint(bundle, tree),
            policy_text=policy_for(bundle),
            created=generator.CREATED,
            recipient="r",
            disclosure="full",
            exhibits=None,
            contents={},
            get_node=tree.get_node,
        )


def test_manifest_created_in_another_format_fails_check_1(tmp_path: Path) -> None:
    members = generator.read_members((generator.GOLDEN_DIR / "valid-full.zip").read_bytes())
    manifest = Manifest.parse(members["jitc-bundle.json"])[0]
    forged = manifest.to_json()
    forged["created"] = "20 Nov 2026 10:00"
    members["jitc-bundle.json"] = canonical_bytes(forged)
    path = tmp_path / "created.zip"
    path.write_bytes(generator.write_members(members))
    report = verify_bundle(path)
    assert report.check("format").status == "fail"
    assert "created" in report.check("format").findings[0].message
