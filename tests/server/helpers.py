"""Small factories for the server tests: state authorities, tokens, API calls."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt
from sqlalchemy import Engine

from server.app import create_app
from server.runtime import Runtime
from server.services import admin
from server.services.workspace import Workspace
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


@contextmanager
def quiet_client(ws: Workspace) -> Iterator[TestClient]:
    """A client whose app runs no lifespan: no sweep or witnessing round races the test.
    What its requests start in the background (an asynchronous export) runs on a pool of
    the test's; `drain(client)` waits for it, and the pool is drained at the end."""
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="test-background") as pool:
        yield TestClient(create_app(workspace=ws, executor=pool), raise_server_exceptions=False)


def runtime(client: TestClient) -> Runtime:
    """The background work of the client's app (server.runtime)."""
    found: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return found


def drain(client: TestClient, timeout: float = 60.0) -> None:
    """Wait for the work the client's requests started in the background."""
    runtime(client).drain(timeout)
