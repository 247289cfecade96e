"""Exports are bounded: so many bundles written at once (503), and never onto a full disk (507).

A bundle with content is as large as the evidence in it; a few written side by side, or
one that does not fit, would starve the disk the database, the uploads and the evidence
store share. Refused requests leave no export row, no file and no custody entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from server.config import Settings
from server.errors import ConfigError
from server.services import exports as export_service
from server.services.workspace import Workspace
from tests.server.helpers import World, error_code
from tests.server.test_exports import CONTENT, Case, make_case
from tests.server.test_witnessing_support import quiet_client

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
    assert len(case.log()) == entries_before


def test_a_full_house_answers_503_with_retry_after(case: Case, workspace: Workspace) -> None:
    slots = workspace.export_slots
    taken = 0
    while slots.acquire(blocking=False):  # every slot busy with (pretend) exports
        taken += 1
    assert taken == workspace.settings.max_concurrent_exports == 2
    before = len(case.log())
    try:
        refused = case.post_export(BODY)
        assert refused.status_code == 503
        assert error_code(refused) == "exports_busy"
        assert refused.headers["Retry-After"] == str(export_service.EXPORT_RETRY_AFTER)
        _nothing_left(case, workspace, before)
    finally:
        for _ in range(taken):
            slots.release()
    made = case.post_export(BODY)
    assert made.status_code == 201, made.text
    assert case.log()[-1]["type"] == "export.created"


def test_a_slot_is_given_back_after_a_refused_export(case: Case, workspace: Workspace) -> None:
    workspace.settings = dataclasses.replace(workspace.settings, max_concurrent_exports=1)
    workspace._export_slots = None  # the new limit applies from here
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


def test_the_estimate_counts_the_content_and_the_log(case: Case, workspace: Workspace) -> None:
    rows = [b"x" * 100, b"y" * 250]
    log_part = export_service.EXPORT_LOG_FACTOR * 350 + export_service.EXPORT_OVERHEAD
    assert export_service.export_estimate(workspace, rows, []) == log_part
    content_bytes = sum(len(v) for v in CONTENT.values())
    both = export_service.export_estimate(workspace, rows, [case.laptop, case.phone])
    assert both == log_part + content_bytes
    laptop = export_service.export_estimate(workspace, rows, [case.laptop])
    assert laptop == log_part + len(CONTENT["Laptop"])


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
    ],
)
def test_bad_export_limits_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=next(iter(env))):
        Settings.from_env(env)
