"""Exports are bounded: so many bundles written at once (503), and never onto a full disk (507).

A bundle with content is as large as the evidence in it; a few written side by side, or
one that does not fit, would starve the disk the database, the uploads and the evidence
store share. Refused requests leave no export row, no file and no custody entry.
"""

from __future__ import annotations

import dataclasses
import shutil
import uuid
from collections.abc import Iterator

import httpx
import pytest

from custody.checkpoint import Checkpoint
from custody.entry import Entry
from custody.note import Note
from evidence import Lease
from server.cli import court as court_cli
from server.config import Settings
from server.db import read_transaction
from server.errors import ConfigError
from server.repositories import log as log_repo
from server.services import exports as export_service
from server.services.case_policy import case_policy
from server.services.custody_log import case_origin
from server.services.leases import EXPORT_SLOT, DatabaseLeaseBook
from server.services.workspace import Workspace
from tests.server.helpers import World, error_code, quiet_client
from tests.server.test_exports import CONTENT, Case, make_case

BODY = {"exhibits": None, "disclosure": "full", "content": True, "recipient": "Court"}


@pytest.fixture
def case(workspace: Workspace, world: World) -> Iterator[Case]:
    with quiet_client(workspace) as client:
        yield make_case(client, world)


def _nothing_left(case: Case, workspace: Workspace, entries_before: int) -> None:
    listed = case.client.get(
        f"/api/cases/{case.id}/exports", headers=case.world.headers("NL", "prosecutor")
    )
    assert listed.status_code == 200
    assert listed.json()["items"] == []
    assert list(export_service.exports_dir(workspace).iterdir()) == []
    assert list(workspace.store.list_bundles(uuid.UUID(case.id))) == []
    assert len(case.log()) == entries_before


def take_every_export_slot(workspace: Workspace) -> list[Lease]:
    """Every export slot, taken by another app server on the same database."""
    other = DatabaseLeaseBook(workspace.engine)
    taken: list[Lease] = []
    while (
        slot := other.take_slot(EXPORT_SLOT, workspace.settings.max_concurrent_exports)
    ) is not None:
        taken.append(slot)
    return taken


def test_a_full_house_answers_503_with_retry_after(case: Case, workspace: Workspace) -> None:
    taken = take_every_export_slot(workspace)  # busy with exports on another server
    assert len(taken) == workspace.settings.max_concurrent_exports == 2
    before = len(case.log())
    try:
        refused = case.post_export(BODY)
        assert refused.status_code == 503
        assert error_code(refused) == "exports_busy"
        assert refused.headers["Retry-After"] == str(export_service.EXPORT_RETRY_AFTER)
        _nothing_left(case, workspace, before)
    finally:
        for slot in taken:
            slot.release()
    made = case.post_export(BODY)
    assert made.status_code == 201, made.text
    assert case.log()[-1]["type"] == "export.created"


def test_a_slot_is_given_back_after_a_refused_export(case: Case, workspace: Workspace) -> None:
    workspace.settings = dataclasses.replace(workspace.settings, max_concurrent_exports=1)
    refused = case.post_export({**BODY, "exhibits": ["0" * 8 + "-0000-4000-8000-" + "0" * 12]})
    assert refused.status_code == 404
    for _ in range(3):  # each returns its slot, refused or made
        made = case.post_export(BODY)
        assert made.status_code == 201, made.text


def test_no_room_on_disk_answers_507_before_writing(case: Case, workspace: Workspace) -> None:
    workspace.settings = dataclasses.replace(workspace.settings, export_reserve_bytes=10**18)
    before = len(case.log())
    refused = case.post_export(BODY)
    assert refused.status_code == 507
    assert error_code(refused) == "export_no_room"
    assert "content: false" in refused.json()["error"]["message"]
    _nothing_left(case, workspace, before)
    # The slot was given back: with room again, the same export is made.
    workspace.settings = dataclasses.replace(workspace.settings, export_reserve_bytes=0)
    made = case.post_export(BODY)
    assert made.status_code == 201, made.text


def _entries_and_note(case: Case, workspace: Workspace) -> tuple[list[Entry], Note]:
    with read_transaction(workspace.engine) as conn:
        policy = case_policy(conn, workspace.signer, case.id)
        origin = case_origin(workspace.settings.log_name, case.id)
        note = export_service.choose_checkpoint(conn, case.id, policy, origin)
        size = Checkpoint.parse_body(note.text).size
        rows = log_repo.entries(conn, case.id, 0, size)
    return export_service.parse_entries(rows, size), note


def test_the_estimate_bounds_the_bundles_actually_written(case: Case, workspace: Workspace) -> None:
    entries, note = _entries_and_note(case, workspace)
    estimate = export_service.export_estimate
    every = [case.laptop, case.phone]
    for disclosure, chosen in (("full", every), ("selective", [case.laptop])):
        for with_content in (True, False):
            body = {
                "exhibits": None if disclosure == "full" else chosen,
                "disclosure": disclosure,
                "content": with_content,
                "recipient": "Court",
            }
            made = case.post_export(body)
            assert made.status_code == 201, made.text
            content_ids = chosen if with_content else []
            bound = estimate(workspace, entries, note, disclosure, chosen, content_ids)
            written = made.json()["bundle_size"]
            assert written <= bound, (disclosure, with_content)
            # The fixed overhead aside, within a small factor of the real size.
            assert bound - export_service.EXPORT_OVERHEAD <= 20 * written
    # The content counts in full, the chosen exhibits' entries only when selective.
    content_bytes = sum(len(v) for v in CONTENT.values())
    hashes = estimate(workspace, entries, note, "full", every, [])
    assert estimate(workspace, entries, note, "full", every, every) == hashes + content_bytes
    one = estimate(workspace, entries, note, "selective", [case.laptop], [])
    both = estimate(workspace, entries, note, "selective", every, [])
    assert one < both


def test_exports_side_by_side_cannot_count_the_same_free_space(
    case: Case, workspace: Workspace
) -> None:
    free = shutil.disk_usage(export_service.exports_dir(workspace)).free
    workspace.settings = dataclasses.replace(workspace.settings, export_reserve_bytes=0)
    budget = workspace.export_budget
    budget.reserved = free  # another export in this process holds all of it
    try:
        refused = case.post_export(BODY)
        assert refused.status_code == 507
        assert error_code(refused) == "export_no_room"
        assert str(free) not in refused.text  # the server's free space is not told
    finally:
        budget.reserved = 0
    made = case.post_export(BODY)
    assert made.status_code == 201, made.text
    assert budget.reserved == 0  # given back when the export ended


def test_export_limits_from_the_environment() -> None:
    settings = Settings.from_env(
        {"JITC_MAX_CONCURRENT_EXPORTS": "5", "JITC_EXPORT_RESERVE_BYTES": "0"}
    )
    assert settings.max_concurrent_exports == 5
    assert settings.export_reserve_bytes == 0
    defaults = Settings.from_env({})
    assert defaults.max_concurrent_exports == 2
    assert defaults.export_reserve_bytes == 1024**3


@pytest.mark.parametrize(
    "env",
    [
        {"JITC_MAX_CONCURRENT_EXPORTS": "0"},
        {"JITC_MAX_CONCURRENT_EXPORTS": "two"},
        {"JITC_MAX_CONCURRENT_EXPORTS": "-1"},
        {"JITC_EXPORT_RESERVE_BYTES": "1e9"},
        {"JITC_EXPORT_RESERVE_BYTES": "9" * 40},
        {"JITC_MAX_CONCURRENT_EXPORTS": "\u00b2"},  # a digit to str.isdigit, not to int()
        {"JITC_MAX_CONCURRENT_EXPORTS": "\u0663"},  # ARABIC-INDIC THREE
        {"JITC_MAX_UPLOAD_BYTES": "\u00b2"},
    ],
)
def test_bad_export_limits_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=next(iter(env))):
        Settings.from_env(env)


def test_jitc_export_tells_when_to_retry() -> None:
    busy = httpx.Response(
        503,
        json={"error": {"code": "exports_busy", "message": "2 export(s) are being written"}},
        headers={"Retry-After": "30"},
    )
    assert court_cli._error_text(busy) == (
        "503 exports_busy: 2 export(s) are being written (retry in 30 s)"
    )
    odd = httpx.Response(503, text="overloaded", headers={"Retry-After": "soon"})
    assert court_cli._error_text(odd) == "503: overloaded"
