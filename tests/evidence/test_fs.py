"""What only the filesystem store has: file modes, its debris, its advisory retention."""

from __future__ import annotations

import os
import stat
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from evidence._ingest import utc_now
from evidence.fs import FilesystemStore
from evidence.keys import ExhibitKey


@pytest.fixture
def fs_store(tmp_path: Path) -> FilesystemStore:
    store = FilesystemStore(tmp_path)
    store.prepare()
    return store


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def test_stored_objects_are_read_only(fs_store: FilesystemStore, key: ExhibitKey) -> None:
    fs_store.put_stream(key, [b"content"])
    upload_id = uuid.uuid4()
    other = ExhibitKey(key.case_id, uuid.uuid4())
    fs_store.begin_upload(upload_id, other, 3)
    fs_store.append(upload_id, 0, [b"abc"])
    fs_store.finish(upload_id)
    for k in (key, other):
        mode = (fs_store.root / "objects" / k.path).stat().st_mode
        assert stat.S_IMODE(mode) == 0o444


def test_expire_sweeps_bodies_of_killed_writers(fs_store: FilesystemStore) -> None:
    debris = fs_store.root / "tmp" / "put-dead.partial"
    debris.write_bytes(b"half an exhibit")
    crashed_begin = fs_store.root / "uploads" / str(uuid.uuid4())
    crashed_begin.mkdir()
    (crashed_begin / "lock").touch()
    assert fs_store.expire(utc_now() - timedelta(hours=1)) == []
    assert files(fs_store.root) != []
    assert fs_store.expire(utc_now() + timedelta(minutes=1)) == [uuid.UUID(crashed_begin.name)]
    assert files(fs_store.root) == []


def test_foreign_entries_in_uploads_are_left_alone(fs_store: FilesystemStore) -> None:
    (fs_store.root / "uploads" / "README").write_text("not an upload")
    assert fs_store.expire(utc_now() + timedelta(days=1)) == []
    assert files(fs_store.root) == ["uploads/README"]


def test_retention_counts_from_the_object_when_its_date_was_lost(
    tmp_path: Path, key: ExhibitKey
) -> None:
    """A crash between link and sidecar must not make the exhibit disposable early."""
    store = FilesystemStore(tmp_path, retention_days=10)
    store.put_stream(key, [b"x"])
    sidecar = tmp_path / "objects" / f"{key.path}.retain"
    os.unlink(sidecar)
    result = store.dispose(key)
    assert not result.removed
    assert result.retained_until is not None
    assert result.retained_until > utc_now() + timedelta(days=9)


def test_a_range_opened_before_disposal_still_streams(
    fs_store: FilesystemStore, key: ExhibitKey
) -> None:
    # The server logs exhibit.accessed, then streams: the object is opened when the range
    # is, so a disposal in between cannot cut the download short.
    fs_store.put_stream(key, [b"evidence bytes"])
    chunks = fs_store.open_range(key, 0, 7)
    path = fs_store.root / "objects" / key.path
    path.unlink()
    assert b"".join(chunks) == b"evidence"
