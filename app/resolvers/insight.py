"""Performance insights: which plan under- and over-performs, and what closing the gap is worth.

Efficiency compares a plan's revenue growth with its product's over the same window: the
ratio of growth factors, last quarter against the quarter a year before. The value gap is
that ratio minus one, in percent. The potential revenue of an under-performing plan is what
it would add over the next twelve months at the product's growth rather than its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bson import ObjectId

from app.errors import ValidationFailed
from app.models import PricingPlan, RevenueSeries
from app.models.base import TenantScope
from app.resolvers.revenue import product_series

QUARTER = 3
YEAR = 12


@dataclass(frozen=True)
class PlanPerformance:
    plan: PricingPlan
    revenue_cents: int  # last twelve months
    growth: float  # yearly growth factor of quarterly revenue
    efficiency: float
    value_gap_percent: float
    potential_revenue_cents: int


@dataclass(frozen=True)
class Insights:
    plans: list[PlanPerformance]
    product_growth: float
    recommendations: list[str] = field(default_factory=list)

    @property
    def underperforming(self) -> PlanPerformance | None:
        return min(self.plans, key=lambda p: p.efficiency) if self.plans else None

    @property
    def overperforming(self) -> PlanPerformance | None:
        return max(self.plans, key=lambda p: p.efficiency) if self.plans else None

    @property
    def potential_capture_cents(self) -> int:
        return sum(p.potential_revenue_cents for p in self.plans)


def growth_factor(monthly: list[int]) -> float:
    """Revenue of the last quarter over the same quarter a year before."""
    before = sum(monthly[-YEAR - QUARTER : -YEAR])
    return sum(monthly[-QUARTER:]) / before if before > 0 else 1.0


async def monthly_by_plan(
    scope: TenantScope, series_filter: dict[str, Any]
) -> dict[ObjectId, dict[date, int]]:
    months: dict[ObjectId, dict[date, int]] = {}
    for series in await scope.find(RevenueSeries, series_filter).to_list():
        plan = months.setdefault(series.plan_id, {})
        for point in series.points:
            plan[point.period] = plan.get(point.period, 0) + point.revenue_cents
    return months


async def insights(
    scope: TenantScope, product_id: str, segment_id: str | None = None, plan_id: str | None = None
) -> Insights:
    """With a segment, the product's revenue is that segment's (its plans against the
    segment as a whole); with a plan, only that plan is reported, against the same whole."""
    _, series = await product_series(scope, product_id, segment_id, plan_id)
    whole = {key: value for key, value in series.items() if key != "plan_id"}
    by_plan = await monthly_by_plan(scope, whole)
    calendar = sorted({month for plan in by_plan.values() for month in plan})
    if len(calendar) < YEAR + QUARTER:
        raise ValidationFailed.single("productId", "needs at least 15 months of revenue data")
    totals = [sum(plan.get(m, 0) for plan in by_plan.values()) for m in calendar]
    product_growth = growth_factor(totals)
    plans = await scope.get_many(PricingPlan, list(by_plan))
    reported = [series["plan_id"]] if "plan_id" in series else list(by_plan)
    performances = [
        performance(plans[key], [by_plan[key].get(m, 0) for m in calendar], product_growth)
        for key in reported
        if key in plans and key in by_plan
    ]
    return Insights(performances, product_growth, recommend(performances, product_growth))


def performance(plan: PricingPlan, monthly: list[int], product_growth: float) -> PlanPerformance:
    growth = growth_factor(monthly)
    efficiency = growth / product_growth if product_growth > 0 else 1.0
    last_year = sum(monthly[-YEAR:])
    potential = max(last_year * (product_growth - growth), 0.0)
    return PlanPerformance(
        plan=plan,
        revenue_cents=last_year,
        growth=growth,
        efficiency=efficiency,
        value_gap_percent=(efficiency - 1) * 100,
        potential_revenue_cents=round(potential),
    )


def recommend(plans: list[PlanPerformance], product_growth: float) -> list[str]:
    advice = []
    for p in sorted(plans, key=lambda p: p.efficiency):
        if p.efficiency < 0.95:
            advice.append(
                f"Review {p.plan.name}: revenue grew {100 * (p.growth - 1):.1f}% a year against "
                f"{100 * (product_growth - 1):.1f}% for the product; matching it is worth "
                f"{p.potential_revenue_cents / 100:,.0f} {p.plan.currency} over twelve months"
            )
        elif p.efficiency > 1.05:
            advice.append(
                f"Extend {p.plan.name} to more segments: it grows {p.value_gap_percent:.1f}% "
                "faster than the product"
            )
    return advice or ["All plans grow in line with the product; no change indicated"]
