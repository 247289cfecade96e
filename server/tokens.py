"""State authority keys (ES256) and access tokens: what `jitc authority` and `jitc token` do.

A state authority holds an ES256 private key; the workspace knows its public JWK, whose
kid is the RFC 7638 thumbprint. Tokens are JWTs (RFC 7519) signed with that key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt

from server.errors import InvalidRequestError

ALGORITHM = "ES256"
MAX_LIFETIME_SECONDS = 12 * 3600
ROLES = ("investigator", "technician", "prosecutor", "judge", "defence")
# A state's code (a token's iss, a case party): NL, DE-BY... One rule for the API, the
# token checks and the command line.
JURISDICTION_CODE: Final = re.compile(r"[A-Z][A-Z0-9-]{1,31}")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidRequestError("the JWK holds a value that is not base64url") from None


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint of an EC key: SHA-256 over the required members, base64url."""
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return _b64url(hashlib.sha256(canonical).digest())


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }
    return {**jwk, "kid": thumbprint(jwk), "alg": ALGORITHM, "use": "sig"}


def generate_authority_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidRequestError(f"not a PEM private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise InvalidRequestError("the key is not an ES256 (P-256) private key")
    return key


def parse_public_jwk(text: str) -> dict[str, str]:
    """A state's public JWK, checked: EC P-256, no private part; kid set to its thumbprint
    when absent. The caller registers it under that kid."""
    try:
        jwk = json.loads(text)
    except ValueError:
        raise InvalidRequestError("the JWK file is not JSON") from None
    if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise InvalidRequestError("the JWK must be an EC P-256 public key (ES256)")
    if "d" in jwk:
        raise InvalidRequestError("the JWK holds a private key: register the public JWK only")
    for name in ("x", "y"):
        value = jwk.get(name)
        if not isinstance(value, str) or len(_b64url_decode(value)) != 32:
            raise InvalidRequestError(f"the JWK's {name} must be a 32-byte base64url value")
    if jwk.get("alg", ALGORITHM) != ALGORITHM:
        raise InvalidRequestError("the JWK's alg must be ES256")
    try:
        ec.EllipticCurvePublicNumbers(
            int.from_bytes(_b64url_decode(jwk["x"]), "big"),
            int.from_bytes(_b64url_decode(jwk["y"]), "big"),
            ec.SECP256R1(),
        ).public_key()
    except ValueError:
        raise InvalidRequestError("the JWK's point is not on the P-256 curve") from None
    kid = jwk.get("kid") or thumbprint(jwk)
    if not isinstance(kid, str) or not 1 <= len(kid) <= 128:
        raise InvalidRequestError("the JWK's kid must be a string of 1 to 128 characters")
    return {"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"], "kid": kid, "alg": ALGORITHM}


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenRequest:
    iss: str
    sub: str
    role: str
    aud: str
    ttl_seconds: int
    jti: str | None = None


def new_jti() -> str:
    """A random token id (128 bits, base64url) that never begins with `-`: a leading dash
    would make `jitc token revoke JTI` read it as an option (1 token in 64 did)."""
    while True:
        jti = secrets.token_urlsafe(16)
        if not jti.startswith("-"):
            return jti


def issue_token(
    key: ec.EllipticCurvePrivateKey, request: TokenRequest, *, now: int | None = None
) -> str:
    """A signed access token; the lifetime is capped at 12 hours as the server requires."""
    if request.role not in ROLES:
        raise InvalidRequestError(f"role must be one of {', '.join(ROLES)}")
    if not 0 < request.ttl_seconds <= MAX_LIFETIME_SECONDS:
        raise InvalidRequestError("a token lives at most 12 hours")
    if request.jti is not None and (not request.jti or request.jti.startswith("-")):
        raise InvalidRequestError("a jti must not be empty or begin with '-'")
    issued = int(time.time()) if now is None else now
    claims = {
        "iss": request.iss,
        "sub": request.sub,
        "aud": request.aud,
        "role": request.role,
        "iat": issued,
        "nbf": issued,
        "exp": issued + request.ttl_seconds,
        "jti": request.jti or new_jti(),
    }
    kid = public_jwk(key.public_key())["kid"]
    pem = private_key_pem(key).decode("ascii")
    token: str = jwt.encode(claims, pem, algorithm=ALGORITHM, headers={"kid": kid})
    return token


def parse_ttl(text: str) -> int:
    """`8h`, `30m`, `90s` or a plain number of seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    if not number.isdigit():
        raise InvalidRequestError(f"bad duration {text!r}: use e.g. 8h, 30m or 90s")
    return int(number) * units[unit]
