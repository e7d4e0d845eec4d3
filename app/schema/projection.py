"""Unit economics, revenue scenarios and segment-to-plan move projections in the API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import numpy as np
import strawberry

from app.analytics.calendar import add_months
from app.analytics.projection import MoveProjection, Projection
from app.resolvers import projection as use_case
from app.resolvers.projection import BaseSource, Confidence, ElasticitySource
from app.schema.context import Info
from app.schema.fields import query
from app.schema.money import Cents
from app.schema.revenue import ChartPoint, MoneyPoint, cents


@strawberry.type(description="Gross margin, ARPU, churn, LTV and CAC payback of a plan.")
class PlanEconomics:
    plan_id: strawberry.ID
    plan_name: str
    customers: int
    price_cents: Cents
    unit_cost_cents: Cents
    gross_margin: float
    arpu_cents: Cents
    monthly_churn: float
    ltv_cents: Cents | None = strawberry.field(description="Null when no churn has been seen.")
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
    revenue_cents: Cents

    @classmethod
    def series(cls, subscriptions: np.ndarray, revenue_cents: np.ndarray) -> list[ScenarioPoint]:
        return [
            cls(month=i + 1, subscriptions=float(s), revenue_cents=cents(r))
            for i, (s, r) in enumerate(zip(subscriptions, revenue_cents, strict=True))
        ]


@strawberry.type
class RevenueScenario:
    name: str = strawberry.field(description="optimistic, realistic or pessimistic")
    assumptions: ScenarioAssumptions
    total_revenue_cents: Cents
    points: list[ScenarioPoint]


@strawberry.type
class RevenueScenarios:
    base_subscriptions: float
    base_arpu_cents: Cents
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
    return RevenueScenario(
        name=projection.name,
        assumptions=ScenarioAssumptions(
            price_change=a.price_change,
            elasticity=a.elasticity,
            monthly_growth=a.monthly_growth,
            monthly_churn=a.monthly_churn,
        ),
        total_revenue_cents=projection.total_revenue_cents,
        points=ScenarioPoint.series(projection.subscriptions, projection.revenue_cents),
    )


@strawberry.type(description="The elasticity a projection used, and where it came from.")
class ElasticityUsed:
    estimate: float
    lower: float = strawberry.field(description="Interval the scenarios spread over.")
    upper: float
    source: ElasticitySource
    confidence: Confidence
    experiment_id: strawberry.ID | None = strawberry.field(
        description="The experiment that measured it, when one did."
    )
    experiment_name: str | None


@strawberry.type(description="Part of the segment on one plan today.")
class CurrentPlanShare:
    plan_id: strawberry.ID
    plan_name: str
    subscriptions: float
    revenue_cents: Cents = strawberry.field(description="A month.")
    price_ratio: float = strawberry.field(
        description="Target plan's monthly price over this plan's."
    )


@strawberry.type
class MoveScenario:
    name: str = strawberry.field(description="optimistic, realistic or pessimistic")
    elasticity: float
    total_revenue_cents: Cents
    revenue_change_cents: Cents = strawberry.field(description="Against staying, same growth.")
    revenue_change_percent: float | None
    points: list[ScenarioPoint]


@strawberry.type(description="What moving a segment to a plan would do to its revenue.")
class SegmentMoveProjection:
    segment_id: strawberry.ID
    plan_id: strawberry.ID
    plan_name: str
    base_period: dt.date = strawberry.field(description="The month the projection starts from.")
    base_source: BaseSource
    current_plans: list[CurrentPlanShare]
    monthly_growth: float
    elasticity: ElasticityUsed
    scenarios: list[MoveScenario]
    revenue: list[MoneyPoint] = strawberry.field(
        description="Realistic revenue a month; lower and upper: pessimistic and optimistic."
    )
    subscriptions: list[ChartPoint]
    baseline_revenue: list[MoneyPoint] = strawberry.field(
        description="Revenue if the segment stays where it is."
    )
    assumptions: list[str]
    computed_at: dt.datetime


def move_scenario(p: MoveProjection) -> MoveScenario:
    change = p.revenue_change
    return MoveScenario(
        name=p.name,
        elasticity=p.elasticity,
        total_revenue_cents=p.total_revenue_cents,
        revenue_change_cents=p.revenue_change_cents,
        revenue_change_percent=None if change is None else 100 * change,
        points=ScenarioPoint.series(p.subscriptions, p.revenue_cents),
    )


def band(
    kind: type[ChartPoint] | type[MoneyPoint], start: dt.date, value: np.ndarray, *ends: np.ndarray
) -> list[Any]:
    """Chart points a month after `start` onwards; with `ends`, the band between them."""
    return [
        kind.at(
            add_months(start, i + 1),
            v,
            min(e[i] for e in ends) if ends else None,
            max(e[i] for e in ends) if ends else None,
        )
        for i, v in enumerate(value)
    ]


def segment_move_projection(move: use_case.SegmentMove) -> SegmentMoveProjection:
    optimistic, realistic, pessimistic = move.scenarios
    choice = move.elasticity
    start = move.today.period
    return SegmentMoveProjection(
        segment_id=strawberry.ID(str(move.segment.id)),
        plan_id=strawberry.ID(str(move.target.id)),
        plan_name=move.target.name,
        base_period=start,
        base_source=move.today.source,
        current_plans=[
            CurrentPlanShare(
                plan_id=strawberry.ID(str(c.plan.id)),
                plan_name=c.plan.name,
                subscriptions=c.subscriptions,
                revenue_cents=cents(c.revenue_cents),
                price_ratio=c.price_ratio,
            )
            for c in move.current
        ],
        monthly_growth=move.monthly_growth,
        elasticity=ElasticityUsed(
            estimate=choice.estimate,
            lower=choice.lower,
            upper=choice.upper,
            source=choice.source,
            confidence=choice.confidence,
            experiment_id=strawberry.ID(str(choice.experiment.id)) if choice.experiment else None,
            experiment_name=choice.experiment.name if choice.experiment else None,
        ),
        scenarios=[move_scenario(p) for p in move.scenarios],
        revenue=band(
            MoneyPoint,
            start,
            realistic.revenue_cents,
            pessimistic.revenue_cents,
            optimistic.revenue_cents,
        ),
        subscriptions=band(
            ChartPoint,
            start,
            realistic.subscriptions,
            pessimistic.subscriptions,
            optimistic.subscriptions,
        ),
        baseline_revenue=band(MoneyPoint, start, realistic.baseline_revenue_cents),
        assumptions=move.assumptions,
        computed_at=dt.datetime.now(dt.UTC),
    )


@strawberry.type
class ProjectionQuery:
    @query()
    async def plan_economics(
        self, info: Info, plan_id: strawberry.ID, cac_cents: Cents | None = None
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
            arpu_cents=cents(economics.arpu_cents),
            monthly_churn=economics.monthly_churn,
            ltv_cents=None if economics.ltv_cents is None else cents(economics.ltv_cents),
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
            base_arpu_cents=cents(base.arpu_cents),
            trend_monthly_growth=base.monthly_growth,
            computed_at=dt.datetime.now(dt.UTC),
            scenarios=[scenario(p) for p in projections],
        )

    @query(description="What moving a segment to a plan would do: three scenarios and charts.")
    async def segment_move_projection(
        self,
        info: Info,
        segment_id: strawberry.ID,
        plan_id: strawberry.ID,
        months: int = 12,
        elasticity: Annotated[
            float | None,
            strawberry.argument(description="Used when no experiment has measured one."),
        ] = None,
        monthly_growth: Annotated[
            float | None,
            strawberry.argument(description="Net; default: the segment's trend of the last year."),
        ] = None,
    ) -> SegmentMoveProjection:
        move = await use_case.segment_move(
            info.context.scope, segment_id, plan_id, months, elasticity, monthly_growth
        )
        return segment_move_projection(move)
