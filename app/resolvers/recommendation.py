"""Pricing recommendations per segment: the platform projects each option (keep the price,
move the segment to another plan of the product, or reprice its main plan at -10%, +10% or
+20%, ending in .99 when asked) with the elasticity the projections use (measured by an
experiment, else the default, see resolvers/projection.py), a provider chooses among them
and explains, the server verifies, and the chosen option's projection becomes the new
revenue forecast.

Confidence: the elasticity's, lowered one step when the chosen option loses revenue in the
pessimistic scenario or when none of the rationale's claims could be verified.
"""

from __future__ import annotations

from dataclasses import dataclass

from beanie import PydanticObjectId

from app.ai import offline
from app.ai.citations import Fact, Unit
from app.ai.outputs import RecommendationDraft
from app.ai.provider import AiFailure, AiRequest, FailureKind
from app.analytics.calendar import add_months
from app.analytics.projection import Holding, MoveProjection, move_scenarios
from app.errors import ValidationFailed
from app.models import CustomerSegment, PricingPlan, Product
from app.models.recommendation import (
    ChartPoint,
    ElasticityUsed,
    PricedOption,
    PricingRecommendation,
)
from app.models.run import OrchestrationRun
from app.resolvers import ai
from app.resolvers import run as runs
from app.resolvers.ctx import ResolverCtx
from app.resolvers.diagnosis import PRICING_ANALYSIS_RUN, announce, check_context, product_facts
from app.resolvers.projection import (
    Confidence,
    ElasticityChoice,
    Today,
    assumed,
    experiment_elasticity,
    measured,
    priced,
    today,
)

MONTHS = 12
PRICE_STEPS = (-0.10, 0.10, 0.20)
LOWER = {Confidence.HIGH: Confidence.MEDIUM, Confidence.MEDIUM: Confidence.LOW}


def psychological(cents: float) -> int:
    """The price just under the nearest whole unit: 109.99 for 110.40 (from 10.00 up)."""
    if cents < 1000:
        return round(cents)
    return round(cents / 100) * 100 - 1


@dataclass(frozen=True)
class Projected:
    option: PricedOption
    scenarios: list[MoveProjection]  # optimistic, realistic, pessimistic; empty for keep


@dataclass(frozen=True)
class Options:
    segment: CustomerSegment
    now: Today
    elasticity: ElasticityChoice
    growth: float
    main: PricingPlan
    projected: list[Projected]


def _option(
    kind: str, label: str, plan: PricingPlan, price: int, nice: bool, found: list[MoveProjection]
) -> PricedOption:
    optimistic, realistic, pessimistic = found
    return PricedOption(
        id="",
        kind=kind,
        label=label,
        plan_id=plan.id or PydanticObjectId(),
        price_cents=price,
        psychological=nice,
        realistic_change=realistic.revenue_change,
        optimistic_change=optimistic.revenue_change,
        pessimistic_change=pessimistic.revenue_change,
        realistic_change_cents=realistic.revenue_change_cents,
    )


def _targets(
    main: PricingPlan, plans: list[PricingPlan], nice: bool
) -> list[tuple[str, str, PricingPlan, bool]]:
    out = [
        ("move", f"move to {p.name} at {p.unit_price_cents / 100:.2f}", p, False)
        for p in plans
        if p.id != main.id and p.active and p.unit_price_cents > 0 and p.currency == main.currency
    ]
    for step in PRICE_STEPS:
        raw = main.unit_price_cents * (1 + step)
        price = psychological(raw) if nice else round(raw)
        label = f"reprice {main.name} {step:+.0%} to {price / 100:.2f}"
        out.append(("reprice", label, main.model_copy(update={"unit_price_cents": price}), nice))
    return out


async def options_for(ctx: ResolverCtx, segment: CustomerSegment, nice: bool = True) -> Options:
    now = await today(ctx.scope, segment)
    held = [h for h in now.held if h[1] > 0]
    if not held:
        raise ValidationFailed.single("segmentId", "the segment has no subscriptions to price")
    main = max(held, key=lambda h: h[1])[0]
    found = await experiment_elasticity(ctx.scope, segment)
    choice = measured(*found) if found else assumed(None)
    growth = now.trend or 0.0
    interval = (choice.estimate, choice.lower, choice.upper)
    plans = await ctx.scope.find(PricingPlan, {"product_id": segment.product_id}).to_list()
    keep = PricedOption(
        id="keep",
        kind="keep",
        label=f"keep {main.name} at {main.unit_price_cents / 100:.2f}",
        plan_id=main.id or PydanticObjectId(),
        price_cents=main.unit_price_cents,
        realistic_change=0.0,
        optimistic_change=0.0,
        pessimistic_change=0.0,
        realistic_change_cents=0,
    )
    keep_scenarios = _scenarios(now, main, interval, growth)
    projected = [Projected(keep, keep_scenarios)]
    for kind, label, target, is_nice in _targets(main, plans, nice):
        scenarios = _scenarios(now, target, interval, growth)
        option = _option(kind, label, target, target.unit_price_cents, is_nice, scenarios)
        projected.append(
            Projected(option.model_copy(update={"id": f"o{len(projected)}"}), scenarios)
        )
    return Options(segment, now, choice, growth, main, projected)


def _scenarios(
    now: Today, target: PricingPlan, interval: tuple[float, float, float], growth: float
) -> list[MoveProjection]:
    current = priced(target, now.held)
    holdings = [Holding(c.subscriptions, c.revenue_cents, c.price_ratio) for c in current]
    return move_scenarios(holdings, interval, growth, MONTHS)


def option_facts(options: Options) -> dict[str, Fact]:
    e = options.elasticity
    facts: dict[str, Fact] = {
        offline.ELASTICITY: Fact(e.estimate, Unit.NUMBER, f"elasticity ({e.source})"),
        offline.ELASTICITY_LOW: Fact(e.lower, Unit.NUMBER, "elasticity, lower end"),
        offline.ELASTICITY_HIGH: Fact(e.upper, Unit.NUMBER, "elasticity, upper end"),
        "segment.monthly_growth": Fact(options.growth, Unit.RATIO, "net growth a month"),
        "segment.subscriptions": Fact(
            sum(h[1] for h in options.now.held), Unit.COUNT, "subscriptions today"
        ),
    }
    for p in options.projected:
        o, key = p.option, f"option.{p.option.id}"
        facts[f"{key}.price_cents"] = Fact(o.price_cents, Unit.CENTS, o.label)
        for name in ("realistic", "optimistic", "pessimistic"):
            change = getattr(o, f"{name}_change")
            if change is not None:
                facts[f"{key}.{name}_revenue_change"] = Fact(
                    change, Unit.RATIO, f"{o.label}: {name} revenue change over {MONTHS} months"
                )
        facts[f"{key}.realistic_revenue_change_cents"] = Fact(
            o.realistic_change_cents, Unit.CENTS, f"{o.label}: realistic revenue change"
        )
    return facts


def chart(now: Today, scenarios: list[MoveProjection], baseline: bool = False) -> list[ChartPoint]:
    """Monthly revenue of the realistic scenario within the other two; `baseline`: at
    today's prices (the same growth), which is also the forecast of keeping the price."""
    optimistic, realistic, pessimistic = scenarios
    pick = (lambda s: s.baseline_revenue_cents) if baseline else (lambda s: s.revenue_cents)
    return [
        ChartPoint(
            period=add_months(now.period, month + 1),
            value=float(pick(realistic)[month]),
            lower=float(min(pick(pessimistic)[month], pick(optimistic)[month])),
            upper=float(max(pick(pessimistic)[month], pick(optimistic)[month])),
        )
        for month in range(len(realistic.revenue_cents))
    ]


def confidence(options: Options, chosen: PricedOption, verified: int) -> str:
    level = options.elasticity.confidence
    if (chosen.pessimistic_change or 0) < 0 or verified == 0:
        level = LOWER.get(level, Confidence.LOW)
    return level.value


async def start_recommendation(
    ctx: ResolverCtx, product_id: str, segment_id: str, prompt: str
) -> OrchestrationRun:
    """A pricing analysis run limited to one segment's recommendation and forecast."""
    product = await ctx.scope.require(Product, product_id)
    segment = await ctx.scope.require(CustomerSegment, segment_id)
    if segment.product_id != product.id:
        raise ValidationFailed.single("segmentId", "not a segment of the product")
    parameters = {
        "planIds": [],
        "segmentIds": [str(segment.id)],
        "prompt": check_context(prompt),
        "includeForecasting": True,
    }
    await ai.admit_ai(ctx)
    return await runs.start(ctx, PRICING_ANALYSIS_RUN, str(product.id), parameters)


async def recommend(
    ctx: ResolverCtx,
    segment: CustomerSegment,
    chunks: dict[str, str],
    prompt_text: str,
    run_id: PydanticObjectId | None,
    nice: bool = True,
) -> PricingRecommendation:
    product = await ctx.scope.require(Product, segment.product_id)
    options = await options_for(ctx, segment, nice)
    facts = product_facts(product) | option_facts(options)
    views = [
        offline.OptionView(
            p.option.id,
            p.option.label,
            f"option.{p.option.id}.realistic_revenue_change",
            f"option.{p.option.id}.pessimistic_revenue_change",
        )
        for p in options.projected
    ]
    listing = [{"id": p.option.id, "label": p.option.label} for p in options.projected]
    segment_data = {"name": segment.name, "description": segment.description}
    prompt = await ai.prompt(
        ctx,
        "pricing_recommendation",
        product,
        facts,
        chunks,
        prompt_text,
        {"SEGMENT": segment_data, "OPTIONS": listing},
    )
    request = AiRequest(
        prompt, RecommendationDraft, lambda: offline.recommend(views, facts, "keep")
    )
    answer, key_source = await ai.ask(ctx, request, run_id)
    draft = answer.output
    chosen = next((p for p in options.projected if p.option.id == draft.option_id), None)
    if chosen is None:
        raise AiFailure(FailureKind.MALFORMED, f"chose {draft.option_id!r}, not an option")
    checked = ai.verify(draft.findings, facts, chunks)
    experiment = options.elasticity.experiment
    stored = await ctx.scope.insert(
        PricingRecommendation(
            tenant_id=ctx.tenant_id,
            product_id=product.id or PydanticObjectId(),
            segment_id=segment.id or PydanticObjectId(),
            prompt=prompt_text,
            chosen=chosen.option,
            options=[p.option for p in options.projected],
            elasticity=ElasticityUsed(
                estimate=options.elasticity.estimate,
                lower=options.elasticity.lower,
                upper=options.elasticity.upper,
                source=options.elasticity.source.value,
                confidence=options.elasticity.confidence.value,
                experiment_id=experiment.id if experiment else None,
                experiment_name=experiment.name if experiment else None,
            ),
            months=MONTHS,
            currency=options.main.currency,
            forecast=chart(options.now, chosen.scenarios, chosen.option.kind == "keep"),
            baseline=chart(options.now, chosen.scenarios, baseline=True),
            rationale=draft.rationale,
            findings=checked.findings,
            confidence=confidence(options, chosen.option, checked.verified),
            provenance=ai.provenance(
                answer, key_source, prompt, run_id, checked, draft.rationale, facts
            ),
        )
    )
    await announce(ctx, "pricingRecommendation", str(product.id), str(stored.id))
    return stored


async def recommendations_of(
    ctx: ResolverCtx, product_id: str, segment_id: str | None
) -> list[PricingRecommendation]:
    product = await ctx.scope.get(Product, product_id)
    if product is None:
        return []
    query: dict[str, object] = {"product_id": product.id}
    if segment_id is not None:
        segment = await ctx.scope.get(CustomerSegment, segment_id)
        if segment is None:
            return []
        query["segment_id"] = segment.id
    return await ctx.scope.find(PricingRecommendation, query).sort("-created_at").to_list()
