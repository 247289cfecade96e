"""Settings from the environment, authority keys and JWKs, the revocation list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.auth import RevocationList
from server.config import Settings
from server.errors import ConfigError, ConflictError, InvalidRequestError
from server.services import admin
from server.services.workspace import Workspace
from server.tokens import (
    generate_authority_key,
    parse_public_jwk,
    parse_ttl,
    public_jwk,
    thumbprint,
)
from tests.server.helpers import World


def test_defaults_are_embedded(tmp_path: Path) -> None:
    settings = Settings.from_env({})
    assert settings.embedded
    assert settings.database_url == "sqlite:///jitc-data/jitc.sqlite3"
    assert settings.log_name == "jitc.localhost"


def test_production_settings() -> None:
    settings = Settings.from_env(
        {
            "JITC_DATABASE_URL": "postgresql+psycopg://jitc@db/jitc",
            "JITC_LOG_NAME": "jit.example.eu",
        }
    )
    assert not settings.embedded
    assert settings.log_name == "jit.example.eu"
    assert settings.body_idle_timeout == 60
    assert Settings.from_env({"JITC_BODY_IDLE_TIMEOUT": "2.5"}).body_idle_timeout == 2.5


@pytest.mark.parametrize(
    "env",
    [
        {"JITC_DATABASE_URL": "mysql://x"},
        {"JITC_LOG_NAME": "has space"},
        {"JITC_LOG_NAME": "a+b"},
        {"JITC_DB_POOL_SIZE": "0"},
        {"JITC_REVOCATION_REFRESH": "soon"},
        {"JITC_REVOCATION_REFRESH": "3600"},
        {"JITC_BODY_IDLE_TIMEOUT": "0"},
        {"JITC_BODY_IDLE_TIMEOUT": "soon"},
        {"JITC_BODY_IDLE_TIMEOUT": "-5"},
    ],
)
def test_bad_settings(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_public_jwk_kid_is_its_thumbprint() -> None:
    jwk = public_jwk(generate_authority_key().public_key())
    assert jwk["kid"] == thumbprint(jwk)
    parsed = parse_public_jwk(json.dumps(jwk))
    assert {k: parsed[k] for k in ("kty", "crv", "x", "y", "kid")} == {
        k: jwk[k] for k in ("kty", "crv", "x", "y", "kid")
    }
    without_kid = parse_public_jwk(json.dumps({k: v for k, v in jwk.items() if k != "kid"}))
    assert without_kid["kid"] == jwk["kid"]


@pytest.mark.parametrize(
    "change",
    [
        {"kty": "RSA"},
        {"crv": "P-384"},
        {"alg": "RS256"},
        {"x": "AAAA"},
        {"y": "A" * 43},  # 32 bytes, but not a point on the curve with this x
        {"d": "secret"},
    ],
)
def test_bad_jwks_are_refused(change: dict[str, str]) -> None:
    jwk = {**public_jwk(generate_authority_key().public_key()), **change}
    with pytest.raises(InvalidRequestError):
        parse_public_jwk(json.dumps(jwk))


@pytest.mark.parametrize(
    ("text", "seconds"), [("8h", 28800), ("30m", 1800), ("90s", 90), ("60", 60)]
)
def test_ttl(text: str, seconds: int) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1d", "-5m", "1.5h"])
def test_bad_ttl(text: str) -> None:
    with pytest.raises(InvalidRequestError):
        parse_ttl(text)


def test_revocations_are_seen_after_the_refresh_interval(workspace: Workspace) -> None:
    cached = RevocationList(workspace.engine, refresh_seconds=60)
    fresh = RevocationList(workspace.engine, refresh_seconds=0)
    assert not cached.is_revoked("jti-1")
    assert admin.revoke_token(workspace.engine, "jti-1")
    assert fresh.is_revoked("jti-1")
    assert not cached.is_revoked("jti-1")  # documented lag: up to refresh_seconds
    assert not admin.revoke_token(workspace.engine, "jti-1")


def test_malformed_base64_in_a_jwk_is_a_clear_error() -> None:
    jwk = public_jwk(generate_authority_key().public_key())
    jwk["x"] = "!!!not base64!!!"
    with pytest.raises(InvalidRequestError, match="base64url"):
        parse_public_jwk(json.dumps(jwk))


def test_one_public_key_cannot_vouch_for_two_states(world: World) -> None:
    nl_public = public_jwk(world.keys["NL"].public_key())
    with pytest.raises(ConflictError, match="already registered for NL"):
        admin.add_jurisdiction(world.engine, "FR", "State FR", nl_public)
