"""Court bundles in the evidence store (ADR 0039), on both stores: written once, read by
range, listed, removable; and never mistaken for evidence."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from evidence.errors import (
    InvalidKeyError,
    ObjectExistsError,
    ObjectNotFoundError,
    RangeNotSatisfiableError,
)
from evidence.keys import BundleKey, bundle_key, exhibit_key
from tests.evidence.support import Harness, pattern


def _scratch(tmp_path: Path, data: bytes, name: str = "bundle.zip.part") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_bundle_is_stored_once_and_read_by_range(harness: Harness, tmp_path: Path) -> None:
    store = harness.store
    data = pattern(6 * 1024 * 1024 + 17)  # more than one part on S3
    key = bundle_key(uuid.uuid4(), uuid.uuid4())
    assert store.put_bundle(key, _scratch(tmp_path, data)) == len(data)
    assert store.bundle_size(key) == len(data)
    assert b"".join(store.open_bundle(key)) == data
    assert b"".join(store.open_bundle(key, 1000, None)) == data[1000:]  # a resumed download
    assert b"".join(store.open_bundle(key, 5, 9)) == data[5:10]
    assert b"".join(store.open_bundle(key, None, 4)) == data[-4:]
    with pytest.raises(RangeNotSatisfiableError):
        store.open_bundle(key, len(data), None)
    other = _scratch(tmp_path, b"something else", "other.zip.part")
    with pytest.raises(ObjectExistsError):
        store.put_bundle(key, other)
    assert b"".join(store.open_bundle(key)) == data  # never overwritten


def test_bundles_are_listed_by_case_and_removable(harness: Harness, tmp_path: Path) -> None:
    store = harness.store
    case_a, case_b = uuid.uuid4(), uuid.uuid4()
    keys_a = sorted((bundle_key(case_a, uuid.uuid4()) for _ in range(2)), key=lambda k: k.path)
    key_b = bundle_key(case_b, uuid.uuid4())
    for n, key in enumerate([*keys_a, key_b]):
        store.put_bundle(key, _scratch(tmp_path, key.path.encode(), f"{n}.part"))
    assert list(store.list_bundles(case_a)) == keys_a
    assert list(store.list_bundles()) == sorted([*keys_a, key_b], key=lambda k: k.path)
    store.remove_bundle(key_b)
    store.remove_bundle(key_b)  # idempotent
    assert list(store.list_bundles(case_b)) == []
    with pytest.raises(ObjectNotFoundError):
        store.bundle_size(key_b)
    with pytest.raises(ObjectNotFoundError):
        store.open_bundle(key_b)


def test_bundles_are_not_evidence(harness: Harness, tmp_path: Path) -> None:
    store = harness.store
    case_id, export_id = uuid.uuid4(), uuid.uuid4()
    store.put_bundle(bundle_key(case_id, export_id), _scratch(tmp_path, b"zip"))
    assert list(store.list_objects(case_id)) == []
    assert not store.exists(exhibit_key(case_id, export_id))
    store.put_stream(exhibit_key(case_id, export_id), [b"content"])  # no collision
    assert list(store.list_bundles(case_id)) == [bundle_key(case_id, export_id)]


def test_the_scratch_file_may_go_once_stored(harness: Harness, tmp_path: Path) -> None:
    store = harness.store
    key = bundle_key(uuid.uuid4(), uuid.uuid4())
    scratch = _scratch(tmp_path, b"bundle bytes")
    store.put_bundle(key, scratch)
    scratch.unlink()  # the writer removes its scratch name; the stored bundle stays
    assert b"".join(store.open_bundle(key)) == b"bundle bytes"


def test_bundle_keys_are_canonical() -> None:
    case_id, export_id = uuid.uuid4(), uuid.uuid4()
    key = bundle_key(case_id, export_id)
    assert key.path == f"bundles/{case_id}/{export_id}.zip"
    assert BundleKey.parse(key.path) == key
    for bad in (f"bundles/{case_id}/../{export_id}.zip", f"cases/{case_id}/exhibits/{export_id}"):
        with pytest.raises(InvalidKeyError):
            BundleKey.parse(bad)
    with pytest.raises(InvalidKeyError):
        bundle_key(str(case_id).upper(), export_id)
