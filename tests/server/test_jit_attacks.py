"""The JIT rules attacked through the doors the rule tests do not use, on SQLite and
PostgreSQL: what a defence lawyer learns of undisclosed exhibits from paging, and what a
withdrawn or later state may still do."""

from __future__ import annotations

import base64

from tests.server.helpers import World, create_case, register_exhibit
from tests.server.testclient import TestClient


def _decoded(cursor: str) -> str:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


def test_paging_exhibits_tells_defence_nothing_of_undisclosed_ones(
    client: TestClient, world: World
) -> None:
    case = create_case(client, world, parties=("NL", "DE"))
    secrets = [register_exhibit(client, world, case, by="NL", label=f"S{i}") for i in range(3)]
    disclosed = register_exhibit(client, world, case, by="NL", label="Disclosed")
    granted = client.post(
        f"/api/cases/{case}/access",
        json={"jurisdiction": "NL", "sub": "adv", "role": "defence", "exhibits": [disclosed]},
        headers=world.headers("NL", "prosecutor"),
    )
    assert granted.status_code == 201, granted.text
    defence = world.headers("NL", "defence", sub="adv")
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "?limit=1" + (f"&cursor={cursor}" if cursor else "")
        answer = client.get(f"/api/cases/{case}/exhibits{query}", headers=defence)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen.extend(item["id"] for item in body["items"])
        cursor = body.get("next_cursor")
        pages += 1
        if cursor is None:
            break
        # The cursor is opaque but decodable: it must name no undisclosed exhibit.
        assert not any(secret in _decoded(cursor) for secret in secrets)
        # and a page is never empty only because it held undisclosed exhibits
        assert body["items"], "an empty page with a cursor tells that hidden exhibits exist"
    assert seen == [disclosed]
    assert pages == 1
