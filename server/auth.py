"""Bearer-token authentication: ES256 JWTs from registered state authorities.

A token is accepted only if: alg is ES256 and the header's kid names a key registered
for the iss state; the signature verifies with that key; aud is this server's log name;
exp, iat and nbf hold within 60 s of skew; exp - iat is at most 12 hours; jti is present
and not revoked; role is one of the five roles. Every refusal raises AuthenticationError
whose code is the reason, and is written to the security log (never the custody log).

NOTE: the unverified header and claims are read only to choose the key; nothing from
them is trusted before the signature has verified.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jose import jwk, jws
from jose.backends.base import Key
from jose.exceptions import JOSEError
from sqlalchemy import Engine

from custody.entry import Actor
from server.config import Settings
from server.db import read_transaction
from server.errors import AuthenticationError
from server.repositories import jurisdictions as jurisdiction_repo
from server.tokens import ALGORITHM, JURISDICTION_CODE, MAX_LIFETIME_SECONDS, ROLES

MAX_SKEW_SECONDS = 60
MAX_TOKEN_BYTES = 8192
KEY_CACHE_SECONDS = 10.0
VERIFIED_CACHE_SIZE = 10_000

security_log = logging.getLogger("jitc.security")


class Refusal(StrEnum):
    """Why a token was refused: the `code` of the 401 response and of the security log."""

    MISSING = "token_missing"
    MALFORMED = "token_malformed"
    ALG_NOT_ALLOWED = "alg_not_allowed"
    UNKNOWN_ISSUER = "unknown_issuer"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    WRONG_AUDIENCE = "wrong_audience"
    EXPIRED = "token_expired"
    NOT_YET_VALID = "token_not_yet_valid"
    LIFETIME_TOO_LONG = "lifetime_too_long"
    CLAIM_MISSING = "claim_missing"
    REVOKED = "token_revoked"
    UNKNOWN_ROLE = "unknown_role"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token says the caller is."""

    jurisdiction: str
    sub: str
    role: str
    jti: str
    expires: int

    def actor(self) -> Actor:
        return Actor(jurisdiction=self.jurisdiction, sub=self.sub, role=self.role, token=self.jti)


class _RefusalError(AuthenticationError):
    """An AuthenticationError with what the security log should say about it."""

    def __init__(self, reason: Refusal, message: str, context: dict[str, object]) -> None:
        super().__init__(message, code=reason.value)
        self.context = context


def _refuse(reason: Refusal, message: str, **context: object) -> AuthenticationError:
    return _RefusalError(reason, message, context)


def configure_security_log(settings: Settings) -> None:
    """Also write the security log to `security.log` in the data directory (once a process)."""
    path = str(settings.security_log_path.resolve())
    for handler in security_log.handlers:
        if isinstance(handler, logging.FileHandler) and handler.baseFilename == path:
            return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    security_log.addHandler(handler)
    security_log.setLevel(logging.INFO)


# The shape of a key id (printable ASCII, as stored in jurisdiction_keys.kid).
_KID = re.compile(r"[!-~]{1,128}")


def log_refusal(error: AuthenticationError, *, remote: str | None) -> None:
    """Write one refused token to the security log (never to a custody log)."""
    context = error.context if isinstance(error, _RefusalError) else {}
    record = {
        "event": "token_refused",
        "reason": error.code,
        "message": error.message,
        "remote": remote,
        **{f"claimed_{key}": value for key, value in context.items()},
    }
    security_log.warning(json.dumps(record, sort_keys=True, default=str))


class KeyStore:
    """Registered state keys by (iss, kid), as jose keys, cached for a few seconds."""

    def __init__(
        self,
        engine: Engine,
        *,
        ttl: float = KEY_CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[Key, float]] = {}

    def lookup(self, iss: str, kid: str) -> tuple[Key, float]:
        """The key and when it was read from the database (monotonic clock): whatever is
        derived from it may be trusted until that time + KEY_CACHE_SECONDS, no longer."""
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get((iss, kid))
        if cached is not None and now - cached[1] < self._ttl:
            return cached
        with read_transaction(self._engine) as conn:
            text = jurisdiction_repo.key_jwk(conn, iss, kid)
            issuer_known = text is not None or jurisdiction_repo.get_name(conn, iss) is not None
        if text is None:
            if not issuer_known:
                raise _refuse(
                    Refusal.UNKNOWN_ISSUER, "the token's issuer is not a known jurisdiction"
                )
            raise _refuse(
                Refusal.UNKNOWN_KEY, "the token's kid is not a key of its issuer", iss=iss
            )
        key = jwk.construct(json.loads(text), ALGORITHM)
        with self._lock:
            self._cache[(iss, kid)] = (key, now)
        return key, now


class RevocationList:
    """Revoked token ids, re-read when the revocations table changes.

    The table is polled at most every `refresh_seconds` (one small query), so a revocation
    made with `jitc token revoke` takes effect within that time in every server process.
    With 0, every check asks the database.
    """

    def __init__(self, engine: Engine, *, refresh_seconds: float) -> None:
        self._engine = engine
        self._refresh = refresh_seconds
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._stamp: tuple[int, object] | None = None
        self._revoked: frozenset[str] = frozenset()

    def is_revoked(self, jti: str) -> bool:
        if time.monotonic() - self._checked >= self._refresh:
            self._reload()
        return jti in self._revoked

    def _reload(self) -> None:
        with self._lock:
            started = time.monotonic()
            if started - self._checked < self._refresh:
                return  # another thread refreshed while we waited
            with read_transaction(self._engine) as conn:
                stamp = jurisdiction_repo.revocation_stamp(conn)
                if stamp != self._stamp:
                    self._revoked = frozenset(jurisdiction_repo.revoked_jtis(conn))
                    self._stamp = stamp
            self._checked = started


def _int_claim(claims: dict[str, Any], name: str, *, required: bool) -> int | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise _refuse(Refusal.CLAIM_MISSING, f"the token has no {name} claim")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(Refusal.MALFORMED, f"the token's {name} claim is not an integer")
    return value


def _str_claim(claims: dict[str, Any], name: str, *, max_length: int = 200) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise _refuse(Refusal.CLAIM_MISSING, f"the token has no {name} claim")
    if len(value) > max_length:
        raise _refuse(Refusal.MALFORMED, f"the token's {name} claim is too long")
    if not value.isprintable():
        raise _refuse(Refusal.MALFORMED, f"the token's {name} claim has control characters")
    return value


class TokenVerifier:
    def __init__(
        self,
        *,
        audience: str,
        keys: KeyStore,
        is_revoked: Callable[[str], bool],
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._audience = audience
        self._keys = keys
        self._is_revoked = is_revoked
        self._clock = clock
        self._monotonic = monotonic  # the key cache's clock (KeyStore's)
        # Signatures already verified, by exact token string, for KEY_CACHE_SECONDS: a
        # client sends the same token for hours, and ECDSA verification is the costliest
        # step. The claims are still checked on every request (time, audience, revocation).
        # In the order they were verified (`_remember`); a lock for the writers only.
        self._verified: dict[str, tuple[dict[str, Any], float]] = {}
        self._remembering = threading.Lock()

    def verify(self, token: str | None, *, remote: str | None = None) -> Principal:
        """The token's principal, or AuthenticationError (logged) whose code is the reason."""
        try:
            return self._verify(token)
        except AuthenticationError as error:
            log_refusal(error, remote=remote)
            raise

    def _verify(self, token: str | None) -> Principal:
        if not token:
            raise _refuse(Refusal.MISSING, "an Authorization: Bearer token is required")
        if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
            raise _refuse(Refusal.MALFORMED, "the bearer token is not a compact JWS")
        cached = self._verified.get(token)
        if cached is not None and self._monotonic() - cached[1] < KEY_CACHE_SECONDS:
            return self._check_claims(cached[0])
        claims, key_fetched = self._verify_signature(token)
        self._remember(token, claims, key_fetched)
        return self._check_claims(claims)

    def _remember(self, token: str, claims: dict[str, Any], key_fetched: float) -> None:
        """Cache a verification, dropping those no longer usable first. Timed from when
        the key was read, not from now: a removed key stops working within
        KEY_CACHE_SECONDS of its removal, cached verifications included (ADR 0005).

        Entries are kept in the order they were verified, and each one's key was read at
        most KEY_CACHE_SECONDS before (KeyStore's own cache), so dropping from the oldest
        while they are stale leaves only recent ones: memory follows the distinct tokens
        of the last few seconds, not of the server's whole life (clients that sign a fresh
        token per request kept up to VERIFIED_CACHE_SIZE dead entries)."""
        now = self._monotonic()
        with self._remembering:
            verified = self._verified
            verified.pop(token, None)  # re-verified: to the newest end
            while verified:
                oldest = next(iter(verified))
                if (
                    len(verified) < VERIFIED_CACHE_SIZE
                    and now - verified[oldest][1] < KEY_CACHE_SECONDS
                ):
                    break
                del verified[oldest]
            verified[token] = (claims, key_fetched)

    def _verify_signature(self, token: str) -> tuple[dict[str, Any], float]:
        """The token's claims once its ES256 signature verifies with the issuer's key."""
        try:
            header = jws.get_unverified_header(token)
            unverified = jws.get_unverified_claims(token)
            unverified_claims = json.loads(unverified)
        except (JOSEError, ValueError, TypeError):
            raise _refuse(Refusal.MALFORMED, "the bearer token cannot be decoded") from None
        if not isinstance(header, dict) or not isinstance(unverified_claims, dict):
            raise _refuse(Refusal.MALFORMED, "the token's header or claims are not objects")
        # Only ES256: refuses "none", HS256 keyed with the public key, RS256 and the rest.
        alg = header.get("alg")
        if alg != ALGORITHM:
            raise _refuse(Refusal.ALG_NOT_ALLOWED, "only ES256 tokens are accepted", alg=alg)
        if "crit" in header:
            raise _refuse(Refusal.MALFORMED, "critical header extensions are not supported")
        iss = unverified_claims.get("iss")
        kid = header.get("kid")
        if not isinstance(iss, str) or not iss:
            raise _refuse(Refusal.UNKNOWN_ISSUER, "the token has no iss claim")
        # Shape checks before any database query: unsigned input never reaches SQL raw
        # (a NUL in iss or kid made PostgreSQL fail with a 500).
        if JURISDICTION_CODE.fullmatch(iss) is None:
            raise _refuse(Refusal.UNKNOWN_ISSUER, "the token's iss is not a jurisdiction code")
        if not isinstance(kid, str) or not kid:
            raise _refuse(Refusal.UNKNOWN_KEY, "the token's header has no kid", iss=iss)
        if _KID.fullmatch(kid) is None:
            raise _refuse(Refusal.UNKNOWN_KEY, "the token's kid is malformed", iss=iss)
        key, fetched = self._keys.lookup(iss, kid)
        try:
            payload = jws.verify(token, key, algorithms=[ALGORITHM])
        except JOSEError:
            raise _refuse(
                Refusal.BAD_SIGNATURE, "the token's signature does not verify", iss=iss
            ) from None
        try:
            claims = json.loads(payload)
        except ValueError:
            raise _refuse(Refusal.MALFORMED, "the token's claims are not JSON") from None
        if not isinstance(claims, dict):
            raise _refuse(Refusal.MALFORMED, "the token's claims are not an object")
        return claims, fetched

    def _check_claims(self, claims: dict[str, Any]) -> Principal:
        iss = claims.get("iss")
        jti_hint = claims.get("jti")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if self._audience not in audiences:
            raise _refuse(
                Refusal.WRONG_AUDIENCE, "the token is not for this server", iss=iss, aud=aud
            )
        now = int(self._clock())
        exp = _int_claim(claims, "exp", required=True)
        iat = _int_claim(claims, "iat", required=True)
        nbf = _int_claim(claims, "nbf", required=False)
        assert exp is not None  # required
        assert iat is not None
        if now > exp + MAX_SKEW_SECONDS:
            raise _refuse(Refusal.EXPIRED, "the token has expired", iss=iss, jti=jti_hint)
        if iat > now + MAX_SKEW_SECONDS or (nbf is not None and nbf > now + MAX_SKEW_SECONDS):
            raise _refuse(Refusal.NOT_YET_VALID, "the token is not valid yet", iss=iss)
        if exp - iat > MAX_LIFETIME_SECONDS:
            raise _refuse(
                Refusal.LIFETIME_TOO_LONG, "the token lives longer than 12 hours", iss=iss
            )
        jti = _str_claim(claims, "jti")
        sub = _str_claim(claims, "sub")
        assert isinstance(iss, str)  # checked before the key was chosen
        role = claims.get("role")
        if role not in ROLES:
            raise _refuse(
                Refusal.UNKNOWN_ROLE, "the token's role is not one of the five roles", iss=iss
            )
        assert isinstance(role, str)
        if self._is_revoked(jti):
            raise _refuse(Refusal.REVOKED, "the token has been revoked", iss=iss, jti=jti)
        return Principal(jurisdiction=iss, sub=sub, role=role, jti=jti, expires=exp)
