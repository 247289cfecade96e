"""`Prefer: respond-async` on POST …/exports (RFC 7240): 202 at once, the bundle written
on the server, the export pending until ready or refused. The same checks as the
synchronous path answer before anything exists; a slot and its disk are held until the
bundle is done, however it ends; exports left pending by a stopped server end as refused.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from custody.verify import verify_bundle
from evidence import LeaseLostError, bundle_key
from server.cli import court as court_cli
from server.cli import main as jitc
from server.db import read_transaction, write_transaction
from server.models import Export, table
from server.models import Lease as LeaseRow
from server.repositories import exports as export_repo
from server.services import exports as export_service
from server.services.exports import writer as export_writer
from server.services.leases import DatabaseLeaseBook, export_lease
from server.services.workspace import Workspace
from tests.server.helpers import World, drain, error_code, quiet_client, runtime
from tests.server.test_exports import Case, make_case
from tests.server.test_exports_limits import take_every_export_slot

BODY = {"exhibits": None, "disclosure": "full", "content": True, "recipient": "Court"}
ASYNC = {"Prefer": "respond-async"}


@pytest.fixture
def case(workspace: Workspace, world: World) -> Iterator[Case]:
    with quiet_client(workspace) as client:
        yield make_case(client, world)


def _post_async(case: Case, body: dict[str, Any], prefer: str = "respond-async") -> Any:
    return case.client.post(
        f"/api/cases/{case.id}/exports",
        json=body,
        headers={**case.world.headers("NL", "prosecutor"), "Prefer": prefer},
    )


def _wait(case: Case, export_id: str) -> dict[str, Any]:
    """The export, once the background work its request started has ended."""
    drain(case.client)
    listed = case.client.get(
        f"/api/cases/{case.id}/exports", headers=case.world.headers("NL", "prosecutor")
    )
    assert listed.status_code == 200
    (mine,) = [x for x in listed.json()["items"] if x["id"] == export_id]
    return dict(mine)


def _free_slots(workspace: Workspace) -> int:
    taken = take_every_export_slot(workspace)
    for slot in taken:
        slot.release()
    return len(taken)


def _idle(case: Case, workspace: Workspace) -> None:
    """Once the background work has ended, every slot is free again and no disk is held:
    the writer let go (it gives the disk back, then the slot, as its last step)."""
    drain(case.client)
    assert _free_slots(workspace) == workspace.settings.max_concurrent_exports
    assert workspace.export_budget.reserved == 0
    assert workspace.export_budget.running == set()


def test_an_async_export_is_accepted_at_once_and_becomes_ready(
    case: Case, workspace: Workspace
) -> None:
    accepted = _post_async(case, BODY)
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["Preference-Applied"] == "respond-async"
    started = accepted.json()
    assert started["status"] in ("pending", "ready")  # a small bundle may be done already
    status_url = f"/api/cases/{case.id}/exports/{started['id']}/status"
    assert accepted.headers["Location"] == status_url
    assert accepted.headers["Vary"] == "Prefer"
    done = _wait(case, started["id"])
    assert done["status"] == "ready", done
    status = case.client.get(status_url, headers=case.world.headers("NL", "prosecutor"))
    assert status.status_code == 200
    assert status.json() == done
    data = case.bundle(started["id"])
    assert len(data) == done["bundle_size"]
    report = verify_bundle(io.BytesIO(data), policy_text=case.policy())
    assert report.ok, [f.message for f in report.failures()]
    created = [e for e in case.log() if e["type"] == "export.created"]
    assert [e["data"]["bundle_sha256"] for e in created] == [done["bundle_sha256"]]
    _idle(case, workspace)


def test_a_failure_while_writing_ends_the_export_refused_and_frees_its_slot(
    case: Case, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_fails(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_writer, "write", disk_fails)  # a failure path
    accepted = _post_async(case, BODY)
    assert accepted.status_code == 202, accepted.text
    done = _wait(case, accepted.json()["id"])
    assert done["status"] == "refused"
    assert "failed while writing: OSError" in done["error"]
    assert not [e for e in case.log() if e["type"] == "export.created"]
    _idle(case, workspace)
    pending = case.client.get(
        f"/api/cases/{case.id}/exports/{done['id']}", headers=case.world.headers("NL", "prosecutor")
    )
    assert pending.status_code == 409
    assert error_code(pending) == "export_not_ready"


def test_async_refusals_answer_before_anything_exists(case: Case, workspace: Workspace) -> None:
    taken = take_every_export_slot(workspace)
    try:
        busy = _post_async(case, BODY)
        assert busy.status_code == 503
        assert error_code(busy) == "exports_busy"
    finally:
        for slot in taken:
            slot.release()
    unknown = _post_async(case, {**BODY, "exhibits": ["0" * 8 + "-0000-4000-8000-" + "0" * 12]})
    assert unknown.status_code == 404
    other_state = case.client.post(
        f"/api/cases/{case.id}/exports",
        json=BODY,
        headers={**case.world.headers("NL", "investigator"), **ASYNC},
    )
    assert other_state.status_code == 403
    listed = case.client.get(
        f"/api/cases/{case.id}/exports", headers=case.world.headers("NL", "prosecutor")
    )
    assert listed.json()["items"] == []
    _idle(case, workspace)


@pytest.mark.parametrize(
    ("prefer", "status"),
    [("wait=10, respond-async", 202), ("respond-async; x=1", 202), ("respond-asyncx", 201)],
)
def test_the_preference_is_read_as_rfc_7240_says(case: Case, prefer: str, status: int) -> None:
    answer = _post_async(case, BODY, prefer=prefer)
    assert answer.status_code == status, answer.text
    if status == 202:
        assert _wait(case, answer.json()["id"])["status"] == "ready"


def test_exports_left_pending_by_a_stopped_server_end_as_refused(
    case: Case, workspace: Workspace
) -> None:
    old = datetime.now(UTC) - timedelta(days=2)
    stale_id, attended_id, orphan_id = (f"{d * 8}-0000-4000-8000-000000000000" for d in "567")
    with write_transaction(workspace.engine) as conn:
        for export_id, when in (
            (stale_id, old),
            (attended_id, datetime.now(UTC)),
            (orphan_id, datetime.now(UTC)),
        ):
            export_repo.insert_pending(
                conn,
                export_id=export_id,
                case_id=case.id,
                by="NL",
                request='{"by": null, "request": {}, "content_exhibits": []}',
                now=when,
            )
    # Another server's writers hold their leases for the stale and the attended export;
    # the orphan's server died and its lease expired (or it never got to take one).
    other = DatabaseLeaseBook(workspace.engine)
    writers = [other.acquire(export_lease(x)) for x in (stale_id, attended_id)]
    try:
        export_service.sweep_partial_exports(workspace)
    finally:
        for lease in writers:
            lease.release()
    with read_transaction(workspace.engine) as conn:
        stale = export_repo.get(conn, case.id, stale_id)
        attended = export_repo.get(conn, case.id, attended_id)
        orphan = export_repo.get(conn, case.id, orphan_id)
    assert stale is not None
    assert attended is not None
    assert orphan is not None
    assert stale.status == "refused"  # no export takes a day: its writer is stuck
    assert stale.error is not None
    assert "interrupted" in stale.error
    assert attended.status == "pending"  # another server is writing it
    assert orphan.status == "refused"  # nobody is: ended now, not after a day
    assert orphan.error is not None
    assert "interrupted" in orphan.error


# --- jitc export following an async export (failure paths, through a mock transport) ----


def _client(answers: list[httpx.Response]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    return httpx.Client(transport=httpx.MockTransport(handler), base_url="http://x")


def test_jitc_export_follows_through_hiccups_and_reports_a_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("server.cli.court.time.sleep", lambda _s: None)
    pending = {"id": "e1", "status": "pending", "error": None}
    answers = [
        httpx.Response(502, text="bad gateway"),  # a proxy between restarts
        httpx.Response(200, text="<html>maintenance</html>"),
        httpx.Response(200, json=pending),
        httpx.Response(200, json={**pending, "status": "ready", "bundle_sha256": "ab"}),
    ]
    with _client(answers) as http:
        ready = court_cli._wait_for_bundle(http, "http://x/api/cases/c/exports", "e1")
    assert ready["status"] == "ready"
    refused = [
        httpx.Response(200, json=pending),
        httpx.Response(200, json={**pending, "status": "refused", "error": "no room"}),
    ]
    with _client(refused) as http, pytest.raises(court_cli._ExportRefusedError, match="no room"):
        court_cli._wait_for_bundle(http, "http://x/api/cases/c/exports", "e1")
    failing = [httpx.Response(503, text="down")] * (court_cli.MAX_HICCUPS + 1)
    with _client(failing) as http, pytest.raises(court_cli._ExportRefusedError, match="failing"):
        court_cli._wait_for_bundle(http, "http://x/api/cases/c/exports", "e1")
    gone = [httpx.Response(404, json={"error": {"code": "export_not_found", "message": "no"}})]
    with _client(gone) as http, pytest.raises(court_cli._ExportRefusedError, match="404"):
        court_cli._wait_for_bundle(http, "http://x/api/cases/c/exports", "e1")


def test_jitc_export_keeps_no_bundle_whose_hash_is_not_the_logged_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ready = {
        "id": "e1",
        "status": "ready",
        "bundle_sha256": "0" * 64,
        "bundle_size": 4,
        "tree_size": 3,
        "seq": 3,
    }
    answers = [
        httpx.Response(202, json={"id": "e1", "status": "pending"}),
        httpx.Response(200, json=ready),
        httpx.Response(200, content=b"PK\x03\x04"),  # altered on the way
    ]
    real_client = httpx.Client

    def client(**kwargs: Any) -> httpx.Client:
        def handler(request: httpx.Request) -> httpx.Response:
            return answers.pop(0)

        return real_client(transport=httpx.MockTransport(handler), **kwargs)

    monkeypatch.setattr("server.cli.court.httpx.Client", client)  # a failure path
    out = tmp_path / "bundle.zip"
    case_id = "00000000-0000-4000-8000-000000000000"  # a full id: no list call to resolve it
    argv = ["export", case_id, "--out", str(out), "--recipient", "r", "--token", "t"]
    assert jitc(argv) == 1
    err = capsys.readouterr().err
    assert "is not the one logged in export.created" in err
    assert not out.exists()
    assert not out.with_name("bundle.zip.part").exists()


# --- an export's outcome is decided once ----------------------------------------------------


class _HeldWriter:
    """Holds the writer (exports.writer.write) until released (to look at a pending
    export)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        real = export_writer.write

        def held(*args: Any, **kwargs: Any) -> Any:
            self.entered.set()
            assert self.release.wait(30)
            return real(*args, **kwargs)

        monkeypatch.setattr(export_writer, "write", held)


def _row(workspace: Workspace, case: Case, export_id: str) -> export_repo.ExportRow:
    with read_transaction(workspace.engine) as conn:
        row = export_repo.get(conn, case.id, export_id)
    assert row is not None
    return row


def test_an_export_the_sweep_ended_is_not_turned_ready_later(
    case: Case, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = _HeldWriter(monkeypatch)
    export_id = _post_async(case, BODY).json()["id"]
    assert writer.entered.wait(30)
    with write_transaction(workspace.engine) as conn:  # as if it had run for 25 hours
        conn.execute(
            update(table(Export))
            .where(table(Export).c.id == export_id)
            .values(created_at=datetime.now(UTC) - timedelta(hours=25))
        )
    export_service.sweep_partial_exports(workspace)
    assert _row(workspace, case, export_id).status == "refused"
    writer.release.set()
    _idle(case, workspace)  # the writer has finished (the status was refused before it did)
    done = _wait(case, export_id)
    assert done["status"] == "refused"
    assert "interrupted" in done["error"]
    assert not [e for e in case.log() if e["type"] == "export.created"]
    assert not (export_service.exports_dir(workspace) / f"{export_id}.zip").exists()
    assert bundle_key(case.id, export_id) not in list(workspace.store.list_bundles())


def test_a_writer_another_server_took_over_from_stops_and_its_export_ends_refused(
    case: Case,
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = _HeldWriter(monkeypatch)
    export_id = _post_async(case, BODY).json()["id"]
    assert writer.entered.wait(30)
    export_service.sweep_partial_exports(workspace)
    assert _row(workspace, case, export_id).status == "pending"  # its writer is alive
    # This server stalls past the writer's lease; another server's sweep takes it over.
    with write_transaction(workspace.engine) as conn:
        conn.execute(
            update(table(LeaseRow))
            .where(table(LeaseRow).c.name == export_lease(export_id))
            .values(expires_at=datetime.now(UTC) - timedelta(hours=1))
        )
    export_service.sweep_partial_exports(workspace)
    ended = _row(workspace, case, export_id)
    assert ended.status == "refused"
    assert ended.error is not None
    assert "interrupted" in ended.error
    # The writer comes back: its next renewal writes, finds the lease gone, and it stops.
    later = time.monotonic() + workspace.leases.ttl.total_seconds()
    workspace.leases.clock = lambda: later
    writer.release.set()
    _idle(case, workspace)
    stopped = [r for r in caplog.records if r.exc_info and r.exc_info[0] is LeaseLostError]
    assert len(stopped) == 1  # at its first content chunk, not after writing it all
    assert not [e for e in case.log() if e["type"] == "export.created"]
    assert not list(export_service.exports_dir(workspace).glob(f"{export_id}.zip*"))
    assert bundle_key(case.id, export_id) not in list(workspace.store.list_bundles())


def test_shutdown_ends_the_exports_still_being_written(
    case: Case, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = _HeldWriter(monkeypatch)
    export_id = _post_async(case, BODY).json()["id"]
    assert writer.entered.wait(30)
    assert export_service.interrupt_running_exports(workspace) == [export_id]
    assert _row(workspace, case, export_id).status == "refused"
    writer.release.set()
    _idle(case, workspace)  # the writer has finished (the status was refused before it did)
    assert _wait(case, export_id)["status"] == "refused"
    assert not [e for e in case.log() if e["type"] == "export.created"]
    assert export_service.interrupt_running_exports(workspace) == []


def test_a_failure_while_logging_ends_the_export_refused(
    case: Case, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def commit_fails(case_id: str, work: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(workspace.committer, "run", commit_fails)  # a failure path
    export_id = _post_async(case, BODY).json()["id"]
    done = _wait(case, export_id)
    assert done["status"] == "refused"
    assert done["error"] == "failed while logging: RuntimeError"
    assert not (export_service.exports_dir(workspace) / f"{export_id}.zip").exists()
    assert bundle_key(case.id, export_id) not in list(workspace.store.list_bundles())
    _idle(case, workspace)


def test_a_writer_that_cannot_start_leaves_a_refused_export(
    case: Case, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_threads(work: Any) -> Any:
        raise RuntimeError("cannot schedule new futures after shutdown")

    monkeypatch.setattr(runtime(case.client), "submit", no_threads)  # a failure path
    failed = _post_async(case, BODY)
    assert failed.status_code == 500
    listed = case.client.get(
        f"/api/cases/{case.id}/exports", headers=case.world.headers("NL", "prosecutor")
    )
    (row,) = listed.json()["items"]
    assert row["status"] == "refused"
    assert row["error"] == "failed to start: RuntimeError"
    _idle(case, workspace)


def test_the_status_of_an_unknown_export_is_404(case: Case) -> None:
    missing = case.client.get(
        f"/api/cases/{case.id}/exports/{'7' * 8}-0000-4000-8000-000000000000/status",
        headers=case.world.headers("NL", "prosecutor"),
    )
    assert missing.status_code == 404
    assert error_code(missing) == "export_not_found"
