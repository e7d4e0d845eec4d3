"""Tenant credentials: encrypted at rest, never returned, only a masked hint is shown."""

from __future__ import annotations

import logging
import re

from app.errors import ValidationFailed
from app.models import TenantScope
from app.models.secret import TenantSecret
from app.resolvers.ctx import ResolverCtx
from app.security.crypto import DecryptionError, Keyring, mask

log = logging.getLogger(__name__)
NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,62}$")
MAX_VALUE = 8192


def aad(tenant_id: str, name: str) -> str:
    """Binds a ciphertext to its tenant and name: copied elsewhere it does not decrypt."""
    return f"{tenant_id}:{name}"


async def set_secret(ctx: ResolverCtx, name: str, value: str) -> TenantSecret:
    if not NAME.match(name):
        raise ValidationFailed.single("input.name", "use a-z, 0-9, '_', '.', '-' (max 63)")
    if not 1 <= len(value) <= MAX_VALUE:
        raise ValidationFailed.single("input.value", f"must be 1 to {MAX_VALUE} characters")
    sealed = ctx.services.keyring.encrypt(value, aad(ctx.tenant_id, name))
    existing = await ctx.scope.find(TenantSecret, {"name": name}).first_or_none()
    if existing is None:
        stored = await ctx.scope.insert(
            TenantSecret(tenant_id=ctx.tenant_id, name=name, sealed=sealed, hint=mask(value))
        )
    else:
        stored = await ctx.scope.update(
            existing, {"sealed": sealed.model_dump(), "hint": mask(value)}
        )
    ctx.audit.record("TenantSecret", stored.id, existing, stored)
    return stored


async def delete_secret(ctx: ResolverCtx, name: str) -> bool:
    existing = await ctx.scope.find(TenantSecret, {"name": name}).first_or_none()
    if existing is None:
        return False
    await ctx.scope.delete(TenantSecret, existing.id or "")
    ctx.audit.record("TenantSecret", existing.id, before=existing)
    return True


async def reveal(scope: TenantScope, keyring: Keyring, name: str) -> str | None:
    """The plaintext, for server-side use only (calling a provider); never for the API."""
    stored = await scope.find(TenantSecret, {"name": name}).first_or_none()
    if stored is None:
        return None
    return keyring.decrypt(stored.sealed, aad(scope.tenant_id, name))


async def rotate_all(keyring: Keyring) -> tuple[int, int]:
    """Re-encrypt every tenant's credentials under the current key.

    Returns (re-encrypted, unreadable): a credential sealed under a key the keyring no
    longer holds is left as it is and counted, never half-rewritten.
    """
    rotated = unreadable = 0
    # Key rotation is an operator task across all tenants, hence the unscoped read.
    async for stored in TenantSecret.find({}):
        if not keyring.needs_rotation(stored.sealed):
            continue
        try:
            sealed = keyring.rotate(stored.sealed, aad(stored.tenant_id, stored.name))
        except DecryptionError:
            log.error(
                "credential %r of tenant %s: key %r unavailable",
                stored.name,
                stored.tenant_id,
                stored.sealed.kid,
            )
            unreadable += 1
            continue
        await TenantScope(stored.tenant_id).update(stored, {"sealed": sealed.model_dump()})
        rotated += 1
    return rotated, unreadable


async def list_secrets(ctx: ResolverCtx) -> list[TenantSecret]:
    """The tenant's credentials by name (their values stay sealed)."""
    return await ctx.scope.find(TenantSecret).sort("name").to_list()
