"""Pricing plans in the API."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from bson import ObjectId

from app import models
from app.models.plan import BillingPeriod, BillingUnit
from app.resolvers import plan as use_case
from app.schema.context import Info
from app.schema.errors import ConflictError, NotFoundError, ValidationError
from app.schema.fields import mutation, query
from app.schema.money import Cents
from app.schema.pagination import Connection, connection
from app.schema.related import product_of
from app.schema.version import DataVersion, versions_of

if TYPE_CHECKING:
    from app.schema.diagnosis import GapDiagnosis
    from app.schema.experiment import Experiment
    from app.schema.link import SegmentPlanLink
    from app.schema.product import Product


@strawberry.type
class PriceChange:
    price_cents: Cents
    changed_at: datetime
    changed_by: str
    reason: str


@strawberry.type
class PricingPlan:
    id: strawberry.ID
    product_id: strawberry.ID
    name: str
    description: str
    features: list[str]
    unit_price_cents: Cents
    currency: str
    billing_unit: BillingUnit
    billing_period: BillingPeriod
    unit_cost_cents: Cents
    min_units: int
    unit_calculation_logic: str
    active: bool
    price_history: list[PriceChange]
    created_at: datetime
    updated_at: datetime
    revision: int

    @strawberry.field
    def product(
        self, info: Info
    ) -> Annotated[Product, strawberry.lazy("app.schema.product")] | None:
        return product_of(info, self.product_id, None)

    @strawberry.field(description="This plan's segment links (the canvas edges into it).")
    async def links(
        self, info: Info
    ) -> list[Annotated[SegmentPlanLink, strawberry.lazy("app.schema.link")]]:
        from app.schema.link import SegmentPlanLink

        links = await info.context.loaders.links_of_plan.load(ObjectId(self.id))
        return [SegmentPlanLink.from_model(link) for link in links]

    @strawberry.field(description="Experiments with an arm on this plan, oldest first.")
    async def experiments(
        self, info: Info
    ) -> list[Annotated[Experiment, strawberry.lazy("app.schema.experiment")]]:
        from app.schema.experiment import Experiment

        docs = await info.context.loaders.experiments_of_plan.load(ObjectId(self.id))
        return [Experiment.from_model(doc) for doc in docs]

    @strawberry.field(description="Earlier versions, newest first.")
    async def versions(self, info: Info) -> list[DataVersion]:
        return await versions_of(info, self.id)

    @strawberry.field(description="AI gap diagnoses of this plan, newest first.")
    async def gap_diagnoses(
        self, info: Info
    ) -> list[Annotated[GapDiagnosis, strawberry.lazy("app.schema.diagnosis")]]:
        from app.schema.diagnosis import diagnoses

        return await diagnoses(info, self.id)

    @classmethod
    def from_model(cls, doc: models.PricingPlan) -> PricingPlan:
        return cls(
            id=strawberry.ID(str(doc.id)),
            product_id=strawberry.ID(str(doc.product_id)),
            price_history=[PriceChange(**p.model_dump()) for p in doc.price_history],
            **doc.model_dump(include=set(use_case.EDITABLE)),
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            revision=doc.revision,
        )


@strawberry.input
class CreatePlanInput:
    product_id: strawberry.ID
    name: str
    unit_price_cents: Cents
    description: str = ""
    features: list[str] = strawberry.field(default_factory=list)
    currency: str = "USD"
    billing_unit: BillingUnit = BillingUnit.SEAT
    billing_period: BillingPeriod = BillingPeriod.MONTH
    unit_cost_cents: Cents = 0
    min_units: int = 1
    unit_calculation_logic: str = ""
    active: bool = True
    reason: str = ""


@strawberry.input(description="Only the fields given change; `reason` goes into the history.")
class UpdatePlanInput:
    id: strawberry.ID
    revision: int
    reason: str = ""
    name: str | None = None
    unit_price_cents: Cents | None = None
    description: str | None = None
    features: list[str] | None = None
    currency: str | None = None
    billing_unit: BillingUnit | None = None
    billing_period: BillingPeriod | None = None
    unit_cost_cents: Cents | None = None
    min_units: int | None = None
    unit_calculation_logic: str | None = None
    active: bool | None = None


def given(input: Any) -> dict[str, Any]:
    return {
        key: getattr(input, key)
        for key in use_case.EDITABLE
        if getattr(input, key, None) is not None
    }


PlanResult = Annotated[
    PricingPlan | ValidationError | NotFoundError | ConflictError, strawberry.union("PlanResult")
]


@strawberry.type
class PlanQuery:
    @query()
    async def plans(
        self,
        info: Info,
        product_id: strawberry.ID | None = None,
        active: bool | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[PricingPlan]:
        page = await use_case.list_plans(info.context.ctx, product_id, active, (first, after))
        return connection(page, PricingPlan.from_model)

    @query()
    async def plan(self, info: Info, id: strawberry.ID) -> PricingPlan | None:
        doc = await use_case.get_plan(info.context.ctx, id)
        return PricingPlan.from_model(doc) if doc else None


@strawberry.type
class PlanMutation:
    @mutation()
    async def create_plan(self, info: Info, input: CreatePlanInput) -> PlanResult:
        doc = await use_case.create_plan(
            info.context.ctx, input.product_id, given(input), input.reason
        )
        return PricingPlan.from_model(doc)

    @mutation(description="Change a plan; a price change is added to its price history.")
    async def update_plan(self, info: Info, input: UpdatePlanInput) -> PlanResult:
        doc = await use_case.update_plan(
            info.context.ctx, input.id, input.revision, given(input), input.reason
        )
        return PricingPlan.from_model(doc)

    @mutation(description="Delete a plan without active links.")
    async def delete_plan(self, info: Info, id: strawberry.ID, revision: int) -> PlanResult:
        return PricingPlan.from_model(await use_case.delete_plan(info.context.ctx, id, revision))

    @mutation(description="Put back the fields of an earlier version (a new version).")
    async def restore_plan_version(
        self, info: Info, id: strawberry.ID, revision: int, number: int, reason: str = ""
    ) -> PlanResult:
        doc = await use_case.restore_plan_version(info.context.ctx, id, revision, number, reason)
        return PricingPlan.from_model(doc)
