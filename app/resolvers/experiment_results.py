"""Results of an experiment from its stored per-unit counters, through app.analytics.

Population: exposed units (a conversion without an exposure waits for it). Per arm:
n, conversions, revenue sum and sum of squares of per-unit revenue, refunds, churn.
Margin per visitor = revenue - unit cost x converted, whose sums follow from the same
group-by (sum of revenue over converted units gives the cross term).

Once any exposed unit has a pre-period value (its `covariate`), revenue and margin per
visitor are compared with CUPED: the t-test, the Bayesian posterior and the sequential
test all use the adjusted arms, and each comparison reports the variance removed. The
covariate's sums (X, X^2, XY) come from the same group-by.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from app.analytics.experiment import (
    SEGMENT_STOP_REASONS,
    ArmCounters,
    Results,
    after_stop,
    analyse,
    stop_reason,
)
from app.errors import ValidationFailed
from app.models import CustomerSegment, PricingPlan, TenantScope
from app.models.base import utcnow
from app.models.experiment import (
    SEGMENT_FINAL,
    Experiment,
    ExperimentStatus,
    ExperimentUnit,
)
from app.resolvers import experiment as lifecycle
from app.resolvers.ctx import ResolverCtx, system_ctx
from app.resolvers.experiment_events import flush
from app.resolvers.usage import charge_expensive
from app.runtime import Services

# Statuses in which an experiment takes no more events.
STOPPED = {ExperimentStatus.COMPLETED, ExperimentStatus.CANCELLED, ExperimentStatus.RETIRED}


async def load_counters(
    scope: TenantScope, experiment: Experiment, segment_id: ObjectId | None = None
) -> list[ArmCounters]:
    """Per-arm sums over exposed units: all of them, or those stated in one segment."""
    match: dict[str, Any] = {"experiment_id": experiment.id, "exposed": 1}
    if segment_id is not None:
        match["segment_id"] = segment_id
    pipeline: list[dict[str, Any]] = [
        {"$match": scope.filter(match)},
        {
            "$group": {
                "_id": "$arm",
                "n": {"$sum": 1},
                "conversions": {"$sum": "$converted"},
                "refunds": {"$sum": "$refunded"},
                "churns": {"$sum": "$churned"},
                "revenue": {"$sum": "$revenue_cents"},
                "revenue_squares": {"$sum": {"$multiply": ["$revenue_cents", "$revenue_cents"]}},
                "revenue_converted": {"$sum": {"$multiply": ["$revenue_cents", "$converted"]}},
                "covariate": {"$sum": "$covariate"},
                "covariate_squares": {"$sum": {"$multiply": ["$covariate", "$covariate"]}},
                "covariate_revenue": {"$sum": {"$multiply": ["$covariate", "$revenue_cents"]}},
                "covariate_converted": {"$sum": {"$multiply": ["$covariate", "$converted"]}},
            }
        },
    ]
    cursor = await ExperimentUnit.get_pymongo_collection().aggregate(pipeline)
    rows = {row.pop("_id"): row async for row in cursor}
    plans = await scope.get_many(PricingPlan, list({arm.plan_id for arm in experiment.arms}))
    return [
        ArmCounters(
            arm,
            plans[arm.plan_id].unit_cost_cents if arm.plan_id in plans else 0,
            **rows.get(arm.key, {}),
        )
        for arm in experiment.arms
    ]


async def compute(
    scope: TenantScope, experiment: Experiment, segment_id: ObjectId | None = None
) -> Results:
    return analyse(experiment, await load_counters(scope, experiment, segment_id))


async def results_of(ctx: ResolverCtx, experiment: Experiment, segment_id: str | None) -> Results:
    """The experiment's results, or those of one segment of its product."""
    scope = ctx.scope
    if segment_id is None:
        return after_stop(await compute(scope, experiment), stopped_because(experiment, None))
    segment = await scope.get(CustomerSegment, segment_id)
    if segment is None or segment.product_id != experiment.product_id:
        raise ValidationFailed.single("segmentId", "no such segment of the experiment's product")
    results = await compute(scope, experiment, segment.id)
    return after_stop(results, stopped_because(experiment, segment.id))


def stopped_because(experiment: Experiment, segment_id: ObjectId | None) -> str | None:
    """Why the experiment (or the segment) collects no more data, or None while it can."""
    if segment_id is not None and segment_id in experiment.target_segment_ids:
        state = experiment.segment_state(segment_id)
        if state is not None and state.status in SEGMENT_FINAL:
            return state.reason or f"{state.status} by {state.changed_by}"
    if experiment.status in STOPPED:
        return experiment.stop_reason or str(experiment.status)
    return None


async def stop_concluded_segments(ctx: ResolverCtx, doc: Experiment) -> Experiment:
    """Stop each running target segment whose own results conclude: its sequence leaves 0
    or a guardrail is breached there. Segments are judged at alpha / (number of targets)
    (Bonferroni), so that together they keep the family-wise error at alpha. A mismatch
    or the sample cap concerns the whole experiment, not a segment."""
    targets = doc.target_segment_ids
    strict = doc.model_copy(update={"alpha": doc.alpha / max(len(targets), 1)})
    for segment_id in targets:
        if doc.status != ExperimentStatus.RUNNING:  # the last segment completed it
            break
        if doc.segment_status(segment_id) != ExperimentStatus.RUNNING:
            continue
        results = await compute(ctx.scope, strict, segment_id)
        reason = stop_reason(results, only=SEGMENT_STOP_REASONS)
        if reason is not None:
            doc = await lifecycle.segment_transition(
                ctx, doc, "stop", str(segment_id), f"automatic: {reason}"
            )
    return doc


async def process(services: Services, doc: Experiment, force: bool = False) -> Experiment:
    """One experiment's turn: flush and, for a running one with new data (or `force`),
    recompute and maybe stop. Without new data nothing is written: results and stopping
    decisions depend on the counters only."""
    flushed = await flush(services, doc)
    if doc.status != ExperimentStatus.RUNNING or not (flushed or force):
        return doc
    ctx = system_ctx(services, doc.tenant_id)
    results = await compute(ctx.scope, doc)
    reason = stop_reason(results)
    if reason is not None:
        return await lifecycle.transition(ctx, doc, "stop", reason)
    doc = await stop_concluded_segments(ctx, doc)
    if doc.status != ExperimentStatus.RUNNING:
        return doc
    updated = await ctx.scope.update(doc, {"last_computed_at": utcnow()})
    await ctx.publish(lifecycle.TOPIC, "experimentRecomputed", lifecycle.event_data(updated))
    return updated


async def recompute(ctx: ResolverCtx, experiment_id: str) -> Experiment:
    """Flush, recompute and apply the stopping rules now, on the expensive-work quota."""
    doc = await ctx.scope.require(Experiment, experiment_id)
    await charge_expensive(ctx.services, ctx.principal, "experiment recomputation", 1)
    return await process(ctx.services, doc, force=True)
