"""`jitc audit` replays the log against the tables every read is checked against: a share,
grant or party row no log entry explains would grant access silently (review finding)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from server.services.audit import audit_case
from server.services.workspace import Workspace
from tests.server.helpers import World, create_case, register_exhibit
from tests.server.testclient import TestClient


def test_a_clean_case_has_consistent_tables(
    client: TestClient, world: World, workspace: Workspace
) -> None:
    case_id = create_case(client, world, parties=("NL", "DE"))
    register_exhibit(client, world, case_id)
    report = audit_case(workspace, case_id, objects=False)
    assert report.ok, [f.line() for f in report.findings]


def test_a_share_row_inserted_behind_the_logs_back_is_named(
    client: TestClient, world: World, workspace: Workspace
) -> None:
    case_id = create_case(client, world, parties=("NL", "DE"))
    exhibit_id = register_exhibit(client, world, case_id)
    with workspace.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO exhibit_shares (exhibit_id, jurisdiction, case_id, conditions,"
                " shared_at, shared_seq) VALUES (:e, 'DE', :c, '', :t, 99)"
            ),
            {"e": exhibit_id, "c": case_id, "t": datetime.now(UTC)},
        )
    report = audit_case(workspace, case_id, objects=False)
    assert [f.subject for f in report.findings] == ["shares table"]
    assert "no log entry grants it" in report.findings[0].message


def test_a_party_or_seal_changed_in_the_database_is_named(
    client: TestClient, world: World, workspace: Workspace
) -> None:
    case_id = create_case(client, world, parties=("NL", "DE"))
    exhibit_id = register_exhibit(client, world, case_id)
    with workspace.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO case_parties (case_id, jurisdiction) VALUES (:c, 'FR')"),
            {"c": case_id},
        )
        conn.execute(
            text("UPDATE exhibits SET sealed = :t WHERE id = :e"), {"t": True, "e": exhibit_id}
        )
    report = audit_case(workspace, case_id, objects=False)
    assert sorted(f.subject for f in report.findings) == [f"exhibit {exhibit_id}", "parties table"]


def test_a_hold_released_or_a_grant_widened_behind_the_logs_back_is_named(
    client: TestClient, world: World, workspace: Workspace
) -> None:
    case_id = create_case(client, world, parties=("NL", "DE"))
    exhibit_id = register_exhibit(client, world, case_id)
    prosecutor = world.headers("NL", "prosecutor")
    held = client.post(
        f"/api/cases/{case_id}/exhibits/{exhibit_id}/hold",
        json={"reason": "trial", "authority": "Rb 1"},
        headers=prosecutor,
    )
    assert held.status_code == 200
    granted = client.post(
        f"/api/cases/{case_id}/access",
        json={"jurisdiction": "NL", "sub": "r", "role": "judge", "exhibits": [exhibit_id]},
        headers=prosecutor,
    )
    assert granted.status_code == 201
    assert audit_case(workspace, case_id, objects=False).ok
    with workspace.engine.begin() as conn:
        # A hold ended and a grant widened to every exhibit, with no entry for either.
        conn.execute(
            text("UPDATE exhibit_holds SET released_seq = 99 WHERE exhibit_id = :e"),
            {"e": exhibit_id},
        )
        conn.execute(
            text("UPDATE case_grants SET exhibits = NULL WHERE case_id = :c"), {"c": case_id}
        )
    report = audit_case(workspace, case_id, objects=False)
    subjects = sorted(f.subject for f in report.findings)
    assert subjects == ["grants table", "grants table", "holds table"]
    assert any("is in the log but not stored" in f.message for f in report.findings)
