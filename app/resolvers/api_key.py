"""API keys for scripts and integrations: shown once, stored hashed, revocable."""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import ValidationFailed
from app.models.base import utcnow
from app.models.identity import ApiKey, Role
from app.resolvers.auth import API_KEY_PREFIX, forget_api_key
from app.resolvers.ctx import ResolverCtx
from app.resolvers.page import Page, PageArgs, find_page
from app.security import tokens


@dataclass(frozen=True)
class NewApiKey:
    api_key: ApiKey
    key: str  # the secret itself, returned only by the mutation that created it


async def create_api_key(ctx: ResolverCtx, name: str, role: Role) -> NewApiKey:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise ValidationFailed.single("input.name", "must be 1 to 100 characters")
    ctx.require(role)  # nobody mints a key stronger than themselves
    key = tokens.new_secret(API_KEY_PREFIX)
    api_key = await ctx.scope.insert(
        ApiKey(
            tenant_id=ctx.tenant_id,
            name=name,
            key_hash=tokens.secret_hash(key),
            hint=tokens.secret_hint(key),
            role=role,
            created_by=ctx.principal.id,
        )
    )
    ctx.audit.record("ApiKey", api_key.id, after=api_key)
    return NewApiKey(api_key, key)


async def revoke_api_key(ctx: ResolverCtx, key_id: str) -> ApiKey:
    api_key = await ctx.scope.require(ApiKey, key_id)
    if api_key.revoked_at is not None:
        return api_key
    return await _revoke(ctx, api_key)


async def revoke_keys_created_by(ctx: ResolverCtx, creator_id: str) -> None:
    """A deactivated user's keys go with them: a key must not outlive its holder's access."""
    live = await ctx.scope.find(ApiKey, {"created_by": creator_id, "revoked_at": None}).to_list()
    for api_key in live:
        await _revoke(ctx, api_key)


async def _revoke(ctx: ResolverCtx, api_key: ApiKey) -> ApiKey:
    revoked = await ctx.scope.update(api_key, {"revoked_at": utcnow()})
    forget_api_key(api_key.key_hash)
    ctx.audit.record("ApiKey", api_key.id, api_key, revoked)
    return revoked


async def list_api_keys(ctx: ResolverCtx, page: PageArgs) -> Page[ApiKey]:
    return await find_page(ctx.scope, ApiKey, {}, page)
