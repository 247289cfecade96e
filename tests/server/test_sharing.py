"""Sharing an exhibit with a party state, revoking it, and court/defence access."""

from __future__ import annotations

import json
from typing import Any

from tests.server.helpers import World, create_case, error_code, register_exhibit
from tests.server.testclient import TestClient


def _log_types(client: TestClient, world: World, case_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/cases/{case_id}/log", headers=world.headers("NL", "prosecutor"))
    assert response.status_code == 200
    return [json.loads(line) for line in response.content.splitlines()]


def _scene(client: TestClient, world: World) -> tuple[str, str]:
    case_id = create_case(client, world, parties=("NL", "DE"))
    return case_id, register_exhibit(client, world, case_id, by="NL")


def test_owner_shares_and_revokes_with_custody_entries(client: TestClient, world: World) -> None:
    case_id, exhibit_id = _scene(client, world)
    url = f"/api/cases/{case_id}/exhibits/{exhibit_id}/shares"
    owner = world.headers("NL", "prosecutor")
    shared = client.post(
        url, json={"jurisdiction": "DE", "conditions": "court use only"}, headers=owner
    )
    assert shared.status_code == 201, shared.text
    assert shared.json()["type"] == "exhibit.shared"

    listed = client.get(f"/api/cases/{case_id}/shares", headers=world.headers("DE", "technician"))
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["jurisdiction"] == "DE"
    assert item["conditions"] == "court use only"
    assert item["active"] is True

    again = client.post(url, json={"jurisdiction": "DE", "conditions": ""}, headers=owner)
    assert again.status_code == 409
    assert error_code(again) == "already_shared"

    revoked = client.delete(f"{url}/DE", headers=owner)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["type"] == "exhibit.share_revoked"
    [item] = client.get(url, headers=owner).json()["items"]
    assert item["active"] is False
    assert item["revoked_seq"] == revoked.json()["seq"]

    twice = client.delete(f"{url}/DE", headers=owner)
    assert twice.status_code == 404
    assert error_code(twice) == "share_not_found"

    # Sharing again after a revocation is a new share with new conditions.
    renewed = client.post(url, json={"jurisdiction": "DE", "conditions": "v2"}, headers=owner)
    assert renewed.status_code == 201
    entries = _log_types(client, world, case_id)
    kinds = [(e["type"], e["data"].get("jurisdiction")) for e in entries[-3:]]
    assert kinds == [
        ("exhibit.shared", "DE"),
        ("exhibit.share_revoked", "DE"),
        ("exhibit.shared", "DE"),
    ]
    assert entries[-2]["data"]["conditions"] == "court use only"


def test_another_party_may_not_share_or_revoke_an_exhibit_it_does_not_own(
    client: TestClient, world: World
) -> None:
    case_id, exhibit_id = _scene(client, world)
    url = f"/api/cases/{case_id}/exhibits/{exhibit_id}/shares"
    body = {"jurisdiction": "DE", "conditions": ""}
    attempt = client.post(url, json=body, headers=world.headers("DE", "prosecutor"))
    assert attempt.status_code == 403
    assert error_code(attempt) == "forbidden"
    client.post(url, json=body, headers=world.headers("NL", "prosecutor"))
    undo = client.delete(f"{url}/DE", headers=world.headers("DE", "prosecutor"))
    assert undo.status_code == 403


def test_share_only_with_another_party(client: TestClient, world: World) -> None:
    case_id, exhibit_id = _scene(client, world)
    url = f"/api/cases/{case_id}/exhibits/{exhibit_id}/shares"
    owner = world.headers("NL", "investigator")
    outsider = client.post(url, json={"jurisdiction": "FR", "conditions": ""}, headers=owner)
    assert outsider.status_code == 400
    assert error_code(outsider) == "not_party"
    itself = client.post(url, json={"jurisdiction": "NL", "conditions": ""}, headers=owner)
    assert itself.status_code == 400
    assert error_code(itself) == "share_with_owner"
    bad = client.post(url, json={"jurisdiction": "DE", "extra": 1}, headers=owner)
    assert bad.status_code == 400


def test_court_access_endpoint_grants_like_grants(client: TestClient, world: World) -> None:
    case_id, _ = _scene(client, world)
    judge = world.headers("NL", "judge", sub="judge-7")
    assert client.get(f"/api/cases/{case_id}", headers=judge).status_code == 403
    granted = client.post(
        f"/api/cases/{case_id}/access",
        json={"jurisdiction": "NL", "sub": "judge-7", "role": "judge", "exhibits": None},
        headers=world.headers("NL", "prosecutor"),
    )
    assert granted.status_code == 201, granted.text
    assert granted.json()["type"] == "case.access_granted"
    assert client.get(f"/api/cases/{case_id}/log", headers=judge).status_code == 200
    # A judge reads and changes nothing: no sharing.
    exhibits = client.get(f"/api/cases/{case_id}/exhibits", headers=judge).json()["items"]
    url = f"/api/cases/{case_id}/exhibits/{exhibits[0]['id']}/shares"
    attempt = client.post(url, json={"jurisdiction": "DE", "conditions": ""}, headers=judge)
    assert attempt.status_code == 403


def test_removing_a_party_revokes_its_shares_in_the_log(client: TestClient, world: World) -> None:
    case_id, exhibit_id = _scene(client, world)
    owner = world.headers("NL", "prosecutor")
    url = f"/api/cases/{case_id}/exhibits/{exhibit_id}/shares"
    assert (
        client.post(url, json={"jurisdiction": "DE", "conditions": "c"}, headers=owner).status_code
        == 201
    )
    # DE withdraws (no state removes another).
    removed = client.delete(
        f"/api/cases/{case_id}/parties/DE", headers=world.headers("DE", "prosecutor")
    )
    assert removed.status_code == 200, removed.text
    entries = _log_types(client, world, case_id)
    assert [(e["type"], e["data"].get("jurisdiction")) for e in entries[-2:]] == [
        ("case.party_removed", "DE"),
        ("exhibit.share_revoked", "DE"),
    ]
    assert entries[-1]["data"]["conditions"] == "c"
    # Added back, the state holds no share until the owner shares again.
    back = client.post(f"/api/cases/{case_id}/parties", json={"jurisdiction": "DE"}, headers=owner)
    assert back.status_code in (200, 201), back.text
    [item] = client.get(url, headers=owner).json()["items"]
    assert item["active"] is False
