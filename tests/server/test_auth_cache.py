"""The cache of verified token signatures (server.auth.TokenVerifier) holds what can still
be used, not every token a long-running server ever saw. Clients that sign a fresh token
per request (bench/load.py does) grew it by ~1.5 KiB a request until 10,000 entries."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import server.auth
from server.auth import KEY_CACHE_SECONDS, KeyStore, TokenVerifier
from server.services.workspace import Workspace
from tests.server.conftest import LOG_NAME
from tests.server.helpers import World


@dataclass
class Monotonic:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier(workspace: Workspace, clock: Monotonic) -> TokenVerifier:
    return TokenVerifier(
        audience=LOG_NAME,
        keys=KeyStore(workspace.engine, monotonic=clock),
        is_revoked=lambda _jti: False,
        monotonic=clock,
    )


def test_fresh_tokens_all_day_keep_only_the_last_seconds_verifications(
    workspace: Workspace, world: World
) -> None:
    clock = Monotonic()
    tokens = verifier(workspace, clock)
    per_second = 4
    for n in range(400):  # 100 s of a client signing a token per request
        assert tokens.verify(world.token("NL", "investigator", sub=f"inv-{n}")).sub == f"inv-{n}"
        clock.now += 1 / per_second
    # An entry is usable for KEY_CACHE_SECONDS from its key's read, and kept no longer.
    assert len(tokens._verified) <= KEY_CACHE_SECONDS * per_second + 1  # was 400: all


def test_a_token_sent_again_is_still_verified_once_while_its_key_is_fresh(
    workspace: Workspace, world: World
) -> None:
    clock = Monotonic()
    tokens = verifier(workspace, clock)
    token = world.token("NL", "investigator")
    for _ in range(5):
        tokens.verify(token)
        for n in range(3):  # other clients' tokens in between
            tokens.verify(world.token("DE", "investigator", sub=f"other-{n}"))
        clock.now += 1.0
    assert token in tokens._verified
    clock.now += KEY_CACHE_SECONDS
    tokens.verify(world.token("DE", "investigator", sub="late"))
    assert token not in tokens._verified  # stale: dropped when the next one came
    assert len(tokens._verified) == 1


def test_the_size_limit_still_holds_within_the_key_cache_time(
    workspace: Workspace, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Monotonic()
    tokens = verifier(workspace, clock)
    monkeypatch.setattr(server.auth, "VERIFIED_CACHE_SIZE", 50)
    for n in range(70):  # all within one instant: none is stale
        tokens.verify(world.token("NL", "investigator", sub=f"inv-{n}"))
    assert len(tokens._verified) == 50
