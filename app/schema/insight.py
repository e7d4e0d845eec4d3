"""Performance insights in the API (numbers first; the AI layer may rephrase them)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.resolvers import insight as use_case
from app.schema.context import Info
from app.schema.fields import query
from app.schema.money import Cents


@strawberry.type
class PlanPerformance:
    plan_id: strawberry.ID
    plan_name: str
    revenue_cents: Cents = strawberry.field(description="Last twelve months.")
    growth: float = strawberry.field(description="Yearly growth factor of quarterly revenue.")
    efficiency: float = strawberry.field(description="Plan growth over product growth.")
    value_gap: float = strawberry.field(description="Efficiency - 1, in percent.")
    potential_revenue_cents: Cents

    @classmethod
    def from_result(cls, p: use_case.PlanPerformance) -> PlanPerformance:
        return cls(
            plan_id=strawberry.ID(str(p.plan.id)),
            plan_name=p.plan.name,
            revenue_cents=p.revenue_cents,
            growth=p.growth,
            efficiency=p.efficiency,
            value_gap=p.value_gap_percent,
            potential_revenue_cents=p.potential_revenue_cents,
        )


@strawberry.type
class PerformanceInsights:
    product_growth: float
    plans: list[PlanPerformance]
    underperforming_plan: PlanPerformance | None
    overperforming_plan: PlanPerformance | None
    recommendations: list[str]
    potential_capture_cents: Cents
    reasoning: str


@strawberry.type
class InsightQuery:
    @query()
    async def performance_insights(
        self,
        info: Info,
        product_id: strawberry.ID,
        segment_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this segment's revenue, product and plans."),
        ] = None,
        plan_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this plan, against the product as a whole."),
        ] = None,
    ) -> PerformanceInsights:
        result = await use_case.insights(info.context.scope, product_id, segment_id, plan_id)
        under, over = result.underperforming, result.overperforming
        return PerformanceInsights(
            product_growth=result.product_growth,
            plans=[PlanPerformance.from_result(p) for p in result.plans],
            underperforming_plan=PlanPerformance.from_result(under) if under else None,
            overperforming_plan=PlanPerformance.from_result(over) if over else None,
            recommendations=result.recommendations,
            potential_capture_cents=result.potential_capture_cents,
            reasoning=(use_case.__doc__ or "").strip(),
        )
