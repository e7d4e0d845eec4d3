"""Gap diagnosis of a pricing plan: the platform gathers the facts (the plan's unit
economics, the product's costs and competitors, the linked segments' metrics, the measured
elasticity, revenue and its forecast), a provider writes the diagnosis citing them, and the
server verifies every citation before storing it."""

from __future__ import annotations

import re
import statistics
from typing import Any

from beanie import PydanticObjectId

from app.ai import offline
from app.ai.citations import Fact, Unit
from app.ai.outputs import DiagnosisDraft
from app.ai.provider import AiRequest
from app.errors import ValidationFailed
from app.models import CustomerSegment, PricingPlan, Product, RevenueSeries, SegmentPlanLink
from app.models.base import parse_id
from app.models.diagnosis import GapDiagnosis
from app.models.experiment import Experiment, ExperimentStatus
from app.models.product import CostPer
from app.models.run import OrchestrationRun, WorkflowType
from app.resolvers import ai
from app.resolvers import run as runs
from app.resolvers.ctx import ResolverCtx
from app.resolvers.experiment_results import compute
from app.resolvers.projection import plan_economics, trend

TOPIC = "ai"
CONTEXT_MAX = 4000
CONFIDENCE_LEVEL = 0.95


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "unnamed"


def product_facts(product: Product) -> dict[str, Fact]:
    """Costs and competitors' prices of the product."""
    facts: dict[str, Fact] = {}
    per_unit = sum(c.amount_cents for c in product.cost_lines if c.per == CostPer.UNIT)
    if product.cost_lines:
        facts["product.unit_cogs_cents"] = Fact(per_unit, Unit.CENTS, "COGS per unit")
    prices = []
    for competitor in product.competitors:
        for plan in competitor.plans:
            key = f"competitor.{slug(competitor.name)}.{slug(plan.name)}.price_cents"
            label = f"{competitor.name} {plan.name} price per {plan.billing_period}"
            facts[key] = Fact(plan.price_cents, Unit.CENTS, label)
            prices.append(plan.price_cents)
    if prices:
        median = float(statistics.median(prices))
        facts[offline.MARKET_MEDIAN] = Fact(median, Unit.CENTS, "median competitor price")
    return facts


async def _elasticity(ctx: ResolverCtx, plan: PricingPlan) -> dict[str, Fact]:
    """From the newest running or completed experiment with an arm on the plan."""
    query = {
        "product_id": plan.product_id,
        "status": {"$in": [ExperimentStatus.RUNNING, ExperimentStatus.COMPLETED]},
        "arms.plan_id": plan.id,
    }
    async for experiment in ctx.scope.find(Experiment, query).sort("-started_at", "-_id"):
        fit = (await compute(ctx.scope, experiment)).elasticity
        if fit is None:
            continue
        name = f"experiment '{experiment.name}'"
        return {
            offline.ELASTICITY: Fact(fit.elasticity, Unit.NUMBER, f"price elasticity, {name}"),
            offline.ELASTICITY_LOW: Fact(fit.ci.lower, Unit.NUMBER, "its 95% interval, lower"),
            offline.ELASTICITY_HIGH: Fact(fit.ci.upper, Unit.NUMBER, "its 95% interval, upper"),
            "elasticity.confidence_level": Fact(CONFIDENCE_LEVEL, Unit.RATIO, "interval level"),
        }
    return {}


async def _segments(ctx: ResolverCtx, plan: PricingPlan) -> dict[str, Fact]:
    links = await ctx.scope.find(SegmentPlanLink, {"plan_id": plan.id, "active": True}).to_list()
    segments = await ctx.scope.get_many(CustomerSegment, [link.segment_id for link in links])
    facts = {}
    for segment in segments.values():
        key, m = f"segment.{slug(segment.name)}", segment.metrics
        facts[f"{key}.active_users"] = Fact(m.active_users, Unit.COUNT, f"{segment.name} users")
        facts[f"{key}.avg_revenue_cents"] = Fact(
            m.avg_revenue_cents, Unit.CENTS, f"{segment.name} average monthly revenue"
        )
        facts[f"{key}.churn_rate"] = Fact(m.churn_rate, Unit.RATIO, f"{segment.name} churn")
    return facts


async def _revenue(ctx: ResolverCtx, plan: PricingPlan) -> dict[str, Fact]:
    series = await ctx.scope.find(RevenueSeries, {"plan_id": plan.id}).to_list()
    base = trend(series)
    if base is None:
        return {}
    facts = {
        "revenue.last_month_cents": Fact(
            base.arpu_cents * base.subscriptions, Unit.CENTS, f"revenue in {base.period:%B %Y}"
        ),
        "revenue.subscriptions": Fact(base.subscriptions, Unit.COUNT, "active subscriptions"),
        "revenue.monthly_growth": Fact(base.monthly_growth, Unit.RATIO, "subscription trend"),
    }
    forecasts = [s.forecast.revenue for s in series if s.forecast and s.forecast.revenue]
    if forecasts:
        total = sum(point.value for points in forecasts for point in points)
        months = max(len(points) for points in forecasts)
        facts["forecast.revenue_cents"] = Fact(total, Unit.CENTS, f"next {months} months")
    return facts


async def plan_facts(ctx: ResolverCtx, plan: PricingPlan, product: Product) -> dict[str, Fact]:
    _, economics, customers = await plan_economics(ctx.scope, str(plan.id), None)
    facts = product_facts(product)
    facts |= {
        offline.PRICE: Fact(plan.unit_price_cents, Unit.CENTS, f"price per {plan.billing_unit}"),
        "plan.unit_cost_cents": Fact(plan.unit_cost_cents, Unit.CENTS, "unit cost"),
        "plan.customers": Fact(customers, Unit.COUNT, "customers ever on the plan"),
    }
    if plan.unit_price_cents:
        facts[offline.MARGIN] = Fact(economics.gross_margin, Unit.RATIO, "gross margin")
    if customers:
        facts["plan.arpu_cents"] = Fact(economics.arpu_cents, Unit.CENTS, "ARPU per month")
        facts[offline.CHURN] = Fact(economics.monthly_churn, Unit.RATIO, "monthly churn")
    if economics.ltv_cents is not None:
        facts["plan.ltv_cents"] = Fact(economics.ltv_cents, Unit.CENTS, "lifetime value")
    if offline.MARKET_MEDIAN in facts and facts[offline.MARKET_MEDIAN].value > 0:
        gap = plan.unit_price_cents / facts[offline.MARKET_MEDIAN].value - 1
        facts[offline.MARKET_GAP] = Fact(gap, Unit.RATIO, "price against competitor median")
    facts |= await _elasticity(ctx, plan)
    facts |= await _segments(ctx, plan)
    facts |= await _revenue(ctx, plan)
    return facts


DEPTHS = {"quick": 3, "standard": 5, "comprehensive": 8}  # documentation chunks per target


def validate_analysis_parameters(parameters: dict[str, Any]) -> None:
    for key in ("planIds", "segmentIds"):
        ids = parameters.get(key)
        if ids is not None and not (
            isinstance(ids, list) and all(isinstance(i, str) and parse_id(i) for i in ids)
        ):
            raise ValidationFailed.single(f"input.parameters.{key}", "must be a list of ids")
    depth = parameters.get("analysisDepth", "standard")
    if depth not in DEPTHS:
        raise ValidationFailed.single(
            "input.parameters.analysisDepth", f"one of {', '.join(DEPTHS)}"
        )
    if not isinstance(parameters.get("includeForecasting", True), bool):
        raise ValidationFailed.single("input.parameters.includeForecasting", "must be a boolean")
    for key in ("context", "prompt"):
        if not isinstance(parameters.get(key, ""), str):
            raise ValidationFailed.single(f"input.parameters.{key}", "must be a string")


PRICING_ANALYSIS_RUN = runs.WorkflowSpec(
    "pricing_analysis",
    WorkflowType.PRICING_ANALYSIS,
    "AI pricing analysis: diagnose plans, recommend per segment, forecast",
    validate_analysis_parameters,
)


def check_context(context: str) -> str:
    if len(context) > CONTEXT_MAX:
        raise ValidationFailed.single("context", f"at most {CONTEXT_MAX} characters")
    return context.strip()


async def start_diagnosis(ctx: ResolverCtx, plan_id: str, context: str) -> OrchestrationRun:
    """A pricing analysis run limited to one plan, without recommendations."""
    plan = await ctx.scope.require(PricingPlan, plan_id)
    parameters = {"planIds": [str(plan.id)], "segmentIds": [], "context": check_context(context)}
    await ai.admit_ai(ctx)
    return await runs.start(ctx, PRICING_ANALYSIS_RUN, str(plan.product_id), parameters)


async def diagnose(
    ctx: ResolverCtx,
    plan: PricingPlan,
    chunks: dict[str, str],
    context: str,
    run_id: PydanticObjectId | None,
) -> GapDiagnosis:
    """Diagnose the plan now, verify, store; the run's step is the unit of retry."""
    product = await ctx.scope.require(Product, plan.product_id)
    facts = await plan_facts(ctx, plan, product)
    plan_data = {"name": plan.name, "description": plan.description, "features": plan.features}
    prompt = await ai.prompt(
        ctx, "gap_diagnosis", product, facts, chunks, context, {"PLAN": plan_data}
    )
    request = AiRequest(prompt, DiagnosisDraft, lambda: offline.diagnose(plan.name, facts, chunks))
    answer, key_source = await ai.ask(ctx, request, run_id)
    draft = answer.output
    checked = ai.verify(draft.findings, facts, chunks)
    words = f"{draft.summary}\n{draft.reasoning}"
    provenance = ai.provenance(answer, key_source, prompt, run_id, checked, words, facts)
    stored = await ctx.scope.insert(
        GapDiagnosis(
            tenant_id=ctx.tenant_id,
            plan_id=plan.id or PydanticObjectId(),
            product_id=plan.product_id,
            verdict=draft.verdict,
            summary=draft.summary,
            reasoning=draft.reasoning,
            context=context,
            findings=checked.findings,
            facts={key: fact.value for key, fact in facts.items()},
            chunk_ids=list(chunks),
            provenance=provenance,
        )
    )
    await announce(ctx, "gapDiagnosis", str(product.id), str(stored.id))
    return stored


async def announce(ctx: ResolverCtx, kind: str, product_id: str, analysis_id: str) -> None:
    data: dict[str, Any] = {"productId": product_id, "kind": kind, "analysisId": analysis_id}
    await ctx.publish(TOPIC, "aiAnalysisCompleted", data)


async def diagnoses_of(ctx: ResolverCtx, plan_id: str) -> list[GapDiagnosis]:
    plan = await ctx.scope.get(PricingPlan, plan_id)
    if plan is None:
        return []
    return await ctx.scope.find(GapDiagnosis, {"plan_id": plan.id}).sort("-created_at").to_list()
