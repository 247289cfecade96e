"""Jurisdictions, their token-signing keys, and revoked tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from server.models import Jurisdiction, JurisdictionKey, RevokedToken, table

_J = table(Jurisdiction)
_K = table(JurisdictionKey)
_R = table(RevokedToken)


def get_name(conn: Connection, code: str) -> str | None:
    return conn.execute(select(_J.c.name).where(_J.c.code == code)).scalar_one_or_none()


def existing_codes(conn: Connection, codes: list[str]) -> set[str]:
    rows = conn.execute(select(_J.c.code).where(_J.c.code.in_(codes))).scalars()
    return set(rows)


def add(conn: Connection, code: str, name: str, now: datetime) -> None:
    conn.execute(insert(_J).values(code=code, name=name, created_at=now))


def list_all(conn: Connection) -> list[tuple[str, str, list[str]]]:
    codes = conn.execute(select(_J.c.code, _J.c.name).order_by(_J.c.code)).all()
    keys: dict[str, list[str]] = {}
    for code, kid in conn.execute(select(_K.c.jurisdiction, _K.c.kid).order_by(_K.c.kid)):
        keys.setdefault(code, []).append(kid)
    return [(code, name, keys.get(code, [])) for code, name in codes]


def key_jwk(conn: Connection, code: str, kid: str) -> str | None:
    query = select(_K.c.jwk).where(_K.c.jurisdiction == code, _K.c.kid == kid)
    return conn.execute(query).scalar_one_or_none()


def all_keys(conn: Connection) -> list[tuple[str, str, str]]:
    """Every registered key as (jurisdiction, kid, JWK text)."""
    rows = conn.execute(select(_K.c.jurisdiction, _K.c.kid, _K.c.jwk))
    return [(row.jurisdiction, row.kid, row.jwk) for row in rows]


def has_key(conn: Connection, code: str, kid: str) -> bool:
    return key_jwk(conn, code, kid) is not None


def add_key(conn: Connection, code: str, kid: str, jwk: str, now: datetime) -> None:
    conn.execute(insert(_K).values(jurisdiction=code, kid=kid, jwk=jwk, created_at=now))


def remove_key(conn: Connection, code: str, kid: str) -> bool:
    result = conn.execute(delete(_K).where(_K.c.jurisdiction == code, _K.c.kid == kid))
    return bool(result.rowcount)


def is_revoked(conn: Connection, jti: str) -> bool:
    query = select(_R.c.jti).where(_R.c.jti == jti)
    return conn.execute(query).scalar_one_or_none() is not None


def revoke(conn: Connection, jti: str, now: datetime) -> None:
    conn.execute(insert(_R).values(jti=jti, revoked_at=now))


def revocation_stamp(conn: Connection) -> tuple[int, object]:
    """(count, newest time) of revocations: changes whenever a token is revoked."""
    count, newest = conn.execute(select(func.count(), func.max(_R.c.revoked_at))).one()
    return int(count), newest


def revoked_jtis(conn: Connection) -> set[str]:
    return set(conn.execute(select(_R.c.jti)).scalars())
