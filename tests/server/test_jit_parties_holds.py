"""Parties by consent and holds by seq (spec 2.1, check 7), on SQLite and PostgreSQL.

A state joins once every state that was a party when it was proposed has consented; no
state removes another (it withdraws itself). A hold is released only by the state that set
it (a judge's hold only by a judge of that state); disposal waits for every open hold."""

from __future__ import annotations

import json
from typing import Any

from custody.replay import replay
from tests.server.helpers import World, create_case, error_code, register_exhibit
from tests.server.logcheck import fetch_and_verify
from tests.server.testclient import TestClient


def _log(client: TestClient, world: World, case: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/cases/{case}/log", headers=world.headers("NL", "prosecutor"))
    assert response.status_code == 200
    return [json.loads(line) for line in response.content.splitlines()]


# --- parties -----------------------------------------------------------------------------


def test_a_party_joins_once_every_party_consents(client: TestClient, world: World) -> None:
    world.add_state("BE")
    case = create_case(client, world, parties=("NL", "DE", "FR"))
    base = f"/api/cases/{case}/parties"
    proposed = client.post(
        base, json={"jurisdiction": "BE"}, headers=world.headers("NL", "prosecutor")
    )
    assert proposed.status_code == 202
    seq = proposed.json()["proposal"]
    assert proposed.json() == {"proposal": seq, "pending": ["DE", "FR"]}
    shown = client.get(f"/api/cases/{case}", headers=world.headers("DE", "investigator")).json()
    assert [
        (p["seq"], p["jurisdiction"], p["proposed_by"], p["pending"]) for p in shown["proposals"]
    ] == [(seq, "BE", "NL", ["DE", "FR"])]
    assert shown["parties"] == ["DE", "FR", "NL"]
    approve = f"{base}/proposals/{seq}/approve"
    # The proposer's state consented by proposing; other roles and strangers may not.
    assert client.post(approve, headers=world.headers("NL", "prosecutor")).status_code == 403
    assert client.post(approve, headers=world.headers("DE", "investigator")).status_code == 403
    assert client.post(approve, headers=world.headers("BE", "prosecutor")).status_code == 403
    first = client.post(approve, headers=world.headers("DE", "prosecutor"))
    assert first.status_code == 202
    assert first.json()["pending"] == ["FR"]
    again = client.post(approve, headers=world.headers("DE", "prosecutor"))
    assert again.status_code == 409
    assert error_code(again) == "already_consented"
    be = world.headers("BE", "investigator")
    assert client.get(f"/api/cases/{case}", headers=be).status_code == 403
    last = client.post(approve, headers=world.headers("FR", "prosecutor"))
    assert last.status_code == 201
    added = last.json()
    assert (added["proposal"], added["jurisdiction"]) == (seq, "BE")
    assert client.get(f"/api/cases/{case}", headers=be).status_code == 200
    shown = client.get(f"/api/cases/{case}", headers=be).json()
    assert shown["proposals"] == []
    assert "BE" in shown["parties"]
    gone = client.post(approve, headers=world.headers("FR", "prosecutor"))
    assert gone.status_code == 404
    entries = fetch_and_verify(client, be, case)
    # (case.policy_set entries, if the new party's witness changes the policy, aside)
    tail = [(e.seq, e.type, dict(e.data)) for e in entries[1:] if e.type.startswith("case.party")]
    assert tail == [
        (seq, "case.party_proposed", {"jurisdiction": "BE"}),
        (seq + 1, "case.party_approved", {"proposal": seq}),
        (seq + 2, "case.party_approved", {"proposal": seq}),
        (added["added"], "case.party_added", {"jurisdiction": "BE", "proposal": seq}),
    ]
    # In the transaction of the last consent: right after it.
    assert added["added"] == seq + 3
    assert replay(entries).violations == ()


def test_no_state_is_evicted_by_another(client: TestClient, world: World) -> None:
    case = create_case(client, world, parties=("NL", "DE"))
    exhibit = register_exhibit(client, world, case, by="NL")
    before = _log(client, world, case)
    for role in ("prosecutor", "investigator", "judge"):
        evicted = client.delete(f"/api/cases/{case}/parties/NL", headers=world.headers("DE", role))
        assert evicted.status_code == 403, role
    assert _log(client, world, case) == before
    parties = client.get(f"/api/cases/{case}", headers=world.headers("NL", "prosecutor"))
    assert parties.json()["parties"] == ["DE", "NL"]
    # NL still governs its evidence: it shares and revokes as before.
    shares = f"/api/cases/{case}/exhibits/{exhibit}/shares"
    nl = world.headers("NL", "prosecutor")
    assert client.post(shares, json={"jurisdiction": "DE", "conditions": ""}, headers=nl).is_success
    assert client.delete(f"{shares}/DE", headers=nl).status_code == 200


def test_a_withdrawing_state_ends_its_shares_and_the_grants_it_gave(
    client: TestClient, world: World
) -> None:
    case = create_case(client, world, parties=("NL", "DE"))
    exhibit = register_exhibit(client, world, case, by="NL")
    nl = world.headers("NL", "prosecutor")
    de = world.headers("DE", "prosecutor")
    shared = client.post(
        f"/api/cases/{case}/exhibits/{exhibit}/shares",
        json={"jurisdiction": "DE", "conditions": "c"},
        headers=nl,
    )
    assert shared.status_code == 201
    grant = {"jurisdiction": "DE", "sub": "richter", "role": "judge"}
    assert client.post(f"/api/cases/{case}/access", json=grant, headers=de).status_code == 201
    withdrawn = client.delete(f"/api/cases/{case}/parties/DE", headers=de)
    assert withdrawn.status_code == 200
    shown = client.get(f"/api/cases/{case}", headers=nl).json()
    assert (shown["parties"], shown["grants"]) == (["NL"], [])
    tail = [(e["type"], e["data"].get("jurisdiction")) for e in _log(client, world, case)[-3:]]
    assert tail == [
        ("case.party_removed", "DE"),
        ("exhibit.share_revoked", "DE"),
        ("case.access_revoked", "DE"),
    ]
    judge = world.headers("DE", "judge", sub="richter")
    assert client.get(f"/api/cases/{case}", headers=judge).status_code == 403
    last = client.delete(f"/api/cases/{case}/parties/NL", headers=nl)
    assert last.status_code == 409
    assert error_code(last) == "last_party"


def test_proposals_refuse_what_makes_no_sense(client: TestClient, world: World) -> None:
    case = create_case(client, world, parties=("NL", "DE"))
    nl = world.headers("NL", "prosecutor")
    base = f"/api/cases/{case}/parties"
    assert client.post(base, json={"jurisdiction": "DE"}, headers=nl).status_code == 409
    assert client.post(base, json={"jurisdiction": "XX"}, headers=nl).status_code == 400
    assert client.post(base, json={"jurisdiction": "FR"}, headers=nl).status_code == 202
    twice = client.post(
        base, json={"jurisdiction": "FR"}, headers=world.headers("DE", "prosecutor")
    )
    assert twice.status_code == 409
    assert error_code(twice) == "already_proposed"
    assert client.post(f"{base}/proposals/0/approve", headers=nl).status_code == 404


def test_a_state_that_joined_after_a_proposal_is_not_asked(
    client: TestClient, world: World
) -> None:
    world.add_state("BE")
    case = create_case(client, world, parties=("NL", "DE"))
    base = f"/api/cases/{case}/parties"
    nl, de = world.headers("NL", "prosecutor"), world.headers("DE", "prosecutor")
    for_fr = client.post(base, json={"jurisdiction": "FR"}, headers=nl).json()["proposal"]
    for_be = client.post(base, json={"jurisdiction": "BE"}, headers=nl).json()["proposal"]
    assert client.post(f"{base}/proposals/{for_be}/approve", headers=de).status_code == 201
    late = client.post(
        f"{base}/proposals/{for_fr}/approve", headers=world.headers("BE", "prosecutor")
    )
    assert late.status_code == 403
    assert error_code(late) == "consent_not_needed"
    # DE's consent completes it: BE's was never required.
    assert client.post(f"{base}/proposals/{for_fr}/approve", headers=de).status_code == 201


# --- holds -------------------------------------------------------------------------------


def _held_case(client: TestClient, world: World) -> tuple[str, str, str]:
    case = create_case(client, world, parties=("NL", "DE"))
    exhibit = register_exhibit(client, world, case, by="NL")
    stored = client.put(
        f"/api/cases/{case}/exhibits/{exhibit}/content",
        content=b"handset image",
        headers={**world.headers("NL", "technician"), "Content-Type": "application/octet-stream"},
    )
    assert stored.status_code == 201, stored.text
    return case, exhibit, f"/api/cases/{case}/exhibits/{exhibit}"


def _hold(client: TestClient, url: str, headers: dict[str, str], authority: str) -> int:
    held = client.post(
        url + "/hold", json={"reason": "pending trial", "authority": authority}, headers=headers
    )
    assert held.status_code == 200, held.text
    assert held.json()["type"] == "exhibit.hold_set"
    seq: int = held.json()["hold"]
    assert seq == held.json()["seq"]
    return seq


def _release(client: TestClient, url: str, headers: dict[str, str], hold: int) -> Any:
    return client.post(
        url + "/hold/release", json={"reason": "over", "hold": hold}, headers=headers
    )


def test_a_hold_is_released_only_by_the_state_that_set_it(client: TestClient, world: World) -> None:
    case, _exhibit, url = _held_case(client, world)
    nl, de = world.headers("NL", "prosecutor"), world.headers("DE", "prosecutor")
    nl_hold = _hold(client, url, nl, "Rb Amsterdam 2026/17")
    de_hold = _hold(client, url, de, "LG Köln 4 KLs 9/26")
    shown = client.get(url, headers=nl).json()
    assert [h["hold"] for h in shown["holds"]] == [nl_hold, de_hold]
    before = _log(client, world, case)
    foreign = _release(client, url, de, nl_hold)
    assert foreign.status_code == 403
    assert error_code(foreign) == "hold_other_state"
    assert _log(client, world, case) == before
    assert _release(client, url, nl, 999).status_code == 404
    assert _release(client, url, nl, nl_hold).status_code == 200
    assert _release(client, url, nl, nl_hold).status_code == 404  # not open any more
    released = _release(client, url, de, de_hold)
    assert released.status_code == 200
    assert released.json()["hold"] == de_hold
    ended = [e["data"] for e in _log(client, world, case) if e["type"] == "exhibit.hold_released"]
    assert ended == [{"reason": "over", "hold": nl_hold}, {"reason": "over", "hold": de_hold}]


def test_a_judges_hold_is_released_only_by_a_judge_of_that_state(
    client: TestClient, world: World
) -> None:
    case, _exhibit, url = _held_case(client, world)
    grant = {"jurisdiction": "NL", "sub": "rechter", "role": "judge"}
    nl = world.headers("NL", "prosecutor")
    assert client.post(f"/api/cases/{case}/access", json=grant, headers=nl).status_code == 201
    judge = world.headers("NL", "judge", sub="rechter")
    hold = _hold(client, url, judge, "Rb Amsterdam, beschikking 3")
    refused = _release(client, url, nl, hold)
    assert refused.status_code == 403
    assert error_code(refused) == "hold_set_by_judge"
    assert _release(client, url, judge, hold).status_code == 200
    entries = fetch_and_verify(client, nl, case)
    assert replay(entries).violations == ()


def test_disposal_is_refused_while_any_hold_is_open(client: TestClient, world: World) -> None:
    case, _exhibit, url = _held_case(client, world)
    nl, de = world.headers("NL", "prosecutor"), world.headers("DE", "prosecutor")
    first = _hold(client, url, nl, "order 1")
    second = _hold(client, url, de, "order 2")
    order = {"reason": "case closed", "authority": "court order 99"}
    for releaser, hold in ((nl, first), (de, second)):
        before = _log(client, world, case)
        refused = client.post(url + "/dispose", json=order, headers=nl)
        assert refused.status_code == 409
        assert error_code(refused) == "exhibit_on_hold"
        assert _log(client, world, case) == before
        assert _release(client, url, releaser, hold).status_code == 200
    disposed = client.post(url + "/dispose", json=order, headers=nl)
    assert disposed.status_code == 200, disposed.text
    assert _log(client, world, case)[-1]["type"] == "exhibit.disposed"
