"""The case policy history (spec 2.1 case.policy_set, spec 5 policy.txt): logged at
creation and on every change of parties, witnesses or quorum; bundles carry the policy
that held at their tree size and stop at the newest checkpoint that met it."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import text

from custody.checkpoint import Checkpoint
from custody.cosignature import CosignatureSigner
from custody.entry import SYSTEM_ACTOR
from custody.note import Note
from custody.policy import Policy
from custody.verify import verify_bundle
from server.db import read_transaction, write_transaction
from server.errors import ConflictError
from server.repositories import cases as case_repo
from server.repositories import log as log_repo
from server.repositories import witnesses as witness_repo
from server.services.audit import audit_case
from server.services.case_policy import case_policy
from server.services.custody_log import CaseLog
from server.services.witnessing import register_witness, remove_witness
from server.services.workspace import Workspace
from tests.server.helpers import World, create_case, quiet_client, register_exhibit
from tests.server.testclient import TestClient
from tests.server.witnesses import Witnesses, submit

SYSTEM = {"jurisdiction": "-", "sub": "system", "role": "system", "token": None}
FULL = {"exhibits": None, "disclosure": "full", "content": False, "recipient": "Court"}


def _log(client: TestClient, world: World, case_id: str, by: str = "NL") -> list[dict[str, Any]]:
    response = client.get(f"/api/cases/{case_id}/log", headers=world.headers(by, "prosecutor"))
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.content.splitlines()]


def _policies(
    client: TestClient, world: World, case_id: str, by: str = "NL"
) -> list[dict[str, Any]]:
    return [e for e in _log(client, world, case_id, by) if e["type"] == "case.policy_set"]


def _now(workspace: Workspace, case_id: str) -> str:
    with read_transaction(workspace.engine) as conn:
        return case_policy(conn, workspace.signer, case_id).to_text()


def _witness_names(policy_text: str) -> set[str]:
    return {w.name for w in Policy.parse(policy_text).witnesses}


def test_a_new_case_logs_its_policy_with_case_created(workspace: Workspace, world: World) -> None:
    with quiet_client(workspace) as client:
        case_id = create_case(client, world, parties=("NL", "DE"))
        created, policy_set = _log(client, world, case_id)
    assert created["type"] == "case.created"
    assert policy_set["type"] == "case.policy_set"
    assert policy_set["seq"] == 1
    assert policy_set["actor"]["jurisdiction"] == "NL"
    assert policy_set["data"]["policy"] == _now(workspace, case_id)
    assert policy_set["data"]["policy"].endswith("quorum none\n")  # no witness yet
    # One transaction: one checkpoint, of both entries; none of case.created alone.
    with read_transaction(workspace.engine) as conn:
        assert log_repo.checkpoint(conn, case_id, 1) is None
        assert log_repo.checkpoint(conn, case_id, 2) is not None


def test_registering_a_witness_logs_the_policy_of_each_case_of_that_state(
    workspace: Workspace, world: World, tmp_path: Path
) -> None:
    witnesses = Witnesses(workspace)
    with quiet_client(workspace) as client:
        nl_de = create_case(client, world, parties=("NL", "DE"))
        nl_only = create_case(client, world, parties=("NL",))
        de_only = create_case(client, world, parties=("DE",), by="DE")
        witnesses.add("NL", tmp_path / "nl")
        for case_id in (nl_de, nl_only):
            first, second = _policies(client, world, case_id)
            assert second["actor"] == SYSTEM
            assert _witness_names(second["data"]["policy"]) == {"NL-1"}
            assert second["data"]["policy"] == _now(workspace, case_id)
            assert first["data"]["policy"] != second["data"]["policy"]
        assert len(_policies(client, world, de_only, "DE")) == 1  # NL is no party there
        # The same witness again: the policy did not change, nothing is logged.
        vkey = witnesses.signers["NL"].vkey()
        register_witness(
            workspace.engine, "NL", url="http://nl-witness", vkey=vkey, signer=workspace.signer
        )
        assert len(_policies(client, world, nl_de)) == 2
        # Its removal changes the policy again, back to `quorum none`.
        assert remove_witness(workspace.engine, "NL", signer=workspace.signer)
        assert not remove_witness(workspace.engine, "NL", signer=workspace.signer)
        last = _policies(client, world, nl_only)[-1]
        assert last["actor"] == SYSTEM
        assert last["data"]["policy"].endswith("quorum none\n")
        assert len(_policies(client, world, nl_only)) == 3
        assert audit_case(workspace, nl_de).ok


def test_the_quorum_is_logged_when_it_changes_and_only_then(
    workspace: Workspace, world: World, tmp_path: Path
) -> None:
    witnesses = Witnesses(workspace)
    witnesses.add("NL", tmp_path / "nl")
    witnesses.add("DE", tmp_path / "de")
    with quiet_client(workspace) as client:
        case_id = create_case(client, world, parties=("NL", "DE"))
        url = f"/api/cases/{case_id}/policy"
        prosecutor = world.headers("DE", "prosecutor")
        assert _policies(client, world, case_id)[-1]["data"]["policy"].endswith(
            "quorum witnesses\n"
        )
        refused = client.put(url, json={"quorum": 3}, headers=prosecutor)
        assert refused.status_code == 400
        assert len(_policies(client, world, case_id)) == 1  # a refusal logs nothing
        one = client.put(url, json={"quorum": 1}, headers=prosecutor)
        assert one.status_code == 200, one.text
        [_, logged] = _policies(client, world, case_id)
        assert logged["data"]["policy"] == one.text
        assert logged["actor"]["jurisdiction"] == "DE"
        assert "group witnesses 1 " in logged["data"]["policy"]
        again = client.put(url, json={"quorum": 1}, headers=prosecutor)
        assert again.status_code == 200
        assert len(_policies(client, world, case_id)) == 2


def test_a_party_joining_or_leaving_changes_the_policy(
    workspace: Workspace, world: World, tmp_path: Path
) -> None:
    witnesses = Witnesses(workspace)
    witnesses.add("DE", tmp_path / "de")
    with quiet_client(workspace) as client:
        case_id = create_case(client, world, parties=("NL",))  # one party: adds at once
        assert _policies(client, world, case_id)[-1]["data"]["policy"].endswith("quorum none\n")
        added = client.post(
            f"/api/cases/{case_id}/parties",
            json={"jurisdiction": "DE"},
            headers=world.headers("NL", "prosecutor"),
        )
        assert added.status_code == 201, added.text
        log = _log(client, world, case_id)
        assert [e["type"] for e in log[-2:]] == ["case.party_added", "case.policy_set"]
        assert _witness_names(log[-1]["data"]["policy"]) == {"DE-1"}
        # FR has no witness: its joining would not change the policy. DE withdraws itself.
        left = client.delete(
            f"/api/cases/{case_id}/parties/DE", headers=world.headers("DE", "prosecutor")
        )
        assert left.status_code == 200, left.text
        log = _log(client, world, case_id)
        assert [e["type"] for e in log[-2:]] == ["case.party_removed", "case.policy_set"]
        assert log[-1]["data"]["policy"].endswith("quorum none\n")
        assert log[-1]["data"]["policy"] == _now(workspace, case_id)


def test_an_unlogged_policy_change_is_found_by_the_audit(
    workspace: Workspace, world: World, tmp_path: Path
) -> None:
    witnesses = Witnesses(workspace)
    witnesses.add("NL", tmp_path / "nl")
    witnesses.add("DE", tmp_path / "de")
    with quiet_client(workspace) as client:
        case_id = create_case(client, world, parties=("NL", "DE"))
    assert audit_case(workspace, case_id).ok
    with workspace.engine.begin() as conn:  # behind the log's back
        conn.execute(
            text(
                "INSERT INTO case_policies (case_id, quorum, updated_at, updated_by) "
                "VALUES (:c, 1, CURRENT_TIMESTAMP, 'x')"
            ),
            {"c": case_id},
        )
    report = audit_case(workspace, case_id, objects=False)
    assert [(f.subject, f.severity) for f in report.findings] == [("policy", "error")]
    assert "not logged" in report.findings[0].message


@pytest.fixture
def two_witnessed(workspace: Workspace, world: World, tmp_path: Path) -> Any:
    """A case of NL and DE where only NL has a witness, cosigned; then DE registers one."""
    witnesses = Witnesses(workspace)
    witnesses.add("NL", tmp_path / "nl")
    with quiet_client(workspace) as client:
        case_id = create_case(client, world, parties=("NL", "DE"))
        register_exhibit(client, world, case_id)
        submit(witnesses.submitter())
        witnesses.add("DE", tmp_path / "de")
        yield client, case_id, witnesses


def _bundle(client: TestClient, world: World, case_id: str, export_id: str) -> bytes:
    response = client.get(
        f"/api/cases/{case_id}/exports/{export_id}", headers=world.headers("NL", "prosecutor")
    )
    assert response.status_code == 200, response.text
    return bytes(response.content)


def test_a_bundle_stops_where_the_policy_of_its_size_was_met_and_says_so(
    workspace: Workspace, world: World, two_witnessed: Any
) -> None:
    client, case_id, witnesses = two_witnessed
    log = _log(client, world, case_id)
    assert [e["type"] for e in log] == [
        "case.created",
        "case.policy_set",
        "exhibit.registered",
        "case.policy_set",  # DE's witness joined the policy
    ]
    old_policy, new_policy = log[1]["data"]["policy"], log[3]["data"]["policy"]
    witnesses.down.add("DE")
    submit(witnesses.submitter())  # NL cosigns size 4; DE is down
    made = client.post(
        f"/api/cases/{case_id}/exports", json=FULL, headers=world.headers("NL", "prosecutor")
    )
    assert made.status_code == 201, made.text
    body = made.json()
    # Size 4 needs DE-1 too (the policy logged at seq 3): the bundle stops at size 3,
    # which the policy of its own size (NL-1 alone) was met for.
    assert (body["tree_size"], body["log_size"], body["not_cosigned"]) == (3, 4, ["DE-1"])
    assert body["witnesses"] == ["NL-1"]  # the policy at size 3, before DE's witness
    status = client.get(
        f"/api/cases/{case_id}/exports/{body['id']}/status",
        headers=world.headers("NL", "prosecutor"),
    ).json()
    assert (status["tree_size"], status["log_size"], status["not_cosigned"]) == (3, 4, ["DE-1"])
    assert status["witnesses"] == ["NL-1"]
    data = _bundle(client, world, case_id, body["id"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        policy_txt = archive.read("policy.txt").decode()
        note = Note.parse(archive.read("checkpoint"))
        manifest = json.loads(archive.read("jitc-bundle.json"))
    assert policy_txt == old_policy != new_policy
    assert Checkpoint.parse_body(note.text).size == 3
    assert (manifest["tree_size"], manifest["log_size"]) == (3, 4)
    report = verify_bundle(io.BytesIO(data), policy_text=old_policy)
    assert report.ok, [f.message for f in report.failures()]
    # spec 6 warnings: the verifier, too, says the bundle stops before the newest entry.
    assert any("stops at entry 3 of 4" in w.message for w in report.warnings)

    # DE's witness back: the next bundle reaches the newest entry under the new policy.
    witnesses.down.clear()
    witnesses.clock.now += 120
    submit(witnesses.submitter())
    again = client.post(
        f"/api/cases/{case_id}/exports", json=FULL, headers=world.headers("NL", "prosecutor")
    ).json()
    assert again["tree_size"] == again["log_size"]
    assert again["not_cosigned"] == []
    with zipfile.ZipFile(io.BytesIO(_bundle(client, world, case_id, again["id"]))) as archive:
        assert archive.read("policy.txt").decode() == new_policy
        manifest = json.loads(archive.read("jitc-bundle.json"))
    assert manifest["log_size"] == manifest["tree_size"] == again["tree_size"]


def test_a_witness_change_starts_over_when_the_states_cases_move(
    workspace: Workspace, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case the state joined between the first read and the lock on its row is not
    locked: the change starts over, and gives up (409) if the cases never settle."""
    with quiet_client(workspace) as client:
        case_id = create_case(client, world, parties=("NL",))
        real = witness_repo.cases_of_state
        calls: list[int] = []

        def moving(conn: Any, code: str) -> list[str]:
            calls.append(1)
            found = real(conn, code)
            joined = "ffffffff-0000-4000-8000-000000000000"  # seen once the state's row is locked
            return [*found, joined] if len(calls) == 2 else found

        monkeypatch.setattr(witness_repo, "cases_of_state", moving)
        vkey = CosignatureSigner.generate("NL-1").vkey()
        register_witness(workspace.engine, "NL", url="http://w", vkey=vkey, signer=workspace.signer)
        assert len(calls) == 4  # one attempt given up, one that held
        assert _witness_names(_policies(client, world, case_id)[-1]["data"]["policy"]) == {"NL-1"}
        monkeypatch.setattr(witness_repo, "cases_of_state", lambda conn, code: [str(uuid4())])
        with pytest.raises(ConflictError, match="kept changing"):
            remove_witness(workspace.engine, "NL", signer=workspace.signer)
        assert len(_policies(client, world, case_id)) == 2  # nothing logged by the refusal


def test_a_witness_registered_later_never_blocks_the_bundle_of_what_came_before(
    workspace: Workspace, world: World, tmp_path: Path
) -> None:
    """Entries logged while the case had no witness (`quorum none`) stay exportable once a
    witness joins, even while it is down; the bundle says where it stops and why."""
    witnesses = Witnesses(workspace)
    with quiet_client(workspace) as client:
        case_id = create_case(client, world, parties=("NL", "DE"))
        for label in ("Phone", "Disk"):
            register_exhibit(client, world, case_id, label=label)  # sizes 3 and 4
        witnesses.add("DE", tmp_path / "de")  # case.policy_set at seq 4
        witnesses.down.add("DE")
        assert [o.error is not None for o in submit(witnesses.submitter())] == [True]
        made = client.post(
            f"/api/cases/{case_id}/exports", json=FULL, headers=world.headers("NL", "prosecutor")
        )
        assert made.status_code == 201, made.text
        body = made.json()
        assert (body["tree_size"], body["log_size"], body["not_cosigned"]) == (4, 5, ["DE-1"])
        assert body["witnesses"] == []  # the bundle rests on the log key alone
        data = _bundle(client, world, case_id, body["id"])
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            policy_txt = archive.read("policy.txt").decode()
        assert policy_txt.endswith("quorum none\n")
        assert policy_txt == _log(client, world, case_id)[1]["data"]["policy"]
        report = verify_bundle(io.BytesIO(data), policy_text=policy_txt)
        assert report.ok, [f.message for f in report.failures()]


def test_a_log_without_a_logged_policy_is_not_exported(
    workspace: Workspace, world: World, tmp_path: Path
) -> None:
    """A bundle's policy.txt must be a logged case.policy_set (spec 5): a log made before
    the history was kept has none, and the server says so instead of writing a bundle
    that fails check 5."""
    case_id = "0b9f6a52-1c3d-4e5f-8a7b-6c5d4e3f2a1b"
    with write_transaction(workspace.engine) as conn:
        case_repo.insert_case(
            conn, case_id=case_id, title="old", agreement="", now=datetime.now(UTC), by="NL"
        )
        case_repo.add_parties(conn, case_id, ["NL"])
        log = CaseLog.new(conn, case_id, workspace.signer)
        created = {"title": "old", "parties": ["NL"], "agreement": ""}
        log.append(SYSTEM_ACTOR, "case.created", data=created)
        log.flush()
    with quiet_client(workspace) as client:
        refused = client.post(
            f"/api/cases/{case_id}/exports", json=FULL, headers=world.headers("NL", "prosecutor")
        )
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "no_logged_policy"
    report = audit_case(workspace, case_id, objects=False)
    assert [(f.subject, f.severity) for f in report.findings] == [("policy", "warning")]
    # Once a policy is logged (here: NL registers a witness) and met, the log exports, and
    # its older sizes, which have no logged policy, are simply not candidates.
    witnesses = Witnesses(workspace)
    witnesses.add("NL", tmp_path / "nl")
    submit(witnesses.submitter())
    with quiet_client(workspace) as client:
        made = client.post(
            f"/api/cases/{case_id}/exports", json=FULL, headers=world.headers("NL", "prosecutor")
        )
        assert made.status_code == 201, made.text
        assert (made.json()["tree_size"], made.json()["witnesses"]) == (2, ["NL-1"])
        data = _bundle(client, world, case_id, made.json()["id"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        policy_txt = archive.read("policy.txt").decode()
    assert verify_bundle(io.BytesIO(data), policy_text=policy_txt).ok
    assert audit_case(workspace, case_id, objects=False).ok
