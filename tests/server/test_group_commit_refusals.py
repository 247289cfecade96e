"""A refused unit of work undoes only itself: the rest of its batch commits, so refused
requests cannot force every batch into one transaction per unit."""

from __future__ import annotations

import hashlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import event, text

from custody.entry import Actor
from server.errors import PermissionDeniedError
from server.services.committer import _Pending
from server.services.custody_log import CaseLog
from server.services.workspace import Workspace
from tests.server.helpers import World, create_case
from tests.server.logcheck import fetch_and_verify
from tests.server.testclient import TestClient

ACTOR = Actor("NL", "inv", "investigator", "jti-x")


def _note(text: str) -> dict[str, object]:
    return {"commitment": hashlib.sha256(text.encode()).hexdigest()}


def test_a_refused_unit_is_undone_alone_in_its_batch(
    client: TestClient, world: World, workspace: Workspace
) -> None:
    case_id = create_case(client, world)

    def good(log: CaseLog) -> int:
        return log.append(ACTOR, "note.added", data=_note("good")).seq

    def refused(log: CaseLog) -> int:
        log.append(ACTOR, "note.added", data=_note("refused"))  # then changes its mind
        raise PermissionDeniedError("no")

    batch = [_Pending(case_id, good), _Pending(case_id, refused), _Pending(case_id, good)]
    commits: list[int] = []

    def count(_conn: object) -> None:
        commits.append(1)

    event.listen(workspace.engine, "commit", count)
    try:
        workspace.committer._transaction(batch)  # type: ignore[arg-type]
    finally:
        event.remove(workspace.engine, "commit", count)
    assert len(commits) == 1  # one transaction for the whole batch, no per-unit re-run
    assert batch[0].error is None
    assert isinstance(batch[1].error, PermissionDeniedError)
    assert batch[2].error is None
    assert (batch[0].result, batch[2].result) == (1, 2)  # the refused append left no gap
    entries = fetch_and_verify(client, world.headers("DE", "investigator"), case_id)
    assert [e.type for e in entries] == ["case.created", "note.added", "note.added"]


def test_refused_requests_mixed_into_concurrent_writes(client: TestClient, world: World) -> None:
    case_id = create_case(client, world, parties=("NL", "DE"))
    world.add_state("FR")

    def writer(index: int) -> int:
        code = "FR" if index % 4 == 0 else "NL"
        response = client.post(
            f"/api/cases/{case_id}/notes",
            json={"exhibit": None, "text": f"note {index}"},
            headers=world.headers(code, "investigator", sub=f"w{index}"),
        )
        status: int = response.status_code
        return status

    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = Counter(pool.map(writer, range(64)))
    assert statuses == {201: 48, 403: 16}
    entries = fetch_and_verify(client, world.headers("DE", "investigator"), case_id)
    assert len(entries) == 1 + 48


def test_a_refusal_after_a_write_still_undoes_that_write(
    client: TestClient, world: World, workspace: Workspace
) -> None:
    case_id = create_case(client, world)

    def good(log: CaseLog) -> int:
        return log.append(ACTOR, "note.added", data=_note("good")).seq

    def wrote_then_refused(log: CaseLog) -> int:
        log.conn.execute(text("UPDATE cases SET title = 'changed' WHERE id = :c"), {"c": case_id})
        raise PermissionDeniedError("no")

    batch = [_Pending(case_id, good), _Pending(case_id, wrote_then_refused)]
    workspace.committer._commit(batch)  # type: ignore[arg-type]
    assert batch[0].error is None
    assert isinstance(batch[1].error, PermissionDeniedError)
    with workspace.engine.connect() as conn:
        title = conn.execute(text("SELECT title FROM cases WHERE id = :c"), {"c": case_id})
        assert title.scalar_one() != "changed"
    entries = fetch_and_verify(client, world.headers("DE", "investigator"), case_id)
    assert [e.type for e in entries] == ["case.created", "note.added"]
