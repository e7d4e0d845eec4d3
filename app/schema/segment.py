"""Customer segments, their filters and metrics in the API."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from bson import ObjectId
from strawberry.scalars import JSON

from app import models
from app.bus import Event
from app.resolvers import segment as use_case
from app.resolvers import segment_filter as filters
from app.schema.context import Info
from app.schema.errors import ConflictError, NotFoundError, ValidationError
from app.schema.fields import mutation, query, subscription
from app.schema.money import Cents
from app.schema.pagination import Connection, connection
from app.schema.related import Related, many, prefetch_segments, product_of
from app.schema.streams import stream
from app.schema.version import DataVersion, versions_of

if TYPE_CHECKING:
    from app.schema.experiment import Experiment
    from app.schema.link import SegmentPlanLink
    from app.schema.plan import PricingPlan
    from app.schema.product import Product

# What each customer field of the filter language holds (tests/test_segment.py keeps it in
# step with app/resolvers/segment_filter.py, which checks them).
FILTER_FIELD_TYPES = {
    "region": "string",
    "company_size": "string",
    "external_id": "string",
    "plan_id": "a plan's id",
    "monthly_revenue_cents": "integer, cents",
    "usage": "number",
    "signup_at": "ISO 8601 date-time",
    "churned_at": "ISO 8601 date-time",
}
FILTER_LANGUAGE = (
    "The segment filter language: a JSON object of conditions on customer fields "
    + ", ".join(f"`{name}` ({kind})" for name, kind in FILTER_FIELD_TYPES.items())
    + " and `attributes.<key>` (string, number, boolean or null; the key is a letter or _ "
    "then up to 63 letters, digits or _). `{field: value}` means equal; operators on a "
    "field: `$eq $ne $gt $gte $lt $lte $in $nin $not $exists`, and `$regex` (matched "
    'literally, `$options: "i"` ignores case); `$and $or $nor` combine filters. At most '
    f"{filters.MAX_DEPTH} levels of nesting, {filters.MAX_CONDITIONS} conditions and "
    f"{filters.MAX_LIST} values per `$in`. Example: "
    '`{"region": "eu", "monthly_revenue_cents": {"$gte": 10000}}`.'
)
SQL_WHERE = (
    "The same filter as a SQL WHERE clause over the same fields: `= != <> < <= > >=`, "
    "`[NOT] IN (...)`, `IS [NOT] NULL`, `AND OR NOT`, parentheses, 'quoted strings', numbers, "
    "TRUE/FALSE, e.g. `region = 'eu' AND monthly_revenue_cents > 10000`."
)


@strawberry.type(
    description="Change from the customers active at the period's start to those active at "
    "its end, as a fraction (0.1 = +10%); null where the start value is zero. Customers carry "
    "their current revenue and usage, so revenue and usage growth count arrivals and "
    "departures at today's values."
)
class SegmentGrowth:
    period_days: int
    period_start: datetime | None
    period_end: datetime | None
    users_at_start: int
    users_at_end: int
    users: float | None
    revenue: float | None
    usage: float | None


@strawberry.type
class SegmentMetrics:
    total_users: int
    active_users: int
    avg_revenue_cents: Cents = strawberry.field(description="Per active customer and month.")
    avg_usage: float = strawberry.field(description="Per active customer.")
    engagement_score: float | None = strawberry.field(
        description="Active customers' mean usage against the product's; 100 = as engaged "
        "as the product's average active customer."
    )
    churn_rate: float = strawberry.field(description="Share of the segment's customers churned.")
    growth: SegmentGrowth
    computed_at: datetime | None


@strawberry.type
class CustomerSegment:
    id: strawberry.ID
    product_id: strawberry.ID
    name: str
    description: str
    filter: JSON = strawberry.field(description=FILTER_LANGUAGE)
    sql_where: str = strawberry.field(description="The SQL WHERE text it was written in, if so.")
    metrics: SegmentMetrics
    created_at: datetime
    updated_at: datetime
    revision: int

    related: strawberry.Private[Related | None] = None

    @strawberry.field
    def product(
        self, info: Info
    ) -> Annotated[Product, strawberry.lazy("app.schema.product")] | None:
        return product_of(info, self.product_id, self.related)

    @strawberry.field(description="Links to plans (the canvas edges out of this segment).")
    def links(
        self, info: Info
    ) -> list[Annotated[SegmentPlanLink, strawberry.lazy("app.schema.link")]]:
        from app.schema.link import SegmentPlanLink

        related = self.related
        return many(
            related.links if related else None,
            lambda: info.context.loaders.links_of_segment.load(ObjectId(self.id)),
            lambda link: SegmentPlanLink.from_model(link, related),
        )

    @strawberry.field(description="The plans this segment's active links point at.")
    def plans(self, info: Info) -> list[Annotated[PricingPlan, strawberry.lazy("app.schema.plan")]]:
        from app.schema.plan import PricingPlan

        related = self.related
        if related is None or related.links is None or not related.has_plans:
            return self._load_plans(info)  # type: ignore[return-value]
        found = (related.plans.get(link.plan_id) for link in related.links if link.active)
        return [PricingPlan.from_model(plan) for plan in found if plan is not None]

    async def _load_plans(self, info: Info) -> list[PricingPlan]:
        from app.schema.plan import PricingPlan

        loaders = info.context.loaders
        links = await loaders.links_of_segment.load(ObjectId(self.id))
        plans = await loaders.plan.load_many([link.plan_id for link in links if link.active])
        return [PricingPlan.from_model(p) for p in plans if p is not None]

    @strawberry.field(description="Experiments that target this segment, oldest first.")
    async def experiments(
        self, info: Info
    ) -> list[Annotated[Experiment, strawberry.lazy("app.schema.experiment")]]:
        from app.schema.experiment import Experiment

        docs = await info.context.loaders.experiments_of_segment.load(ObjectId(self.id))
        return [Experiment.from_model(doc) for doc in docs]

    @strawberry.field(description="Earlier versions, newest first.")
    async def versions(self, info: Info) -> list[DataVersion]:
        return await versions_of(info, self.id)

    @classmethod
    def from_model(cls, doc: models.CustomerSegment) -> CustomerSegment:
        return cls(
            id=strawberry.ID(str(doc.id)),
            product_id=strawberry.ID(str(doc.product_id)),
            name=doc.name,
            description=doc.description,
            filter=cast(JSON, use_case.to_json(doc.filter)),
            sql_where=doc.sql_where,
            metrics=SegmentMetrics(
                **doc.metrics.model_dump(exclude={"growth"}),
                growth=SegmentGrowth(**doc.metrics.growth.model_dump()),
            ),
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            revision=doc.revision,
        )


@strawberry.input(
    description="Give `filter` (JSON) or `sqlWhere`; neither means everyone. Preview the "
    "customers either selects with `customers(productId, filter or sqlWhere)`."
)
class CreateSegmentInput:
    product_id: strawberry.ID
    name: str
    description: str = ""
    filter: JSON | None = strawberry.field(default=None, description=FILTER_LANGUAGE)
    sql_where: str | None = strawberry.field(default=None, description=SQL_WHERE)
    reason: str = ""


@strawberry.input
class UpdateSegmentInput:
    id: strawberry.ID
    revision: int
    reason: str = ""
    name: str | None = None
    description: str | None = None
    filter: JSON | None = strawberry.field(default=None, description=FILTER_LANGUAGE)
    sql_where: str | None = strawberry.field(default=None, description=SQL_WHERE)


def given(input: Any) -> dict[str, Any]:
    keys = ("name", "description", "filter", "sql_where")
    return {key: getattr(input, key) for key in keys if getattr(input, key) is not None}


SegmentResult = Annotated[
    CustomerSegment | ValidationError | NotFoundError | ConflictError,
    strawberry.union("SegmentResult"),
]


@strawberry.type
class SegmentMetricsUpdate:
    segment_id: strawberry.ID
    cursor: str

    @classmethod
    def from_event(cls, event: Event) -> SegmentMetricsUpdate:
        return cls(segment_id=strawberry.ID(event.data["segmentId"]), cursor=event.id)

    @strawberry.field
    async def segment(self, info: Info) -> CustomerSegment | None:
        doc = await info.context.loaders.segment.load(ObjectId(self.segment_id))
        return CustomerSegment.from_model(doc) if doc else None


@strawberry.type
class SegmentQuery:
    @query()
    async def segments(
        self,
        info: Info,
        product_id: strawberry.ID | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[CustomerSegment]:
        found = await use_case.list_segments(info.context.ctx, product_id, (first, after))
        page = connection(found, CustomerSegment.from_model)
        await prefetch_segments(info, page.nodes())
        return page

    @query()
    async def segment(self, info: Info, id: strawberry.ID) -> CustomerSegment | None:
        doc = await use_case.get_segment(info.context.ctx, id)
        return CustomerSegment.from_model(doc) if doc else None


@strawberry.type
class SegmentMutation:
    @mutation(description="Create a segment; its metrics are computed by a run.")
    async def create_segment(self, info: Info, input: CreateSegmentInput) -> SegmentResult:
        doc = await use_case.create_segment(
            info.context.ctx, input.product_id, given(input), input.reason
        )
        return CustomerSegment.from_model(doc)

    @mutation(description="Change a segment; a new filter recomputes its metrics (a run).")
    async def update_segment(self, info: Info, input: UpdateSegmentInput) -> SegmentResult:
        doc = await use_case.update_segment(
            info.context.ctx, input.id, input.revision, given(input), input.reason
        )
        return CustomerSegment.from_model(doc)

    @mutation(description="Delete a segment and its links.")
    async def delete_segment(self, info: Info, id: strawberry.ID, revision: int) -> SegmentResult:
        doc = await use_case.delete_segment(info.context.ctx, id, revision)
        return CustomerSegment.from_model(doc)

    @mutation(description="Put back an earlier version's name, description and filter.")
    async def restore_segment_version(
        self, info: Info, id: strawberry.ID, revision: int, number: int, reason: str = ""
    ) -> SegmentResult:
        doc = await use_case.restore_segment_version(info.context.ctx, id, revision, number, reason)
        return CustomerSegment.from_model(doc)


@strawberry.type
class SegmentSubscription:
    @subscription(description="A segment's metrics were recomputed.")
    def segment_metrics_updated(
        self, info: Info, product_id: strawberry.ID | None = None, since: str | None = None
    ) -> AsyncGenerator[SegmentMetricsUpdate, None]:
        events = use_case.follow_metrics(info.context.ctx, product_id, since)
        return stream(events, SegmentMetricsUpdate.from_event)
