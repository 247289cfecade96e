"""The vertical slice: create a case, register an exhibit, read and verify the log."""

from __future__ import annotations

import base64

from custody.checkpoint import Checkpoint
from custody.entry import Entry
from custody.merkle import root_from_leaf_hashes, verify_consistency, verify_inclusion
from custody.note import Note, NoteVerifier, open_note
from tests.server.helpers import World, create_case, register_exhibit
from tests.server.testclient import TestClient


def test_case_exhibit_log_checkpoint(client: TestClient, world: World) -> None:
    case_id = create_case(client, world)
    exhibit_id = register_exhibit(client, world, case_id)
    headers = world.headers("DE", "investigator")

    log = client.get(f"/api/cases/{case_id}/log", headers=headers)
    assert log.status_code == 200, log.text
    lines = log.content.splitlines()
    entries = [Entry.parse(line) for line in lines]
    assert [e.type for e in entries] == ["case.created", "case.policy_set", "exhibit.registered"]
    assert entries[2].exhibit == exhibit_id
    assert entries[2].prev == entries[1].leaf_hex()

    vkey = client.get("/api/log-key").json()["vkey"]
    note = Note.parse(client.get(f"/api/cases/{case_id}/checkpoint", headers=headers).content)
    origin = f"jitc.test/case/{case_id}"
    open_note(note, NoteVerifier.from_vkey(vkey).for_name(origin))
    checkpoint = Checkpoint.parse_body(note.text)
    assert checkpoint.origin == origin
    assert checkpoint.size == 3
    assert checkpoint.root_hash == root_from_leaf_hashes([e.leaf_hash() for e in entries])

    proof = client.get(
        f"/api/cases/{case_id}/proof/inclusion", params={"seq": 2, "size": 3}, headers=headers
    ).json()
    verify_inclusion(
        entries[2].leaf_hash(),
        2,
        3,
        [bytes.fromhex(h) for h in proof["proof"]],
        checkpoint.root_hash,
    )
    consistency = client.get(
        f"/api/cases/{case_id}/proof/consistency", params={"from": 2, "to": 3}, headers=headers
    ).json()
    verify_consistency(
        2,
        3,
        bytes.fromhex(consistency["from_root"]),
        checkpoint.root_hash,
        [bytes.fromhex(h) for h in consistency["proof"]],
    )
    assert base64.b64encode(checkpoint.root_hash).decode() in note.text
