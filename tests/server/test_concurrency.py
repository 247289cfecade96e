"""64 concurrent writers on one case: no fork, no gap, a log that verifies."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.server.helpers import ACQUISITION, World, create_case
from tests.server.logcheck import fetch_and_verify
from tests.server.testclient import TestClient

WRITERS = 64
EACH = 3


@pytest.mark.slow
def test_64_concurrent_writers_on_one_case(client: TestClient, world: World) -> None:
    case_id = create_case(client, world)
    tokens = [world.headers("NL", "investigator", sub=f"writer-{i}") for i in range(WRITERS)]

    def writer(index: int) -> list[int]:
        statuses = []
        for round_ in range(EACH):
            if (index + round_) % 2:
                body = {"label": f"item {index}/{round_}", "acquisition": dict(ACQUISITION)}
                response = client.post(
                    f"/api/cases/{case_id}/exhibits", json=body, headers=tokens[index]
                )
            else:
                response = client.post(
                    f"/api/cases/{case_id}/notes",
                    json={"exhibit": None, "text": f"note {index}/{round_}"},
                    headers=tokens[index],
                )
            statuses.append(response.status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        statuses = [s for result in pool.map(writer, range(WRITERS)) for s in result]
    assert Counter(statuses) == {201: WRITERS * EACH}

    entries = fetch_and_verify(client, world.headers("DE", "investigator"), case_id)
    assert len(entries) == 2 + WRITERS * EACH  # after case.created, case.policy_set
    assert len({e.seq for e in entries}) == len(entries)
    types = Counter(e.type for e in entries)
    assert types["exhibit.registered"] + types["note.added"] == WRITERS * EACH


@pytest.mark.slow
def test_concurrent_writers_across_cases(client: TestClient, world: World) -> None:
    cases = [create_case(client, world, title=f"case {i}") for i in range(8)]
    headers = world.headers("NL", "investigator")

    def writer(index: int) -> int:
        case_id = cases[index % len(cases)]
        body = {"label": f"item {index}", "acquisition": dict(ACQUISITION)}
        response = client.post(f"/api/cases/{case_id}/exhibits", json=body, headers=headers)
        status: int = response.status_code
        return status

    with ThreadPoolExecutor(max_workers=32) as pool:
        assert set(pool.map(writer, range(96))) == {201}
    for case_id in cases:
        entries = fetch_and_verify(client, headers, case_id)
        assert len(entries) == 2 + 96 // len(cases)
