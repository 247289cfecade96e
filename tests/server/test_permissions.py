"""The role x action matrix, cell by cell, through the HTTP API.

EXPECTED is written from docs/permissions.md, independently of server.permissions.MATRIX,
so that a mistake in the code is not copied into the test. Each caller acts from their
best standing: investigators, technicians and prosecutors from NL (a party, and the owner
of the exhibit); judges and defence also from NL, holding a grant from NL's prosecutor (a
state grants access only to its own courts and defence, spec 2.1).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from server.permissions import MATRIX, Action
from tests.server.helpers import ACQUISITION, World, create_case, error_code, register_exhibit
from tests.server.testclient import TestClient

ROLES = ("investigator", "technician", "prosecutor", "judge", "defence")

# From docs/permissions.md: the roles allowed each action (from their best standing).
EXPECTED: dict[str, set[str]] = {
    "case.create": {"prosecutor"},
    "case.read": {"investigator", "technician", "prosecutor", "judge", "defence"},
    "log.read": {"investigator", "technician", "prosecutor", "judge", "defence"},
    "note.read": {"investigator", "technician", "prosecutor", "judge"},
    "case.party_add": {"prosecutor"},
    "case.party_approve": {"prosecutor"},
    "case.party_remove": {"prosecutor"},
    "case.access_grant": {"prosecutor"},
    "case.access_revoke": {"prosecutor"},
    "exhibit.register": {"investigator", "technician"},
    "exhibit.seal": {"investigator", "technician"},
    "exhibit.hold_set": {"prosecutor", "judge"},
    "exhibit.hold_release": {"prosecutor", "judge"},
    "note.add": {"investigator", "technician", "prosecutor"},
    # evidence content
    "content.upload": {"investigator", "technician"},
    "content.read": {"investigator", "technician", "prosecutor", "judge", "defence"},
    "content.verify": {"investigator", "technician", "prosecutor", "judge", "defence"},
    "exhibit.dispose": {"prosecutor"},
    # sharing, the witness quorum, court bundles
    "exhibit.share": {"investigator", "prosecutor"},
    "exhibit.share_revoke": {"investigator", "prosecutor"},
    "case.policy_set": {"prosecutor"},
    "export.create": {"prosecutor"},
    "export.read": {"prosecutor", "judge", "defence"},
}


@dataclass
class Scene:
    client: TestClient
    world: World
    case_id: str
    exhibit_id: str
    hold: int

    def caller(self, role: str) -> dict[str, str]:
        return self.world.headers("NL", role, sub=f"{role}-1")


def _scene(client: TestClient, world: World) -> Scene:
    world.add_state("BE")
    case_id = create_case(client, world, parties=("NL", "DE"))
    exhibit_id = register_exhibit(client, world, case_id, by="NL")
    prosecutor = world.headers("NL", "prosecutor")
    for role in ("judge", "defence"):
        grant = {"jurisdiction": "NL", "sub": f"{role}-1", "role": role}
        assert client.post(
            f"/api/cases/{case_id}/grants", json=grant, headers=prosecutor
        ).is_success
    other = {"jurisdiction": "NL", "sub": "defence-2", "role": "defence"}
    assert client.post(f"/api/cases/{case_id}/grants", json=other, headers=prosecutor).is_success
    hold = client.post(
        f"/api/cases/{case_id}/exhibits/{exhibit_id}/hold",
        json={"reason": "pending trial", "authority": "court order 17"},
        headers=prosecutor,
    )
    assert hold.is_success, hold.text
    return Scene(client, world, case_id, exhibit_id, hold.json()["hold"])


def _release(scene: Scene) -> None:
    """NL's prosecutor, who set the scene's hold, releases it."""
    release = scene.client.post(
        f"/api/cases/{scene.case_id}/exhibits/{scene.exhibit_id}/hold/release",
        json={"reason": "released first", "hold": scene.hold},
        headers=scene.world.headers("NL", "prosecutor"),
    )
    assert release.status_code == 200, release.text


Attempt = Callable[[Scene, dict[str, str]], int]


def _status(response: object) -> int:
    status: int = response.status_code  # type: ignore[attr-defined]
    return status


def _set_hold_again(scene: Scene, headers: dict[str, str]) -> int:
    """The scene's exhibit is under hold: a prosecutor releases it, then the caller sets one."""
    _release(scene)
    return _status(
        scene.client.post(
            f"/api/cases/{scene.case_id}/exhibits/{scene.exhibit_id}/hold",
            json={"reason": "appeal", "authority": "court order 18"},
            headers=headers,
        )
    )


def _approve(scene: Scene, headers: dict[str, str]) -> int:
    """DE's prosecutor proposes BE; the caller (of NL) consents."""
    proposed = scene.client.post(
        f"/api/cases/{scene.case_id}/parties",
        json={"jurisdiction": "BE"},
        headers=scene.world.headers("DE", "prosecutor"),
    )
    assert proposed.status_code == 202, proposed.text
    seq = proposed.json()["proposal"]
    return _status(
        scene.client.post(
            f"/api/cases/{scene.case_id}/parties/proposals/{seq}/approve", headers=headers
        )
    )


# Revoking needs a share to revoke: the owner's prosecutor makes it first.
def _revoke_share(scene: Scene, headers: dict[str, str]) -> int:
    url = f"/api/cases/{scene.case_id}/exhibits/{scene.exhibit_id}/shares"
    shared = scene.client.post(
        url,
        json={"jurisdiction": "DE", "conditions": ""},
        headers=scene.world.headers("NL", "prosecutor"),
    )
    assert shared.status_code == 201, shared.text
    return _status(scene.client.delete(f"{url}/DE", headers=headers))


def _with_content(scene: Scene) -> str:
    """Store content for the scene's exhibit (as NL's technician); its content URL."""
    target = f"/api/cases/{scene.case_id}/exhibits/{scene.exhibit_id}/content"
    stored = scene.client.put(
        target, content=b"image", headers=scene.world.headers("NL", "technician")
    )
    assert stored.status_code == 201, stored.text
    return target


def _dispose(scene: Scene, headers: dict[str, str]) -> int:
    """The scene's exhibit is under hold: a prosecutor releases it first."""
    base = f"/api/cases/{scene.case_id}/exhibits/{scene.exhibit_id}"
    _release(scene)
    _with_content(scene)
    order = {"reason": "case closed", "authority": "court order 7"}
    return _status(scene.client.post(base + "/dispose", json=order, headers=headers))


ATTEMPTS: dict[str, Attempt] = {
    "case.create": lambda s, h: _status(
        s.client.post("/api/cases", json={"title": "t", "parties": ["NL"]}, headers=h)
    ),
    "case.read": lambda s, h: _status(s.client.get(f"/api/cases/{s.case_id}", headers=h)),
    "log.read": lambda s, h: _status(s.client.get(f"/api/cases/{s.case_id}/log", headers=h)),
    "note.read": lambda s, h: _status(s.client.get(f"/api/cases/{s.case_id}/notes", headers=h)),
    "case.party_add": lambda s, h: _status(
        s.client.post(f"/api/cases/{s.case_id}/parties", json={"jurisdiction": "BE"}, headers=h)
    ),
    "case.party_approve": _approve,
    # A state withdraws itself (no state removes another).
    "case.party_remove": lambda s, h: _status(
        s.client.delete(f"/api/cases/{s.case_id}/parties/NL", headers=h)
    ),
    "case.access_grant": lambda s, h: _status(
        s.client.post(
            f"/api/cases/{s.case_id}/grants",
            json={"jurisdiction": "NL", "sub": "judge-9", "role": "judge"},
            headers=h,
        )
    ),
    "case.access_revoke": lambda s, h: _status(
        s.client.post(
            f"/api/cases/{s.case_id}/grants/revoke",
            json={"jurisdiction": "NL", "sub": "defence-2", "role": "defence"},
            headers=h,
        )
    ),
    "exhibit.register": lambda s, h: _status(
        s.client.post(
            f"/api/cases/{s.case_id}/exhibits",
            json={"label": "Phone", "description": "", "acquisition": dict(ACQUISITION)},
            headers=h,
        )
    ),
    "exhibit.seal": lambda s, h: _status(
        s.client.post(
            f"/api/cases/{s.case_id}/exhibits/{s.exhibit_id}/seal",
            json={"reason": "imaging done"},
            headers=h,
        )
    ),
    "exhibit.hold_set": _set_hold_again,
    "exhibit.hold_release": lambda s, h: _status(
        s.client.post(
            f"/api/cases/{s.case_id}/exhibits/{s.exhibit_id}/hold/release",
            json={"reason": "trial over", "hold": s.hold},
            headers=h,
        )
    ),
    "note.add": lambda s, h: _status(
        s.client.post(
            f"/api/cases/{s.case_id}/notes", json={"exhibit": None, "text": "seen"}, headers=h
        )
    ),
    # evidence content
    "content.upload": lambda s, h: _status(
        s.client.put(
            f"/api/cases/{s.case_id}/exhibits/{s.exhibit_id}/content", content=b"x", headers=h
        )
    ),
    "content.read": lambda s, h: _status(s.client.get(_with_content(s), headers=h)),
    "content.verify": lambda s, h: _status(
        s.client.post(_with_content(s).removesuffix("/content") + "/verify", headers=h)
    ),
    "exhibit.dispose": _dispose,
    # sharing, the witness quorum, court bundles
    "exhibit.share": lambda s, h: _status(
        s.client.post(
            f"/api/cases/{s.case_id}/exhibits/{s.exhibit_id}/shares",
            json={"jurisdiction": "DE", "conditions": "trial only"},
            headers=h,
        )
    ),
    "exhibit.share_revoke": _revoke_share,
    "case.policy_set": lambda s, h: _status(
        s.client.put(f"/api/cases/{s.case_id}/policy", json={"quorum": "all"}, headers=h)
    ),
    "export.create": lambda s, h: _status(
        s.client.post(
            f"/api/cases/{s.case_id}/exports",
            json={"exhibits": None, "disclosure": "full", "content": False, "recipient": "c"},
            headers=h,
        )
    ),
    "export.read": lambda s, h: _status(s.client.get(f"/api/cases/{s.case_id}/exports", headers=h)),
}


def test_the_tables_cover_the_same_actions() -> None:
    assert set(EXPECTED) == {action.value for action in Action} == set(ATTEMPTS)
    assert set(MATRIX) == set(Action)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_cell(client: TestClient, world: World, action: str, role: str) -> None:
    scene = _scene(client, world)
    status = ATTEMPTS[action](scene, scene.caller(role))
    if role in EXPECTED[action]:
        assert 200 <= status < 300, f"{role} should be allowed {action}, got {status}"
    else:
        assert status == 403, f"{role} should be refused {action}, got {status}"


# --- standing: the same role, without the standing the cell asks for ------------------


def test_party_investigator_of_another_state_cannot_seal(client: TestClient, world: World) -> None:
    scene = _scene(client, world)
    response = client.post(
        f"/api/cases/{scene.case_id}/exhibits/{scene.exhibit_id}/seal",
        json={"reason": "not mine"},
        headers=world.headers("DE", "investigator"),
    )
    assert response.status_code == 403
    assert error_code(response) == "forbidden"


def test_judge_of_a_party_state_without_grant_sees_nothing(
    client: TestClient, world: World
) -> None:
    scene = _scene(client, world)
    response = client.get(
        f"/api/cases/{scene.case_id}", headers=world.headers("NL", "judge", sub="judge-x")
    )
    assert response.status_code == 403
    assert error_code(response) == "case_forbidden"
    # "A party, but no grant" is told apart from "not a party".
    assert "is a party to this case, but you hold no grant" in response.json()["error"]["message"]
    outsider = client.get(f"/api/cases/{scene.case_id}", headers=world.headers("FR", "judge"))
    assert outsider.status_code == 403
    assert "is not a party to this case" in outsider.json()["error"]["message"]


def test_grant_is_personal(client: TestClient, world: World) -> None:
    scene = _scene(client, world)
    other_judge = world.headers("NL", "judge", sub="judge-2")
    response = client.get(f"/api/cases/{scene.case_id}", headers=other_judge)
    assert response.status_code == 403


def test_revoked_grant_loses_access(client: TestClient, world: World) -> None:
    scene = _scene(client, world)
    defence = world.headers("NL", "defence", sub="defence-2")
    assert client.get(f"/api/cases/{scene.case_id}", headers=defence).status_code == 200
    revoke = client.post(
        f"/api/cases/{scene.case_id}/grants/revoke",
        json={"jurisdiction": "NL", "sub": "defence-2", "role": "defence"},
        headers=world.headers("NL", "prosecutor"),
    )
    assert revoke.status_code == 200, revoke.text
    assert client.get(f"/api/cases/{scene.case_id}", headers=defence).status_code == 403


@pytest.mark.parametrize("role", ["investigator", "technician", "prosecutor"])
def test_non_party_state_is_refused(client: TestClient, world: World, role: str) -> None:
    scene = _scene(client, world)
    response = client.post(
        f"/api/cases/{scene.case_id}/notes",
        json={"exhibit": None, "text": "x"},
        headers=world.headers("FR", role),
    )
    assert response.status_code == 403
    assert error_code(response) == "case_forbidden"


def test_case_lists_show_only_visible_cases(client: TestClient, world: World) -> None:
    scene = _scene(client, world)
    other = create_case(client, world, parties=("DE",), by="DE", title="German only")

    def listed(headers: dict[str, str]) -> set[str]:
        response = client.get("/api/cases", headers=headers)
        assert response.status_code == 200
        return {item["id"] for item in response.json()["items"]}

    assert listed(world.headers("NL", "investigator")) == {scene.case_id}
    assert listed(world.headers("DE", "technician")) == {scene.case_id, other}
    assert listed(world.headers("NL", "judge", sub="judge-1")) == {scene.case_id}
    assert listed(world.headers("FR", "prosecutor")) == set()
    assert listed(world.headers("NL", "judge", sub="judge-x")) == set()


def test_permission_refusals_go_to_the_security_log(
    client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    case_id = create_case(client, world, parties=("NL",))
    world.add_state("FR")
    with caplog.at_level(logging.WARNING, logger="jitc.security"):
        response = client.get(f"/api/cases/{case_id}", headers=world.headers("FR", "investigator"))
    assert response.status_code == 403
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "jitc.security"]
    refusal = next(r for r in records if r["event"] == "permission_refused")
    assert refusal["jurisdiction"] == "FR"
    assert refusal["reason"] == "case_forbidden"
    assert refusal["path"] == f"/api/cases/{case_id}"


@pytest.mark.parametrize("tail", ["/seal", "/hold"])
def test_outsiders_cannot_probe_exhibit_ids(client: TestClient, world: World, tail: str) -> None:
    case_id = create_case(client, world, parties=("NL",))
    world.add_state("FR")
    unknown = "00000000-0000-4000-8000-000000000000"
    response = client.post(
        f"/api/cases/{case_id}/exhibits/{unknown}{tail}",
        json={"reason": "probe", "authority": "none"} if tail == "/hold" else {"reason": "probe"},
        headers=world.headers("FR", "prosecutor"),
    )
    assert response.status_code == 403
    assert error_code(response) == "case_forbidden"
