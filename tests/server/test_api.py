"""The HTTP API: inputs, outputs, errors and the entries each change appends."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

import pytest
from starlette.routing import Route

from custody.entry import Entry
from custody.merkle import verify_consistency, verify_inclusion
from server.services.workspace import Workspace
from tests.server.helpers import ACQUISITION, World, create_case, error_code, register_exhibit
from tests.server.logcheck import fetch_and_verify
from tests.server.testclient import TestClient

PARTY_EVENTS = (
    "case.party_proposed",
    "case.party_approved",
    "case.party_added",
    "case.party_removed",
)


def _entries(client: TestClient, world: World, case_id: str) -> list[Entry]:
    return fetch_and_verify(client, world.headers("NL", "investigator"), case_id)


# --- cases ------------------------------------------------------------------------------


def test_create_case_appends_case_created(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/cases",
        json={"title": "Operation Tulip", "parties": ["NL", "DE"], "agreement": "JIT-1"},
        headers=world.headers("NL", "prosecutor", sub="p.devries"),
    )
    assert response.status_code == 201
    case_id = response.json()["id"]
    assert str(uuid.UUID(case_id)) == case_id
    assert response.headers["location"] == f"/api/cases/{case_id}"
    # spec 2.1: the case's policy is logged with its creation, in the same transaction.
    entry, policy = _entries(client, world, case_id)
    assert policy.type == "case.policy_set"
    assert entry.type == "case.created"
    assert dict(entry.data) == {
        "title": "Operation Tulip",
        "parties": ["NL", "DE"],
        "agreement": "JIT-1",
    }
    assert entry.actor.jurisdiction == "NL"
    assert entry.actor.sub == "p.devries"
    assert entry.actor.role == "prosecutor"
    assert entry.actor.token is not None
    detail = client.get(f"/api/cases/{case_id}", headers=world.headers("DE", "technician")).json()
    assert detail["parties"] == ["DE", "NL"]
    assert detail["origin"] == f"jitc.test/case/{case_id}"
    assert detail["log_size"] == 2


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"title": "t", "parties": ["DE"]}, "creator_not_party"),
        ({"title": "t", "parties": ["NL", "XX"]}, "unknown_jurisdiction"),
        ({"title": "t", "parties": ["NL", "NL"]}, "invalid_request"),
        ({"title": "t", "parties": []}, "invalid_request"),
        ({"title": "", "parties": ["NL"]}, "invalid_request"),
        ({"parties": ["NL"]}, "invalid_request"),
        ({"title": "t", "parties": ["nl"]}, "invalid_request"),
        ({"title": "t", "parties": ["NL"], "owner": "me"}, "invalid_request"),
        ({"title": "t", "parties": ["NL"], "agreement": 1.5}, "invalid_json"),
        ([1, 2], "invalid_json"),
    ],
)
def test_create_case_bad_input(client: TestClient, world: World, body: Any, code: str) -> None:
    response = client.post("/api/cases", json=body, headers=world.headers("NL", "prosecutor"))
    assert response.status_code == 400, response.text
    assert error_code(response) == code


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"title": "a", "title": "b", "parties": ["NL"]}', b"\xff\xfe", b"NaN", b""],
)
def test_malformed_json_is_a_400(client: TestClient, world: World, raw: bytes) -> None:
    headers = {**world.headers("NL", "prosecutor"), "Content-Type": "application/json"}
    response = client.post("/api/cases", content=raw, headers=headers)
    assert response.status_code == 400
    assert error_code(response) == "invalid_json"


def test_body_must_be_json(client: TestClient, world: World) -> None:
    headers = {**world.headers("NL", "prosecutor"), "Content-Type": "text/plain"}
    response = client.post("/api/cases", content=b"{}", headers=headers)
    assert response.status_code == 415
    assert error_code(response) == "unsupported_media_type"


def test_body_size_limit(client: TestClient, world: World) -> None:
    case_id = create_case(client, world)
    text = "x" * (1024 * 1024 + 1)
    response = client.post(
        f"/api/cases/{case_id}/notes",
        json={"exhibit": None, "text": text},
        headers=world.headers("NL", "investigator"),
    )
    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"


def test_body_size_limit_without_content_length(client: TestClient, world: World) -> None:
    case_id = create_case(client, world)

    def chunks() -> Any:
        yield b'{"exhibit": null, "text": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    headers = {**world.headers("NL", "investigator"), "Content-Type": "application/json"}
    response = client.post(f"/api/cases/{case_id}/notes", content=chunks(), headers=headers)
    assert response.status_code == 413


def test_unknown_and_malformed_case_ids(client: TestClient, world: World) -> None:
    headers = world.headers("NL", "investigator")
    response = client.get(f"/api/cases/{uuid.uuid4()}", headers=headers)
    assert response.status_code == 404
    assert error_code(response) == "case_not_found"
    response = client.get("/api/cases/not-a-uuid", headers=headers)
    assert response.status_code == 400
    assert error_code(response) == "bad_id"
    response = client.post(
        f"/api/cases/{uuid.uuid4()}/notes", json={"exhibit": None, "text": "x"}, headers=headers
    )
    assert response.status_code == 404


def test_case_list_pagination(client: TestClient, world: World) -> None:
    created = [create_case(client, world, title=f"case {i}") for i in range(5)]
    headers = world.headers("NL", "investigator")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/cases", params=params, headers=headers).json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "501"}, {"limit": "x"}, {"cursor": "!!"}]
)
def test_bad_pagination(client: TestClient, world: World, params: dict[str, str]) -> None:
    response = client.get("/api/cases", params=params, headers=world.headers("NL", "prosecutor"))
    assert response.status_code == 400


def test_parties_change_and_are_logged(client: TestClient, world: World) -> None:
    world.add_state("BE")
    case_id = create_case(client, world, parties=("NL",))
    prosecutor = world.headers("NL", "prosecutor")
    be = world.headers("BE", "investigator")
    assert client.get(f"/api/cases/{case_id}", headers=be).status_code == 403
    # A case with one party: the proposal needs no other consent and adds at once.
    added = client.post(
        f"/api/cases/{case_id}/parties", json={"jurisdiction": "BE"}, headers=prosecutor
    )
    assert added.status_code == 201
    proposal = added.json()["proposal"]
    assert added.json() == {"proposal": proposal, "added": proposal + 1, "jurisdiction": "BE"}
    assert client.get(f"/api/cases/{case_id}", headers=be).status_code == 200
    again = client.post(
        f"/api/cases/{case_id}/parties", json={"jurisdiction": "BE"}, headers=prosecutor
    )
    assert again.status_code == 409
    # No state removes another: BE cannot evict NL.
    evicted = client.delete(
        f"/api/cases/{case_id}/parties/NL", headers=world.headers("BE", "prosecutor")
    )
    assert evicted.status_code == 403
    assert error_code(evicted) == "remove_other_state"
    withdrawn = client.delete(f"/api/cases/{case_id}/parties/NL", headers=prosecutor)
    assert withdrawn.status_code == 200
    last = client.delete(
        f"/api/cases/{case_id}/parties/BE", headers=world.headers("BE", "prosecutor")
    )
    assert last.status_code == 409
    assert error_code(last) == "last_party"
    entries = [e for e in fetch_and_verify(client, be, case_id) if e.type in PARTY_EVENTS]
    assert [(e.type, e.data.get("jurisdiction")) for e in entries] == [
        ("case.party_proposed", "BE"),
        ("case.party_added", "BE"),
        ("case.party_removed", "NL"),
    ]
    assert entries[1].data["proposal"] == proposal == entries[0].seq


def test_grants_are_logged(client: TestClient, world: World) -> None:
    case_id = create_case(client, world)
    prosecutor = world.headers("DE", "prosecutor")
    grant = {"jurisdiction": "DE", "sub": "judge-1", "role": "judge"}
    assert (
        client.post(f"/api/cases/{case_id}/grants", json=grant, headers=prosecutor).status_code
        == 201
    )
    assert (
        client.post(f"/api/cases/{case_id}/grants", json=grant, headers=prosecutor).status_code
        == 409
    )
    bad = client.post(
        f"/api/cases/{case_id}/grants",
        json={**grant, "role": "investigator"},
        headers=prosecutor,
    )
    assert bad.status_code == 400
    assert error_code(bad) == "role_not_grantable"
    revoked = client.post(f"/api/cases/{case_id}/grants/revoke", json=grant, headers=prosecutor)
    assert revoked.status_code == 200
    missing = client.post(f"/api/cases/{case_id}/grants/revoke", json=grant, headers=prosecutor)
    assert missing.status_code == 404
    entries = [e for e in _entries(client, world, case_id) if e.type != "case.policy_set"]
    assert [e.type for e in entries] == [
        "case.created",
        "case.access_granted",
        "case.access_revoked",
    ]
    assert dict(entries[1].data) == {**grant, "exhibits": None}


# --- exhibits and notes -----------------------------------------------------------------


def test_exhibit_lifecycle_chains_its_entries(client: TestClient, world: World) -> None:
    case_id = create_case(client, world)
    exhibit_id = register_exhibit(client, world, case_id, by="NL")
    other = register_exhibit(client, world, case_id, by="DE", label="Phone")
    base = f"/api/cases/{case_id}/exhibits/{exhibit_id}"
    investigator = world.headers("NL", "technician")
    prosecutor = world.headers("DE", "prosecutor")
    assert (
        client.post(base + "/seal", json={"reason": "imaged"}, headers=investigator).status_code
        == 200
    )
    assert (
        client.post(base + "/seal", json={"reason": "again"}, headers=investigator).status_code
        == 409
    )
    first = client.post(
        base + "/hold", json={"reason": "order 1", "authority": "Rb 1"}, headers=prosecutor
    )
    assert first.status_code == 200
    held = first.json()["seq"]
    assert first.json() == {"hold": held, "seq": held, "type": "exhibit.hold_set"}
    # Several holds may be open; each is released by the seq that names it.
    second = client.post(
        base + "/hold", json={"reason": "order 2", "authority": "Rb 2"}, headers=prosecutor
    )
    assert second.status_code == 200
    holds = client.get(base, headers=prosecutor).json()["holds"]
    assert [(h["hold"], h["jurisdiction"], h["authority"]) for h in holds] == [
        (held, "DE", "Rb 1"),
        (second.json()["hold"], "DE", "Rb 2"),
    ]
    for hold in (held, second.json()["hold"]):
        released = client.post(
            base + "/hold/release", json={"reason": "over", "hold": hold}, headers=prosecutor
        )
        assert released.status_code == 200
        assert released.json()["hold"] == hold
    note = client.post(
        f"/api/cases/{case_id}/notes",
        json={"exhibit": exhibit_id, "text": "Screen cracked on arrival."},
        headers=investigator,
    )
    assert note.status_code == 201
    salt = bytes.fromhex(note.json()["salt"])
    assert len(salt) == 32
    digest = hashlib.sha256(salt + b"Screen cracked on arrival.").hexdigest()
    assert note.json()["commitment"] == digest

    view = client.get(base, headers=world.headers("DE", "investigator")).json()
    assert view["owner"] == "NL"
    assert view["sealed"] is True
    assert view["legal_hold"] is False
    assert view["acquisition"] == ACQUISITION

    entries = _entries(client, world, case_id)
    mine = [e for e in entries if e.exhibit == exhibit_id]
    assert [e.type for e in mine] == [
        "exhibit.registered",
        "exhibit.sealed",
        "exhibit.hold_set",
        "exhibit.hold_set",
        "exhibit.hold_released",
        "exhibit.hold_released",
        "note.added",
    ]
    assert dict(mine[0].data) == {
        "label": "Laptop",
        "owner": "NL",
        "description": "seized",
        "acquisition": ACQUISITION,
    }
    # The log holds the salted commitment, never the salt nor the plain text's hash.
    assert dict(mine[-1].data) == {"commitment": digest}
    plain = hashlib.sha256(b"Screen cracked on arrival.").hexdigest()
    assert plain not in str([e.data for e in entries])
    assert salt.hex() not in str(entries)
    assert [e.exhibit for e in entries].count(other) == 1

    notes = client.get(f"/api/cases/{case_id}/notes", headers=investigator).json()["items"]
    assert notes[0]["text"] == "Screen cracked on arrival."
    assert (notes[0]["salt"], notes[0]["commitment"]) == (salt.hex(), digest)


@pytest.mark.parametrize(
    "acquisition",
    [
        None,
        {"tool": "x", "operator": "y"},
        {**ACQUISITION, "time": "yesterday"},
        {**ACQUISITION, "time": "2026-11-20T09:15:00"},
        {**ACQUISITION, "hashes": {"sha256": "XYZ"}},
        {**ACQUISITION, "hashes": ["ab" * 32]},
        {**ACQUISITION, "note": {"nested": "object"}},
    ],
)
def test_bad_acquisition(client: TestClient, world: World, acquisition: Any) -> None:
    case_id = create_case(client, world)
    response = client.post(
        f"/api/cases/{case_id}/exhibits",
        json={"label": "x", "acquisition": acquisition},
        headers=world.headers("NL", "investigator"),
    )
    assert response.status_code == 400, response.text


def test_note_on_unknown_exhibit(client: TestClient, world: World) -> None:
    case_id = create_case(client, world)
    response = client.post(
        f"/api/cases/{case_id}/notes",
        json={"exhibit": str(uuid.uuid4()), "text": "x"},
        headers=world.headers("NL", "investigator"),
    )
    assert response.status_code == 404
    assert error_code(response) == "exhibit_not_found"
    assert len(_entries(client, world, case_id)) == 2  # case.created, case.policy_set


def test_exhibit_list_pagination(client: TestClient, world: World) -> None:
    case_id = create_case(client, world)
    created = {register_exhibit(client, world, case_id, label=f"e{i}") for i in range(5)}
    headers = world.headers("DE", "investigator")
    first = client.get(
        f"/api/cases/{case_id}/exhibits", params={"limit": 3}, headers=headers
    ).json()
    second = client.get(
        f"/api/cases/{case_id}/exhibits",
        params={"limit": 3, "cursor": first["next_cursor"]},
        headers=headers,
    ).json()
    assert second["next_cursor"] is None
    assert {e["id"] for e in first["items"] + second["items"]} == created


# --- the log, checkpoints and proofs ----------------------------------------------------


def test_log_ranges(client: TestClient, world: World) -> None:
    case_id = create_case(client, world)
    for i in range(4):
        register_exhibit(client, world, case_id, label=f"e{i}")
    headers = world.headers("NL", "investigator")
    response = client.get(f"/api/cases/{case_id}/log", params={"from": 1, "to": 3}, headers=headers)
    assert response.headers["content-type"].startswith("application/jsonl")
    assert [Entry.parse(line).seq for line in response.content.splitlines()] == [1, 2]
    assert response.headers["jitc-log-size"] == "6"
    beyond = client.get(f"/api/cases/{case_id}/log", params={"from": 3, "to": 99}, headers=headers)
    assert [Entry.parse(line).seq for line in beyond.content.splitlines()] == [3, 4, 5]
    for params in ({"from": 7}, {"from": 3, "to": 2}, {"from": "-1"}, {"to": "x"}):
        bad = client.get(f"/api/cases/{case_id}/log", params=params, headers=headers)
        assert bad.status_code == 400, params


def test_proofs_verify_at_every_size(client: TestClient, world: World) -> None:
    case_id = create_case(client, world)
    for i in range(8):
        register_exhibit(client, world, case_id, label=f"e{i}")
    headers = world.headers("NL", "investigator")
    entries = _entries(client, world, case_id)
    roots: dict[int, bytes] = {}
    for size in range(1, len(entries) + 1):
        for seq in range(size):
            proof = client.get(
                f"/api/cases/{case_id}/proof/inclusion",
                params={"seq": seq, "size": size},
                headers=headers,
            ).json()
            root = bytes.fromhex(proof["root"])
            roots[size] = root
            assert proof["leaf_hash"] == entries[seq].leaf_hex()
            verify_inclusion(
                entries[seq].leaf_hash(),
                seq,
                size,
                [bytes.fromhex(h) for h in proof["proof"]],
                root,
            )
    for old in range(1, len(entries) + 1):
        for new in range(old, len(entries) + 1):
            proof = client.get(
                f"/api/cases/{case_id}/proof/consistency",
                params={"from": old, "to": new},
                headers=headers,
            ).json()
            verify_consistency(
                old, new, roots[old], roots[new], [bytes.fromhex(h) for h in proof["proof"]]
            )


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("inclusion", {"seq": 2, "size": 2}),
        ("inclusion", {"seq": 0, "size": 9}),
        ("inclusion", {"size": 1}),
        ("consistency", {"from": 0, "to": 1}),
        ("consistency", {"from": 2, "to": 1}),
        ("consistency", {"from": 1, "to": 9}),
    ],
)
def test_bad_proof_requests(
    client: TestClient, world: World, path: str, params: dict[str, int]
) -> None:
    case_id = create_case(client, world)
    register_exhibit(client, world, case_id)
    response = client.get(
        f"/api/cases/{case_id}/proof/{path}",
        params=params,
        headers=world.headers("NL", "investigator"),
    )
    assert response.status_code == 400
    assert error_code(response) == "bad_range"


def test_log_key(client: TestClient) -> None:
    body = client.get("/api/log-key").json()
    assert body["name"] == "jitc.test"
    assert body["vkey"].startswith("jitc.test+")


# --- errors, OpenAPI, no bench endpoint --------------------------------------------------


def test_unknown_route_and_method_are_json(client: TestClient) -> None:
    missing = client.get("/api/nothing")
    assert missing.status_code == 404
    assert error_code(missing) == "not_found"
    wrong = client.put("/api/cases")
    assert wrong.status_code == 405
    assert error_code(wrong) == "method_not_allowed"


def test_unexpected_errors_are_a_json_500_without_details(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.services import cases

    def broken(*_args: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(cases, "list_cases", broken)
    response = client.get("/api/cases", headers=world.headers("NL", "judge"))
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "internal server error"}
    }


def test_openapi_describes_every_endpoint(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    routes = client.app.routes  # type: ignore[attr-defined]
    served = {
        (m.lower(), r.path)
        for r in routes
        if isinstance(r, Route) and r.include_in_schema
        for m in (r.methods or ())
        if m != "HEAD" or "GET" not in (r.methods or ())  # Starlette adds HEAD to each GET
    }
    described = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert served == described
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["summary"], (method, path)
            # a token's refusal is described where a token is asked for, and only there
            assert ("401" in operation["responses"]) == ("security" in operation), (method, path)


def test_the_production_app_serves_no_bench_endpoint(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The switches that once exposed them (bench/app.py serves them now) change nothing.
    monkeypatch.setenv("JITC_BENCH_PLAIN_INSERT", "1")
    monkeypatch.setenv("JITC_BENCH_DISCARD", "1")
    case_id = create_case(client, world)
    plain = client.post(
        f"/api/bench/cases/{case_id}/exhibits",
        json={"label": "x", "acquisition": dict(ACQUISITION)},
        headers=world.headers("NL", "investigator"),
    )
    assert plain.status_code == 404
    discard = client.put(
        "/api/bench/discard", content=b"x" * 1000, headers=world.headers("NL", "technician")
    )
    assert discard.status_code == 404
    assert not [r for r in client.app.routes if "/bench/" in r.path]  # type: ignore[attr-defined]
    assert len(_entries(client, world, case_id)) == 2  # case.created, case.policy_set


def test_checkpoint_carries_stored_cosignatures(
    client: TestClient, world: World, workspace: Workspace
) -> None:
    from datetime import UTC, datetime

    from custody.cosignature import CosignatureSigner
    from custody.note import Note
    from server.models import CheckpointCosignature, table

    case_id = create_case(client, world)
    headers = world.headers("NL", "investigator")
    note = Note.parse(client.get(f"/api/cases/{case_id}/checkpoint", headers=headers).content)
    witness = CosignatureSigner.generate("witness.nl")
    line = witness.cosign(note.text, 1_800_000_000).line()
    with workspace.engine.begin() as conn:
        conn.execute(
            table(CheckpointCosignature)
            .insert()
            .values(
                case_id=case_id,
                size=2,
                key_name="witness.nl",
                line=line,
                received_at=datetime.now(UTC),
            )
        )
    cosigned = Note.parse(client.get(f"/api/cases/{case_id}/checkpoint", headers=headers).content)
    assert cosigned.text == note.text
    assert [s.name for s in cosigned.signatures] == [note.signatures[0].name, "witness.nl"]
    assert json.dumps(cosigned.to_bytes().decode()).count("witness.nl") == 1


def _cursor(parts: list[object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor(["2020-01-01T00:00:00+00:00", "a\u0000"]),
        _cursor(["2020-01-01T00:00:00+00:00", "not-a-uuid"]),
    ],
)
def test_forged_case_list_cursor_is_a_400(client: TestClient, world: World, cursor: str) -> None:
    response = client.get(
        "/api/cases", params={"cursor": cursor}, headers=world.headers("NL", "investigator")
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("value", [10**30, -1])
def test_out_of_range_integer_cursor_is_a_400(client: TestClient, world: World, value: int) -> None:
    case_id = create_case(client, world)
    response = client.get(
        f"/api/cases/{case_id}/notes",
        params={"cursor": _cursor([value])},
        headers=world.headers("NL", "investigator"),
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(
    ("acquisition", "message"),
    [
        ({"tool": "UFED", "operator": "anna"}, "acquisition.time must be a string"),
        (
            {"tool": "UFED", "operator": "anna", "time": "2026-11-01T10:00:00Z", "x" * 65: "v"},
            "bad field name",
        ),
    ],
)
def test_acquisition_errors_name_the_field(
    client: TestClient, world: World, acquisition: dict[str, str], message: str
) -> None:
    case_id = create_case(client, world)
    response = client.post(
        f"/api/cases/{case_id}/exhibits",
        json={"label": "NL-1", "description": "", "acquisition": acquisition},
        headers=world.headers("NL", "technician"),
    )
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_a_log_read_stops_at_its_byte_cap_and_says_where(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.services import log_read

    case_id = create_case(client, world)
    for i in range(5):
        response = client.post(
            f"/api/cases/{case_id}/notes",
            json={"exhibit": None, "text": f"note {i}"},
            headers=world.headers("NL", "investigator"),
        )
        assert response.status_code == 201
    monkeypatch.setattr(log_read, "MAX_READ_BYTES", 1500)
    page = client.get(f"/api/cases/{case_id}/log", headers=world.headers("NL", "investigator"))
    assert page.status_code == 200
    lines = page.content.splitlines()
    assert 1 <= len(lines) < 7
    assert page.headers["jitc-log-end"] == str(len(lines))
    assert page.headers["jitc-log-size"] == "7"
    rest = client.get(
        f"/api/cases/{case_id}/log",
        params={"from": len(lines)},
        headers=world.headers("NL", "investigator"),
    )
    assert rest.content.splitlines()[0] != lines[-1]


def test_times_come_back_with_their_zone_on_every_database(
    client: TestClient, world: World
) -> None:
    case_id = create_case(client, world)
    body = client.get(f"/api/cases/{case_id}", headers=world.headers("NL", "investigator"))
    created = body.json()["created_at"]
    assert created.endswith(("+00:00", "Z")), created
