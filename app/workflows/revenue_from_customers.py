"""Derive revenue contributions from the customer records: for each segment of the product
and each plan its customers are on, the monthly active subscriptions and revenue over the
last complete months. One step per segment, then the product's forecasts are refreshed.

Customers carry today's monthly revenue and no history, so a month's revenue is the sum of
the current monthly revenue of the customers active in it. A customer counts from its
signup month up to the month before its churn month. Derived months replace the stored ones
inside the window; months outside it stay. Segments may overlap, as their filters do.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from app.models import Customer, CustomerSegment, PricingPlan, RevenueSeries
from app.models.revenue import RevenuePoint
from app.models.run import LogLevel, OrchestrationRun, RunStep
from app.resolvers.alert import forecast_after_change
from app.resolvers.ctx import ResolverCtx
from app.resolvers.revenue import DEFAULT_MONTHS, DERIVE_RUN, save_months
from app.workflows.base import StepContext, Workflow

FIELDS = {"plan_id": 1, "signup_at": 1, "churned_at": 1, "monthly_revenue_cents": 1, "_id": 0}


async def plan(ctx: ResolverCtx, run: OrchestrationRun) -> list[RunStep]:
    segments = await ctx.scope.find(CustomerSegment, {"product_id": run.product_id}).to_list()
    steps = [
        RunStep(name=f"derive: {s.name}", kind="segment", order=i, input={"segmentId": str(s.id)})
        for i, s in enumerate(sorted(segments, key=lambda s: s.name))
    ]
    return [*steps, RunStep(name="forecast", kind="forecast", order=len(steps))]


def month_index(moment: datetime | date) -> int:
    return moment.year * 12 + moment.month - 1


def month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def monthly_totals(
    customers: list[dict[str, Any]], first: int, count: int
) -> dict[Any, tuple[np.ndarray, np.ndarray]]:
    """Per plan, active subscriptions and revenue of months first .. first + count - 1,
    from a running sum of arrivals and departures."""
    changes: dict[Any, np.ndarray] = defaultdict(lambda: np.zeros((2, count + 1)))
    for customer in customers:
        start = max(month_index(customer["signup_at"]) - first, 0)
        churned = customer.get("churned_at")
        end = min(month_index(churned) - first, count) if churned else count
        if start >= end:
            continue
        delta = changes[customer["plan_id"]]
        revenue = customer.get("monthly_revenue_cents", 0)
        delta[:, start] += (1, revenue)
        delta[:, end] -= (1, revenue)
    sums = {plan_id: np.cumsum(d[:, :count], axis=1) for plan_id, d in changes.items()}
    return {plan_id: (s[0], s[1]) for plan_id, s in sums.items()}


def points(first: int, subscriptions: np.ndarray, revenue: np.ndarray) -> list[RevenuePoint]:
    """The months from the plan's first active one on (later zeros are churn, kept)."""
    active = np.flatnonzero(subscriptions)
    begin = int(active[0]) if active.size else len(subscriptions)
    return [
        RevenuePoint(
            period=month_start(first + i),
            revenue_cents=int(revenue[i]),
            active_subscriptions=int(subscriptions[i]),
        )
        for i in range(begin, len(subscriptions))
    ]


async def segment_step(step: StepContext) -> dict[str, Any]:
    scope = step.ctx.scope
    segment = await scope.require(CustomerSegment, step.step.input["segmentId"])
    months = int(step.run.parameters.get("months", DEFAULT_MONTHS))
    first = month_index(datetime.now(UTC)) - months  # the last complete months
    query = {**segment.filter, "product_id": segment.product_id, "plan_id": {"$ne": None}}
    cursor = Customer.get_pymongo_collection().find(scope.filter(query), FIELDS)
    customers = [doc async for doc in cursor]
    totals = await step.compute(monthly_totals, customers, first, months)
    plans = await scope.get_many(PricingPlan, list(totals))
    stored = 0
    for plan_id, (subscriptions, revenue) in totals.items():
        if plan_id not in plans:  # customers of a deleted plan
            await step.log(LogLevel.WARN, f"{segment.name}: plan {plan_id} no longer exists")
            continue
        key = {"product_id": segment.product_id, "segment_id": segment.id, "plan_id": plan_id}
        existing = await scope.find(RevenueSeries, key).first_or_none()
        currency = existing.currency if existing else plans[plan_id].currency
        await save_months(step.ctx, key, currency, existing, points(first, subscriptions, revenue))
        stored += 1
    await step.log(
        LogLevel.INFO, f"{segment.name}: {len(customers)} customers, {stored} contributions"
    )
    return {"segmentId": str(segment.id), "customers": len(customers), "contributions": stored}


async def forecast_step(step: StepContext) -> dict[str, Any]:
    stored = sum(output.get("contributions", 0) for output in step.outputs.values())
    if stored:
        await forecast_after_change(step.ctx, str(step.run.product_id))
    return {"contributions": stored, "refreshed": bool(stored)}


WORKFLOW = Workflow(
    spec=DERIVE_RUN,
    plan=plan,
    steps={"segment": segment_step, "forecast": forecast_step},
)
