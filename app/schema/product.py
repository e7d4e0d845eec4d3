"""Products in the API."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import strawberry

from app import models
from app.bus import Event
from app.models.product import CostPer
from app.resolvers import product as use_case
from app.schema.context import Info
from app.schema.errors import ConflictError, NotFoundError, ValidationError
from app.schema.fields import mutation, query, subscription
from app.schema.money import Cents
from app.schema.pagination import Connection, connection
from app.schema.streams import stream


@strawberry.type(description="One line of unit-level COGS.")
class CostLine:
    name: str
    amount_cents: Cents
    per: CostPer


@strawberry.type
class CompetitorPlan:
    name: str
    price_cents: Cents
    billing_period: str


@strawberry.type
class Competitor:
    name: str
    website: str
    description: str
    plans: list[CompetitorPlan]


@strawberry.type
class Product:
    id: strawberry.ID
    name: str
    description: str
    active: bool
    icp_description: str
    feature_summary: str
    cost_lines: list[CostLine]
    competitors: list[Competitor]
    documentation_urls: list[str]
    created_at: datetime
    updated_at: datetime
    revision: int

    @strawberry.field(description="COGS of one unit: the sum of the per-unit cost lines.")
    def unit_cost_cents(self) -> Cents:
        return sum(line.amount_cents for line in self.cost_lines if line.per == CostPer.UNIT)

    @classmethod
    def from_model(cls, doc: models.Product) -> Product:
        return cls(
            id=strawberry.ID(str(doc.id)),
            name=doc.name,
            description=doc.description,
            active=doc.active,
            icp_description=doc.icp_description,
            feature_summary=doc.feature_summary,
            cost_lines=[CostLine(**line.model_dump()) for line in doc.cost_lines],
            competitors=[
                Competitor(
                    name=c.name,
                    website=c.website,
                    description=c.description,
                    plans=[CompetitorPlan(**p.model_dump()) for p in c.plans],
                )
                for c in doc.competitors
            ],
            documentation_urls=list(doc.documentation_urls),
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            revision=doc.revision,
        )


@strawberry.input
class CostLineInput:
    name: str
    amount_cents: Cents
    per: CostPer = CostPer.UNIT


@strawberry.input
class CompetitorPlanInput:
    name: str
    price_cents: Cents
    billing_period: str = "month"


@strawberry.input
class CompetitorInput:
    name: str
    website: str = ""
    description: str = ""
    plans: list[CompetitorPlanInput] = strawberry.field(default_factory=list)


@strawberry.input
class CreateProductInput:
    name: str
    description: str = ""
    icp_description: str = ""
    feature_summary: str = ""
    cost_lines: list[CostLineInput] = strawberry.field(default_factory=list)
    competitors: list[CompetitorInput] = strawberry.field(default_factory=list)
    documentation_urls: list[str] = strawberry.field(default_factory=list)


@strawberry.input(description="Only the fields given are changed; `revision` is the one read.")
class UpdateProductInput:
    id: strawberry.ID
    revision: int
    name: str | None = None
    description: str | None = None
    icp_description: str | None = None
    feature_summary: str | None = None
    cost_lines: list[CostLineInput] | None = None
    competitors: list[CompetitorInput] | None = None
    documentation_urls: list[str] | None = None
    active: bool | None = None


def product_fields(input: CreateProductInput | UpdateProductInput) -> dict[str, Any]:
    """The input's given fields as model values."""
    fields: dict[str, Any] = {}
    for key in ("name", "description", "icp_description", "feature_summary", "active"):
        value = getattr(input, key, None)
        if value is not None:
            fields[key] = value
    if input.documentation_urls is not None:
        fields["documentation_urls"] = list(input.documentation_urls)
    if input.cost_lines is not None:
        fields["cost_lines"] = [models.product.CostLine(**vars(c)) for c in input.cost_lines]
    if input.competitors is not None:
        fields["competitors"] = [
            models.product.Competitor(
                name=c.name,
                website=c.website,
                description=c.description,
                plans=[models.product.CompetitorPlan(**vars(p)) for p in c.plans],
            )
            for c in input.competitors
        ]
    return fields


CreateProductResult = Annotated[
    Product | ValidationError | ConflictError, strawberry.union("CreateProductResult")
]
ProductResult = Annotated[
    Product | ValidationError | NotFoundError | ConflictError, strawberry.union("ProductResult")
]


@strawberry.type
class ProductEvent:
    type: str
    product_id: strawberry.ID
    cursor: str

    @classmethod
    def from_event(cls, event: Event) -> ProductEvent:
        return cls(
            type=event.type, product_id=strawberry.ID(event.data["productId"]), cursor=event.id
        )


@strawberry.type
class ProductQuery:
    @query()
    async def products(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        active: bool | None = None,
    ) -> Connection[Product]:
        page = await use_case.list_products(info.context.ctx, active, (first, after))
        return connection(page, Product.from_model)

    @query()
    async def product(self, info: Info, id: strawberry.ID) -> Product | None:
        doc = await use_case.get_product(info.context.ctx, id)
        return Product.from_model(doc) if doc else None


@strawberry.type
class ProductMutation:
    @mutation()
    async def create_product(self, info: Info, input: CreateProductInput) -> CreateProductResult:
        fields = product_fields(input)
        doc = await use_case.create_product(info.context.ctx, **fields)
        return Product.from_model(doc)

    @mutation(description="Change a product; `active: false` deactivates it.")
    async def update_product(self, info: Info, input: UpdateProductInput) -> ProductResult:
        doc = await use_case.update_product(
            info.context.ctx, input.id, input.revision, product_fields(input)
        )
        return Product.from_model(doc)

    @mutation(description="Delete a product nothing refers to (else deactivate it).")
    async def delete_product(self, info: Info, id: strawberry.ID, revision: int) -> ProductResult:
        doc = await use_case.delete_product(info.context.ctx, id, revision)
        return Product.from_model(doc)


@strawberry.type
class ProductSubscription:
    @subscription(description="Product changes; with `since`, first those after it.")
    def product_events(
        self, info: Info, since: str | None = None
    ) -> AsyncGenerator[ProductEvent, None]:
        return stream(use_case.follow(info.context.ctx, since), ProductEvent.from_event)
