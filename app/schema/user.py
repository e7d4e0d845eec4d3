"""Users, roles and invitations in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.models import identity
from app.models.identity import Role
from app.resolvers import user as use_case
from app.schema.context import Info
from app.schema.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from app.schema.fields import mutation, query
from app.schema.pagination import Connection, connection


@strawberry.type
class User:
    id: strawberry.ID
    email: str
    name: str
    role: Role
    active: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def from_model(cls, doc: identity.User) -> User:
        return cls(
            id=strawberry.ID(str(doc.id)),
            email=doc.email,
            name=doc.name,
            role=doc.role,
            active=doc.active,
            created_at=doc.created_at,
            last_login_at=doc.last_login_at,
        )


@strawberry.type
class Invitation:
    id: strawberry.ID
    email: str
    role: Role
    expires_at: datetime
    token: str = strawberry.field(description="Send it to the invitee; it is shown only once.")


@strawberry.type(description="An invitation as stored; its token is never shown again.")
class Invite:
    id: strawberry.ID
    email: str
    role: Role
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_model(cls, doc: identity.Invite) -> Invite:
        return cls(
            id=strawberry.ID(str(doc.id)),
            email=doc.email,
            role=doc.role,
            expires_at=doc.expires_at,
            accepted_at=doc.accepted_at,
            revoked_at=doc.revoked_at,
        )


@strawberry.input
class InviteUserInput:
    email: str
    role: Role = identity.Role.VIEWER


InviteUserResult = Annotated[
    Invitation | ValidationError | ConflictError, strawberry.union("InviteUserResult")
]
RevokeInviteResult = Annotated[
    Invite | NotFoundError | ConflictError, strawberry.union("RevokeInviteResult")
]
UserResult = Annotated[
    User | NotFoundError | ForbiddenError | ConflictError, strawberry.union("UserResult")
]


@strawberry.type
class UserQuery:
    @query(identity.Role.ADMIN)
    async def users(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[User]:
        page = await use_case.list_users(info.context.ctx, (first, after))
        return connection(page, User.from_model)


@strawberry.type
class UserMutation:
    @mutation(identity.Role.ADMIN)
    async def invite_user(self, info: Info, input: InviteUserInput) -> InviteUserResult:
        invitation = await use_case.invite_user(info.context.ctx, input.email, input.role)
        invite = invitation.invite
        return Invitation(
            id=strawberry.ID(str(invite.id)),
            email=invite.email,
            role=invite.role,
            expires_at=invite.expires_at,
            token=invitation.token,
        )

    @mutation(identity.Role.ADMIN, description="Withdraw an invitation not yet accepted.")
    async def revoke_invite(self, info: Info, id: strawberry.ID) -> RevokeInviteResult:
        return Invite.from_model(await use_case.revoke_invite(info.context.ctx, id))

    @mutation(identity.Role.ADMIN)
    async def change_user_role(self, info: Info, user_id: strawberry.ID, role: Role) -> UserResult:
        return User.from_model(await use_case.change_role(info.context.ctx, user_id, role))

    @mutation(
        identity.Role.ADMIN,
        description="Deactivate a user: their sessions, API keys and pending invitations end.",
    )
    async def deactivate_user(self, info: Info, user_id: strawberry.ID) -> UserResult:
        return User.from_model(await use_case.deactivate(info.context.ctx, user_id))
