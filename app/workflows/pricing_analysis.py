"""The pricing analysis of a product: gather -> retrieve -> diagnose each plan -> recommend
per segment -> forecast, one checkpointed step each.

`planIds` / `segmentIds` narrow the run (diagnosePlan runs one plan and no segment,
generatePricingRecommendation one segment and no plan); without them every active plan and
every segment of the product is analysed. Each stored analysis fires `aiAnalysisCompleted`.
A step that stored its analysis and was then interrupted finds it again (by run and target)
instead of asking the provider twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from app.ai.provider import AiFailure, ProviderBusy
from app.errors import ValidationFailed
from app.models import CustomerSegment, PricingPlan, Product
from app.models.base import parse_id
from app.models.diagnosis import GapDiagnosis
from app.models.recommendation import PricingRecommendation
from app.models.run import LogLevel, OrchestrationRun, RunStep
from app.resolvers.ctx import ResolverCtx
from app.resolvers.diagnosis import DEPTHS, PRICING_ANALYSIS_RUN, diagnose, product_facts
from app.resolvers.documentation import search, sync_documentation
from app.resolvers.recommendation import recommend
from app.workflows.base import StepContext, StepRefused, TransientError, Workflow


def _chosen(parameters: dict[str, Any], key: str) -> dict[str, Any] | None:
    ids = parameters.get(key)
    return None if ids is None else {"_id": {"$in": [parse_id(i) for i in ids]}}


async def plan(ctx: ResolverCtx, run: OrchestrationRun) -> list[RunStep]:
    gather = RunStep(name="gather facts", kind="gather", order=0)
    if run.product_id is None:
        return [gather]  # which refuses, saying why
    base = {"product_id": run.product_id}
    plan_query = _chosen(run.parameters, "planIds") or {"active": True}
    plans = await ctx.scope.find(PricingPlan, {**base, **plan_query}).sort("name").to_list()
    segment_query = _chosen(run.parameters, "segmentIds") or {}
    segments = (
        await ctx.scope.find(CustomerSegment, {**base, **segment_query}).sort("name").to_list()
    )
    steps = [
        gather,
        RunStep(name="retrieve documentation", kind="retrieve", order=1),
    ]
    for p in plans:
        steps.append(
            RunStep(
                name=f"diagnose {p.name}",
                kind="diagnose",
                order=len(steps),
                input={"planId": str(p.id)},
            )
        )
    for s in segments:
        steps.append(
            RunStep(
                name=f"recommend for {s.name}",
                kind="recommend",
                order=len(steps),
                input={"segmentId": str(s.id)},
            )
        )
    if segments and run.parameters.get("includeForecasting", True):
        steps.append(RunStep(name="forecast", kind="forecast", order=len(steps)))
    return steps


async def gather_step(step: StepContext) -> dict[str, Any]:
    if step.run.product_id is None:
        raise StepRefused("a pricing analysis needs a productId", {})
    product = await step.ctx.scope.require(Product, step.run.product_id)
    facts = product_facts(product)
    plans = await step.ctx.scope.find(PricingPlan, {"product_id": product.id}).count()
    await step.log(LogLevel.INFO, f"{product.name}: {plans} plans, {len(facts)} product facts")
    return {"productFacts": len(facts), "plans": plans}


def _query(target: PricingPlan | CustomerSegment) -> str:
    if isinstance(target, PricingPlan):
        return f"{target.name} pricing plan {target.description} {' '.join(target.features)}"
    return f"{target.name} customers {target.description} pricing value"


async def retrieve_step(step: StepContext) -> dict[str, Any]:
    """Re-index changed documentation, then the best chunks for each plan and segment."""
    ctx, run = step.ctx, step.run
    report = await sync_documentation(ctx, str(run.product_id))
    depth = DEPTHS[run.parameters.get("analysisDepth", "standard")]
    chunks: dict[str, dict[str, str]] = {}
    for s in run.steps:
        target_id = s.input.get("planId") or s.input.get("segmentId")
        if target_id is None:
            continue
        model = PricingPlan if "planId" in s.input else CustomerSegment
        target = await ctx.scope.require(model, target_id)
        hits, _ = await search(ctx, str(run.product_id), _query(target), depth)
        chunks[target_id] = {str(h.chunk.id): h.chunk.text for h in hits}
    await step.log(
        LogLevel.INFO,
        f"documentation: {report.indexed} indexed, {report.failed} failed, {report.chunks} chunks",
    )
    return {"chunks": chunks, "indexed": report.indexed, "failed": report.failed}


def _chunks(step: StepContext, target_id: str) -> dict[str, str]:
    retrieved = step.outputs.get("retrieve documentation", {}).get("chunks", {})
    return dict(retrieved.get(target_id, {}))


@contextlib.contextmanager
def provider_outcomes() -> Iterator[None]:
    """An unusable answer fails the run with its reason (retrying would not change it); a
    busy provider is retried with the engine's backoff."""
    try:
        yield
    except AiFailure as failure:
        raise StepRefused(failure.message, {"failure": failure.kind.value}) from None
    except ProviderBusy as busy:
        raise TransientError(f"the AI provider is busy: {busy}") from None


async def diagnose_step(step: StepContext) -> dict[str, Any]:
    plan_doc = await step.ctx.scope.require(PricingPlan, step.step.input["planId"])
    stored = await step.ctx.scope.find(
        GapDiagnosis, {"plan_id": plan_doc.id, "provenance.run_id": step.run.id}
    ).first_or_none()
    if stored is None:
        with provider_outcomes():
            stored = await diagnose(
                step.ctx,
                plan_doc,
                _chunks(step, str(plan_doc.id)),
                step.run.parameters.get("context", ""),
                step.run.id,
            )
    p = stored.provenance
    await step.log(
        LogLevel.INFO,
        f"{plan_doc.name}: {stored.verdict}; {p.verified_claims} of {p.claims} claims "
        f"verified, {len(p.rejected)} citations rejected ({p.source})",
    )
    return {
        "diagnosisId": str(stored.id),
        "verdict": stored.verdict,
        "claims": p.claims,
        "verifiedClaims": p.verified_claims,
    }


async def recommend_step(step: StepContext) -> dict[str, Any]:
    segment = await step.ctx.scope.require(CustomerSegment, step.step.input["segmentId"])
    stored = await step.ctx.scope.find(
        PricingRecommendation, {"segment_id": segment.id, "provenance.run_id": step.run.id}
    ).first_or_none()
    if stored is None:
        try:
            with provider_outcomes():
                stored = await recommend(
                    step.ctx,
                    segment,
                    _chunks(step, str(segment.id)),
                    step.run.parameters.get("prompt", ""),
                    step.run.id,
                )
        except ValidationFailed as refused:  # no data to project from: say so, go on
            await step.log(LogLevel.WARN, f"{segment.name}: {refused.message}")
            return {"skipped": refused.message}
    await step.log(
        LogLevel.INFO,
        f"{segment.name}: {stored.chosen.label} (confidence {stored.confidence})",
    )
    return {
        "recommendationId": str(stored.id),
        "option": stored.chosen.label,
        "realisticChangeCents": stored.chosen.realistic_change_cents,
    }


async def forecast_step(step: StepContext) -> dict[str, Any]:
    """The product's new revenue forecast: the recommended options' monthly revenue summed
    against staying at today's prices."""
    ids = [o["recommendationId"] for o in step.outputs.values() if "recommendationId" in o]
    found = await step.ctx.scope.find(
        PricingRecommendation, {"_id": {"$in": [parse_id(i) for i in ids]}}
    ).to_list()
    months: dict[str, list[float]] = {}
    for rec in found:
        for point, base in zip(rec.forecast, rec.baseline, strict=True):
            month = months.setdefault(point.period.isoformat(), [0.0, 0.0])
            month[0] += point.value
            month[1] += base.value
    ordered = sorted(months.items())
    change = round(sum(revenue - baseline for _, (revenue, baseline) in ordered))
    series = [
        {"period": k, "revenueCents": round(v[0]), "baselineCents": round(v[1])} for k, v in ordered
    ]
    await step.log(
        LogLevel.INFO, f"{len(found)} recommendations: {change / 100:+,.2f} over baseline"
    )
    return {"months": series, "revenueChangeCents": change}


WORKFLOW = Workflow(
    spec=PRICING_ANALYSIS_RUN,
    plan=plan,
    steps={
        "gather": gather_step,
        "retrieve": retrieve_step,
        "diagnose": diagnose_step,
        "recommend": recommend_step,
        "forecast": forecast_step,
    },
)
