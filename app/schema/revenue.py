"""Revenue contributions, attribution and forecasts in the API; every series is chart-ready."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator, Callable
from enum import Enum
from typing import Annotated, Any

import strawberry

from app import models
from app.bus import Event
from app.models.revenue import ForecastPoint
from app.resolvers import revenue as use_case
from app.resolvers.revenue_import import IMPORT_RUN
from app.schema.context import Info
from app.schema.errors import NotFoundError, RateLimitedError, ValidationError
from app.schema.fields import mutation, query, subscription
from app.schema.money import Cents
from app.schema.pagination import Connection, paginate
from app.schema.run import Run, StartRunResult
from app.schema.streams import stream
from app.schema.upload import import_mutation


def cents(amount: float) -> int:
    """A computed amount (a mean, a forecast, a projection) in whole cents."""
    return round(float(amount))


def optional(convert: Callable[[float], Any], value: float | None) -> Any:
    return None if value is None else convert(value)


@strawberry.type(description="One point of a chart of counts: an interval only where there is one.")
class ChartPoint:
    period: dt.date
    value: float
    lower: float | None = None
    upper: float | None = None

    @classmethod
    def at(
        cls, period: dt.date, value: float, lower: float | None = None, upper: float | None = None
    ) -> ChartPoint:
        low, high = optional(float, lower), optional(float, upper)
        return cls(period=period, value=float(value), lower=low, upper=high)


@strawberry.type(description="One point of a chart of money: an interval only where there is one.")
class MoneyPoint:
    period: dt.date
    value: Cents
    lower: Cents | None = None
    upper: Cents | None = None

    @classmethod
    def at(
        cls, period: dt.date, value: float, lower: float | None = None, upper: float | None = None
    ) -> MoneyPoint:
        low, high = optional(cents, lower), optional(cents, upper)
        return cls(period=period, value=cents(value), lower=low, upper=high)


def predicted(point: ForecastPoint, kind: type[ChartPoint] | type[MoneyPoint]) -> Any:
    return kind.at(point.period, point.value, point.lower, point.upper)


@strawberry.type(description="Revenue of a product's segment on a plan (the seed's contribution).")
class RevenueContribution:
    id: strawberry.ID
    product_id: strawberry.ID
    segment_id: strawberry.ID
    plan_id: strawberry.ID
    currency: str
    revenue: list[MoneyPoint] = strawberry.field(description="Monthly revenue.")
    active_subscriptions: list[ChartPoint]
    revenue_forecast: list[MoneyPoint]
    active_subscriptions_forecast: list[ChartPoint]
    forecast_model: str | None

    @classmethod
    def from_model(cls, doc: models.RevenueSeries) -> RevenueContribution:
        forecast = doc.forecast
        return cls(
            id=strawberry.ID(str(doc.id)),
            product_id=strawberry.ID(str(doc.product_id)),
            segment_id=strawberry.ID(str(doc.segment_id)),
            plan_id=strawberry.ID(str(doc.plan_id)),
            currency=doc.currency,
            revenue=[MoneyPoint.at(p.period, p.revenue_cents) for p in doc.points],
            active_subscriptions=[
                ChartPoint.at(p.period, p.active_subscriptions) for p in doc.points
            ],
            revenue_forecast=[predicted(p, MoneyPoint) for p in forecast.revenue]
            if forecast
            else [],
            active_subscriptions_forecast=[
                predicted(p, ChartPoint) for p in forecast.active_subscriptions
            ]
            if forecast
            else [],
            forecast_model=forecast.model if forecast else None,
        )


@strawberry.type
class AttributionItem:
    plan_id: strawberry.ID
    plan_name: str
    segment_id: strawberry.ID
    segment_name: str
    revenue_cents: Cents
    share: float
    users: int = strawberry.field(description="Active subscriptions in the last month.")
    avg_revenue_cents: Cents = strawberry.field(description="Per subscription and month.")


@strawberry.type
class PlanRevenueSeries:
    plan_id: strawberry.ID
    plan_name: str
    points: list[MoneyPoint]


@strawberry.type
class RevenueAttribution:
    start: dt.date
    end: dt.date
    items: list[AttributionItem]
    total_revenue_cents: Cents
    time_series: list[PlanRevenueSeries]


@strawberry.input
class RevenuePointInput:
    period: dt.date = strawberry.field(description="The first day of the month.")
    revenue_cents: Cents
    active_subscriptions: int


@strawberry.input
class RevenueContributionInput:
    product_id: strawberry.ID
    segment_id: strawberry.ID
    plan_id: strawberry.ID
    currency: str = "USD"
    points: list[RevenuePointInput]


ContributionResult = Annotated[
    RevenueContribution | ValidationError | NotFoundError | RateLimitedError,
    strawberry.union("RevenueContributionResult"),
]


@strawberry.type
class RevenueQuery:
    @query()
    async def revenue_contributions(
        self,
        info: Info,
        product_id: strawberry.ID | None = None,
        segment_id: strawberry.ID | None = None,
        plan_id: strawberry.ID | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[RevenueContribution]:
        conditions = use_case.series_filter(product_id, segment_id, plan_id)
        return await paginate(
            info.context.scope,
            models.RevenueSeries,
            conditions,
            (first, after),
            RevenueContribution.from_model,
        )

    @query(
        description="Revenue per plan and segment over [start, end), with monthly series; "
        "of one segment and/or one plan of the product when given."
    )
    async def revenue_attribution(
        self,
        info: Info,
        product_id: strawberry.ID,
        start: dt.date,
        end: dt.date,
        segment_id: strawberry.ID | None = None,
        plan_id: strawberry.ID | None = None,
    ) -> RevenueAttribution:
        result = await use_case.attribution(
            info.context.scope, product_id, start, end, segment_id, plan_id
        )
        return RevenueAttribution(
            start=start,
            end=end,
            items=[
                AttributionItem(
                    plan_id=strawberry.ID(str(item.plan.id)),
                    plan_name=item.plan.name,
                    segment_id=strawberry.ID(str(item.segment.id)),
                    segment_name=item.segment.name,
                    revenue_cents=item.revenue_cents,
                    share=item.share,
                    users=item.users,
                    avg_revenue_cents=item.avg_revenue_cents,
                )
                for item in result.items
            ],
            total_revenue_cents=result.total_revenue_cents,
            time_series=[
                PlanRevenueSeries(
                    plan_id=strawberry.ID(str(plan_id)),
                    plan_name=result.plans[plan_id].name,
                    points=[MoneyPoint.at(period, value) for period, value in points],
                )
                for plan_id, points in result.monthly_by_plan.items()
            ],
        )


@strawberry.enum(description="What changed in a product's revenue data.")
class RevenueChange(Enum):
    CONTRIBUTIONS = use_case.CONTRIBUTIONS_CHANGED
    FORECASTS = use_case.FORECASTS_CHANGED


@strawberry.type(description="A product's contributions or their forecasts changed.")
class RevenueUpdate:
    change: RevenueChange
    product_id: strawberry.ID
    contribution_ids: list[strawberry.ID]
    cursor: str

    @classmethod
    def from_event(cls, event: Event) -> RevenueUpdate:
        return cls(
            change=RevenueChange(event.type),
            product_id=strawberry.ID(event.data["productId"]),
            contribution_ids=[strawberry.ID(i) for i in event.data["seriesIds"]],
            cursor=event.id,
        )


@strawberry.type
class RevenueSubscription:
    @subscription(
        description="Contributions of the product stored (upsert, import, derivation) or "
        "forecast again (the seeds' revenue_data_updated); with `since`, those missed first."
    )
    def revenue_updated(
        self, info: Info, product_id: strawberry.ID, since: str | None = None
    ) -> AsyncGenerator[RevenueUpdate, None]:
        events = use_case.follow_product(info.context.ctx, product_id, since)
        return stream(events, RevenueUpdate.from_event)


@strawberry.type
class RevenueMutation:
    @mutation(description="Add or replace months of a contribution (duplicate months summed).")
    async def upsert_revenue_contribution(
        self, info: Info, input: RevenueContributionInput
    ) -> ContributionResult:
        points = [
            use_case.PointInput(p.period, p.revenue_cents, p.active_subscriptions)
            for p in input.points
        ]
        doc = await use_case.upsert_series(
            info.context.ctx,
            input.product_id,
            input.segment_id,
            input.plan_id,
            input.currency,
            points,
        )
        return RevenueContribution.from_model(doc)

    @mutation(
        description="Derive contributions from the customer records (a run): per segment and "
        "plan, the active subscriptions and revenue of the last complete months, replacing "
        "those months; forecasts follow."
    )
    async def derive_revenue_from_customers(
        self,
        info: Info,
        product_id: strawberry.ID,
        months: Annotated[
            int, strawberry.argument(description=f"1 to {use_case.MAX_MONTHS}.")
        ] = use_case.DEFAULT_MONTHS,
    ) -> StartRunResult:
        doc = await use_case.derive_from_customers(info.context.ctx, product_id, months)
        return Run.from_model(doc)

    import_revenue = import_mutation(
        IMPORT_RUN,
        "Import contributions from a CSV file (multipart upload; columns plan, segment, "
        "period, revenue_cents, active_subscriptions, currency) as a run: its `validate` step "
        "reports row errors, `write` what was stored; forecasts follow.",
    )
