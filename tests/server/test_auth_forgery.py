"""The forged-token catalogue: each forgery is its own test, refused with 401 and a reason.

Refusals are logged to the security log (`jitc.security`), never to a case's custody log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jose import jwt

from server.app import create_app
from server.config import Settings
from tests.server.helpers import World, create_case, error_code
from tests.server.testclient import TestClient


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64(signature)}"


def _refused(client: TestClient, token: str, reason: str) -> None:
    response = client.get("/api/cases", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert error_code(response) == reason
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_valid_token_is_accepted(client: TestClient, world: World) -> None:
    response = client.get("/api/cases", headers=world.headers("NL", "investigator"))
    assert response.status_code == 200, response.text


def test_missing_token(client: TestClient, world: World) -> None:
    response = client.get("/api/cases")
    assert response.status_code == 401
    assert error_code(response) == "token_missing"


def test_garbage_token(client: TestClient, world: World) -> None:
    _refused(client, "not-a-jwt", "token_malformed")


def test_unsigned_alg_none(client: TestClient, world: World) -> None:
    claims = world.claims("NL", "prosecutor")
    token = _compact({"alg": "none", "typ": "JWT", "kid": world.kid("NL")}, claims)
    _refused(client, token, "alg_not_allowed")


def test_hs256_signed_with_the_states_public_key(client: TestClient, world: World) -> None:
    # The classic key-confusion attack: the public key (PEM and JWK forms) as HMAC secret.
    public_pem = (
        world.keys["NL"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": world.kid("NL")}
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(world.claims("NL", "prosecutor")).encode())
    signature = hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    _refused(client, f"{head}.{body}.{_b64(signature)}", "alg_not_allowed")


def test_rs256(client: TestClient, world: World) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header = {"alg": "RS256", "typ": "JWT", "kid": world.kid("NL")}
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(world.claims("NL", "prosecutor")).encode())
    signature = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    _refused(client, f"{head}.{body}.{_b64(signature)}", "alg_not_allowed")


def test_wrong_kid(client: TestClient, world: World) -> None:
    token = world.sign(world.claims("NL", "prosecutor"), key_of="NL", kid="no-such-kid")
    _refused(client, token, "unknown_key")


def test_another_states_key_under_this_iss(client: TestClient, world: World) -> None:
    # DE's authority signs a token claiming to come from NL, naming DE's kid.
    token = world.sign(world.claims("NL", "prosecutor"), key_of="DE")
    _refused(client, token, "unknown_key")


def test_another_states_key_with_this_states_kid(client: TestClient, world: World) -> None:
    # DE's authority signs a token claiming to come from NL, naming NL's kid.
    token = world.sign(world.claims("NL", "prosecutor"), key_of="DE", kid=world.kid("NL"))
    _refused(client, token, "bad_signature")


def test_unknown_iss(client: TestClient, world: World) -> None:
    claims = {**world.claims("NL", "prosecutor"), "iss": "XX"}
    _refused(client, world.sign(claims, key_of="NL"), "unknown_issuer")


def test_wrong_aud(client: TestClient, world: World) -> None:
    claims = {**world.claims("NL", "prosecutor"), "aud": "other.server"}
    _refused(client, world.sign(claims, key_of="NL"), "wrong_audience")


def test_expired(client: TestClient, world: World) -> None:
    now = int(time.time())
    claims = {**world.claims("NL", "prosecutor"), "iat": now - 7200, "nbf": now - 7200}
    claims["exp"] = now - 61  # beyond the 60 s skew
    _refused(client, world.sign(claims, key_of="NL"), "token_expired")


def test_expired_within_skew_is_accepted(client: TestClient, world: World) -> None:
    now = int(time.time())
    claims = {**world.claims("NL", "prosecutor"), "iat": now - 3600, "nbf": now - 3600}
    claims["exp"] = now - 30
    response = client.get(
        "/api/cases", headers={"Authorization": f"Bearer {world.sign(claims, key_of='NL')}"}
    )
    assert response.status_code == 200


def test_not_yet_valid(client: TestClient, world: World) -> None:
    now = int(time.time())
    claims = {**world.claims("NL", "prosecutor"), "nbf": now + 120, "exp": now + 3600}
    _refused(client, world.sign(claims, key_of="NL"), "token_not_yet_valid")


def test_issued_in_the_future(client: TestClient, world: World) -> None:
    now = int(time.time())
    claims = {**world.claims("NL", "prosecutor"), "iat": now + 120, "exp": now + 3600}
    _refused(client, world.sign(claims, key_of="NL"), "token_not_yet_valid")


def test_lifetime_over_12_hours(client: TestClient, world: World) -> None:
    now = int(time.time())
    claims = {**world.claims("NL", "prosecutor"), "exp": now + 12 * 3600 + 1}
    _refused(client, world.sign(claims, key_of="NL"), "lifetime_too_long")


def test_missing_jti(client: TestClient, world: World) -> None:
    claims = world.claims("NL", "prosecutor")
    del claims["jti"]
    _refused(client, world.sign(claims, key_of="NL"), "claim_missing")


def test_missing_exp(client: TestClient, world: World) -> None:
    claims = world.claims("NL", "prosecutor")
    del claims["exp"]
    _refused(client, world.sign(claims, key_of="NL"), "claim_missing")


def test_revoked_jti(client: TestClient, world: World) -> None:
    from server.services import admin

    claims = world.claims("NL", "prosecutor")
    token = world.sign(claims, key_of="NL")
    assert client.get("/api/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    admin.revoke_token(world.engine, claims["jti"])
    _refused(client, token, "token_revoked")


def test_tampered_payload(client: TestClient, world: World) -> None:
    token = world.token("NL", "investigator")
    head, _body, signature = token.split(".")
    forged_claims = {**jwt.get_unverified_claims(token), "role": "prosecutor"}
    body = _b64(json.dumps(forged_claims).encode())
    _refused(client, f"{head}.{body}.{signature}", "bad_signature")


def test_unknown_role(client: TestClient, world: World) -> None:
    claims = {**world.claims("NL", "prosecutor"), "role": "admin"}
    _refused(client, world.sign(claims, key_of="NL"), "unknown_role")


def test_crit_header(client: TestClient, world: World) -> None:
    token = world.sign(
        world.claims("NL", "prosecutor"), key_of="NL", headers={"crit": ["exp"], "exp": 1}
    )
    _refused(client, token, "token_malformed")


def test_case_the_state_is_no_party_to(client: TestClient, world: World) -> None:
    case_id = create_case(client, world, parties=("NL", "DE"))
    response = client.get(f"/api/cases/{case_id}", headers=world.headers("FR", "prosecutor"))
    assert response.status_code == 403
    assert error_code(response) == "case_forbidden"
    log = client.get(f"/api/cases/{case_id}/log", headers=world.headers("FR", "investigator"))
    assert log.status_code == 403


def test_refusals_go_to_the_security_log_not_the_custody_log(
    client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    case_id = create_case(client, world)
    forged = world.sign(world.claims("NL", "prosecutor"), key_of="DE", kid=world.kid("NL"))
    with caplog.at_level(logging.WARNING, logger="jitc.security"):
        response = client.post(
            f"/api/cases/{case_id}/notes",
            json={"exhibit": None, "text": "forged"},
            headers={"Authorization": f"Bearer {forged}"},
        )
    assert response.status_code == 401
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "jitc.security"]
    assert [r["reason"] for r in records] == ["bad_signature"]
    log = client.get(f"/api/cases/{case_id}/log", headers=world.headers("NL", "investigator"))
    assert [json.loads(line)["type"] for line in log.content.splitlines()] == [
        "case.created",
        "case.policy_set",
    ]


def test_served_app_writes_refusals_to_security_log_file(settings: Settings, world: World) -> None:
    security = logging.getLogger("jitc.security")
    before = list(security.handlers)
    try:
        with TestClient(create_app(settings)) as client:
            forged = world.sign(world.claims("NL", "judge"), key_of="NL", kid="rotated-away")
            response = client.get("/api/cases", headers={"Authorization": f"Bearer {forged}"})
            assert response.status_code == 401
        lines = settings.security_log_path.read_text(encoding="utf-8").splitlines()
        assert any('"reason": "unknown_key"' in line for line in lines)
    finally:
        for handler in security.handlers:
            if handler not in before:
                security.removeHandler(handler)
                handler.close()


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
