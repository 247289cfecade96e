"""Workspace administration run from the command line: jurisdictions, keys, revocations."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Engine

from server.db import read_transaction, write_transaction
from server.errors import ConflictError, InvalidRequestError, NotFoundError
from server.repositories import jurisdictions as jurisdiction_repo
from server.repositories import witnesses as witness_repo
from server.tokens import thumbprint


def add_jurisdiction(engine: Engine, code: str, name: str, jwk: dict[str, str]) -> str:
    """Register a state (or check its name) and add one of its token keys; return the kid."""
    now = datetime.now(UTC)
    kid = jwk["kid"]
    with write_transaction(engine) as conn:
        existing = jurisdiction_repo.get_name(conn, code)
        if existing is None:
            jurisdiction_repo.add(conn, code, name, now)
        elif existing != name:
            raise InvalidRequestError(
                f"{code} is registered as {existing!r}, not {name!r}", code="name_mismatch"
            )
        if jurisdiction_repo.has_key(conn, code, kid):
            raise ConflictError(f"{code} already has a key with kid {kid}", code="kid_exists")
        # One public key vouches for one state only: registering NL's key under DE by
        # mistake would let NL's authority mint DE tokens.
        print_ = thumbprint(jwk)
        for other, other_kid, text in jurisdiction_repo.all_keys(conn):
            if thumbprint(json.loads(text)) == print_:
                raise ConflictError(
                    f"this public key is already registered for {other} (kid {other_kid})",
                    code="key_in_use",
                )
        jurisdiction_repo.add_key(conn, code, kid, json.dumps(jwk, sort_keys=True), now)
    return kid


def remove_key(engine: Engine, code: str, kid: str) -> None:
    with write_transaction(engine) as conn:
        if not jurisdiction_repo.remove_key(conn, code, kid):
            raise NotFoundError(f"{code} has no key {kid}", code="key_not_found")


def list_jurisdictions(engine: Engine) -> list[tuple[str, str, list[str]]]:
    with read_transaction(engine) as conn:
        return jurisdiction_repo.list_all(conn)


def witnesses_by_state(engine: Engine) -> dict[str, witness_repo.WitnessRow]:
    """Each registered state's witness, by the state's code."""
    with read_transaction(engine) as conn:
        return {w.jurisdiction: w for w in witness_repo.all_witnesses(conn)}


def revoke_token(engine: Engine, jti: str) -> bool:
    """Revoke a token by its jti; False if it was already revoked."""
    with write_transaction(engine) as conn:
        if jurisdiction_repo.is_revoked(conn, jti):
            return False
        jurisdiction_repo.revoke(conn, jti, datetime.now(UTC))
    return True
