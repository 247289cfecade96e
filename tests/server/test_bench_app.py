"""bench/app.py: the workspace app with the two endpoints the benchmarks compare against
(here, beside the server tests, for their database fixtures).

The plain insert is as authenticated and authorised as registering an exhibit, and logs
nothing; the discard endpoint checks the token before it reads a body, and keeps nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.app import create_bench_app
from server.config import Settings
from tests.server.helpers import ACQUISITION, World, create_case
from tests.server.logcheck import fetch_and_verify
from tests.server.testclient import TestClient


@pytest.fixture
def bench_client(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    # The bench app reads its settings from the environment, as `jitc serve` does.
    monkeypatch.setenv("JITC_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("JITC_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("JITC_LOG_NAME", settings.log_name)
    with TestClient(create_bench_app(), raise_server_exceptions=False) as client:
        yield client


def test_the_plain_insert_is_authorised_and_logs_nothing(
    bench_client: TestClient, world: World
) -> None:
    case_id = create_case(bench_client, world)
    body = {"label": "x", "acquisition": dict(ACQUISITION)}
    inserted = bench_client.post(
        f"/api/bench/cases/{case_id}/exhibits",
        json=body,
        headers=world.headers("NL", "investigator"),
    )
    assert inserted.status_code == 201, inserted.text
    assert inserted.json()["seq"] == -1
    refused = bench_client.post(
        f"/api/bench/cases/{case_id}/exhibits",
        json=body,
        headers=world.headers("FR", "investigator"),
    )
    assert refused.status_code == 403
    entries = fetch_and_verify(bench_client, world.headers("NL", "investigator"), case_id)
    assert [e.type for e in entries] == ["case.created", "case.policy_set"]


def test_the_discard_endpoint_reads_a_body_and_keeps_nothing(
    bench_client: TestClient, world: World
) -> None:
    kept = bench_client.put(
        "/api/bench/discard", content=b"x" * 1000, headers=world.headers("NL", "technician")
    )
    assert kept.status_code == 200
    assert kept.json() == {"size": 1000}
    anonymous = bench_client.put("/api/bench/discard", content=b"x" * 1000)
    assert anonymous.status_code == 401
