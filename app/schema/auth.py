"""Sign-up, sign-in, sessions and the caller's identity in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.models.audit import Actor
from app.models.identity import Role, Tier
from app.resolvers import auth as use_case
from app.resolvers import usage
from app.resolvers import user as user_use_case
from app.schema.context import Context, Info
from app.schema.errors import (
    AuthenticationError,
    ConflictError,
    RateLimitedError,
    ValidationError,
)
from app.schema.fields import mutation, query
from app.schema.user import User


@strawberry.type
class Tenant:
    id: strawberry.ID
    name: str
    tier: Tier


@strawberry.type(description="A signed-in session: keep the refresh token secret.")
class AuthPayload:
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    user: User
    tenant: Tenant


@strawberry.type
class Me:
    tenant_id: strawberry.ID
    role: Role
    kind: str = strawberry.field(description="user or apiKey")
    user: User | None


@strawberry.input
class SignUpInput:
    tenant_name: str
    email: str
    password: str


@strawberry.input
class AcceptInviteInput:
    token: str
    password: str
    name: str = ""


SignUpResult = Annotated[
    AuthPayload | ValidationError | ConflictError, strawberry.union("SignUpResult")
]
LoginResult = Annotated[
    AuthPayload | AuthenticationError | RateLimitedError, strawberry.union("LoginResult")
]
AcceptInviteResult = Annotated[
    AuthPayload | ValidationError | ConflictError | AuthenticationError,
    strawberry.union("AcceptInviteResult"),
]


def payload(context: Context, session: use_case.Session) -> AuthPayload:
    """Also tells the audit trail which tenant and user a public mutation acted for."""
    context.audit.tenant_id = session.tenant.id
    context.audit.actor = Actor(kind="user", id=str(session.user.id), label=session.user.email)
    return AuthPayload(
        access_token=session.access_token,
        access_token_expires_at=session.access_expires_at,
        refresh_token=session.refresh_token,
        user=User.from_model(session.user),
        tenant=Tenant(
            id=strawberry.ID(session.tenant.id), name=session.tenant.name, tier=session.tenant.tier
        ),
    )


@strawberry.type
class AuthQuery:
    @query()
    async def me(self, info: Info) -> Me:
        principal = info.context.ctx.principal
        user = await user_use_case.me(info.context.ctx)
        return Me(
            tenant_id=strawberry.ID(principal.tenant_id),
            role=principal.role,
            kind=principal.kind,
            user=User.from_model(user) if user else None,
        )


@strawberry.type
class AuthMutation:
    @mutation(public=True, description="Create a tenant with its first admin, signed in.")
    async def sign_up(self, info: Info, input: SignUpInput) -> SignUpResult:
        context = info.context
        await usage.admit_login(context.services, input.email, context.client_ip)
        session = await use_case.sign_up(
            context.services, input.tenant_name, input.email, input.password
        )
        return payload(context, session)

    @mutation(public=True)
    async def login(self, info: Info, email: str, password: str) -> LoginResult:
        context = info.context
        await usage.admit_login(context.services, email, context.client_ip)
        return payload(context, await use_case.login(context.services, email, password))

    @mutation(public=True, description="Spend a refresh token for a new session.")
    async def refresh_session(self, info: Info, refresh_token: str) -> LoginResult:
        context = info.context
        return payload(context, await use_case.refresh_session(context.services, refresh_token))

    @mutation(public=True, description="Set a password for an invitation and sign in.")
    async def accept_invite(self, info: Info, input: AcceptInviteInput) -> AcceptInviteResult:
        context = info.context
        session = await user_use_case.accept_invite(
            context.services, input.token, input.password, input.name
        )
        return payload(context, session)

    @mutation(Role.VIEWER, description="Revoke this access token and its refresh token's login.")
    async def logout(self, info: Info, refresh_token: str | None = None) -> bool:
        context = info.context
        await use_case.logout(context.services, context.ctx.principal, refresh_token)
        return True
