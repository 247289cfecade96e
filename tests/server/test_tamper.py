"""Tampering with a live case: a changed or deleted custody row, a changed
stored object, a swapped log key. The next export refuses, saying why, or the bundle it
made fails `jitc verify` under the user's policy; and `jitc audit` names the damage."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from server.cli import main as jitc
from server.config import Settings
from server.services.audit import audit_case
from server.services.workspace import Workspace
from tests.server.helpers import World, error_code, quiet_client
from tests.server.test_exports import Case, make_case

FULL = {"exhibits": None, "disclosure": "full", "content": True, "recipient": "court"}


@dataclass
class Scene:
    ws: Workspace
    case: Case
    policy: str  # taken before the tampering: what the court trusts


@pytest.fixture
def scene(workspace: Workspace, world: World) -> Iterator[Scene]:
    with quiet_client(workspace) as client:
        found = make_case(client, world)
        yield Scene(workspace, found, found.policy())


def _audit_lines(
    scene: Scene,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str]:
    monkeypatch.setenv("JITC_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("JITC_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("JITC_LOG_NAME", settings.log_name)
    if settings.log_key:
        monkeypatch.setenv("JITC_LOG_KEY", settings.log_key)
    capsys.readouterr()
    code = jitc(["audit", scene.case.id])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_an_untouched_case_audits_clean(
    scene: Scene,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _audit_lines(scene, settings, monkeypatch, capsys)
    assert code == 0, out
    assert "2 stored objects: OK" in out


def test_a_changed_custody_row(
    scene: Scene,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with scene.ws.engine.begin() as conn:
        raw = conn.execute(
            text("SELECT canonical FROM log_entries WHERE case_id = :c AND seq = 2"),
            {"c": scene.case.id},
        ).scalar_one()
        forged = bytes(raw).replace(b'"Laptop"', b'"Laptoq"')
        assert forged != raw
        conn.execute(
            text("UPDATE log_entries SET canonical = :b WHERE case_id = :c AND seq = 2"),
            {"b": forged, "c": scene.case.id},
        )
    refused = scene.case.post_export(FULL)
    assert refused.status_code == 409
    assert error_code(refused) == "export_refused"
    assert "Merkle root is not the checkpoint's root" in refused.json()["error"]["message"]
    code, out = _audit_lines(scene, settings, monkeypatch, capsys)
    assert code == 1
    assert "entry 2: its stored bytes do not hash to its stored leaf hash" in out
    assert "entry 3: prev is not the leaf hash of the entry before it" in out


def test_a_deleted_custody_row(
    scene: Scene,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with scene.ws.engine.begin() as conn:
        conn.execute(
            text("DELETE FROM log_entries WHERE case_id = :c AND seq = 2"), {"c": scene.case.id}
        )
    refused = scene.case.post_export(FULL)
    assert refused.status_code == 409
    assert error_code(refused) == "log_damaged"
    assert "missing" in refused.json()["error"]["message"]
    code, out = _audit_lines(scene, settings, monkeypatch, capsys)
    assert code == 1
    assert "entry 3: expected seq 2: entries 2..2 are missing" in out
    assert "log head: the head says" in out


def test_a_changed_byte_of_a_stored_object(
    scene: Scene,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = (
        settings.data_dir
        / "evidence"
        / "objects"
        / "cases"
        / scene.case.id
        / "exhibits"
        / scene.case.phone
    )
    assert path.is_file()
    os.chmod(path, 0o600)
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    refused = scene.case.post_export(FULL)
    assert refused.status_code == 409
    assert error_code(refused) == "export_failed_verification"
    assert f"exhibit {scene.case.phone}" in refused.json()["error"]["message"]
    # Hashes only: no bytes read, so the bundle itself verifies; the audit still sees it.
    hashes = scene.case.post_export({**FULL, "content": False})
    assert hashes.status_code == 201
    code, out = _audit_lines(scene, settings, monkeypatch, capsys)
    assert code == 1
    assert f"object cases/{scene.case.id}/exhibits/{scene.case.phone}: stored bytes" in out


def test_a_swapped_log_key(
    scene: Scene,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    world: World,
) -> None:
    other_key = base64.b64encode(b"\x42" * 32).decode()
    swapped = Settings(
        **{**{f: getattr(settings, f) for f in settings.__dataclass_fields__}, "log_key": other_key}
    )
    ws = Workspace.open(swapped)
    try:
        with quiet_client(ws) as client:
            case = Case(client, world, scene.case.id, scene.case.laptop, scene.case.phone)
            refused = case.post_export(FULL)
            assert refused.status_code == 409
            assert (
                "log key" in refused.json()["error"]["message"]
                or "signature" in refused.json()["error"]["message"]
            )
            # A new append is signed with the new key, but the case's logged policy (spec
            # 2.1 case.policy_set) names the old one: no bundle is made at all, where
            # before the history one was made that failed under the court's policy.
            client.post(
                f"/api/cases/{case.id}/notes",
                json={"exhibit": None, "text": "after the swap"},
                headers=world.headers("NL", "prosecutor"),
            )
            again = case.post_export(FULL)
            assert again.status_code == 409, again.text
            assert "names another log key" in again.json()["error"]["message"]
            hashes = case.post_export({**FULL, "content": False})
            assert hashes.status_code == 409
        report_audit = audit_case(ws, case.id)
        assert not report_audit.ok
        assert any(
            f.subject.startswith("checkpoint") and "current log key" in f.message
            for f in report_audit.findings
        )
    finally:
        ws.close()
    monkeypatch.setenv("JITC_LOG_KEY", other_key)
    code, out = _audit_lines(scene, swapped, monkeypatch, capsys)
    assert code == 1
    assert "no signature verifies with the current log key" in out


def test_audit_of_an_unknown_case(
    scene: Scene,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    scene.case.id = "00000000-0000-4000-8000-000000000000"
    code, out = _audit_lines(scene, settings, monkeypatch, capsys)
    assert code == 1
    assert "jitc: no case 00000000-0000-4000-8000-000000000000" in out
