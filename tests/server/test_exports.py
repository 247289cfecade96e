"""Court bundles from a live case, and reads checked against shares."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from custody.verify import verify_bundle
from server.cli import main as jitc
from server.services.workspace import Workspace
from tests.server.helpers import World, create_case, error_code, quiet_client, register_exhibit
from tests.server.testclient import TestClient
from tests.server.witnesses import Witnesses, submit

CONTENT = {"Laptop": b"laptop image " * 1000, "Phone": b"phone dump " * 777}


@dataclass
class Case:
    client: TestClient
    world: World
    id: str
    laptop: str
    phone: str

    def post_export(self, body: dict[str, Any], *, by: str = "NL") -> Any:
        return self.client.post(
            f"/api/cases/{self.id}/exports", json=body, headers=self.world.headers(by, "prosecutor")
        )

    def log(self) -> list[dict[str, Any]]:
        response = self.client.get(
            f"/api/cases/{self.id}/log", headers=self.world.headers("NL", "prosecutor")
        )
        return [json.loads(line) for line in response.content.splitlines()]

    def policy(self) -> str:
        response = self.client.get(
            f"/api/cases/{self.id}/policy", headers=self.world.headers("DE", "prosecutor")
        )
        assert response.status_code == 200
        return str(response.text)

    def bundle(self, export_id: str, headers: dict[str, str] | None = None) -> bytes:
        response = self.client.get(
            f"/api/cases/{self.id}/exports/{export_id}",
            headers=headers or self.world.headers("NL", "prosecutor"),
        )
        assert response.status_code == 200, response.text
        return bytes(response.content)


def upload(client: TestClient, world: World, case_id: str, exhibit_id: str, data: bytes) -> None:
    response = client.put(
        f"/api/cases/{case_id}/exhibits/{exhibit_id}/content?filename=image.bin",
        content=data,
        headers={**world.headers("NL", "technician"), "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text


def make_case(client: TestClient, world: World) -> Case:
    case_id = create_case(client, world, parties=("NL", "DE"))
    laptop = register_exhibit(client, world, case_id, label="Laptop")
    phone = register_exhibit(client, world, case_id, label="Phone")
    upload(client, world, case_id, laptop, CONTENT["Laptop"])
    upload(client, world, case_id, phone, CONTENT["Phone"])
    return Case(client, world, case_id, laptop, phone)


@pytest.fixture
def case(workspace: Workspace, world: World) -> Any:
    with quiet_client(workspace) as client:
        yield make_case(client, world)


def test_full_bundle_with_content_verifies_under_the_case_policy(case: Case) -> None:
    made = case.post_export(
        {"exhibits": None, "disclosure": "full", "content": True, "recipient": "Rechtbank Den Haag"}
    )
    assert made.status_code == 201, made.text
    body = made.json()
    data = case.bundle(body["id"])
    report = verify_bundle(io.BytesIO(data), policy_text=case.policy())
    assert report.ok, [f.message for f in report.failures()]
    assert report.policy_source == "user"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("jitc-bundle.json"))
        report_html = archive.read("report.html").decode()
    assert manifest["disclosure"] == "full"
    assert {x["label"] for x in manifest["exhibits"]} == {"Laptop", "Phone"}
    assert all(x["content"] in names for x in manifest["exhibits"])
    # spec 6: the exporter's own account at export, never the recipient's verification.
    assert "At export, every check the exporter ran passed" in report_html
    assert "Policy taken from the user" not in report_html
    assert "Laptop" in report_html
    # The download logged its exhibit.accessed entries after it (test_exports_revocation).
    [last] = [e for e in case.log() if e["type"] == "export.created"]
    assert last["seq"] == body["seq"]
    assert last["seq"] >= manifest["tree_size"]
    assert last["data"]["disclosure"] == "full"
    assert last["data"]["recipient"] == "Rechtbank Den Haag"
    assert (
        last["data"]["bundle_sha256"] == hashlib.sha256(data).hexdigest() == body["bundle_sha256"]
    )


def test_selective_bundle_hashes_only(case: Case) -> None:
    made = case.post_export(
        {"exhibits": [case.phone], "disclosure": "selective", "content": False, "recipient": "r"}
    )
    assert made.status_code == 201, made.text
    data = case.bundle(made.json()["id"])
    report = verify_bundle(io.BytesIO(data), policy_text=case.policy())
    assert report.ok, [f.message for f in report.failures()]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("jitc-bundle.json"))
        entries = [json.loads(x) for x in archive.read("entries.jsonl").splitlines()]
    assert [x["id"] for x in manifest["exhibits"]] == [case.phone]
    assert manifest["exhibits"][0]["content"] is None
    assert {e["exhibit"] for e in entries} <= {None, case.phone}


def test_content_goes_only_to_a_state_it_is_shared_with(case: Case) -> None:
    request = {
        "exhibits": [case.laptop],
        "disclosure": "selective",
        "content": True,
        "recipient": "Landgericht",
    }
    refused = case.post_export(request, by="DE")
    assert refused.status_code == 403
    assert error_code(refused) == "exhibit_not_shared"
    case.client.post(
        f"/api/cases/{case.id}/exhibits/{case.laptop}/shares",
        json={"jurisdiction": "DE", "conditions": "trial only"},
        headers=case.world.headers("NL", "prosecutor"),
    )
    assert case.post_export(request, by="DE").status_code == 201
    hashes_only = case.post_export({**request, "exhibits": [case.phone], "content": False}, by="DE")
    assert hashes_only.status_code == 201


def test_judges_and_defence_receive_bundles_and_change_nothing(case: Case) -> None:
    made = case.post_export(
        {"exhibits": None, "disclosure": "full", "content": False, "recipient": "court"}
    )
    export_id = made.json()["id"]
    selective = case.post_export(
        {"exhibits": [case.laptop], "disclosure": "selective", "content": True, "recipient": "d"}
    )
    assert selective.status_code == 201, selective.text
    disclosed_id = selective.json()["id"]
    prosecutor = case.world.headers("NL", "prosecutor")
    judge = {"jurisdiction": "NL", "sub": "judge-1", "role": "judge"}
    defence = {"jurisdiction": "NL", "sub": "defence-1", "role": "defence"}
    for grant in (judge, {**defence, "exhibits": [case.laptop]}):
        granted = case.client.post(f"/api/cases/{case.id}/access", json=grant, headers=prosecutor)
        assert granted.status_code == 201, granted.text
    for role in ("judge", "defence"):
        headers = case.world.headers("NL", role, sub=f"{role}-1")
        attempt = case.client.post(
            f"/api/cases/{case.id}/exports",
            json={"exhibits": None, "disclosure": "full", "content": False, "recipient": "x"},
            headers=headers,
        )
        assert attempt.status_code == 403
    # The judge receives every bundle of the case.
    judge_headers = case.world.headers("NL", "judge", sub="judge-1")
    assert case.bundle(export_id, judge_headers)[:2] == b"PK"
    listed = case.client.get(f"/api/cases/{case.id}/exports", headers=judge_headers)
    assert [x["id"] for x in listed.json()["items"]] == [export_id, disclosed_id]
    # The defence lawyer receives only the selective bundle of what was disclosed to them:
    # the full one holds the other exhibit's entries (its label included).
    defence_headers = case.world.headers("NL", "defence", sub="defence-1")
    listed = case.client.get(f"/api/cases/{case.id}/exports", headers=defence_headers)
    assert [x["id"] for x in listed.json()["items"]] == [disclosed_id]
    hidden = case.client.get(f"/api/cases/{case.id}/exports/{export_id}", headers=defence_headers)
    assert hidden.status_code == 404
    with zipfile.ZipFile(io.BytesIO(case.bundle(disclosed_id, defence_headers))) as bundle:
        held = [json.loads(line) for line in bundle.read("entries.jsonl").splitlines()]
        manifest = bundle.read("jitc-bundle.json").decode()
    assert {e["exhibit"] for e in held} == {None, case.laptop}
    assert "Phone" not in str(held)
    assert "Phone" not in manifest
    other = case.client.get(
        f"/api/cases/{case.id}/exports/{export_id}", headers=case.world.headers("DE", "prosecutor")
    )
    assert other.status_code == 404
    stranger = case.client.get(
        f"/api/cases/{case.id}/exports/{export_id}", headers=case.world.headers("FR", "prosecutor")
    )
    assert stranger.status_code == 403


def test_a_judge_receives_content_only_of_the_exhibits_the_grant_lists(case: Case) -> None:
    both = case.post_export(
        {"exhibits": None, "disclosure": "full", "content": True, "recipient": "court"}
    )
    laptop = case.post_export(
        {"exhibits": [case.laptop], "disclosure": "selective", "content": True, "recipient": "c"}
    )
    assert both.status_code == laptop.status_code == 201
    grant = {"jurisdiction": "NL", "sub": "judge-1", "role": "judge", "exhibits": [case.laptop]}
    granted = case.client.post(
        f"/api/cases/{case.id}/access", json=grant, headers=case.world.headers("NL", "prosecutor")
    )
    assert granted.status_code == 201, granted.text
    judge = case.world.headers("NL", "judge", sub="judge-1")
    before = case.log()
    refused = case.client.get(f"/api/cases/{case.id}/exports/{both.json()['id']}", headers=judge)
    assert refused.status_code == 403
    assert error_code(refused) == "exhibit_not_shared"
    assert case.log() == before
    assert case.bundle(laptop.json()["id"], judge)[:2] == b"PK"
    accessed = [e for e in case.log()[len(before) :] if e["type"] == "exhibit.accessed"]
    assert [(e["exhibit"], e["actor"]["role"]) for e in accessed] == [(case.laptop, "judge")]


def test_bad_export_requests(case: Case) -> None:
    base = {"exhibits": None, "disclosure": "full", "content": False, "recipient": "r"}
    bad: dict[str, Any]
    for bad in (
        {**base, "disclosure": "partial"},
        {**base, "content": "yes"},
        {**base, "exhibits": []},
        {**base, "recipient": ""},
        {**base, "extra": 1},
    ):
        response = case.post_export(bad)
        assert response.status_code == 400, bad
        error_code(response)
    unknown = case.post_export({**base, "exhibits": ["00000000-0000-4000-8000-000000000000"]})
    assert unknown.status_code == 404


def test_reads_without_a_share_are_refused_and_not_logged(case: Case) -> None:
    url = f"/api/cases/{case.id}/exhibits/{case.laptop}/content?purpose=analysis"
    german = case.world.headers("DE", "investigator")
    before = len(case.log())
    refused = case.client.get(url, headers=german)
    assert refused.status_code == 403
    assert len(case.log()) == before  # no exhibit.accessed
    shares = f"/api/cases/{case.id}/exhibits/{case.laptop}/shares"
    owner = case.world.headers("NL", "prosecutor")
    case.client.post(shares, json={"jurisdiction": "DE", "conditions": ""}, headers=owner)
    allowed = case.client.get(url, headers=german)
    assert allowed.status_code == 200
    assert allowed.content == CONTENT["Laptop"]
    assert case.log()[-1]["type"] == "exhibit.accessed"
    case.client.delete(f"{shares}/DE", headers=owner)
    after = len(case.log())
    assert case.client.get(url, headers=german).status_code == 403
    assert len(case.log()) == after


def test_export_waits_for_the_witness_quorum(
    workspace: Workspace, world: World, tmp_path: Path
) -> None:
    witnesses = Witnesses(workspace)
    witnesses.add("NL", tmp_path / "nl")
    witnesses.add("DE", tmp_path / "de")
    with quiet_client(workspace) as client:
        found = make_case(client, world)
        request = {"exhibits": None, "disclosure": "full", "content": True, "recipient": "r"}
        early = found.post_export(request)
        assert early.status_code == 409
        assert error_code(early) == "not_witnessed"
        submit(witnesses.submitter())
        made = found.post_export(request)
        assert made.status_code == 201, made.text
        report = verify_bundle(
            io.BytesIO(found.bundle(made.json()["id"])), policy_text=found.policy()
        )
        assert report.ok, [f.message for f in report.failures()]
        assert set(report.cosigners) == {"NL-1", "DE-1"}


def test_a_disposed_exhibit_is_not_shared_and_exports_as_hashes(case: Case) -> None:
    owner = case.world.headers("NL", "prosecutor")
    disposed = case.client.post(
        f"/api/cases/{case.id}/exhibits/{case.phone}/dispose",
        json={"reason": "case closed", "authority": "OM Den Haag, order 12"},
        headers=owner,
    )
    assert disposed.status_code == 200, disposed.text
    shares = f"/api/cases/{case.id}/exhibits/{case.phone}/shares"
    refused = case.client.post(shares, json={"jurisdiction": "DE", "conditions": ""}, headers=owner)
    assert refused.status_code == 409
    assert error_code(refused) == "exhibit_disposed"
    made = case.post_export(
        {"exhibits": None, "disclosure": "full", "content": True, "recipient": "court"}
    )
    assert made.status_code == 201, made.text
    data = case.bundle(made.json()["id"])
    report = verify_bundle(io.BytesIO(data), policy_text=case.policy())
    assert report.ok, [f.message for f in report.failures()]
    manifest = report.manifest
    assert manifest is not None
    contents = {x.id: x.content for x in manifest.exhibits}
    assert contents[case.phone] is None
    assert contents[case.laptop] is not None


def test_jitc_export_refuses_bad_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("JITC_TOKEN", raising=False)
    out = str(tmp_path / "b.zip")
    case_id = "00000000-0000-4000-8000-000000000000"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no token kept there
    assert jitc(["export", case_id, "--out", out, "--recipient", "r"]) == 2  # configuration
    assert "--token" in capsys.readouterr().err
    argv = ["export", case_id, "--out", out, "--recipient", "r", "--selective", "--token", "t"]
    assert jitc(argv) == 1
    assert "--exhibit" in capsys.readouterr().err
    unreachable = [*argv[:-3], "--token", "t", "--server", "http://127.0.0.1:9"]
    assert jitc(unreachable) == 1
    assert "cannot reach" in capsys.readouterr().err
