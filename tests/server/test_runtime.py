"""server/runtime.py: the background work of an app, on an executor the test owns.

The sweep recovers an interrupted ingest when asked, a stopping runtime ends the exports
it is writing (refused, nothing left on disk) without waiting for their bundles, and a
stopped runtime refuses to promise more rounds.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import CancelledError, ThreadPoolExecutor
from typing import Any

import pytest

from evidence import exhibit_key
from server.app import create_app
from server.services import exports
from server.services.content import ContentMeta, ingest
from server.services.workspace import Workspace
from tests.evidence.support import Harness, pattern
from tests.server.helpers import World, create_case, register_exhibit, runtime
from tests.server.test_content import entries
from tests.server.test_content_recovery import technician
from tests.server.test_exports import make_case
from tests.server.testclient import TestClient

BODY = {"exhibits": None, "disclosure": "full", "content": True, "recipient": "Court"}


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="test-runtime") as executor:
        yield executor


def test_a_sweep_completes_an_ingest_a_crash_interrupted(
    workspace: Workspace, world: World, evidence: Harness, pool: ThreadPoolExecutor
) -> None:
    workspace.use_store(evidence.store)
    workspace.settings = dataclasses.replace(workspace.settings, recovery_grace=0)
    with TestClient(create_app(workspace=workspace, executor=pool)) as client:
        case_id = create_case(client, world)
        exhibit_id = register_exhibit(client, world, case_id)
        # The first two steps of an ingest, and then the process dies.
        meta = ContentMeta("seized.img", "application/octet-stream", None)
        ingest.begin_write(
            workspace, technician(), case_id, exhibit_id, meta, kind="put", length=None
        )
        workspace.store.put_stream(exhibit_key(case_id, exhibit_id), [pattern(3000)])
        runtime(client).sweep_now().result(timeout=60)
        last = entries(client, world, case_id)[-1]
    assert last["type"] == "exhibit.ingested"
    assert last["data"]["recovered"] is True


def test_stopping_ends_the_exports_being_written_without_waiting_for_them(
    workspace: Workspace, world: World, pool: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(create_app(workspace=workspace, executor=pool)) as client:
        case = make_case(client, world)
        background = runtime(client)
        store = workspace.store
        real_open_range = store.open_range
        streaming = threading.Event()
        drained: list[bool] = []

        def held_until_stopping(key: Any, *args: Any) -> Iterator[bytes]:
            data = b"".join(real_open_range(key, *args))
            yield data[:100]
            streaming.set()
            assert background.stopping.wait(60)
            yield data[100:]
            drained.append(True)  # reached only if the writer read on after the stop

        monkeypatch.setattr(store, "open_range", held_until_stopping)  # holds the writer
        accepted = client.post(
            f"/api/cases/{case.id}/exports",
            json=BODY,
            headers={**world.headers("NL", "prosecutor"), "Prefer": "respond-async"},
        )
        assert accepted.status_code == 202, accepted.text
        export_id = accepted.json()["id"]
        assert streaming.wait(60)
    # Leaving the client stopped the app: the writer ended at its next chunk.
    assert drained == []
    assert workspace.export_budget.running == set()
    assert workspace.export_budget.reserved == 0
    with TestClient(create_app(workspace=workspace, executor=pool)) as client:
        listed = client.get(
            f"/api/cases/{case.id}/exports", headers=world.headers("NL", "prosecutor")
        )
    (row,) = listed.json()["items"]
    assert row["id"] == export_id
    assert row["status"] == "refused"
    assert row["error"] == exports.INTERRUPTED
    assert list(exports.exports_dir(workspace).glob(f"{export_id}.zip*")) == []
    assert list(workspace.store.list_bundles(uuid.UUID(case.id))) == []


def test_a_stopped_runtime_promises_no_round(
    workspace: Workspace, pool: ThreadPoolExecutor
) -> None:
    app = create_app(workspace=workspace, executor=pool)
    with TestClient(app):
        pass
    with pytest.raises(CancelledError):
        app.state.runtime.sweep_now().result(timeout=10)
