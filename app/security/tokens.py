"""Access tokens (short-lived JWTs) and opaque secrets (refresh tokens, API keys, invites).

Access tokens are stateless so every API process can verify them with the shared secret;
they are short-lived (15 min) because they cannot be revoked. Long-lived credentials are
opaque random strings whose SHA-256 is stored server-side, so they can be revoked and a
database leak does not reveal usable secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

ALGORITHM = "HS256"
AUDIENCE = "pricing-api"
ISSUER = "pricing-platform"
ACCESS_TYPE = "access"
LEEWAY_SECONDS = 5  # tolerates small clock skew between API processes
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key must be at least as long as the hash
REQUIRED_CLAIMS = ["sub", "tid", "sid", "role", "iat", "nbf", "exp", "jti", "iss", "aud", "typ"]


class InvalidToken(Exception):
    """Any reason an access token is not accepted. `reason` is short and safe to log or
    return: it never contains the token or the secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    tenant_id: str
    session_id: str  # the login the token was issued for (its refresh-token family)
    role: str
    jti: str
    issuer: str
    issued_at: datetime
    expires_at: datetime


def _key(secret: str) -> bytes:
    """The HMAC key; a short key is a configuration error, not a token problem."""
    key = secret.encode("utf-8")
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"JWT secret must be at least {MIN_SECRET_BYTES} bytes long")
    return key


def issue_access_token(
    secret: str,
    *,
    user_id: str,
    tenant_id: str,
    session_id: str,
    role: str,
    ttl_seconds: int = 900,
    issuer: str = ISSUER,
    now: datetime | None = None,
) -> tuple[str, datetime]:
    """Sign an access token; returns it with its expiry. `now` exists for tests and replays."""
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    expires = issued + timedelta(seconds=ttl_seconds)
    claims: dict[str, Any] = {
        "sub": user_id,
        "tid": tenant_id,
        # OpenID Connect's session id: a login revoked as a whole takes its tokens along.
        "sid": session_id,
        "role": role,
        # Sub-second issue time (RFC 7519 allows a non-integer NumericDate), so a token
        # issued just after a revocation is told apart from one issued just before it.
        "iat": (now or datetime.now(UTC)).timestamp(),
        "nbf": issued,
        "exp": expires,
        "jti": secrets.token_urlsafe(16),
        "iss": issuer,
        "aud": AUDIENCE,
        "typ": ACCESS_TYPE,
    }
    return jwt.encode(claims, _key(secret), algorithm=ALGORITHM), expires


# Most specific first: several pyjwt errors subclass DecodeError / InvalidTokenError.
_REASONS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not yet valid"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidIssuedAtError, "bad issued-at"),
    (jwt.DecodeError, "malformed"),
]


def _reason(error: jwt.InvalidTokenError) -> str:
    """Map a pyjwt error to a fixed string (pyjwt messages may quote token content)."""
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"missing claim: {error.claim}"
    for kind, reason in _REASONS:
        if isinstance(error, kind):
            return reason
    return "invalid"


def decode_access_token(
    secret: str, token: str, *, issuer: str = ISSUER, leeway: float = LEEWAY_SECONDS
) -> AccessClaims:
    """Verify signature (HS256 only, so `none` and algorithm confusion are rejected), time
    claims, issuer, audience and type; raise `InvalidToken` for any failure."""
    key = _key(secret)
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=issuer,
            leeway=leeway,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.InvalidTokenError as error:
        raise InvalidToken(_reason(error)) from None  # no chaining: keep token out of logs
    return _claims(payload)


def _claims(payload: dict[str, Any]) -> AccessClaims:
    """Check the claims pyjwt does not know about and build the result."""
    if payload.get("typ") != ACCESS_TYPE:
        raise InvalidToken("wrong type")
    identity = {name: payload.get(name) for name in ("sub", "tid", "sid", "role", "jti", "iss")}
    for name, value in identity.items():
        if not isinstance(value, str) or not value:
            raise InvalidToken(f"bad claim: {name}")
    return AccessClaims(
        user_id=payload["sub"],
        tenant_id=payload["tid"],
        session_id=payload["sid"],
        role=payload["role"],
        jti=payload["jti"],
        issuer=payload["iss"],
        issued_at=datetime.fromtimestamp(payload["iat"], UTC),
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
    )


# --- opaque secrets -------------------------------------------------------------------

PREFIX = re.compile(r"^[a-z][a-z0-9]{0,15}_$")
SECRET_BYTES = 32  # 256 bits: token_urlsafe(32) is 43 characters


def new_secret(prefix: str) -> str:
    """A random secret such as ``prt_<43 chars>``. The prefix says what it is (refresh token,
    API key, invite) so leaked secrets are recognisable by scanners and support staff."""
    if not PREFIX.match(prefix):
        raise ValueError("prefix must be lowercase letters/digits ending with '_', e.g. 'pk_'")
    return prefix + secrets.token_urlsafe(SECRET_BYTES)


def secret_hash(secret: str) -> str:
    """SHA-256 hex of a secret, the value to store and look up.

    A fast hash is enough here (unlike passwords): the secrets carry 256 bits of randomness,
    so brute-forcing a leaked hash is infeasible whatever the hash speed, and a fast,
    deterministic hash lets the database look the secret up by an index.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def verify_secret(secret: str, expected_hash: str) -> bool:
    """Constant-time check of a secret against a stored `secret_hash`."""
    return hmac.compare_digest(secret_hash(secret), expected_hash)


def secret_hint(secret: str) -> str:
    """What to show in a UI list, e.g. ``pk_…a1b2``: enough to tell keys apart, useless to
    an attacker. The prefix is whatever precedes the first '_' (prefixes have exactly one)."""
    head, sep, body = secret.partition("_")
    prefix, body = (head + sep, body) if sep else ("", secret)
    if len(body) < 16:  # not one of ours: showing 4 characters would reveal too much
        return prefix + "…"
    return f"{prefix}…{body[-4:]}"
