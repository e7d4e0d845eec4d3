"""Sign-up, login, token refresh and logout, and authenticating a request's credentials.

Access tokens are short-lived JWTs; refresh tokens and API keys are opaque secrets stored
hashed. A refresh token is spent on use and replaced (rotation); presenting a spent one
again revokes every token of that login (refresh and access tokens alike), since only a
thief would replay it. Logging out, deactivating a user or changing their role revokes
their access tokens through flags in the shared key-value store, checked on every request:
per token (jti), per login (the token's sid, its refresh-token family) and per user.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError
from redis.exceptions import RedisError

from app.errors import Conflict, FieldIssue, Unauthenticated, ValidationFailed
from app.models import TenantScope
from app.models.base import utcnow
from app.models.identity import ApiKey, RefreshToken, Role, Tenant, Tier, User
from app.resolvers.principal import Principal
from app.runtime import Services
from app.security import passwords, tokens

log = logging.getLogger(__name__)
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")
REFRESH_PREFIX = "prt_"
API_KEY_PREFIX = "pk_"
LOGIN_FAILED = "invalid e-mail or password"
# Verifying against this when the e-mail is unknown keeps both failures equally slow.
_DUMMY_HASH = passwords.hash_password(secrets.token_urlsafe(16))
_TIER_CACHE_SECONDS = 30.0
_tiers: dict[str, tuple[Tier, bool, float]] = {}
_API_KEY_CACHE_SECONDS = 5.0  # how long another API process may still accept a revoked key
_api_keys: dict[str, tuple[Principal, float]] = {}


@dataclass(frozen=True)
class Session:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    user: User
    tenant: Tenant


def normalise_email(email: str) -> str:
    return email.strip().lower()


def validate_sign_up(tenant_name: str, email: str, password: str) -> None:
    issues = []
    if not 1 <= len(tenant_name.strip()) <= 100:
        issues.append(FieldIssue(("input", "tenantName"), "must be 1 to 100 characters"))
    if not EMAIL.match(normalise_email(email)):
        issues.append(FieldIssue(("input", "email"), "is not an e-mail address"))
    issues += [FieldIssue(("input", "password"), p) for p in passwords.check_password(password)]
    if issues:
        raise ValidationFailed(issues)


async def sign_up(services: Services, tenant_name: str, email: str, password: str) -> Session:
    """A new tenant with its first admin, signed in."""
    validate_sign_up(tenant_name, email, password)
    email = normalise_email(email)
    if await User.find_one({"email": email}) is not None:
        raise Conflict("an account with this e-mail already exists")
    tenant = Tenant(id=f"t{secrets.token_hex(6)}", name=tenant_name.strip())
    await tenant.insert()
    admin = User(
        tenant_id=tenant.id,
        email=email,
        password_hash=await passwords.hash_password_async(password),
        role=Role.ADMIN,
    )
    try:
        await TenantScope(tenant.id).insert(admin)
    except DuplicateKeyError:
        await tenant.delete()  # nothing half-written: the tenant goes with its admin
        raise Conflict("an account with this e-mail already exists") from None
    return await open_session(services, admin, tenant)


async def login(services: Services, email: str, password: str) -> Session:
    # Login precedes any tenant, so this lookup is by design not tenant-scoped.
    user = await User.find_one({"email": normalise_email(email)})
    stored_hash = user.password_hash if user and user.password_hash else _DUMMY_HASH
    valid = await passwords.verify_password_async(password, stored_hash)
    if user is None or not valid or not user.active:
        raise Unauthenticated(LOGIN_FAILED)
    tenant = await Tenant.get(user.tenant_id)
    if tenant is None or not tenant.active:
        raise Unauthenticated(LOGIN_FAILED)
    user = await TenantScope(tenant.id).update(user, {"last_login_at": utcnow()})
    return await open_session(services, user, tenant)


async def open_session(
    services: Services, user: User, tenant: Tenant, family: str | None = None
) -> Session:
    settings = services.settings
    refresh = tokens.new_secret(REFRESH_PREFIX)
    family = family or uuid.uuid4().hex
    await TenantScope(tenant.id).insert(
        RefreshToken(
            tenant_id=tenant.id,
            user_id=user.id,
            token_hash=tokens.secret_hash(refresh),
            family=family,
            expires_at=utcnow() + timedelta(seconds=settings.refresh_token_ttl),
        )
    )
    access, expires = tokens.issue_access_token(
        settings.jwt_secret.get_secret_value(),
        user_id=str(user.id),
        tenant_id=tenant.id,
        session_id=family,
        role=user.role.value,
        ttl_seconds=settings.access_token_ttl,
    )
    return Session(access, expires, refresh, user, tenant)


async def refresh_session(services: Services, refresh_token: str) -> Session:
    """Spend a refresh token for a new pair; replaying a spent one revokes the login."""
    collection = RefreshToken.get_pymongo_collection()
    token_hash = tokens.secret_hash(refresh_token)
    now = utcnow()
    spent = await collection.find_one_and_update(
        {"token_hash": token_hash, "used_at": None, "revoked_at": None, "expires_at": {"$gt": now}},
        {"$set": {"used_at": now}},
        return_document=ReturnDocument.AFTER,
    )
    if spent is None:
        replayed = await collection.find_one({"token_hash": token_hash, "used_at": {"$ne": None}})
        if replayed is not None:
            await revoke_family(services, replayed["tenant_id"], replayed["family"])
        raise Unauthenticated("refresh token is invalid, expired or already used")
    token = RefreshToken.model_validate(spent)
    scope = TenantScope(token.tenant_id)
    user = await scope.get(User, token.user_id)
    tenant = await Tenant.get(token.tenant_id)
    if user is None or not user.active or tenant is None or not tenant.active:
        raise Unauthenticated("the account is no longer active")
    return await open_session(services, user, tenant, token.family)


async def revoke_family(services: Services, tenant_id: str, family: str) -> None:
    """End a login: its refresh tokens, and the access tokens issued from them."""
    await services.kv.set(f"revoked:sid:{family}", "1", services.settings.access_token_ttl + 60)
    await RefreshToken.get_pymongo_collection().update_many(
        {"tenant_id": tenant_id, "family": family, "revoked_at": None},
        {"$set": {"revoked_at": utcnow()}},
    )


async def logout(services: Services, principal: Principal, refresh_token: str | None) -> None:
    """Revoke the calling access token and, when given, the login its refresh token is of."""
    if principal.token_id and principal.expires_at:
        ttl = int((principal.expires_at - datetime.now(UTC)).total_seconds()) + 1
        await services.kv.set(f"revoked:jti:{principal.token_id}", "1", ttl)
    if refresh_token:
        token = (
            await TenantScope(principal.tenant_id)
            .find(RefreshToken, {"token_hash": tokens.secret_hash(refresh_token)})
            .first_or_none()
        )
        if token is not None:
            await revoke_family(services, principal.tenant_id, token.family)


async def revoke_user_tokens(services: Services, user: User) -> None:
    """Every access token issued to the user so far stops working; refresh tokens too."""
    await services.kv.set(
        f"revoked:user:{user.id}", repr(time.time()), services.settings.access_token_ttl + 60
    )
    await RefreshToken.get_pymongo_collection().update_many(
        {"tenant_id": user.tenant_id, "user_id": user.id, "revoked_at": None},
        {"$set": {"revoked_at": utcnow()}},
    )


async def tenant_tier(tenant_id: str) -> tuple[Tier, bool]:
    """The tenant's tier and active flag, cached briefly since every request needs them."""
    cached = _tiers.get(tenant_id)
    if cached and cached[2] > time.monotonic():
        return cached[0], cached[1]
    tenant = await Tenant.get(tenant_id)
    tier, active = (tenant.tier, tenant.active) if tenant else (Tier.FREE, False)
    _tiers[tenant_id] = (tier, active, time.monotonic() + _TIER_CACHE_SECONDS)
    return tier, active


async def authenticate(services: Services, authorization: str | None) -> Principal | None:
    """The principal of an `Authorization: Bearer …` value; None when there is none."""
    if not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise Unauthenticated("expected 'Authorization: Bearer <token or API key>'")
    if credential.startswith(API_KEY_PREFIX):
        return await _api_key_principal(credential)
    return await _token_principal(services, credential)


async def _token_principal(services: Services, token: str) -> Principal:
    try:
        claims = tokens.decode_access_token(services.settings.jwt_secret.get_secret_value(), token)
    except tokens.InvalidToken as error:
        raise Unauthenticated(f"access token rejected: {error.reason}") from None
    try:
        revoked_jti, revoked_login, revoked_before = await services.kv.get_many(
            [
                f"revoked:jti:{claims.jti}",
                f"revoked:sid:{claims.session_id}",
                f"revoked:user:{claims.user_id}",
            ]
        )
    except (RedisError, OSError) as error:
        # Fail open: the token's signature and expiry still hold, and it lives minutes.
        log.warning("revocation check skipped, Redis unavailable: %s", error)
        revoked_jti = revoked_login = revoked_before = None
    revoked_user = revoked_before and claims.issued_at.timestamp() <= float(revoked_before)
    if revoked_jti or revoked_login or revoked_user:
        raise Unauthenticated("access token rejected: revoked")
    tier, active = await tenant_tier(claims.tenant_id)
    if not active:
        raise Unauthenticated("the tenant is not active")
    return Principal(
        tenant_id=claims.tenant_id,
        tier=tier,
        role=Role(claims.role),
        kind="user",
        id=claims.user_id,
        label=claims.user_id,
        token_id=claims.jti,
        expires_at=claims.expires_at,
    )


async def _api_key_principal(key: str) -> Principal:
    key_hash = tokens.secret_hash(key)
    cached = _api_keys.get(key_hash)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    # The key names its tenant only through its stored hash, so this lookup is unscoped.
    api_key = await ApiKey.find_one({"key_hash": key_hash, "revoked_at": None})
    if api_key is None:
        raise Unauthenticated("API key rejected: unknown or revoked")
    tier, active = await tenant_tier(api_key.tenant_id)
    if not active:
        raise Unauthenticated("the tenant is not active")
    now = utcnow()
    last_used = api_key.last_used_at
    if last_used is None or now - last_used.replace(tzinfo=UTC) > timedelta(minutes=1):
        await ApiKey.get_pymongo_collection().update_one(
            {"_id": api_key.id}, {"$set": {"last_used_at": now}}
        )
    principal = Principal(
        tenant_id=api_key.tenant_id,
        tier=tier,
        role=api_key.role,
        kind="apiKey",
        id=str(api_key.id),
        label=api_key.name,
    )
    _api_keys[key_hash] = (principal, time.monotonic() + _API_KEY_CACHE_SECONDS)
    return principal


def forget_api_key(key_hash: str) -> None:
    """Revocation takes effect at once in this process, within seconds in the others."""
    _api_keys.pop(key_hash, None)
