"""JWT access tokens and opaque secrets."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app.security.tokens import (
    AccessClaims,
    InvalidToken,
    decode_access_token,
    issue_access_token,
    new_secret,
    secret_hash,
    secret_hint,
    verify_secret,
)

SECRET = "s" * 64  # long enough for HS512 too (the algorithm-confusion test)
OTHER_SECRET = "o" * 64


def issue(**overrides: object) -> str:
    values: dict[str, object] = {
        "user_id": "u1",
        "tenant_id": "t1",
        "session_id": "s1",
        "role": "admin",
    }
    values.update(overrides)
    token, _ = issue_access_token(SECRET, **values)  # type: ignore[arg-type]
    return token


def craft(secret: str = SECRET, algorithm: str = "HS256", **overrides: object) -> str:
    """A token built directly with pyjwt, to produce what our issuer never would."""
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": "u1",
        "tid": "t1",
        "sid": "s1",
        "role": "admin",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        "jti": "j1",
        "iss": "pricing-platform",
        "aud": "pricing-api",
        "typ": "access",
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, secret if algorithm != "none" else "", algorithm=algorithm)


def rejection(token: str, secret: str = SECRET) -> str:
    with pytest.raises(InvalidToken) as caught:
        decode_access_token(secret, token)
    assert token not in caught.value.reason and token not in str(caught.value)
    return caught.value.reason


def test_round_trip_returns_the_claims() -> None:
    token, expires = issue_access_token(
        SECRET, user_id="u1", tenant_id="t1", session_id="s1", role="admin", ttl_seconds=60
    )
    claims = decode_access_token(SECRET, token)
    assert isinstance(claims, AccessClaims)
    assert (claims.user_id, claims.tenant_id, claims.role) == ("u1", "t1", "admin")
    assert claims.session_id == "s1"
    assert claims.expires_at == expires
    assert timedelta(seconds=59) < claims.expires_at - claims.issued_at <= timedelta(seconds=60)
    assert claims.issuer == "pricing-platform" and claims.jti


def test_token_carries_audience_and_type() -> None:
    payload = jwt.decode(issue(), options={"verify_signature": False})
    assert payload["aud"] == "pricing-api" and payload["typ"] == "access"


def test_each_token_has_a_unique_jti() -> None:
    assert decode_access_token(SECRET, issue()).jti != decode_access_token(SECRET, issue()).jti


def test_expired_token_is_rejected() -> None:
    token = issue(now=datetime.now(UTC) - timedelta(hours=1), ttl_seconds=60)
    assert rejection(token) == "expired"


def test_expiry_within_leeway_is_accepted() -> None:
    token = craft(exp=datetime.now(UTC) - timedelta(seconds=2))
    assert decode_access_token(SECRET, token).user_id == "u1"


def test_not_yet_valid_token_is_rejected() -> None:
    assert rejection(craft(nbf=datetime.now(UTC) + timedelta(minutes=1))) == "not yet valid"


def test_tampered_payload_is_rejected() -> None:
    header, _payload, signature = issue().split(".")
    forged = jwt.utils.base64url_encode(b'{"sub":"root","tid":"t2"}').decode()
    assert rejection(f"{header}.{forged}.{signature}") == "bad signature"


def test_wrong_secret_is_rejected() -> None:
    assert rejection(issue(), secret=OTHER_SECRET) == "bad signature"


def test_alg_none_token_is_rejected() -> None:
    assert rejection(craft(algorithm="none")) == "algorithm not allowed"


def test_other_hmac_algorithm_is_rejected() -> None:
    assert rejection(craft(algorithm="HS512")) == "algorithm not allowed"


def test_wrong_type_is_rejected() -> None:
    assert rejection(craft(typ="refresh")) == "wrong type"


def test_wrong_audience_is_rejected() -> None:
    assert rejection(craft(aud="another-api")) == "wrong audience"


def test_wrong_issuer_is_rejected() -> None:
    assert rejection(craft(iss="someone-else")) == "wrong issuer"


def test_missing_claim_is_rejected() -> None:
    assert rejection(craft(tid=None)) == "missing claim: tid"


def test_token_without_a_session_is_rejected() -> None:
    assert rejection(craft(sid=None)) == "missing claim: sid"


def test_garbage_is_rejected_as_malformed() -> None:
    assert rejection("not.a.jwt") == "malformed"


def test_short_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        issue_access_token("short", user_id="u1", tenant_id="t1", session_id="s1", role="admin")


def test_new_secret_has_prefix_and_43_random_characters() -> None:
    secret = new_secret("prt_")
    assert re.fullmatch(r"prt_[A-Za-z0-9_-]{43}", secret)
    assert new_secret("prt_") != secret


def test_new_secret_rejects_a_prefix_without_underscore() -> None:
    with pytest.raises(ValueError):
        new_secret("pk")


def test_secret_hash_is_sha256_hex_and_verifies() -> None:
    secret = new_secret("pk_")
    digest = secret_hash(secret)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert verify_secret(secret, digest) and not verify_secret(new_secret("pk_"), digest)


def test_secret_hint_shows_prefix_and_last_four() -> None:
    secret = new_secret("pk_")
    assert secret_hint(secret) == f"pk_…{secret[-4:]}"
