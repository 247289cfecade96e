"""The server witnesses its checkpoints: policies, submission to witnesses, GET /checkpoint."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from custody.cosignature import CosignatureSigner
from custody.note import Note, NoteSigner
from custody.policy import Policy
from server.app import create_app
from server.errors import ConfigError
from server.services.witnessing import register_witness
from server.services.workspace import Workspace
from tests.server.helpers import (
    World,
    create_case,
    error_code,
    quiet_client,
    register_exhibit,
    runtime,
)
from tests.server.testclient import TestClient
from tests.server.witnesses import Witnesses, submit


@pytest.fixture
def witnesses(workspace: Workspace, world: World, tmp_path: Path) -> Witnesses:
    found = Witnesses(workspace)
    found.add("NL", tmp_path / "nl-witness")
    found.add("DE", tmp_path / "de-witness")
    return found


def _checkpoint(client: object, world: World, case_id: str) -> tuple[str, Note]:
    response = client.get(  # type: ignore[attr-defined]
        f"/api/cases/{case_id}/checkpoint", headers=world.headers("DE", "investigator")
    )
    assert response.status_code == 200, response.text
    return response.headers["JITC-Witnessed"], Note.parse(response.content)


def test_checkpoints_are_cosigned_by_every_party_witness(
    workspace: Workspace, world: World, witnesses: Witnesses
) -> None:
    with quiet_client(workspace) as client:
        case_id = create_case(client, world, parties=("NL", "DE"))
        assert _checkpoint(client, world, case_id)[0] == "false"
        submitter = witnesses.submitter()
        outcomes = submit(submitter)
        assert sorted((o.witness, o.size, o.error) for o in outcomes) == [
            ("DE-1", 2, None),  # case.created and case.policy_set
            ("NL-1", 2, None),
        ]
        state, note = _checkpoint(client, world, case_id)
        assert state == "true"
        assert {sig.name for sig in note.signatures} >= {"NL-1", "DE-1"}
        # Nothing new: nothing sent.
        assert submit(submitter) == []
        # An append: the next round proves consistency from size 2.
        register_exhibit(client, world, case_id)
        assert _checkpoint(client, world, case_id)[0] == "false"
        assert {(o.size, o.error) for o in submit(submitter)} == {(3, None)}
        assert _checkpoint(client, world, case_id)[0] == "true"


def test_a_witness_that_is_down_never_blocks_appends(
    workspace: Workspace, world: World, witnesses: Witnesses
) -> None:
    with quiet_client(workspace) as client:
        case_id = create_case(client, world, parties=("NL", "DE"))
        submitter = witnesses.submitter()
        submit(submitter)
        witnesses.down.add("DE")
        for label in ("Phone", "Disk", "USB"):
            register_exhibit(client, world, case_id, label=label)  # appends go on
        outcomes = {o.witness: o for o in submit(submitter)}
        assert outcomes["NL-1"].error is None
        assert outcomes["DE-1"].error is not None
        assert _checkpoint(client, world, case_id)[0] == "false"  # served, not witnessed
        # Backing off: no new attempt before the delay has passed.
        assert [o.witness for o in submit(submitter)] == []
        witnesses.clock.now += 60
        witnesses.down.clear()
        [back] = submit(submitter)
        assert (back.witness, back.size, back.error) == ("DE-1", 5, None)
        assert _checkpoint(client, world, case_id)[0] == "true"


def test_a_prosecutor_sets_k_of_n(workspace: Workspace, world: World, witnesses: Witnesses) -> None:
    with quiet_client(workspace) as client:
        case_id = create_case(client, world, parties=("NL", "DE"))
        url = f"/api/cases/{case_id}/policy"
        policy = Policy.parse(client.get(url, headers=world.headers("DE", "technician")).text)
        assert policy.quorum is not None
        assert {w.name for w in policy.witnesses} == {"NL-1", "DE-1"}
        assert not policy.quorum_met(frozenset({"NL-1"}))

        refused = client.put(url, json={"quorum": 1}, headers=world.headers("NL", "investigator"))
        assert refused.status_code == 403
        too_many = client.put(url, json={"quorum": 3}, headers=world.headers("NL", "prosecutor"))
        assert too_many.status_code == 400
        assert error_code(too_many) == "bad_quorum"
        set_k = client.put(url, json={"quorum": 1}, headers=world.headers("NL", "prosecutor"))
        assert set_k.status_code == 200, set_k.text
        assert Policy.parse(set_k.text).quorum_met(frozenset({"NL-1"}))

        witnesses.down.add("DE")
        submit(witnesses.submitter())
        assert _checkpoint(client, world, case_id)[0] == "true"  # 1 of 2 is enough now

        back = client.put(url, json={"quorum": "all"}, headers=world.headers("NL", "prosecutor"))
        assert back.status_code == 200
        assert _checkpoint(client, world, case_id)[0] == "false"


def test_a_case_without_witnesses_says_none(workspace: Workspace, world: World) -> None:
    with quiet_client(workspace) as client:
        case_id = create_case(client, world, parties=("NL", "DE"))
        assert _checkpoint(client, world, case_id)[0] == "none"
        text = client.get(
            f"/api/cases/{case_id}/policy", headers=world.headers("NL", "prosecutor")
        ).text
        assert "quorum none" in text


def test_witness_registration_checks_its_input(workspace: Workspace, world: World) -> None:
    good = CosignatureSigner.generate("NL-1").vkey()
    with pytest.raises(ConfigError, match="0x04"):
        register_witness(
            workspace.engine,
            "NL",
            url="http://w",
            vkey=NoteSigner.generate("NL-1").vkey(),
            signer=workspace.signer,
        )
    with pytest.raises(ConfigError, match="URL"):
        register_witness(workspace.engine, "NL", url="ftp://w", vkey=good, signer=workspace.signer)
    with pytest.raises(ConfigError, match="unknown jurisdiction"):
        register_witness(workspace.engine, "XX", url="http://w", vkey=good, signer=workspace.signer)
    register_witness(workspace.engine, "NL", url="http://w/", vkey=good, signer=workspace.signer)
    with pytest.raises(ConfigError, match="already named"):
        register_witness(workspace.engine, "DE", url="http://w", vkey=good, signer=workspace.signer)


def test_the_background_submitter_cosigns_after_a_commit(
    workspace: Workspace, world: World, witnesses: Witnesses
) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        app = create_app(workspace=workspace, executor=pool, submitter=witnesses.submitter())
        with TestClient(app) as client:
            case_id = create_case(client, world, parties=("NL", "DE"))
            register_exhibit(client, world, case_id)  # a commit wakes the submitter
            runtime(client).witnessing_settled().result(timeout=60)
            assert _checkpoint(client, world, case_id)[0] == "true"
