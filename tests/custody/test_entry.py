"""Custody entries (spec 2): building, canonical bytes, leaf hashes and strict parsing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from custody.canonical import canonical_bytes
from custody.entry import (
    EVENT_TYPES,
    SYSTEM_ACTOR,
    ZERO_HASH,
    ZERO_HEX,
    Actor,
    Entry,
    format_time,
    make_entry,
)
from custody.errors import EntryFormatError

CASE = "0b6d7a52-3c1e-4f0a-9b8e-2d4c6a8e0f13"
EXHIBIT = "c0ffee00-1111-4222-8333-444455556666"
ACTOR = Actor("NL", "tech-anna", "technician", "jti-1")
WHEN = datetime(2026, 11, 27, 20, 13, 57, 123456, tzinfo=UTC)


def _entry(**overrides: Any) -> Entry:
    fields: dict[str, Any] = {
        "case": CASE,
        "seq": 0,
        "prev": ZERO_HASH,
        "time": WHEN,
        "actor": ACTOR,
        "type": "exhibit.sealed",
        "exhibit": EXHIBIT,
        "exhibit_prev": ZERO_HASH,
        "data": {"reason": "analysis complete"},
    }
    fields.update(overrides)
    return make_entry(**fields)


def test_entry_bytes_are_canonical_and_leaf_hash_is_rfc9162() -> None:
    entry = _entry()
    expected = (
        b'{"actor":{"jurisdiction":"NL","role":"technician","sub":"tech-anna","token":"jti-1"},'
        b'"case":"0b6d7a52-3c1e-4f0a-9b8e-2d4c6a8e0f13","data":{"reason":"analysis complete"},'
        b'"exhibit":"c0ffee00-1111-4222-8333-444455556666","exhibit_prev":"' + b"0" * 64 + b'",'
        b'"prev":"' + b"0" * 64 + b'","seq":0,"time":"2026-11-27T20:13:57.123456Z",'
        b'"type":"exhibit.sealed","v":1}'
    )
    assert entry.canonical_bytes() == expected
    assert entry.leaf_hash() == hashlib.sha256(b"\x00" + expected).digest()
    assert Entry.parse(expected) == entry
    assert Entry.parse(expected).leaf_hash() == entry.leaf_hash()


def test_time_is_utc_with_microseconds_and_z() -> None:
    cet = timezone(timedelta(hours=1))
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=cet)) == "2026-01-02T02:04:05.000000Z"
    with pytest.raises(EntryFormatError, match="timezone-aware"):
        format_time(datetime(2026, 1, 2, 3, 4, 5))


def test_system_actor_has_null_token() -> None:
    entry = _entry(actor=SYSTEM_ACTOR)
    assert entry.to_json()["actor"] == {
        "jurisdiction": "-",
        "sub": "system",
        "role": "system",
        "token": None,
    }


def test_every_spec_event_type_is_known() -> None:
    assert set(EVENT_TYPES) == {
        "case.created",
        "case.party_proposed",
        "case.party_approved",
        "case.party_added",
        "case.party_removed",
        "case.access_granted",
        "case.access_revoked",
        "case.policy_set",
        "exhibit.registered",
        "exhibit.ingested",
        "exhibit.ingest_rejected",
        "exhibit.accessed",
        "exhibit.verified",
        "exhibit.shared",
        "exhibit.share_revoked",
        "exhibit.sealed",
        "exhibit.hold_set",
        "exhibit.hold_released",
        "exhibit.disposed",
        "note.added",
        "export.created",
    }


def test_unknown_event_types_are_kept() -> None:
    entry = _entry(type="exhibit.tagged", data={"tag": "x"})
    assert not entry.known_type
    assert Entry.parse(entry.canonical_bytes()).data == {"tag": "x"}


def test_unknown_data_fields_are_kept() -> None:
    entry = _entry(data={"reason": "r", "extra": [1, 2]})
    assert Entry.parse(entry.canonical_bytes()).data["extra"] == [1, 2]


def _line(**changes: Any) -> bytes:
    obj = _entry().to_json()
    for key, value in changes.items():
        if value is _DELETE:
            del obj[key]
        else:
            obj[key] = value
    return canonical_bytes(obj)


_DELETE = object()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"v": 2}, "v must be 1"),
        ({"seq": -1}, "seq must be a non-negative integer"),
        ({"seq": "0"}, "seq must be"),
        ({"seq": True}, "seq must be"),
        ({"case": CASE.upper()}, "lowercase canonical UUID"),
        ({"prev": "ab" * 31}, "prev must be 64 lowercase hex"),
        ({"prev": "AB" * 32}, "prev must be 64 lowercase hex"),
        ({"seq": 0, "prev": "ab" * 32}, "first entry must be 64 zeros"),
        ({"time": "2026-11-27T20:13:57Z"}, "microseconds"),
        ({"time": "2026-11-27T20:13:57.123456+00:00"}, "microseconds and Z"),
        ({"time": "2026-02-30T20:13:57.123456Z"}, "not a valid date"),
        ({"actor": {"jurisdiction": "NL", "sub": "x", "role": "r"}}, "actor must be an object"),
        (
            {"actor": {"jurisdiction": "", "sub": "x", "role": "r", "token": None}},
            "actor.jurisdiction",
        ),
        ({"actor": {"jurisdiction": "NL", "sub": "x", "role": "r", "token": 5}}, "actor.token"),
        ({"type": ""}, "type must be"),
        ({"exhibit": None}, "exhibit_prev must be null"),
        ({"exhibit_prev": None}, "exhibit_prev must be 64"),
        ({"data": []}, "data must be an object"),
        ({"data": {}}, "data.reason is missing"),
        ({"data": {"reason": 5}}, "data.reason must be a string"),
        ({"extra": 1}, "unknown field"),
        ({"time": _DELETE}, "missing field"),
    ],
)
def test_malformed_entries_name_the_field(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(EntryFormatError, match=reason):
        Entry.parse(_line(**changes))


@pytest.mark.parametrize(
    ("kind", "exhibit", "data", "reason"),
    [
        ("case.created", EXHIBIT, {"title": "t", "parties": [], "agreement": ""}, "exhibit null"),
        ("exhibit.sealed", None, {"reason": "r"}, "must name an exhibit"),
        ("exhibit.accessed", EXHIBIT, {"purpose": "p", "range": [5, 1]}, "range must be"),
        ("exhibit.accessed", EXHIBIT, {"purpose": "p", "range": [0, -1]}, "range must be"),
        (
            "exhibit.ingested",
            EXHIBIT,
            {
                "size": -1,
                "sha256": "0" * 64,
                "blake3": "0" * 64,
                "filename": "f",
                "media_type": "m",
            },
            "data.size",
        ),
        ("exhibit.verified", EXHIBIT, {"ok": 1, "sha256": "0" * 64, "blake3": "0" * 64}, "data.ok"),
        (
            "export.created",
            None,
            {"bundle_sha256": "0" * 64, "exhibits": [], "disclosure": "some", "recipient": "r"},
            "data.disclosure",
        ),
        (
            "case.created",
            None,
            {"title": "t", "parties": ["NL", 1], "agreement": ""},
            "data.parties",
        ),
        # spec 2.1 as revised: the shapes of grants, party changes, holds, notes, policy.
        (
            "case.access_granted",
            None,
            {"jurisdiction": "NL", "sub": "s", "role": "investigator", "exhibits": None},
            r'data.role must be "judge" or "defence"',
        ),
        (
            "case.access_granted",
            None,
            {"jurisdiction": "NL", "sub": "s", "role": "judge"},
            "data.exhibits is missing",
        ),
        (
            "case.access_granted",
            None,
            {"jurisdiction": "NL", "sub": "s", "role": "judge", "exhibits": "all"},
            "data.exhibits must be a list of exhibit ids or null",
        ),
        ("case.party_added", None, {"jurisdiction": "DE"}, "data.proposal is missing"),
        ("case.party_approved", None, {"proposal": "3"}, "data.proposal must be the seq"),
        ("case.party_proposed", EXHIBIT, {"jurisdiction": "DE"}, "exhibit null"),
        ("case.policy_set", None, {"policy": None}, "data.policy must be a string"),
        ("exhibit.hold_set", EXHIBIT, {"reason": "r"}, "data.authority is missing"),
        ("exhibit.hold_released", EXHIBIT, {"reason": "r"}, "data.hold is missing"),
        ("exhibit.hold_released", EXHIBIT, {"reason": "r", "hold": -1}, "data.hold must be"),
        ("note.added", None, {"sha256": "0" * 64}, "data.commitment is missing"),
        ("note.added", EXHIBIT, {"commitment": "A" * 64}, "data.commitment must be 64"),
    ],
)
def test_type_specific_data_is_checked(
    kind: str, exhibit: str | None, data: dict[str, Any], reason: str
) -> None:
    with pytest.raises(EntryFormatError, match=reason):
        _entry(
            type=kind,
            exhibit=exhibit,
            exhibit_prev=None if exhibit is None else ZERO_HASH,
            data=data,
        )


def test_floats_and_big_integers_are_refused_in_data() -> None:
    with pytest.raises(EntryFormatError, match="floating-point"):
        _entry(data={"reason": "r", "score": 0.5})
    with pytest.raises(EntryFormatError, match="2\\^53"):
        _entry(data={"reason": "r", "n": 2**60})


def test_non_canonical_line_is_refused() -> None:
    line = _entry().canonical_bytes().replace(b'"seq":0', b'"seq": 0')
    with pytest.raises(EntryFormatError, match="canonical"):
        Entry.parse(line)


def test_zero_hex_is_64_zeros() -> None:
    assert ZERO_HEX == "0" * 64
    assert _entry().prev == ZERO_HEX


def test_time_with_non_ascii_digits_is_refused() -> None:
    obj = _entry().to_json()
    obj["time"] = obj["time"][:11] + "1\u0660" + obj["time"][13:]  # ARABIC-INDIC DIGIT ZERO
    with pytest.raises(EntryFormatError, match="RFC 3339"):
        Entry.parse(canonical_bytes(obj))


def test_unhashable_case_is_a_finding_not_a_crash() -> None:
    obj = _entry().to_json()
    obj["case"] = []
    with pytest.raises(EntryFormatError, match="case must be"):
        Entry.parse(canonical_bytes(obj))


@pytest.mark.parametrize(
    "value",
    [
        "ab" * 31 + "a b",  # whitespace that bytes.fromhex would skip
        "ab" * 31 + "a\t",  # a tab in place of a digit
        "\u0660" * 64,  # ARABIC-INDIC DIGIT ZERO
        "ab" * 31 + "aB",  # one upper-case digit
        "ab" * 31 + "ag",  # not a hex digit
        "ab" * 32 + "\n",  # a trailing newline
        "0x" + "ab" * 31,
    ],
)
def test_hex_fields_take_only_64_lowercase_hex_digits(value: str) -> None:
    with pytest.raises(EntryFormatError, match="prev must be 64 lowercase hex"):
        Entry.parse(_line(seq=1, prev=value))
    with pytest.raises(EntryFormatError, match="exhibit_prev must be 64 lowercase hex"):
        Entry.parse(_line(exhibit_prev=value))
    with pytest.raises(EntryFormatError, match=r"data\.sha256 must be 64 lowercase hex"):
        _entry(
            type="exhibit.verified",
            data={"ok": True, "sha256": value, "blake3": "ab" * 32},
        )


@pytest.mark.parametrize(
    ("actor", "reason"),
    [
        ({**ACTOR.to_json(), "extra": "x"}, "actor must be an object with"),
        ({**ACTOR.to_json(), "role": ""}, "actor.role must be a non-empty string"),
        ({**ACTOR.to_json(), "token": 7}, "actor.token must be a string or null"),
        ({**ACTOR.to_json(), "sub": ["tech-anna"]}, "actor.sub must be a non-empty string"),
    ],
)
def test_an_actor_seen_before_does_not_vouch_for_a_changed_one(
    actor: dict[str, Any], reason: str
) -> None:
    # Valid actors are remembered by their bytes; a line whose actor differs in any byte
    # from one seen before is checked in full.
    Entry.parse(_entry().canonical_bytes())
    with pytest.raises(EntryFormatError, match=reason):
        Entry.parse(_line(actor=actor))


def test_a_non_canonical_line_gets_its_actor_checked() -> None:
    Entry.parse(_entry().canonical_bytes())
    spaced = _line(actor={**ACTOR.to_json(), "role": 5}).replace(b'"actor":', b'"actor": ')
    with pytest.raises(EntryFormatError, match=r"actor\.role must be"):
        Entry.parse_noncanonical(spaced)
