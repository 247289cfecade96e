"""The custody log service: group commit, failure isolation, time order, checkpoints."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from custody.entry import Entry
from server.errors import ConflictError, NotFoundError
from server.models import Checkpoint, LogHead, table
from server.services.custody_log import CaseLog
from server.services.workspace import Workspace
from tests.server.helpers import World, create_case
from tests.server.logcheck import fetch_and_verify
from tests.server.testclient import TestClient


def _append_note(log: CaseLog, actor_sub: str) -> int:
    from custody.entry import Actor

    actor = Actor(jurisdiction="NL", sub=actor_sub, role="investigator", token="t")
    return log.append(actor, "note.added", data={"commitment": "00" * 32}).seq


def test_a_failing_unit_of_work_does_not_fail_its_batch(
    client: TestClient, world: World, workspace: Workspace
) -> None:
    case_id = create_case(client, world)
    release = threading.Event()
    started = threading.Event()

    def blocker(log: CaseLog) -> int:
        started.set()
        release.wait(timeout=30)
        return _append_note(log, "first")

    def failing(log: CaseLog) -> int:
        _append_note(log, "doomed")  # appended, then rolled back with its unit
        raise ConflictError("refused on purpose", code="refused")

    with ThreadPoolExecutor(max_workers=8) as pool:
        first = pool.submit(workspace.committer.run, case_id, blocker)
        assert started.wait(timeout=30)
        # These queue behind the running transaction and commit as one batch.
        good = [
            pool.submit(
                workspace.committer.run, case_id, lambda log, i=i: _append_note(log, f"w{i}")
            )
            for i in range(5)
        ]
        bad = pool.submit(workspace.committer.run, case_id, failing)
        missing = pool.submit(
            workspace.committer.run, "00000000-0000-4000-8000-000000000000", failing
        )
        release.set()
        assert first.result() == 1
        seqs = sorted(f.result() for f in good)
        with pytest.raises(ConflictError):
            bad.result()
        with pytest.raises(NotFoundError):
            missing.result()
    assert seqs == [2, 3, 4, 5, 6]
    entries = fetch_and_verify(client, world.headers("NL", "investigator"), case_id)
    assert len(entries) == 7
    assert entries[1].actor.sub == "first"
    assert {e.actor.sub for e in entries[2:]} == {f"w{i}" for i in range(5)}
    assert all(e.actor.sub != "doomed" for e in entries)


def test_time_never_goes_back(client: TestClient, world: World, workspace: Workspace) -> None:
    case_id = create_case(client, world)
    future = "2999-01-01T00:00:00.000000Z"
    with workspace.engine.begin() as conn:
        conn.execute(
            update(table(LogHead))
            .where(table(LogHead).c.case_id == case_id)
            .values(last_time=future)
        )
    seq = workspace.committer.run(case_id, lambda log: _append_note(log, "late"))
    response = client.get(
        f"/api/cases/{case_id}/log",
        params={"from": seq},
        headers=world.headers("NL", "investigator"),
    )
    assert Entry.parse(response.content.strip()).time == future


def test_one_size_never_gets_two_roots(
    client: TestClient, world: World, workspace: Workspace
) -> None:
    case_id = create_case(client, world)
    with pytest.raises(IntegrityError), workspace.engine.begin() as conn:
        conn.execute(
            table(Checkpoint)
            .insert()
            .values(
                case_id=case_id, size=1, root=bytes(32), note=b"x", created_at=datetime.now(UTC)
            )
        )


def test_checkpoint_is_signed_again_if_missing(
    client: TestClient, world: World, workspace: Workspace
) -> None:
    case_id = create_case(client, world)
    with workspace.engine.begin() as conn:
        conn.execute(delete(table(Checkpoint)).where(table(Checkpoint).c.case_id == case_id))
    fetch_and_verify(client, world.headers("NL", "investigator"), case_id)


def test_bulk_update_sees_rows_inserted_in_the_same_write(workspace: Workspace) -> None:
    from server.models import Jurisdiction
    from server.repositories.bulk import Insert, Update, write_all

    jurisdictions = table(Jurisdiction)
    now = datetime.now(UTC)
    with workspace.engine.begin() as conn:
        write_all(
            conn,
            [
                Insert(jurisdictions, [{"code": "XA", "name": "old", "created_at": now}]),
                Update(jurisdictions, "code", [{"code": "XA", "name": "new"}]),
            ],
        )
        names = conn.execute(jurisdictions.select().where(jurisdictions.c.code == "XA")).all()
    assert [row.name for row in names] == ["new"]
