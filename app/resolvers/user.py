"""Users of a tenant: invitations, roles, deactivation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from app.errors import Conflict, FieldIssue, Forbidden, NotFound, Unauthenticated, ValidationFailed
from app.models import TenantScope
from app.models.base import utcnow
from app.models.identity import Invite, Role, Tenant, Tier, User
from app.ratelimit import limits_for
from app.resolvers import auth
from app.resolvers.api_key import revoke_keys_created_by
from app.resolvers.ctx import ResolverCtx
from app.resolvers.page import Page, PageArgs, find_page
from app.security import passwords, tokens

INVITE_PREFIX = "inv_"
INVITE_TTL = timedelta(days=7)


@dataclass(frozen=True)
class Invitation:
    invite: Invite
    token: str  # shown once, to be sent to the invitee


async def invite_user(ctx: ResolverCtx, email: str, role: Role) -> Invitation:
    email = auth.normalise_email(email)
    if not auth.EMAIL.match(email):
        raise ValidationFailed.single("input.email", "is not an e-mail address")
    if await User.find_one({"email": email}) is not None:
        raise Conflict("an account with this e-mail already exists")
    await check_user_limit(ctx.scope, ctx.principal.tier, joining=1)
    token = tokens.new_secret(INVITE_PREFIX)
    invite = await ctx.scope.insert(
        Invite(
            tenant_id=ctx.tenant_id,
            email=email,
            role=role,
            token_hash=tokens.secret_hash(token),
            invited_by=ctx.principal.id,
            expires_at=utcnow() + INVITE_TTL,
        )
    )
    ctx.audit.record("Invite", invite.id, after=invite)
    return Invitation(invite, token)


async def accept_invite(
    services: auth.Services, token: str, password: str, name: str
) -> auth.Session:
    """The invitee sets a password and is signed in."""
    problems = passwords.check_password(password)
    if problems:
        raise ValidationFailed([FieldIssue(("input", "password"), p) for p in problems])
    # The invitation names its tenant only through the stored hash: an unscoped lookup.
    invite = await Invite.find_one(
        {"token_hash": tokens.secret_hash(token), "accepted_at": None, "revoked_at": None}
    )
    if invite is None or invite.expires_at.replace(tzinfo=utcnow().tzinfo) < utcnow():
        raise Unauthenticated("the invitation is invalid, expired or already used")
    scope = TenantScope(invite.tenant_id)
    tenant = await Tenant.get(invite.tenant_id)
    if tenant is None:
        raise NotFound("Tenant", invite.tenant_id)
    await check_user_limit(scope, tenant.tier, joining=1)
    user = User(
        tenant_id=invite.tenant_id,
        email=invite.email,
        name=name.strip()[:200],
        password_hash=await passwords.hash_password_async(password),
        role=invite.role,
    )
    try:
        await scope.insert(user)
    except DuplicateKeyError:
        raise Conflict("an account with this e-mail already exists") from None
    try:
        # Two invitees accepting at once both passed the check above: count again, with
        # this user in, and withdraw if the tenant went over.
        await check_user_limit(scope, tenant.tier, joining=0)
        await scope.update(invite, {"accepted_at": utcnow()})
    except Conflict:
        await scope.delete(User, str(user.id))
        raise
    return await auth.open_session(services, user, tenant)


async def check_user_limit(scope: TenantScope, tier: Tier, joining: int) -> None:
    """Refuse when the tenant's active users plus `joining` exceed the tier's limit."""
    limit = limits_for(tier).max_users
    if await scope.find(User, {"active": True}).count() + joining > limit:
        raise Conflict(f"the {tier.value} tier allows {limit} users; upgrade first")


async def revoke_invite(ctx: ResolverCtx, invite_id: str) -> Invite:
    invite = await ctx.scope.require(Invite, invite_id)
    if invite.accepted_at is not None:
        raise Conflict("the invitation was already accepted; deactivate the user instead")
    if invite.revoked_at is not None:
        raise Conflict("the invitation is already revoked")
    return await _revoke_invite(ctx, invite)


async def _revoke_invite(ctx: ResolverCtx, invite: Invite) -> Invite:
    revoked = await ctx.scope.update(invite, {"revoked_at": utcnow()})
    ctx.audit.record("Invite", invite.id, invite, revoked)
    return revoked


async def _other_user(ctx: ResolverCtx, user_id: str) -> User:
    user = await ctx.scope.require(User, user_id)
    if str(user.id) == ctx.principal.id:
        raise Forbidden("admins cannot change their own role or deactivate themselves")
    return user


async def change_role(ctx: ResolverCtx, user_id: str, role: Role) -> User:
    user = await _other_user(ctx, user_id)
    updated = await ctx.scope.update(user, {"role": role})
    await auth.revoke_user_tokens(ctx.services, updated)  # old tokens carry the old role
    ctx.audit.record("User", user.id, user, updated)
    return updated


async def deactivate(ctx: ResolverCtx, user_id: str) -> User:
    """Everything the user holds ends: sessions, the API keys and invitations they made."""
    user = await _other_user(ctx, user_id)
    updated = await ctx.scope.update(user, {"active": False})
    await auth.revoke_user_tokens(ctx.services, updated)
    await revoke_keys_created_by(ctx, str(user.id))
    pending = {"invited_by": str(user.id), "accepted_at": None, "revoked_at": None}
    for invite in await ctx.scope.find(Invite, pending).to_list():
        await _revoke_invite(ctx, invite)
    ctx.audit.record("User", user.id, user, updated)
    return updated


async def me(ctx: ResolverCtx) -> User | None:
    if ctx.principal.kind != "user":
        return None
    return await ctx.scope.get(User, ctx.principal.id)


async def list_users(ctx: ResolverCtx, page: PageArgs) -> Page[User]:
    return await find_page(ctx.scope, User, {}, page)
