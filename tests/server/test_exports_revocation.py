"""A bundle's content is a read of each exhibit in it (spec 6.7, 2.1; ADR 0022).

A revoked share stops the download of a bundle holding that exhibit's bytes, as it stops
a direct read; a share revoked while a bundle is written refuses the export; a download
of a bundle with content logs one exhibit.accessed per exhibit, a hashes-only one none.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from custody.verify import verify_bundle
from server.auth import Principal
from server.services import exports as export_service
from server.services.exports import writer as export_writer
from server.services.sharing import revoke_share
from server.services.workspace import Workspace
from tests.server.helpers import World, error_code, quiet_client
from tests.server.test_exports import Case, make_case


@pytest.fixture
def case(workspace: Workspace, world: World) -> Iterator[Case]:
    with quiet_client(workspace) as client:
        yield make_case(client, world)


def _share_laptop_with_germany(case: Case) -> None:
    shared = case.client.post(
        f"/api/cases/{case.id}/exhibits/{case.laptop}/shares",
        json={"jurisdiction": "DE", "conditions": "trial only"},
        headers=case.world.headers("NL", "prosecutor"),
    )
    assert shared.status_code == 201, shared.text


def _german_export(case: Case) -> str:
    made = case.post_export(
        {"exhibits": [case.laptop], "disclosure": "selective", "content": True, "recipient": "LG"},
        by="DE",
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _accesses(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in log if e["type"] == "exhibit.accessed"]


def test_a_revoked_share_stops_the_bundle_download_and_is_not_logged(case: Case) -> None:
    _share_laptop_with_germany(case)
    export_id = _german_export(case)
    german = case.world.headers("DE", "prosecutor")
    assert case.bundle(export_id, german)[:2] == b"PK"  # while shared: served

    revoked = case.client.delete(
        f"/api/cases/{case.id}/exhibits/{case.laptop}/shares/DE",
        headers=case.world.headers("NL", "prosecutor"),
    )
    assert revoked.status_code == 200, revoked.text
    direct = case.client.get(
        f"/api/cases/{case.id}/exhibits/{case.laptop}/content?purpose=trial", headers=german
    )
    assert direct.status_code == 403
    before = case.log()
    refused = case.client.get(f"/api/cases/{case.id}/exports/{export_id}", headers=german)
    assert refused.status_code == 403
    assert error_code(refused) == "exhibit_not_shared"
    assert case.laptop in refused.text
    assert b"PK" not in refused.content
    assert case.log() == before  # a refusal is not an access


def test_a_share_revoked_while_the_bundle_is_written_refuses_the_export(
    case: Case, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    _share_laptop_with_germany(case)
    owner = Principal("NL", "prosecutor-nl", "prosecutor", "jti-revoke", int(time.time()) + 600)
    write = export_writer.write

    def write_then_revoke(*args: Any) -> tuple[Path, str, int, list[str]]:
        written = write(*args)
        revoke_share(workspace, owner, case.id, case.laptop, "DE")  # between read and log
        return written

    monkeypatch.setattr(export_writer, "write", write_then_revoke)
    made = case.post_export(
        {"exhibits": [case.laptop], "disclosure": "selective", "content": True, "recipient": "LG"},
        by="DE",
    )
    assert made.status_code == 403, made.text
    assert error_code(made) == "exhibit_not_shared"
    assert not [e for e in case.log() if e["type"] == "export.created"]
    assert not list((workspace.settings.data_dir / "exports").glob("*.zip*"))
    listed = case.client.get(
        f"/api/cases/{case.id}/exports", headers=case.world.headers("DE", "prosecutor")
    )
    [row] = listed.json()["items"]
    assert row["status"] == "refused"
    assert case.laptop in row["error"]


def test_a_bundle_download_logs_one_access_per_exhibit_with_content(case: Case) -> None:
    made = case.post_export(
        {"exhibits": None, "disclosure": "full", "content": True, "recipient": "court"}
    )
    assert made.status_code == 201, made.text
    export_id = made.json()["id"]
    before = len(case.log())
    case.bundle(export_id)
    added = case.log()[before:]
    assert {e["exhibit"] for e in added} == {case.laptop, case.phone}
    for entry in added:
        assert entry["type"] == "exhibit.accessed"
        assert entry["data"] == {"purpose": f"court bundle {export_id}", "range": None}
        assert entry["actor"]["jurisdiction"] == "NL"
        assert entry["actor"]["role"] == "prosecutor"

    # A judge with a grant receives it too, and that is logged as the judge's access.
    grant = {"jurisdiction": "NL", "sub": "judge-1", "role": "judge"}
    granted = case.client.post(
        f"/api/cases/{case.id}/access", json=grant, headers=case.world.headers("NL", "prosecutor")
    )
    assert granted.status_code == 201, granted.text
    before = len(case.log())
    case.bundle(export_id, case.world.headers("NL", "judge", sub="judge-1"))
    judged = _accesses(case.log()[before:])
    assert {e["exhibit"] for e in judged} == {case.laptop, case.phone}
    assert {e["actor"]["role"] for e in judged} == {"judge"}

    # The accesses are valid custody history: a later bundle still verifies.
    later = case.post_export(
        {"exhibits": None, "disclosure": "full", "content": False, "recipient": "court"}
    )
    assert later.status_code == 201, later.text
    report = verify_bundle(io.BytesIO(case.bundle(later.json()["id"])), policy_text=case.policy())
    assert report.ok, [f.message for f in report.failures()]


def test_a_hashes_only_bundle_download_logs_nothing(case: Case) -> None:
    made = case.post_export(
        {"exhibits": None, "disclosure": "full", "content": False, "recipient": "court"}
    )
    assert made.status_code == 201, made.text
    before = case.log()
    case.bundle(made.json()["id"])
    assert case.log() == before


def test_partial_files_of_crashed_exports_are_swept(workspace: Workspace) -> None:
    directory = export_service.exports_dir(workspace)
    old = directory / "00000000-0000-4000-8000-000000000001.zip.part"
    fresh = directory / "00000000-0000-4000-8000-000000000002.zip.part"
    done = directory / "00000000-0000-4000-8000-000000000003.zip"
    for path in (old, fresh, done):
        path.write_bytes(b"x")
    os.utime(old, (time.time() - 2 * export_service.PARTIAL_EXPORT_AGE,) * 2)
    assert export_service.sweep_partial_exports(workspace) == 1
    assert not old.exists()
    assert fresh.exists()
    assert done.exists()
