"""`jitc audit`: cosignatures, checkpoints and the JSON report."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from server.errors import NotFoundError
from server.services.audit import audit_case
from server.services.workspace import Workspace
from tests.server.helpers import World, create_case, quiet_client, register_exhibit
from tests.server.witnesses import Witnesses, submit


@pytest.fixture
def witnessed_case(workspace: Workspace, world: World, tmp_path: Path) -> str:
    witnesses = Witnesses(workspace)
    witnesses.add("NL", tmp_path / "nl")
    witnesses.add("DE", tmp_path / "de")
    with quiet_client(workspace) as client:
        case_id = create_case(client, world, parties=("NL", "DE"))
        register_exhibit(client, world, case_id)
        submit(witnesses.submitter())
    return case_id


def test_a_witnessed_case_audits_clean(workspace: Workspace, witnessed_case: str) -> None:
    report = audit_case(workspace, witnessed_case)
    assert report.ok, [f.line() for f in report.findings]
    assert (report.entries, report.checkpoints, report.cosignatures) == (3, 2, 2)
    assert report.to_json()["ok"] is True


def test_a_forged_cosignature_is_named(workspace: Workspace, witnessed_case: str) -> None:
    with workspace.engine.begin() as conn:
        line = conn.execute(
            text("SELECT line FROM checkpoint_cosignatures WHERE key_name = 'DE-1'")
        ).scalar_one()
        # Flip one character of the base64 signature (not the key id).
        forged = line[:-6] + ("A" if line[-6] != "A" else "B") + line[-5:]
        conn.execute(
            text("UPDATE checkpoint_cosignatures SET line = :l WHERE key_name = 'DE-1'"),
            {"l": forged},
        )
    report = audit_case(workspace, witnessed_case)
    assert not report.ok
    assert [f.subject for f in report.findings] == ["cosignature DE-1 on checkpoint 3"]


def test_a_changed_checkpoint_root_is_named(workspace: Workspace, witnessed_case: str) -> None:
    with workspace.engine.begin() as conn:
        conn.execute(
            text("UPDATE checkpoints SET root = :r WHERE case_id = :c AND size = 2"),
            {"r": bytes(32), "c": witnessed_case},
        )
    report = audit_case(workspace, witnessed_case, objects=False)
    assert [f.line() for f in report.findings] == [
        "ERROR checkpoint 2: the signed root differs from the stored root"
    ]


def test_unknown_case(workspace: Workspace) -> None:
    with pytest.raises(NotFoundError):
        audit_case(workspace, "00000000-0000-4000-8000-000000000000")
