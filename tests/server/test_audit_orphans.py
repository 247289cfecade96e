"""`jitc audit` lists the store and reports what no custody entry accounts for: exhibit
objects without an ingest entry, and bundles of no ready or pending export; on both
stores."""

from __future__ import annotations

import uuid
from pathlib import Path

from starlette.testclient import TestClient

from evidence import bundle_key, exhibit_key
from server.services.audit import audit_case
from server.services.workspace import Workspace
from tests.evidence.support import Harness
from tests.server.helpers import World, create_case, register_exhibit
from tests.server.test_exports import upload


def _findings(workspace: Workspace, case_id: str) -> dict[str, tuple[str, str]]:
    report = audit_case(workspace, case_id)
    return {f.subject: (f.severity, f.message) for f in report.findings}


def test_objects_and_bundles_no_entry_accounts_for_are_reported(
    content_client: TestClient,
    workspace: Workspace,
    world: World,
    evidence: Harness,
    tmp_path: Path,
) -> None:
    client = content_client
    case_id = create_case(client, world)
    logged = register_exhibit(client, world, case_id, label="Laptop")
    upload(client, world, case_id, logged, b"logged bytes")
    made = client.post(
        f"/api/cases/{case_id}/exports",
        json={"exhibits": None, "disclosure": "full", "content": True, "recipient": "court"},
        headers=world.headers("NL", "prosecutor"),
    )
    assert made.status_code == 201, made.text
    assert audit_case(workspace, case_id).ok  # its object and its bundle are accounted for
    assert _findings(workspace, case_id) == {}

    store = evidence.store
    never_logged = register_exhibit(client, world, case_id, label="Phone")
    orphan = exhibit_key(case_id, never_logged)
    store.put_stream(orphan, [b"an ingest that died before its entry"])
    stray = exhibit_key(case_id, uuid.uuid4())
    store.put_stream(stray, [b"no exhibit at all"])
    scratch = tmp_path / "stray.zip"
    scratch.write_bytes(b"PK not a bundle of ours")
    stray_bundle = bundle_key(case_id, uuid.uuid4())
    store.put_bundle(stray_bundle, scratch)
    other_case = exhibit_key(uuid.uuid4(), uuid.uuid4())
    store.put_stream(other_case, [b"another case's object"])  # not this case's audit

    report = audit_case(workspace, case_id)
    assert not report.ok
    assert _findings(workspace, case_id) == {
        f"object {orphan.path}": (
            "error",
            "an orphan: no custody entry accounts for this stored object",
        ),
        f"object {stray.path}": (
            "error",
            "an orphan: no custody entry accounts for this stored object",
        ),
        f"bundle {stray_bundle.path}": ("error", "an orphan: the bundle of no export"),
    }


def test_an_object_whose_write_is_still_open_is_a_warning(
    content_client: TestClient, workspace: Workspace, world: World, evidence: Harness
) -> None:
    client = content_client
    case_id = create_case(client, world)
    exhibit_id = register_exhibit(client, world, case_id)
    begun = client.post(
        f"/api/cases/{case_id}/exhibits/{exhibit_id}/uploads",
        headers={
            **world.headers("NL", "technician"),
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "5",
        },
    )
    assert begun.status_code == 201, begun.text
    # The object made, the entry not yet: what a server that died here leaves for recovery.
    evidence.store.put_stream(exhibit_key(case_id, exhibit_id), [b"bytes"])
    report = audit_case(workspace, case_id)
    assert report.ok
    ((severity, message),) = _findings(workspace, case_id).values()
    assert severity == "warning"
    assert "in progress or awaits recovery" in message
