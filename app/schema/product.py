"""Products in the API."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime
from typing import Annotated

import strawberry

from app import models
from app.resolvers import product as use_case
from app.schema.context import Info
from app.schema.errors import ConflictError, ValidationError
from app.schema.fields import mutation, query, subscription
from app.schema.pagination import Connection, paginate


@strawberry.type
class Product:
    id: strawberry.ID
    name: str
    description: str
    active: bool
    created_at: datetime
    updated_at: datetime
    revision: int

    @classmethod
    def from_model(cls, doc: models.Product) -> Product:
        return cls(
            id=strawberry.ID(str(doc.id)),
            name=doc.name,
            description=doc.description,
            active=doc.active,
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            revision=doc.revision,
        )


@strawberry.input
class CreateProductInput:
    name: str
    description: str = ""


CreateProductResult = Annotated[
    Product | ValidationError | ConflictError, strawberry.union("CreateProductResult")
]


@strawberry.type
class ProductEvent:
    type: str
    product_id: strawberry.ID
    cursor: str


@strawberry.type
class ProductQuery:
    @query()
    async def products(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[Product]:
        return await paginate(
            info.context.scope, models.Product, {}, (first, after), Product.from_model
        )

    @query()
    async def product(self, info: Info, id: strawberry.ID) -> Product | None:
        doc = await info.context.scope.get(models.Product, id)
        return Product.from_model(doc) if doc else None


@strawberry.type
class ProductMutation:
    @mutation()
    async def create_product(self, info: Info, input: CreateProductInput) -> CreateProductResult:
        doc = await use_case.create_product(info.context.ctx, input.name, input.description)
        return Product.from_model(doc)


@strawberry.type
class ProductSubscription:
    @subscription(description="Product changes; with `since`, first those after it.")
    async def product_events(
        self, info: Info, since: str | None = None
    ) -> AsyncGenerator[ProductEvent, None]:
        ctx = info.context.ctx
        events = ctx.services.bus.subscribe(ctx.tenant_id, use_case.TOPIC, since)
        async with aclosing(events):
            async for event in events:
                yield ProductEvent(
                    type=event.type,
                    product_id=strawberry.ID(event.data["productId"]),
                    cursor=event.id,
                )
