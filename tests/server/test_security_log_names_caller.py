"""Every refusal reaches the security log naming its caller (state, sub, role, jti): the
share refusals too, which used to be logged with empty names. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from jose import jwt

from server.services.workspace import Workspace
from tests.server.helpers import World, quiet_client
from tests.server.test_exports import Case, make_case


@pytest.fixture
def case(workspace: Workspace, world: World) -> Any:
    with quiet_client(workspace) as client:
        yield make_case(client, world)


def _refusals(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.name == "jitc.security" and "permission_refused" in r.getMessage()
    ]


@pytest.mark.parametrize("refusal", ["content", "export", "seal"])
def test_a_refusal_names_the_caller(
    case: Case, caplog: pytest.LogCaptureFixture, refusal: str
) -> None:
    token = case.world.token("DE", "prosecutor", sub="k.mueller")
    headers = {"Authorization": f"Bearer {token}"}
    with caplog.at_level(logging.WARNING, logger="jitc.security"):
        if refusal == "content":  # NL's exhibit, never shared with DE
            response = case.client.get(
                f"/api/cases/{case.id}/exhibits/{case.laptop}/content", headers=headers
            )
        elif refusal == "export":  # a bundle holding NL's unshared content
            response = case.client.post(
                f"/api/cases/{case.id}/exports",
                json={"exhibits": None, "disclosure": "full", "content": True, "recipient": "r"},
                headers=headers,
            )
        else:  # the matrix: a prosecutor does not seal
            response = case.client.post(
                f"/api/cases/{case.id}/exhibits/{case.laptop}/seal",
                json={"reason": "done"},
                headers=headers,
            )
    assert response.status_code == 403, response.text
    [record] = _refusals(caplog)
    claims = jwt.get_unverified_claims(token)
    assert (record["jurisdiction"], record["sub"], record["role"], record["jti"]) == (
        "DE",
        "k.mueller",
        "prosecutor",
        claims["jti"],
    )
    assert record["reason"] == response.json()["error"]["code"]
