"""Object keys: built in one place, from canonical UUIDs only, so none can escape its case."""

from __future__ import annotations

import uuid

import pytest

from evidence.errors import InvalidKeyError
from evidence.keys import ExhibitKey, exhibit_key, parse_id

CASE = "0b9d4f0e-3c1a-4a57-9a36-4f0c2d6e8b11"
EXHIBIT = "6f1c2b3a-9d8e-4f70-8a61-52b4c3d2e1f0"


def test_key_layout() -> None:
    key = exhibit_key(CASE, EXHIBIT)
    assert key.path == f"cases/{CASE}/exhibits/{EXHIBIT}"
    assert str(key) == key.path
    assert ExhibitKey.parse(key.path) == key
    assert exhibit_key(uuid.UUID(CASE), uuid.UUID(EXHIBIT)) == key


@pytest.mark.parametrize(
    "bad_id",
    [
        "../../etc/passwd",
        "..",
        "",
        CASE.upper(),  # spec 1: lowercase canonical form
        "{" + CASE + "}",
        "urn:uuid:" + CASE,
        CASE.replace("-", ""),
        CASE + "/",
        CASE + "\x00",
        " " + CASE,
    ],
)
def test_non_canonical_ids_are_refused(bad_id: str) -> None:
    with pytest.raises(InvalidKeyError):
        exhibit_key(bad_id, EXHIBIT)
    with pytest.raises(InvalidKeyError):
        exhibit_key(CASE, bad_id)
    with pytest.raises(InvalidKeyError):
        parse_id(bad_id)


@pytest.mark.parametrize(
    "path",
    [
        f"cases/{CASE}/exhibits/{EXHIBIT}/../../other",
        f"/cases/{CASE}/exhibits/{EXHIBIT}",
        f"cases/{CASE}/exhibits/{EXHIBIT}/",
        f"cases/{CASE}/uploads/{EXHIBIT}",
        f"cases/{CASE}/exhibits/{EXHIBIT.upper()}",
        f"cases/{CASE}//exhibits/{EXHIBIT}",
    ],
)
def test_key_paths_that_could_escape_do_not_parse(path: str) -> None:
    with pytest.raises(InvalidKeyError):
        ExhibitKey.parse(path)


def test_key_holds_only_uuids() -> None:
    with pytest.raises(InvalidKeyError):
        ExhibitKey("../x", uuid.uuid4())  # type: ignore[arg-type]
