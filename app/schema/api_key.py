"""API keys in the API: the secret appears once, in the creating mutation's result."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.models import identity
from app.models.identity import Role
from app.resolvers import api_key as use_case
from app.schema.context import Info
from app.schema.errors import ForbiddenError, NotFoundError, ValidationError
from app.schema.fields import mutation, query
from app.schema.pagination import Connection, connection


@strawberry.type
class ApiKey:
    id: strawberry.ID
    name: str
    hint: str = strawberry.field(description="Prefix and last characters, to recognise the key.")
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_model(cls, doc: identity.ApiKey) -> ApiKey:
        return cls(
            id=strawberry.ID(str(doc.id)),
            name=doc.name,
            hint=doc.hint,
            role=doc.role,
            created_at=doc.created_at,
            last_used_at=doc.last_used_at,
            revoked_at=doc.revoked_at,
        )


@strawberry.type
class CreatedApiKey:
    api_key: ApiKey
    key: str = strawberry.field(description="The key itself: shown now and never again.")


@strawberry.input
class CreateApiKeyInput:
    name: str
    role: Role = identity.Role.VIEWER


CreateApiKeyResult = Annotated[
    CreatedApiKey | ValidationError | ForbiddenError, strawberry.union("CreateApiKeyResult")
]
RevokeApiKeyResult = Annotated[ApiKey | NotFoundError, strawberry.union("RevokeApiKeyResult")]


@strawberry.type
class ApiKeyQuery:
    @query(identity.Role.ADMIN)
    async def api_keys(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[ApiKey]:
        page = await use_case.list_api_keys(info.context.ctx, (first, after))
        return connection(page, ApiKey.from_model)


@strawberry.type
class ApiKeyMutation:
    @mutation(identity.Role.ADMIN)
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreateApiKeyResult:
        created = await use_case.create_api_key(info.context.ctx, input.name, input.role)
        return CreatedApiKey(api_key=ApiKey.from_model(created.api_key), key=created.key)

    @mutation(identity.Role.ADMIN)
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> RevokeApiKeyResult:
        return ApiKey.from_model(await use_case.revoke_api_key(info.context.ctx, id))
