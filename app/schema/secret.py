"""Tenant credentials in the API: write-only; reads show a masked hint."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.models import identity
from app.models.secret import TenantSecret
from app.resolvers import secret as use_case
from app.schema.context import Info
from app.schema.errors import ValidationError
from app.schema.fields import mutation, query


@strawberry.type(description="A stored credential. Its value is never returned.")
class Secret:
    name: str
    hint: str
    key_id: str = strawberry.field(description="The encryption key it is sealed under.")
    updated_at: datetime

    @classmethod
    def from_model(cls, doc: TenantSecret) -> Secret:
        return cls(name=doc.name, hint=doc.hint, key_id=doc.sealed.kid, updated_at=doc.updated_at)


@strawberry.input
class SetSecretInput:
    name: str
    value: str


SetSecretResult = Annotated[Secret | ValidationError, strawberry.union("SetSecretResult")]


@strawberry.type
class SecretQuery:
    @query(identity.Role.ADMIN)
    async def secrets(self, info: Info) -> list[Secret]:
        return [Secret.from_model(doc) for doc in await use_case.list_secrets(info.context.ctx)]


@strawberry.type
class SecretMutation:
    @mutation(identity.Role.ADMIN, description="Store or replace a credential, encrypted.")
    async def set_secret(self, info: Info, input: SetSecretInput) -> SetSecretResult:
        return Secret.from_model(
            await use_case.set_secret(info.context.ctx, input.name, input.value)
        )

    @mutation(identity.Role.ADMIN)
    async def delete_secret(self, info: Info, name: str) -> bool:
        return await use_case.delete_secret(info.context.ctx, name)
