"""Unit economics and revenue scenarios in the API."""

from __future__ import annotations

import datetime as dt

import strawberry

from app.analytics.projection import Projection
from app.resolvers import projection as use_case
from app.schema.context import Info
from app.schema.fields import query


@strawberry.type(description="Gross margin, ARPU, churn, LTV and CAC payback of a plan.")
class PlanEconomics:
    plan_id: strawberry.ID
    plan_name: str
    customers: int
    price_cents: int
    unit_cost_cents: int
    gross_margin: float
    arpu_cents: float
    monthly_churn: float
    ltv_cents: float | None = strawberry.field(description="Null when no churn has been seen.")
    cac_payback_months: float | None


@strawberry.type
class ScenarioAssumptions:
    price_change: float
    elasticity: float
    monthly_growth: float
    monthly_churn: float


@strawberry.type
class ScenarioPoint:
    month: int
    subscriptions: float
    revenue_cents: float


@strawberry.type
class RevenueScenario:
    name: str = strawberry.field(description="optimistic, realistic or pessimistic")
    assumptions: ScenarioAssumptions
    total_revenue_cents: int
    points: list[ScenarioPoint]


@strawberry.type
class RevenueScenarios:
    base_subscriptions: float
    base_arpu_cents: float
    trend_monthly_growth: float
    computed_at: dt.datetime
    scenarios: list[RevenueScenario]


@strawberry.input
class ScenarioInput:
    product_id: strawberry.ID
    price_change: float = strawberry.field(description="Relative, e.g. 0.1 for +10%.")
    elasticity: float = strawberry.field(
        default=-1.0, description="Of subscriptions to price; from experiments when known."
    )
    monthly_churn: float = 0.02
    monthly_growth: float | None = strawberry.field(
        default=None, description="Gross growth; default: the trend of the last year + churn."
    )
    months: int = 12


def scenario(projection: Projection) -> RevenueScenario:
    a = projection.assumptions
    points = zip(projection.subscriptions, projection.revenue_cents, strict=True)
    return RevenueScenario(
        name=projection.name,
        assumptions=ScenarioAssumptions(
            price_change=a.price_change,
            elasticity=a.elasticity,
            monthly_growth=a.monthly_growth,
            monthly_churn=a.monthly_churn,
        ),
        total_revenue_cents=projection.total_revenue_cents,
        points=[
            ScenarioPoint(month=i + 1, subscriptions=float(s), revenue_cents=float(r))
            for i, (s, r) in enumerate(points)
        ],
    )


@strawberry.type
class ProjectionQuery:
    @query()
    async def plan_economics(
        self, info: Info, plan_id: strawberry.ID, cac_cents: int | None = None
    ) -> PlanEconomics:
        plan, economics, customers = await use_case.plan_economics(
            info.context.scope, plan_id, cac_cents
        )
        return PlanEconomics(
            plan_id=strawberry.ID(str(plan.id)),
            plan_name=plan.name,
            customers=customers,
            price_cents=economics.price_cents,
            unit_cost_cents=economics.unit_cost_cents,
            gross_margin=economics.gross_margin,
            arpu_cents=economics.arpu_cents,
            monthly_churn=economics.monthly_churn,
            ltv_cents=economics.ltv_cents,
            cac_payback_months=economics.cac_payback_months,
        )

    @query(description="Optimistic, realistic and pessimistic projections of a product.")
    async def revenue_scenarios(self, info: Info, input: ScenarioInput) -> RevenueScenarios:
        base, projections = await use_case.product_scenarios(
            info.context.scope,
            input.product_id,
            input.price_change,
            input.elasticity,
            input.monthly_churn,
            input.months,
            input.monthly_growth,
        )
        return RevenueScenarios(
            base_subscriptions=base.subscriptions,
            base_arpu_cents=base.arpu_cents,
            trend_monthly_growth=base.monthly_growth,
            computed_at=dt.datetime.now(dt.UTC),
            scenarios=[scenario(p) for p in projections],
        )
