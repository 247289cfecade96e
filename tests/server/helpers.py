"""Small factories for the server tests: state authorities, tokens, API calls."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt
from sqlalchemy import Engine

from server.services import admin
from server.tokens import generate_authority_key, private_key_pem, public_jwk
from tests.server.testclient import TestClient

ACQUISITION: Mapping[str, Any] = {
    "tool": "FTK Imager 4.7",
    "operator": "J. Jansen",
    "time": "2026-11-20T09:15:00Z",
    "hashes": {"sha256": "ab" * 32},
}


@dataclass
class World:
    """Registered states and their authority keys; issues tokens for any of them."""

    engine: Engine
    audience: str
    keys: dict[str, ec.EllipticCurvePrivateKey] = field(default_factory=dict)
    counter: int = 0

    @classmethod
    def create(cls, engine: Engine, *, audience: str, codes: Iterable[str]) -> World:
        world = cls(engine, audience)
        for code in codes:
            world.add_state(code)
        return world

    def add_state(self, code: str) -> ec.EllipticCurvePrivateKey:
        key = generate_authority_key()
        admin.add_jurisdiction(self.engine, code, f"State {code}", public_jwk(key.public_key()))
        self.keys[code] = key
        return key

    def kid(self, code: str) -> str:
        return public_jwk(self.keys[code].public_key())["kid"]

    def claims(self, code: str, role: str, sub: str | None = None) -> dict[str, Any]:
        self.counter += 1
        now = int(time.time())
        return {
            "iss": code,
            "sub": sub or f"{role}-{code.lower()}",
            "aud": self.audience,
            "role": role,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "jti": f"jti-{code}-{role}-{self.counter}-{now}",
        }

    def sign(
        self,
        claims: Mapping[str, Any],
        *,
        key_of: str,
        kid: str | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        pem = private_key_pem(self.keys[key_of]).decode("ascii")
        extra = {"kid": kid if kid is not None else self.kid(key_of), **(headers or {})}
        token: str = jwt.encode(dict(claims), pem, algorithm="ES256", headers=extra)
        return token

    def token(self, code: str, role: str, sub: str | None = None) -> str:
        return self.sign(self.claims(code, role, sub), key_of=code)

    def headers(self, code: str, role: str, sub: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(code, role, sub)}"}


def create_case(
    client: TestClient,
    world: World,
    *,
    parties: Iterable[str] = ("NL", "DE"),
    by: str = "NL",
    title: str = "Operation Tulip",
) -> str:
    response = client.post(
        "/api/cases",
        json={"title": title, "parties": list(parties), "agreement": "JIT-2026-001"},
        headers=world.headers(by, "prosecutor"),
    )
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    return case_id


def register_exhibit(
    client: TestClient, world: World, case_id: str, *, by: str = "NL", label: str = "Laptop"
) -> str:
    response = client.post(
        f"/api/cases/{case_id}/exhibits",
        json={"label": label, "description": "seized", "acquisition": dict(ACQUISITION)},
        headers=world.headers(by, "investigator"),
    )
    assert response.status_code == 201, response.text
    exhibit_id: str = response.json()["id"]
    return exhibit_id


def error_code(response: Any) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    code: str = body["error"]["code"]
    return code
