"""Fetch a case's custody log through the API and verify it with the custody library.

`client` is the test client of an app, or an httpx client of a server process."""

from __future__ import annotations

import httpx

from custody.checkpoint import Checkpoint
from custody.entry import ZERO_HEX, Entry
from custody.merkle import root_from_leaf_hashes
from custody.note import Note, NoteVerifier, open_note


def fetch_and_verify(client: httpx.Client, headers: dict[str, str], case_id: str) -> list[Entry]:
    """Chain (seq, prev, exhibit_prev), times, root and checkpoint signature; the entries."""
    response = client.get(f"/api/cases/{case_id}/log", headers=headers)
    assert response.status_code == 200, response.text
    entries = [Entry.parse(line) for line in response.content.splitlines()]
    exhibit_heads: dict[str, str] = {}
    for seq, entry in enumerate(entries):
        assert entry.case == case_id
        assert entry.seq == seq, f"gap or fork at {seq}"
        assert entry.prev == (entries[seq - 1].leaf_hex() if seq else ZERO_HEX)
        if seq:
            assert entry.time >= entries[seq - 1].time, f"time goes back at {seq}"
        if entry.exhibit is not None:
            assert entry.exhibit_prev == exhibit_heads.get(entry.exhibit, ZERO_HEX)
            exhibit_heads[entry.exhibit] = entry.leaf_hex()
    note = Note.parse(client.get(f"/api/cases/{case_id}/checkpoint", headers=headers).content)
    vkey = client.get("/api/log-key").json()["vkey"]
    case = client.get(f"/api/cases/{case_id}", headers=headers).json()
    open_note(note, NoteVerifier.from_vkey(vkey).for_name(case["origin"]))
    checkpoint = Checkpoint.parse_body(note.text)
    assert checkpoint.origin == case["origin"]
    assert checkpoint.size == len(entries)
    assert checkpoint.root_hash == root_from_leaf_hashes([e.leaf_hash() for e in entries])
    return entries
