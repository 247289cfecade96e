"""Court and defence grants (spec 2.1 case.access_granted, check 7), on SQLite and
PostgreSQL: a state grants access only to its own judges and defence lawyers, and only to
exhibits it may read itself; a grant discloses the exhibits it lists (null: all the state
may read, at each read); defence sees nothing of the others; revoking is immediate.
The attacks of the outside test come first."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from custody.replay import replay
from tests.server.helpers import World, create_case, error_code, register_exhibit
from tests.server.logcheck import fetch_and_verify
from tests.server.testclient import TestClient


@dataclass
class Team:
    """NL and DE in a case; NL's laptop (shared with DE), DE's phone (not shared), each
    with content."""

    client: TestClient
    world: World
    case: str
    laptop: str
    phone: str

    def url(self, tail: str = "") -> str:
        return f"/api/cases/{self.case}{tail}"

    def content(self, exhibit: str) -> str:
        return self.url(f"/exhibits/{exhibit}/content")

    def grant(self, by: str, body: dict[str, Any]) -> Any:
        return self.client.post(
            self.url("/access"), json=body, headers=self.world.headers(by, "prosecutor")
        )

    def entries(self) -> list[dict[str, Any]]:
        response = self.client.get(self.url("/log"), headers=self.world.headers("NL", "prosecutor"))
        assert response.status_code == 200
        return [json.loads(line) for line in response.content.splitlines()]

    def accesses(self) -> list[dict[str, Any]]:
        return [e for e in self.entries() if e["type"] == "exhibit.accessed"]


def _store(client: TestClient, world: World, case: str, exhibit: str, by: str) -> None:
    stored = client.put(
        f"/api/cases/{case}/exhibits/{exhibit}/content",
        content=f"content of {exhibit}".encode(),
        headers={**world.headers(by, "technician"), "Content-Type": "application/octet-stream"},
    )
    assert stored.status_code == 201, stored.text


def _team(client: TestClient, world: World) -> Team:
    case = create_case(client, world, parties=("NL", "DE"))
    laptop = register_exhibit(client, world, case, by="NL", label="Laptop")
    phone = register_exhibit(client, world, case, by="DE", label="Phone")
    _store(client, world, case, laptop, "NL")
    _store(client, world, case, phone, "DE")
    shared = client.post(
        f"/api/cases/{case}/exhibits/{laptop}/shares",
        json={"jurisdiction": "DE", "conditions": "trial only"},
        headers=world.headers("NL", "prosecutor"),
    )
    assert shared.status_code == 201, shared.text
    return Team(client, world, case, laptop, phone)


# --- the attacks ---------------------------------------------------------------------------


def test_a_self_granted_judge_gets_403_and_no_access_entry(
    client: TestClient, world: World
) -> None:
    team = _team(client, world)
    judge = world.headers("NL", "judge", sub="judge-self")
    granted = client.post(
        team.url("/access"),
        json={"jurisdiction": "NL", "sub": "judge-self", "role": "judge", "exhibits": None},
        headers=judge,
    )
    assert granted.status_code == 403
    before = team.entries()
    read = client.get(team.content(team.laptop), headers=judge)
    assert read.status_code == 403
    assert error_code(read) == "case_forbidden"
    assert team.entries() == before
    assert not [e for e in before if e["type"] == "case.access_granted"]


def test_a_grant_for_another_states_court_gets_403(client: TestClient, world: World) -> None:
    team = _team(client, world)
    before = team.entries()
    for court in ("NL", "FR"):  # DE grants neither NL's nor FR's judges
        refused = team.grant("DE", {"jurisdiction": court, "sub": "judge-x", "role": "judge"})
        assert refused.status_code == 403
        assert error_code(refused) == "grant_other_state"
    assert team.entries() == before
    # The would-be judge sees nothing, and reads nothing of DE's phone through NL either.
    judge = world.headers("NL", "judge", sub="judge-x")
    assert client.get(team.content(team.phone), headers=judge).status_code == 403
    assert team.accesses() == []


def test_a_judge_of_the_state_that_grants_all_reads_only_what_that_state_may_read(
    client: TestClient, world: World
) -> None:
    """The attack of the outside test: FR's prosecutor granted an FR judge, who read NL's
    unshared exhibit. Now a grant reaches only what the granting state may read."""
    team = _team(client, world)
    granted = team.grant("DE", {"jurisdiction": "DE", "sub": "richter", "role": "judge"})
    assert granted.status_code == 201, granted.text
    assert team.entries()[-1]["data"]["exhibits"] is None
    judge = world.headers("DE", "judge", sub="richter")
    own = client.get(team.content(team.phone), headers=judge)
    assert own.status_code == 200
    shared = client.get(team.content(team.laptop), headers=judge)  # shared with DE
    assert shared.status_code == 200
    # NL revokes its share: DE's judge loses the laptop at once.
    revoked = client.delete(
        team.url(f"/exhibits/{team.laptop}/shares/DE"), headers=world.headers("NL", "prosecutor")
    )
    assert revoked.status_code == 200
    before = team.entries()
    refused = client.get(team.content(team.laptop), headers=judge)
    assert refused.status_code == 403
    assert error_code(refused) == "not_shared"
    assert team.entries() == before
    assert {(a["exhibit"], a["actor"]["role"]) for a in team.accesses()} == {
        (team.phone, "judge"),
        (team.laptop, "judge"),
    }


def test_a_grant_discloses_only_the_exhibits_it_lists(client: TestClient, world: World) -> None:
    team = _team(client, world)
    second = register_exhibit(client, world, team.case, by="NL", label="Tablet")
    _store(client, world, team.case, second, "NL")
    body = {"jurisdiction": "NL", "sub": "rechter", "role": "judge", "exhibits": [team.laptop]}
    granted = team.grant("NL", body)
    assert granted.status_code == 201, granted.text
    assert team.entries()[-1]["data"]["exhibits"] == [team.laptop]
    shown = client.get(team.url(), headers=world.headers("NL", "prosecutor")).json()
    assert shown["grants"] == [{**body}]
    judge = world.headers("NL", "judge", sub="rechter")
    assert client.get(team.content(team.laptop), headers=judge).status_code == 200
    before = team.entries()
    refused = client.get(team.content(second), headers=judge)
    assert refused.status_code == 403
    assert error_code(refused) == "not_shared"
    assert team.entries() == before
    # Judges see the whole log and every exhibit (only content is limited).
    listed = client.get(team.url("/exhibits"), headers=judge).json()["items"]
    assert {x["id"] for x in listed} == {team.laptop, team.phone, second}


def test_a_state_grants_only_exhibits_it_may_read(client: TestClient, world: World) -> None:
    team = _team(client, world)
    before = team.entries()
    body = {"jurisdiction": "NL", "sub": "rechter", "role": "judge", "exhibits": [team.phone]}
    refused = team.grant("NL", body)  # DE's phone is not shared with NL
    assert refused.status_code == 403
    assert error_code(refused) == "not_shared"
    unknown = team.grant("NL", {**body, "exhibits": ["00000000-0000-4000-8000-000000000000"]})
    assert unknown.status_code == 404
    twice = team.grant("NL", {**body, "exhibits": [team.laptop, team.laptop]})
    assert twice.status_code == 400
    assert team.entries() == before


def test_revoking_a_grant_takes_effect_at_once(client: TestClient, world: World) -> None:
    team = _team(client, world)
    body = {"jurisdiction": "NL", "sub": "rechter", "role": "judge"}
    assert team.grant("NL", body).status_code == 201
    judge = world.headers("NL", "judge", sub="rechter")
    assert client.get(team.content(team.laptop), headers=judge).status_code == 200
    # DE cannot end NL's grant; NL can.
    foreign = client.post(
        team.url("/grants/revoke"), json=body, headers=world.headers("DE", "prosecutor")
    )
    assert foreign.status_code == 403
    assert error_code(foreign) == "grant_other_state"
    revoked = client.post(
        team.url("/grants/revoke"), json=body, headers=world.headers("NL", "prosecutor")
    )
    assert revoked.status_code == 200
    before = team.entries()
    assert client.get(team.content(team.laptop), headers=judge).status_code == 403
    assert team.entries() == before


def test_defence_sees_the_case_and_its_disclosed_exhibits_only(
    client: TestClient, world: World
) -> None:
    team = _team(client, world)
    note = client.post(
        team.url("/notes"),
        json={"exhibit": team.phone, "text": "PIN 1234 on a sticker"},
        headers=world.headers("DE", "investigator"),
    )
    assert note.status_code == 201
    body = {"jurisdiction": "DE", "sub": "anwalt", "role": "defence", "exhibits": [team.laptop]}
    assert team.grant("DE", body).status_code == 201
    defence = world.headers("DE", "defence", sub="anwalt")
    listed = client.get(team.url("/exhibits"), headers=defence).json()["items"]
    assert [x["id"] for x in listed] == [team.laptop]
    hidden = client.get(team.url(f"/exhibits/{team.phone}"), headers=defence)
    assert hidden.status_code == 404
    assert client.get(team.content(team.phone), headers=defence).status_code == 404
    assert (
        client.get(team.url(f"/exhibits/{team.phone}/shares"), headers=defence).status_code == 404
    )
    shares = client.get(team.url("/shares"), headers=defence).json()["items"]
    assert {s["exhibit"] for s in shares} == {team.laptop}
    log = client.get(team.url("/log"), headers=defence)
    assert log.status_code == 200
    seen = [json.loads(line) for line in log.content.splitlines()]
    assert {e["exhibit"] for e in seen} == {None, team.laptop}
    assert "Phone" not in log.text
    assert int(log.headers["JITC-Log-End"]) == len(team.entries())
    # Each entry it sees has an inclusion proof; the others have none for it.
    last = seen[-1]["seq"]
    proved = client.get(team.url(f"/proof/inclusion?seq={last}"), headers=defence)
    assert proved.status_code == 200
    phone_entry = next(e["seq"] for e in team.entries() if e["exhibit"] == team.phone)
    denied = client.get(team.url(f"/proof/inclusion?seq={phone_entry}"), headers=defence)
    assert denied.status_code == 404
    assert client.get(team.content(team.laptop), headers=defence).status_code == 200
    # The judge of the same state sees the whole log.
    assert team.grant("DE", {"jurisdiction": "DE", "sub": "richter", "role": "judge"}).is_success
    judge_log = client.get(team.url("/log"), headers=world.headers("DE", "judge", sub="richter"))
    assert len(judge_log.content.splitlines()) == len(team.entries())


def test_the_log_with_grants_replays_without_a_violation(client: TestClient, world: World) -> None:
    team = _team(client, world)
    assert team.grant("NL", {"jurisdiction": "NL", "sub": "r", "role": "judge"}).is_success
    judge = world.headers("NL", "judge", sub="r")
    assert client.get(team.content(team.laptop), headers=judge).status_code == 200
    entries = fetch_and_verify(client, world.headers("NL", "prosecutor"), team.case)
    assert replay(entries).violations == ()


# --- messages --------------------------------------------------------------------------------


def test_permission_is_checked_before_the_body(client: TestClient, world: World) -> None:
    team = _team(client, world)
    bad: dict[str, Any] = {"nonsense": True}
    for path, headers in (
        ("/access", world.headers("NL", "judge")),
        ("/grants", world.headers("NL", "investigator")),
        ("/parties", world.headers("NL", "technician")),
        (f"/exhibits/{team.laptop}/hold", world.headers("NL", "investigator")),
        (f"/exhibits/{team.laptop}/hold/release", world.headers("DE", "technician")),
        ("/notes", world.headers("FR", "investigator")),
        ("/exhibits", world.headers("NL", "prosecutor")),
        (f"/exhibits/{team.laptop}/shares", world.headers("NL", "technician")),
        ("/exports", world.headers("NL", "investigator")),
    ):
        refused = client.post(team.url(path), json=bad, headers=headers)
        assert refused.status_code == 403, (path, refused.text)
    # With standing, the same body is a 400.
    assert (
        client.post(team.url("/access"), json=bad, headers=world.headers("NL", "prosecutor"))
    ).status_code == 400


def test_not_shared_comes_before_no_content(client: TestClient, world: World) -> None:
    case = create_case(client, world, parties=("NL", "DE"))
    empty = register_exhibit(client, world, case, by="NL")
    refused = client.get(
        f"/api/cases/{case}/exhibits/{empty}/content", headers=world.headers("DE", "investigator")
    )
    assert refused.status_code == 403
    assert error_code(refused) == "not_shared"
    own = client.get(
        f"/api/cases/{case}/exhibits/{empty}/content", headers=world.headers("NL", "investigator")
    )
    assert own.status_code == 404
    assert error_code(own) == "no_content"


def test_a_party_without_a_grant_is_told_apart_from_a_stranger(
    client: TestClient, world: World
) -> None:
    case = create_case(client, world, parties=("NL", "DE"))
    party = client.get(f"/api/cases/{case}", headers=world.headers("NL", "judge"))
    stranger = client.get(f"/api/cases/{case}", headers=world.headers("FR", "judge"))
    outsider = client.get(f"/api/cases/{case}", headers=world.headers("FR", "investigator"))
    assert party.status_code == stranger.status_code == outsider.status_code == 403
    messages = [r.json()["error"]["message"] for r in (party, stranger, outsider)]
    assert "is a party to this case, but you hold no grant" in messages[0]
    assert "is not a party to this case and you hold no grant" in messages[1]
    assert "is not a party to this case" in messages[2]
    assert len(set(messages)) == 3


def test_note_commitments_are_salted_and_readers_can_check_them(
    client: TestClient, world: World
) -> None:
    case = create_case(client, world, parties=("NL",))
    text = "Suspect declined to give the PIN."
    created = client.post(
        f"/api/cases/{case}/notes",
        json={"exhibit": None, "text": text},
        headers=world.headers("NL", "investigator"),
    )
    assert created.status_code == 201
    other = client.post(
        f"/api/cases/{case}/notes",
        json={"exhibit": None, "text": text},
        headers=world.headers("NL", "investigator"),
    )
    # The same text twice: two salts, two commitments; neither is the plain hash.
    plain = hashlib.sha256(text.encode()).hexdigest()
    assert created.json()["commitment"] != other.json()["commitment"]
    assert plain not in (created.json()["commitment"], other.json()["commitment"])
    assert client.post(
        f"/api/cases/{case}/access",
        json={"jurisdiction": "NL", "sub": "r", "role": "judge"},
        headers=world.headers("NL", "prosecutor"),
    ).is_success
    judge = world.headers("NL", "judge", sub="r")
    notes = client.get(f"/api/cases/{case}/notes", headers=judge).json()["items"]
    log = client.get(f"/api/cases/{case}/log", headers=judge)
    logged = [json.loads(line) for line in log.content.splitlines()]
    commitments = [e["data"] for e in logged if e["type"] == "note.added"]
    for note, data in zip(notes, commitments, strict=True):
        salt = bytes.fromhex(note["salt"])
        assert hashlib.sha256(salt + note["text"].encode()).hexdigest() == note["commitment"]
        assert data == {"commitment": note["commitment"]}
        assert note["salt"] not in log.text
        assert "SHA-256(salt || text)" in note["check"]
