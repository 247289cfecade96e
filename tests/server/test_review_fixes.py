"""Regression tests for the server review's findings, one per attack or bad input."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from server.errors import ConflictError, InvalidRequestError
from server.services import admin
from server.tokens import generate_authority_key, parse_public_jwk, public_jwk
from tests.server.helpers import World, create_case, error_code
from tests.server.testclient import TestClient


def _cursor(parts: list[object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def test_nul_in_unsigned_iss_is_a_401_not_a_500(client: TestClient, world: World) -> None:
    claims = world.claims("NL", "investigator")
    claims["iss"] = "NL\u0000"
    token = world.sign(claims, key_of="NL")
    response = client.get("/api/cases", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert error_code(response) == "unknown_issuer"


def test_nul_in_kid_is_a_401_not_a_500(client: TestClient, world: World) -> None:
    token = world.sign(world.claims("NL", "investigator"), key_of="NL", kid="k\u0000")
    response = client.get("/api/cases", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert error_code(response) == "unknown_key"


def test_control_characters_in_sub_are_refused(client: TestClient, world: World) -> None:
    token = world.sign(world.claims("NL", "investigator", sub="inv\u0000x"), key_of="NL")
    response = client.get("/api/cases", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert error_code(response) == "token_malformed"


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor(["2020-01-01T00:00:00+00:00", "a\u0000"]),
        _cursor(["2020-01-01T00:00:00+00:00", "not-a-uuid"]),
    ],
)
def test_forged_case_list_cursor_is_a_400(client: TestClient, world: World, cursor: str) -> None:
    response = client.get(
        "/api/cases", params={"cursor": cursor}, headers=world.headers("NL", "investigator")
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("value", [10**30, -1])
def test_out_of_range_integer_cursor_is_a_400(client: TestClient, world: World, value: int) -> None:
    case_id = create_case(client, world)
    response = client.get(
        f"/api/cases/{case_id}/notes",
        params={"cursor": _cursor([value])},
        headers=world.headers("NL", "investigator"),
    )
    assert response.status_code == 400, response.text


def test_malformed_base64_in_a_jwk_is_a_clear_error() -> None:
    jwk = public_jwk(generate_authority_key().public_key())
    jwk["x"] = "!!!not base64!!!"
    with pytest.raises(InvalidRequestError, match="base64url"):
        parse_public_jwk(json.dumps(jwk))


def test_one_public_key_cannot_vouch_for_two_states(world: World) -> None:
    nl_public = public_jwk(world.keys["NL"].public_key())
    with pytest.raises(ConflictError, match="already registered for NL"):
        admin.add_jurisdiction(world.engine, "FR", "State FR", nl_public)


def test_permission_refusals_go_to_the_security_log(
    client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    case_id = create_case(client, world, parties=("NL",))
    world.add_state("FR")
    with caplog.at_level(logging.WARNING, logger="jitc.security"):
        response = client.get(f"/api/cases/{case_id}", headers=world.headers("FR", "investigator"))
    assert response.status_code == 403
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "jitc.security"]
    refusal = next(r for r in records if r["event"] == "permission_refused")
    assert refusal["jurisdiction"] == "FR"
    assert refusal["reason"] == "case_forbidden"
    assert refusal["path"] == f"/api/cases/{case_id}"


@pytest.mark.parametrize(
    ("acquisition", "message"),
    [
        ({"tool": "UFED", "operator": "anna"}, "acquisition.time must be a string"),
        (
            {"tool": "UFED", "operator": "anna", "time": "2026-11-01T10:00:00Z", "x" * 65: "v"},
            "bad field name",
        ),
    ],
)
def test_acquisition_errors_name_the_field(
    client: TestClient, world: World, acquisition: dict[str, str], message: str
) -> None:
    case_id = create_case(client, world)
    response = client.post(
        f"/api/cases/{case_id}/exhibits",
        json={"label": "NL-1", "description": "", "acquisition": acquisition},
        headers=world.headers("NL", "technician"),
    )
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


@pytest.mark.parametrize("tail", ["/seal", "/hold"])
def test_outsiders_cannot_probe_exhibit_ids(client: TestClient, world: World, tail: str) -> None:
    case_id = create_case(client, world, parties=("NL",))
    world.add_state("FR")
    unknown = "00000000-0000-4000-8000-000000000000"
    response = client.post(
        f"/api/cases/{case_id}/exhibits/{unknown}{tail}",
        json={"reason": "probe"},
        headers=world.headers("FR", "prosecutor"),
    )
    assert response.status_code == 403
    assert error_code(response) == "case_forbidden"


def test_a_log_read_stops_at_its_byte_cap_and_says_where(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.services import log_read

    case_id = create_case(client, world)
    for i in range(5):
        response = client.post(
            f"/api/cases/{case_id}/notes",
            json={"exhibit": None, "text": f"note {i}"},
            headers=world.headers("NL", "investigator"),
        )
        assert response.status_code == 201
    monkeypatch.setattr(log_read, "MAX_READ_BYTES", 1500)
    page = client.get(f"/api/cases/{case_id}/log", headers=world.headers("NL", "investigator"))
    assert page.status_code == 200
    lines = page.content.splitlines()
    assert 1 <= len(lines) < 6
    assert page.headers["jitc-log-end"] == str(len(lines))
    assert page.headers["jitc-log-size"] == "6"
    rest = client.get(
        f"/api/cases/{case_id}/log",
        params={"from": len(lines)},
        headers=world.headers("NL", "investigator"),
    )
    assert rest.content.splitlines()[0] != lines[-1]


def test_times_come_back_with_their_zone_on_every_database(
    client: TestClient, world: World
) -> None:
    case_id = create_case(client, world)
    body = client.get(f"/api/cases/{case_id}", headers=world.headers("NL", "investigator"))
    created = body.json()["created_at"]
    assert created.endswith(("+00:00", "Z")), created
