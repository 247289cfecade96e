"""`exhibit.accessed` means bytes were sent: HEAD, 416 (and a malformed Range) on exhibit
content and on a bundle leave the custody log unchanged, and resuming a bundle download
does not multiply entries (one download of one export by one person is one access per
exhibit: docs/permissions.md). On SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from server.services.workspace import Workspace
from tests.server.helpers import World, quiet_client
from tests.server.test_exports import Case, make_case


@pytest.fixture
def case(workspace: Workspace, world: World) -> Any:
    with quiet_client(workspace) as client:
        yield make_case(client, world)


def _accesses(case: Case) -> list[dict[str, Any]]:
    return [e for e in case.log() if e["type"] == "exhibit.accessed"]


def test_head_and_416_on_content_append_nothing(case: Case) -> None:
    url = f"/api/cases/{case.id}/exhibits/{case.laptop}/content"
    reader = case.world.headers("NL", "investigator")
    size = len(case.client.get(url, headers=reader).content)
    before = case.log()
    head = case.client.head(url, headers=reader)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(size)
    assert head.content == b""
    assert "jitc-entry-seq" not in head.headers
    partial_head = case.client.head(url, headers={**reader, "Range": "bytes=0-9"})
    assert partial_head.status_code == 206
    beyond = case.client.get(url, headers={**reader, "Range": f"bytes={size + 10}-"})
    assert beyond.status_code == 416
    assert case.log() == before
    # A GET that sends bytes is logged, once.
    got = case.client.get(url, headers={**reader, "Range": "bytes=0-9"})
    assert got.status_code == 206
    assert len(case.log()) == len(before) + 1


def test_head_416_and_resumed_bundle_downloads_append_no_more(case: Case) -> None:
    made = case.post_export(
        {"exhibits": None, "disclosure": "full", "content": True, "recipient": "court"}
    )
    assert made.status_code == 201, made.text
    url = f"/api/cases/{case.id}/exports/{made.json()['id']}"
    prosecutor = case.world.headers("NL", "prosecutor")
    before = case.log()
    head = case.client.head(url, headers=prosecutor)
    assert head.status_code == 200
    assert head.content == b""
    size = int(head.headers["content-length"])
    beyond = case.client.get(url, headers={**prosecutor, "Range": f"bytes={size + 5}-"})
    assert beyond.status_code == 416
    malformed = case.client.get(url, headers={**prosecutor, "Range": "bytes=9-3"})
    assert malformed.status_code == 400
    assert case.log() == before

    # The first response that sends bundle bytes logs one access per exhibit with content.
    first = case.client.get(url, headers={**prosecutor, "Range": "bytes=0-99"})
    assert first.status_code == 206
    accessed = _accesses(case)
    assert sorted(e["exhibit"] for e in accessed) == sorted([case.laptop, case.phone])
    # Resumed, and downloaded again whole: the same person, the same bundle, no more.
    rest = case.client.get(url, headers={**prosecutor, "Range": "bytes=100-"})
    assert rest.status_code == 206
    assert len(first.content) + len(rest.content) == size
    again = case.client.get(url, headers=prosecutor)
    assert again.status_code == 200
    assert _accesses(case) == accessed
    # Another person of the same state receiving the bundle is another access.
    colleague = case.world.headers("NL", "prosecutor", sub="second prosecutor")
    assert case.client.get(url, headers=colleague).status_code == 200
    assert len(_accesses(case)) == 2 * len(accessed)
