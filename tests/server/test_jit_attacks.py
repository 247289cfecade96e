"""The JIT rules attacked through the doors the rule tests do not use, on SQLite and
PostgreSQL: what a defence lawyer learns of undisclosed exhibits from paging, and what a
withdrawn or later state may still do."""

from __future__ import annotations

import base64
import io

from custody.replay import replay
from custody.verify import verify_bundle
from server.services.audit import audit_case
from server.services.workspace import Workspace
from tests.server.helpers import World, create_case, drain, quiet_client, register_exhibit
from tests.server.logcheck import fetch_and_verify
from tests.server.testclient import TestClient


def _decoded(cursor: str) -> str:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


def test_paging_exhibits_tells_defence_nothing_of_undisclosed_ones(
    client: TestClient, world: World
) -> None:
    case = create_case(client, world, parties=("NL", "DE"))
    secrets = [register_exhibit(client, world, case, by="NL", label=f"S{i}") for i in range(3)]
    disclosed = register_exhibit(client, world, case, by="NL", label="Disclosed")
    granted = client.post(
        f"/api/cases/{case}/access",
        json={"jurisdiction": "NL", "sub": "adv", "role": "defence", "exhibits": [disclosed]},
        headers=world.headers("NL", "prosecutor"),
    )
    assert granted.status_code == 201, granted.text
    defence = world.headers("NL", "defence", sub="adv")
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "?limit=1" + (f"&cursor={cursor}" if cursor else "")
        answer = client.get(f"/api/cases/{case}/exhibits{query}", headers=defence)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen.extend(item["id"] for item in body["items"])
        cursor = body.get("next_cursor")
        pages += 1
        if cursor is None:
            break
        # The cursor is opaque but decodable: it must name no undisclosed exhibit.
        assert not any(secret in _decoded(cursor) for secret in secrets)
        # and a page is never empty only because it held undisclosed exhibits
        assert body["items"], "an empty page with a cursor tells that hidden exhibits exist"
    assert seen == [disclosed]
    assert pages == 1


def test_every_rule_exercised_through_the_server_passes_audit_replay_and_verify(
    workspace: Workspace, world: World
) -> None:
    """What the server let happen, rule by rule, is what `jitc audit` and `jitc verify`
    accept: the same verdict on the same history (no false alarm, no silent gap)."""
    world.add_state("BE")
    with quiet_client(workspace) as client:
        case = create_case(client, world, parties=("NL", "DE"))
        api = f"/api/cases/{case}"
        nl, de = world.headers("NL", "prosecutor"), world.headers("DE", "prosecutor")
        laptop = register_exhibit(client, world, case, by="NL", label="Laptop")
        phone = register_exhibit(client, world, case, by="DE", label="Phone")
        for exhibit, by in ((laptop, "NL"), (phone, "DE")):
            stored = client.put(
                f"{api}/exhibits/{exhibit}/content",
                content=f"bytes of {exhibit}".encode(),
                headers={
                    **world.headers(by, "technician"),
                    "Content-Type": "application/octet-stream",
                },
            )
            assert stored.status_code == 201, stored.text
        share = {"jurisdiction": "DE", "conditions": "trial"}
        assert client.post(f"{api}/exhibits/{laptop}/shares", json=share, headers=nl).is_success
        # Grants: DE's judge (all DE may read), DE's defence (the laptop only).
        for body in (
            {"jurisdiction": "DE", "sub": "richter", "role": "judge", "exhibits": None},
            {"jurisdiction": "DE", "sub": "anwalt", "role": "defence", "exhibits": [laptop]},
        ):
            assert client.post(f"{api}/access", json=body, headers=de).status_code == 201
        judge, defence = (
            world.headers("DE", "judge", "richter"),
            world.headers("DE", "defence", "anwalt"),
        )
        for who, exhibit in ((judge, phone), (judge, laptop), (defence, laptop), (de, laptop)):
            assert client.get(f"{api}/exhibits/{exhibit}/content", headers=who).status_code == 200
        # The share ends: DE's judge and defence lose the laptop at once.
        assert client.delete(f"{api}/exhibits/{laptop}/shares/DE", headers=nl).is_success
        assert client.get(f"{api}/exhibits/{laptop}/content", headers=judge).status_code == 403
        # Parties by consent; a withdrawal; a re-proposal.
        proposal = client.post(f"{api}/parties", json={"jurisdiction": "BE"}, headers=nl).json()
        approve = f"{api}/parties/proposals/{proposal['proposal']}/approve"
        assert client.post(approve, headers=de).status_code == 201
        assert client.delete(
            f"{api}/parties/BE", headers=world.headers("BE", "prosecutor")
        ).is_success
        # Holds: a judge's and a prosecutor's on the phone, released by their setters.
        url = f"{api}/exhibits/{phone}"
        holds = []
        for who in (judge, de):
            held = client.post(url + "/hold", json={"reason": "r", "authority": "a"}, headers=who)
            assert held.status_code == 200, held.text
            holds.append(held.json()["hold"])
        order = {"reason": "closed", "authority": "order"}
        assert client.post(url + "/dispose", json=order, headers=de).status_code == 409
        for who, hold in zip((judge, de), holds, strict=True):
            released = client.post(
                url + "/hold/release", json={"reason": "x", "hold": hold}, headers=who
            )
            assert released.status_code == 200, released.text
        assert client.post(url + "/dispose", json=order, headers=de).status_code == 200
        entries = fetch_and_verify(client, nl, case)
        assert replay(entries).violations == ()
        report = audit_case(workspace, case, objects=False)
        assert report.ok, [f.line() for f in report.findings]
        policy = client.get(f"{api}/policy", headers=nl).text
        for exhibits, disclosure in ((None, "full"), ([laptop], "selective")):
            made = client.post(
                f"{api}/exports",
                json={
                    "exhibits": exhibits,
                    "disclosure": disclosure,
                    "content": False,
                    "recipient": "court",
                },
                headers=nl,
            )
            assert made.status_code == 201, made.text
            drain(client)
            bundle = client.get(f"{api}/exports/{made.json()['id']}", headers=nl)
            assert bundle.status_code == 200, bundle.text
            verified = verify_bundle(io.BytesIO(bundle.content), policy_text=policy)
            assert verified.ok, (disclosure, [f.message for f in verified.failures()])


def test_a_withdrawn_state_does_not_veto_an_addition_for_ever(
    client: TestClient, world: World
) -> None:
    """A proposal made while DE was a party waits for DE's consent, which DE, gone, can no
    longer give: the remaining parties may propose the state afresh (the old proposal
    stays pending in the log, and the new one asks every current party)."""
    world.add_state("BE")
    case = create_case(client, world, parties=("NL", "DE", "FR"))
    base = f"/api/cases/{case}/parties"
    nl, de, fr = (world.headers(c, "prosecutor") for c in ("NL", "DE", "FR"))
    stale = client.post(base, json={"jurisdiction": "BE"}, headers=nl)
    assert stale.status_code == 202
    assert client.delete(f"{base}/DE", headers=de).status_code == 200
    # DE cannot consent any more (not a party), so the stale proposal cannot complete ...
    gone = client.post(f"{base}/proposals/{stale.json()['proposal']}/approve", headers=de)
    assert gone.status_code == 403
    # ... and must not block a fresh proposal, which NL and FR complete.
    fresh = client.post(base, json={"jurisdiction": "BE"}, headers=nl)
    assert fresh.status_code == 202, fresh.text
    assert fresh.json()["pending"] == ["FR"]
    added = client.post(f"{base}/proposals/{fresh.json()['proposal']}/approve", headers=fr)
    assert added.status_code == 201, added.text
    shown = client.get(f"/api/cases/{case}", headers=nl).json()
    assert shown["parties"] == ["BE", "FR", "NL"]
    entries = fetch_and_verify(client, nl, case)
    assert replay(entries).violations == ()
