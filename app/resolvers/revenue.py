"""Revenue by product x segment x plan: ingestion, and attribution by aggregation pipeline."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from app.bus import Event
from app.errors import Conflict, FieldIssue, ValidationFailed
from app.models import CustomerSegment, PricingPlan, Product, RevenuePoint, RevenueSeries
from app.models.base import TenantScope, parse_id
from app.models.run import OrchestrationRun, WorkflowType
from app.resolvers import run as runs
from app.resolvers.alert import admit_forecast, refresh_forecast
from app.resolvers.ctx import ResolverCtx

CURRENCY_CODES = {"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "SEK", "NOK", "DKK", "INR"}
MAX_POINTS = 600
TOPIC = "revenue"
SAVE_ATTEMPTS = 5


@dataclass(frozen=True)
class PointInput:
    period: date
    revenue_cents: int
    active_subscriptions: int


class MonthTotals:
    """A contribution's months, with rows of one month summed (a billing export may split
    a month over several rows)."""

    def __init__(self) -> None:
        self.months: dict[date, list[int]] = defaultdict(lambda: [0, 0])

    def add(self, point: PointInput) -> None:
        totals = self.months[point.period]
        totals[0] += point.revenue_cents
        totals[1] += point.active_subscriptions

    def points(self) -> list[RevenuePoint]:
        return [
            RevenuePoint(period=period, revenue_cents=revenue, active_subscriptions=subscriptions)
            for period, (revenue, subscriptions) in sorted(self.months.items())
        ]


def validate_points(points: list[PointInput], currency: str) -> list[RevenuePoint]:
    """Checked and merged by month (see MonthTotals)."""
    issues = []
    if currency not in CURRENCY_CODES:
        issues.append(FieldIssue(("input", "currency"), f"use one of {sorted(CURRENCY_CODES)}"))
    if not 1 <= len(points) <= MAX_POINTS:
        issues.append(FieldIssue(("input", "points"), f"give 1 to {MAX_POINTS} points"))
    totals = MonthTotals()
    for i, point in enumerate(points):
        path = ("input", "points", str(i))
        if point.period.day != 1:
            issues.append(FieldIssue((*path, "period"), "must be the first day of a month"))
        if point.revenue_cents < 0:
            issues.append(FieldIssue((*path, "revenueCents"), "must not be negative"))
        if point.active_subscriptions < 0:
            issues.append(FieldIssue((*path, "activeSubscriptions"), "must not be negative"))
        totals.add(point)
    if issues:
        raise ValidationFailed(issues)
    return totals.points()


async def upsert_series(
    ctx: ResolverCtx,
    product_id: str,
    segment_id: str,
    plan_id: str,
    currency: str,
    points: list[PointInput],
) -> RevenueSeries:
    """Store a contribution's months; months already stored are replaced, others added."""
    incoming = validate_points(points, currency)
    product = await ctx.scope.require(Product, product_id)
    segment = await ctx.scope.require(CustomerSegment, segment_id)
    plan = await ctx.scope.require(PricingPlan, plan_id)
    if segment.product_id != product.id or plan.product_id != product.id:
        raise ValidationFailed.single(
            "input", "the segment and the plan must belong to the product"
        )
    key = {"product_id": product.id, "segment_id": segment.id, "plan_id": plan.id}
    existing = await ctx.scope.find(RevenueSeries, key).first_or_none()
    if existing is not None and existing.currency != currency:
        raise ValidationFailed.single("input.currency", f"this series is in {existing.currency}")
    # The forecast that follows is charged before anything is written: a spent quota
    # refuses the whole contribution instead of storing it unforecast.
    forecast = await admit_forecast(ctx, str(product.id))
    stored = await save_months(ctx, key, currency, existing, incoming)
    ctx.audit.record("RevenueSeries", stored.id, existing, stored)
    await refresh_forecast(ctx, forecast)
    return stored


async def save_months(
    ctx: ResolverCtx,
    key: dict[str, Any],
    currency: str,
    existing: RevenueSeries | None,
    incoming: list[RevenuePoint],
) -> RevenueSeries:
    """Months already stored are replaced by the incoming ones, others added; the stale
    forecast is dropped (the caller queues a new one). When the series moved on since it
    was read (a forecast stored, another upsert), it is read again and the months merged
    again: each write replaces only its own months, so nothing is lost."""
    for attempt in range(SAVE_ATTEMPTS):
        points = merged(existing, incoming)
        try:
            if existing is None:
                series = RevenueSeries(
                    tenant_id=ctx.tenant_id, currency=currency, points=points, **key
                )
                stored = await ctx.scope.insert(series)
            else:
                changes = {"points": [p.model_dump() for p in points], "forecast": None}
                stored = await ctx.scope.update(existing, changes)
            break
        except Conflict:
            if attempt == SAVE_ATTEMPTS - 1:
                raise
            existing = await ctx.scope.find(RevenueSeries, key).first_or_none()
    await revenue_changed(ctx, CONTRIBUTIONS_CHANGED, [stored])
    return stored


CONTRIBUTIONS_CHANGED = "contributionsChanged"
FORECASTS_CHANGED = "forecastsChanged"


def follow_product(
    ctx: ResolverCtx, product_id: str, since: str | None
) -> AsyncGenerator[Event, None]:
    """The product's revenue events (CONTRIBUTIONS_CHANGED, FORECASTS_CHANGED)."""
    return ctx.follow(TOPIC, since, lambda event: event.data.get("productId") == str(product_id))


async def revenue_changed(ctx: ResolverCtx, change: str, series: list[RevenueSeries]) -> None:
    """One event per product whose contributions (or their forecasts) changed."""
    by_product: dict[str, list[str]] = defaultdict(list)
    for doc in series:
        by_product[str(doc.product_id)].append(str(doc.id))
    for product_id, ids in by_product.items():
        await ctx.publish(TOPIC, change, {"productId": product_id, "seriesIds": ids})


def merged(existing: RevenueSeries | None, incoming: list[RevenuePoint]) -> list[RevenuePoint]:
    months = {p.period: p for p in (existing.points if existing else [])}
    months.update({p.period: p for p in incoming})
    return [months[period] for period in sorted(months)]


def as_datetime(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def product_series(
    scope: TenantScope, product_id: str, segment_id: str | None, plan_id: str | None
) -> tuple[Product, dict[str, Any]]:
    """The product, and the filter of its contributions, of one segment and one plan of it
    when given (the seeds' `segmentId?`, `planId?`)."""
    product = await scope.require(Product, product_id)
    series: dict[str, Any] = {"product_id": product.id}
    for field, model, given in (
        ("segment_id", CustomerSegment, segment_id),
        ("plan_id", PricingPlan, plan_id),
    ):
        if given is not None:
            doc = await scope.require(model, given)
            if doc.product_id != product.id:
                raise ValidationFailed.single(f"{field[:-3]}Id", "not one of the product's")
            series[field] = doc.id
    return product, series


def attribution_pipeline(
    scope: TenantScope, series: dict[str, Any], start: date, end: date
) -> list[dict[str, Any]]:
    in_range = {"points.period": {"$gte": as_datetime(start), "$lt": as_datetime(end)}}
    return [
        {"$match": scope.filter(series)},
        {"$unwind": "$points"},
        {"$match": in_range},
        {"$sort": {"points.period": 1}},
        {
            "$facet": {
                "items": [
                    {
                        "$group": {
                            "_id": {"plan": "$plan_id", "segment": "$segment_id"},
                            "revenue": {"$sum": "$points.revenue_cents"},
                            "subscription_months": {"$sum": "$points.active_subscriptions"},
                            "users": {"$last": "$points.active_subscriptions"},
                        }
                    }
                ],
                "monthly": [
                    {
                        "$group": {
                            "_id": {"plan": "$plan_id", "period": "$points.period"},
                            "revenue": {"$sum": "$points.revenue_cents"},
                        }
                    },
                    {"$sort": {"_id.period": 1}},
                ],
            }
        },
    ]


@dataclass(frozen=True)
class AttributionItem:
    plan: PricingPlan
    segment: CustomerSegment
    revenue_cents: int
    share: float
    users: int
    avg_revenue_cents: int


@dataclass(frozen=True)
class Attribution:
    items: list[AttributionItem]
    total_revenue_cents: int
    monthly_by_plan: dict[Any, list[tuple[date, int]]]
    plans: dict[Any, PricingPlan]


async def attribution(
    scope: TenantScope,
    product_id: str,
    start: date,
    end: date,
    segment_id: str | None = None,
    plan_id: str | None = None,
) -> Attribution:
    """Revenue per plan and segment over [start, end), with monthly revenue per plan; of
    one segment or plan only when given."""
    if end <= start:
        raise ValidationFailed.single("end", "must be after start")
    _, series = await product_series(scope, product_id, segment_id, plan_id)
    cursor = await RevenueSeries.get_pymongo_collection().aggregate(
        attribution_pipeline(scope, series, start, end)
    )
    [facets] = await cursor.to_list()
    plans = await scope.get_many(PricingPlan, list({row["_id"]["plan"] for row in facets["items"]}))
    segments = await scope.get_many(
        CustomerSegment, list({row["_id"]["segment"] for row in facets["items"]})
    )
    total = sum(int(row["revenue"]) for row in facets["items"])
    items = [
        AttributionItem(
            plan=plans[row["_id"]["plan"]],
            segment=segments[row["_id"]["segment"]],
            revenue_cents=int(row["revenue"]),
            share=row["revenue"] / total if total else 0.0,
            users=int(row["users"]),
            avg_revenue_cents=round(row["revenue"] / row["subscription_months"])
            if row["subscription_months"]
            else 0,
        )
        for row in facets["items"]
    ]
    items.sort(key=lambda item: -item.revenue_cents)
    monthly: dict[Any, list[tuple[date, int]]] = defaultdict(list)
    for row in facets["monthly"]:
        monthly[row["_id"]["plan"]].append((row["_id"]["period"].date(), int(row["revenue"])))
    return Attribution(items, total, dict(monthly), plans)


def series_filter(
    product_id: str | None, segment_id: str | None, plan_id: str | None
) -> dict[str, Any]:
    """The filter of a contributions query."""
    given = {"product_id": product_id, "segment_id": segment_id, "plan_id": plan_id}
    return {field: parse_id(value) for field, value in given.items() if value is not None}


# --- contributions derived from the customer records (app/workflows/revenue_from_customers)

DEFAULT_MONTHS = 24
MAX_MONTHS = 120


def check_months(months: object, path: str) -> None:
    if type(months) is not int or not 1 <= months <= MAX_MONTHS:
        raise ValidationFailed.single(path, f"must be a whole number from 1 to {MAX_MONTHS}")


def validate_derive_parameters(parameters: dict[str, Any]) -> None:
    check_months(parameters.get("months", DEFAULT_MONTHS), "input.parameters.months")


DERIVE_RUN = runs.WorkflowSpec(
    "revenue_from_customers",
    WorkflowType.DATA_SYNC,
    "Derive revenue contributions from the customer records",
    validate_derive_parameters,
)


async def derive_from_customers(ctx: ResolverCtx, product_id: str, months: int) -> OrchestrationRun:
    """Start the run that derives the last `months` complete months from the customers."""
    check_months(months, "months")
    return await runs.start(ctx, DERIVE_RUN, product_id, {"months": months})
