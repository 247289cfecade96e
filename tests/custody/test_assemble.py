"""The bundle writer (custody.assemble) refuses inputs that could not make a valid bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from custody.assemble import AssemblyError, write_bundle
from custody.merkle import MemoryTree
from tests.custody.golden import generator
from tests.custody.golden.generator import Bundle, policy_for, sign_checkpoint, standard_log


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
            log_size=tree.size,
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
            log_size=tree.size,
        )
