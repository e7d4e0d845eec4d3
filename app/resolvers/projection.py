"""Unit economics of a plan and revenue scenarios of a product, from the stored data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from app.analytics.projection import (
    Assumptions,
    Projection,
    UnitEconomics,
    monthly_churn_rate,
    scenarios,
    unit_economics,
)
from app.errors import FieldIssue, ValidationFailed
from app.models import Customer, PricingPlan, Product, RevenueSeries
from app.models.base import TenantScope

DAYS_PER_MONTH = 30.4375
MAX_MONTHS = 60


async def plan_economics(
    scope: TenantScope, plan_id: str, cac_cents: int | None
) -> tuple[PricingPlan, UnitEconomics, int]:
    """ARPU and churn from the plan's customers; returns the customers counted too."""
    if cac_cents is not None and cac_cents < 0:
        raise ValidationFailed.single("cacCents", "must not be negative")
    plan = await scope.require(PricingPlan, plan_id)
    customers = await scope.find(Customer, {"plan_id": plan.id}).to_list()
    now = datetime.now(UTC)
    active = [c for c in customers if c.churned_at is None]
    exposure_days = sum(
        ((c.churned_at or now) - c.signup_at).total_seconds() / 86_400
        for c in customers
        if (c.churned_at or now) > c.signup_at
    )
    churn = monthly_churn_rate(len(customers) - len(active), exposure_days / DAYS_PER_MONTH)
    arpu = sum(c.monthly_revenue_cents for c in active) / len(active) if active else 0.0
    economics = unit_economics(plan.unit_price_cents, plan.unit_cost_cents, arpu, churn, cac_cents)
    return plan, economics, len(customers)


@dataclass(frozen=True)
class Baseline:
    subscriptions: float
    arpu_cents: float
    monthly_growth: float  # fitted on the last twelve months of subscriptions


async def baseline(scope: TenantScope, product: Product) -> Baseline:
    """The product's last month, and its trend over the twelve months before."""
    totals: dict[date, list[float]] = {}
    for series in await scope.find(RevenueSeries, {"product_id": product.id}).to_list():
        for point in series.points:
            month = totals.setdefault(point.period, [0.0, 0.0])
            month[0] += point.active_subscriptions
            month[1] += point.revenue_cents
    if not totals:
        raise ValidationFailed.single("productId", "the product has no revenue data yet")
    months = [totals[period] for period in sorted(totals)][-13:]
    subscriptions, revenue = months[-1]
    counts = np.array([m[0] for m in months], dtype=float)
    growth = 0.0
    if len(counts) >= 3 and (counts > 0).all():
        growth = float(np.expm1(np.polyfit(np.arange(len(counts)), np.log(counts), 1)[0]))
    return Baseline(subscriptions, revenue / subscriptions if subscriptions else 0.0, growth)


def check_assumptions(price_change: float, elasticity: float, churn: float, months: int) -> None:
    issues = []
    if not -0.9 <= price_change <= 5:
        issues.append(FieldIssue(("input", "priceChange"), "must be from -0.9 to 5"))
    if not -10 <= elasticity <= 2:
        issues.append(FieldIssue(("input", "elasticity"), "must be from -10 to 2"))
    if not 0 <= churn < 1:
        issues.append(FieldIssue(("input", "monthlyChurn"), "must be from 0 to below 1"))
    if not 1 <= months <= MAX_MONTHS:
        issues.append(FieldIssue(("input", "months"), f"must be 1 to {MAX_MONTHS}"))
    if issues:
        raise ValidationFailed(issues)


async def product_scenarios(
    scope: TenantScope,
    product_id: str,
    price_change: float,
    elasticity: float,
    monthly_churn: float,
    months: int,
    monthly_growth: float | None = None,
) -> tuple[Baseline, list[Projection]]:
    """Optimistic, realistic and pessimistic projections; growth defaults to the trend."""
    check_assumptions(price_change, elasticity, monthly_churn, months)
    product = await scope.require(Product, product_id)
    base = await baseline(scope, product)
    # The trend already nets out churn, so the stated churn is added back to it.
    growth = base.monthly_growth + monthly_churn if monthly_growth is None else monthly_growth
    realistic = Assumptions(price_change, elasticity, growth, monthly_churn)
    return base, scenarios(base.subscriptions, base.arpu_cents, realistic, months)
