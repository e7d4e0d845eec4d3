"""Recompute customer segments' metrics from the customer records, one step per segment."""

from __future__ import annotations

import asyncio
from typing import Any

from app.models import CustomerSegment, Product
from app.models.base import parse_id
from app.models.run import LogLevel, OrchestrationRun, RunStep
from app.resolvers.ctx import ResolverCtx
from app.resolvers.segment import METRICS_RUN, refresh_metrics
from app.workflows.base import StepContext, Workflow


async def plan(ctx: ResolverCtx, run: OrchestrationRun) -> list[RunStep]:
    query: dict[str, Any] = {"product_id": run.product_id} if run.product_id else {}
    if run.parameters.get("segmentIds"):  # only these (a segment whose filter changed)
        query["_id"] = {"$in": [parse_id(i) for i in run.parameters["segmentIds"]]}
    segments = await ctx.scope.find(CustomerSegment, query).sort("name").to_list()
    products = await ctx.scope.get_many(Product, list({s.product_id for s in segments}))
    steps = [
        RunStep(
            name=f"metrics: {s.name} ({products[s.product_id].name})",
            kind="segment",
            order=i,
            input={"segmentId": str(s.id)},
        )
        for i, s in enumerate(segments)
    ]
    return [*steps, RunStep(name="summary", kind="summary", order=len(steps))]


async def segment_step(step: StepContext) -> dict[str, Any]:
    """One segment; the throttle spreads the load of a large recomputation over time."""
    segment = await step.ctx.scope.require(CustomerSegment, step.step.input["segmentId"])
    days = step.run.parameters.get("growthPeriodDays")
    updated = await refresh_metrics(step.ctx.scope, segment, days)
    data = {"segmentId": str(updated.id), "productId": str(updated.product_id)}
    await step.ctx.publish("segments", "segmentMetricsUpdated", data)
    await step.log(LogLevel.INFO, f"{segment.name}: {updated.metrics.total_users} customers")
    await asyncio.sleep(float(step.run.parameters.get("throttleSeconds", 0)))
    return {"segmentId": str(updated.id), "totalUsers": updated.metrics.total_users}


async def summary_step(step: StepContext) -> dict[str, Any]:
    total = sum(output.get("totalUsers", 0) for output in step.outputs.values())
    await step.log(LogLevel.INFO, f"{len(step.outputs)} segments, {total} customers")
    return {"segments": len(step.outputs), "customers": total}


WORKFLOW = Workflow(
    spec=METRICS_RUN,
    plan=plan,
    steps={"segment": segment_step, "summary": summary_step},
)
