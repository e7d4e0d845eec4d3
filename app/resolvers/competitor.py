"""Competitor and market intelligence: competitors' observed prices per product (naming one
of the product's `competitors`), the product's market, and the positioning summary: the
platform computes each plan's gap to the competitors' median price, a provider (or the
offline analyst) writes the summary citing those figures, and the server verifies it."""

from __future__ import annotations

import statistics
from typing import Any, TypeVar

from app.ai import offline
from app.ai.citations import Fact, Unit
from app.ai.outputs import SectionDraft
from app.ai.provider import AiRequest
from app.errors import FieldIssue, ValidationFailed
from app.models import PricingPlan, Product
from app.models.competitor import (
    CompetitorAnalysis,
    MarketIntelligence,
    PositioningSummary,
    PricePoint,
)
from app.resolvers import ai
from app.resolvers.ctx import ResolverCtx
from app.resolvers.diagnosis import announce, slug
from app.resolvers.version import delete_at, load_at

MAX_POINTS = 1000
TEXT_MAX = 2000


def check_points(points: list[PricePoint]) -> list[FieldIssue]:
    if len(points) > MAX_POINTS:
        return [FieldIssue(("input", "pricePoints"), f"at most {MAX_POINTS} price points")]
    issues = []
    for i, point in enumerate(points):
        path = ("input", "pricePoints", str(i))
        if point.price_cents < 0:
            issues.append(FieldIssue((*path, "priceCents"), "must not be negative"))
        if not point.plan_name.strip():
            issues.append(FieldIssue((*path, "planName"), "must not be blank"))
    return issues


def check_analysis(product: Product, fields: dict[str, Any]) -> None:
    """Every problem at once, before anything is written."""
    issues = check_points(fields.get("price_points", []))
    name = fields.get("competitor_name")
    known = [c.name for c in product.competitors]
    if name is not None and name not in known:
        listed = ", ".join(known) or "none"
        message = f"not one of the product's competitors ({listed})"
        issues.append(FieldIssue(("input", "competitorName"), message))
    if len(fields.get("market_position", "")) > TEXT_MAX:
        issues.append(FieldIssue(("input", "marketPosition"), f"at most {TEXT_MAX} characters"))
    if issues:
        raise ValidationFailed(issues)


def stored(changes: dict[str, Any]) -> dict[str, Any]:
    return {
        k: [p.model_dump() for p in v] if k == "price_points" else v for k, v in changes.items()
    }


D = TypeVar("D", CompetitorAnalysis, MarketIntelligence, PositioningSummary)


async def of_product(ctx: ResolverCtx, model: type[D], product_id: str, order: str) -> list[D]:
    """The product's documents of `model`; none for an unknown or foreign product."""
    product = await ctx.scope.get(Product, product_id)
    if product is None:
        return []
    return await ctx.scope.find(model, {"product_id": product.id}).sort(order).to_list()


async def analyses_of(ctx: ResolverCtx, product_id: str) -> list[CompetitorAnalysis]:
    return await of_product(ctx, CompetitorAnalysis, product_id, "competitor_name")


async def create_analysis(
    ctx: ResolverCtx, product_id: str, fields: dict[str, Any]
) -> CompetitorAnalysis:
    product = await ctx.scope.require(Product, product_id)
    check_analysis(product, fields)
    doc = CompetitorAnalysis(tenant_id=ctx.tenant_id, product_id=product.id, **fields)
    analysis = await ctx.scope.insert(doc)
    ctx.audit.record("CompetitorAnalysis", analysis.id, after=analysis)
    return analysis


async def update_analysis(
    ctx: ResolverCtx, analysis_id: str, revision: int, changes: dict[str, Any]
) -> CompetitorAnalysis:
    """Applies the fields present in `changes`; `pricePoints` replaces the series."""
    analysis = await load_at(ctx.scope, CompetitorAnalysis, analysis_id, revision)
    check_analysis(await ctx.scope.require(Product, analysis.product_id), changes)
    updated = await ctx.scope.update(analysis, stored(changes))
    ctx.audit.record("CompetitorAnalysis", analysis.id, before=analysis, after=updated)
    return updated


async def delete_analysis(ctx: ResolverCtx, analysis_id: str, revision: int) -> CompetitorAnalysis:
    analysis = await load_at(ctx.scope, CompetitorAnalysis, analysis_id, revision)
    await delete_at(ctx.scope, analysis)
    ctx.audit.record("CompetitorAnalysis", analysis.id, before=analysis)
    return analysis


# --- market intelligence ------------------------------------------------------------------


async def market_of(ctx: ResolverCtx, product_id: str) -> MarketIntelligence | None:
    found = await of_product(ctx, MarketIntelligence, product_id, "_id")
    return found[0] if found else None


def check_market(fields: dict[str, Any]) -> None:
    issues = []
    if (fields.get("market_size_cents") or 0) < 0:
        issues.append(FieldIssue(("input", "marketSizeCents"), "must not be negative"))
    if len(fields.get("key_insights", [])) > 50:
        issues.append(FieldIssue(("input", "keyInsights"), "at most 50 insights"))
    if any(len(i) > TEXT_MAX for i in fields.get("key_insights", [])):
        issues.append(FieldIssue(("input", "keyInsights"), f"at most {TEXT_MAX} characters each"))
    if issues:
        raise ValidationFailed(issues)


async def set_market(
    ctx: ResolverCtx, product_id: str, fields: dict[str, Any]
) -> MarketIntelligence:
    """Replaces the product's market intelligence with `fields` (absent ones are cleared)."""
    product = await ctx.scope.require(Product, product_id)
    check_market(fields)
    existing = await market_of(ctx, product_id)
    new = MarketIntelligence(tenant_id=ctx.tenant_id, product_id=product.id, **fields)
    if existing is None:
        market = await ctx.scope.insert(new)
    else:
        keep = {"id", "tenant_id", "product_id", "created_at", "updated_at", "revision"}
        market = await ctx.scope.update(existing, new.model_dump(exclude=keep))
    ctx.audit.record("MarketIntelligence", market.id, existing, market)
    return market


# --- positioning --------------------------------------------------------------------------


def latest_prices(analyses: list[CompetitorAnalysis]) -> dict[str, Fact]:
    """The newest observed price of each competitor's plan."""
    facts = {}
    for analysis in analyses:
        newest: dict[str, PricePoint] = {}
        for point in sorted(analysis.price_points, key=lambda p: p.date):
            newest[point.plan_name] = point
        for plan_name, point in newest.items():
            key = f"market.{slug(analysis.competitor_name)}.{slug(plan_name)}.price_cents"
            label = f"{analysis.competitor_name} {plan_name} price on {point.date:%Y-%m-%d}"
            facts[key] = Fact(point.price_cents, Unit.CENTS, label)
    return facts


def positioning_facts(
    analyses: list[CompetitorAnalysis], plans: list[PricingPlan]
) -> tuple[dict[str, Fact], list[str]]:
    facts = latest_prices(analyses)
    if not facts:
        raise ValidationFailed.single("productId", "no competitor price points to compare with")
    median = float(statistics.median(f.value for f in facts.values()))
    if median <= 0:
        raise ValidationFailed.single("productId", "the competitors' median price is zero")
    facts[offline.MARKET_MEDIAN] = Fact(median, Unit.CENTS, "median competitor price")
    plan_keys = []
    for plan in plans:
        key = f"plan.{slug(plan.name)}"
        price = plan.unit_price_cents
        facts[f"{key}.price_cents"] = Fact(price, Unit.CENTS, f"plan {plan.name}")
        facts[f"{key}.difference_cents"] = Fact(
            price - median, Unit.CENTS, f"{plan.name} minus the competitors' median"
        )
        facts[f"{key}.vs_median"] = Fact(
            price / median - 1, Unit.RATIO, f"{plan.name} against the competitors' median"
        )
        plan_keys.append(key)
    return facts, plan_keys


async def summarize(ctx: ResolverCtx, product_id: str) -> PositioningSummary:
    product = await ctx.scope.require(Product, product_id)
    analyses = await analyses_of(ctx, product_id)
    query = {"product_id": product.id, "active": True}
    plans = await ctx.scope.find(PricingPlan, query).sort("name").to_list()
    facts, plan_keys = positioning_facts(analyses, plans)
    await ai.admit_ai(ctx)
    prompt = await ai.prompt(ctx, "competitor_positioning", product, facts, {}, "", {})
    request = AiRequest(prompt, SectionDraft, lambda: offline.positioning(facts, plan_keys))
    answer, key_source = await ai.ask(ctx, request, None)
    checked = ai.verify(answer.output.findings, facts, {})
    provenance = ai.provenance(answer, key_source, prompt, None, checked, answer.output.text, facts)
    summary = await ctx.scope.insert(
        PositioningSummary(
            tenant_id=ctx.tenant_id,
            product_id=product.id,
            summary=answer.output.text,
            findings=checked.findings,
            facts={key: fact.value for key, fact in facts.items()},
            provenance=provenance,
        )
    )
    await announce(ctx, "competitorPositioning", str(product.id), str(summary.id))
    return summary


async def summaries_of(ctx: ResolverCtx, product_id: str) -> list[PositioningSummary]:
    return await of_product(ctx, PositioningSummary, product_id, "-created_at")
