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

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from bson import ObjectId

from app.analytics import (
    ComparisonResult,
    CovariateArm,
    CupedAdjustment,
    MeanArm,
    PriceArm,
    ProportionArm,
    SequentialResult,
    SrmResult,
    beta_binomial_comparison,
    compare_arms,
    cuped_adjust,
    cuped_t_test,
    fit_elasticity,
    gaussian_comparison,
    recommend_price,
    sample_ratio_mismatch,
    sequential_comparison,
    should_stop,
    two_proportion_z_test,
    welch_t_test,
)
from app.analytics.arms import ArmStats
from app.analytics.elasticity import ElasticityFit
from app.analytics.pricing import DEFAULT_ENDINGS, PriceRecommendation
from app.analytics.sequential import DEFAULT_TUNING_N, StopDecision, srm_stop
from app.errors import ValidationFailed
from app.models import CustomerSegment, PricingPlan, TenantScope
from app.models.base import utcnow
from app.models.experiment import (
    SEGMENT_FINAL,
    Experiment,
    ExperimentArm,
    ExperimentStatus,
    ExperimentUnit,
    GuardrailMetric,
    PrimaryMetric,
)
from app.resolvers import experiment as lifecycle
from app.resolvers.ctx import ResolverCtx, system_ctx
from app.resolvers.experiment_events import flush
from app.resolvers.usage import charge_expensive
from app.runtime import Services

SEGMENT_STOP_REASONS = ("positive_effect", "negative_effect")
# Statuses in which an experiment takes no more events.
STOPPED = {ExperimentStatus.COMPLETED, ExperimentStatus.CANCELLED, ExperimentStatus.RETIRED}
MIN_UNITS_PER_ARM = 100  # below this the normal approximations are not trusted


@dataclass(frozen=True)
class ArmCounters:
    arm: ExperimentArm
    unit_cost_cents: int
    n: int = 0
    conversions: int = 0
    refunds: int = 0
    churns: int = 0
    revenue: float = 0.0
    revenue_squares: float = 0.0
    revenue_converted: float = 0.0
    covariate: float = 0.0
    covariate_squares: float = 0.0
    covariate_revenue: float = 0.0
    covariate_converted: float = 0.0

    def metric(self, metric: PrimaryMetric) -> ProportionArm | MeanArm:
        if metric == PrimaryMetric.CONVERSION:
            return ProportionArm(self.n, self.conversions)
        return self.value(metric)

    def _cost(self, metric: PrimaryMetric) -> int:
        return self.unit_cost_cents if metric == PrimaryMetric.GROSS_MARGIN_PER_VISITOR else 0

    def value(self, metric: PrimaryMetric) -> MeanArm:
        """Revenue per visitor, or margin: revenue - unit cost c x converted (0/1)."""
        c = self._cost(metric)  # sum (r - c x)^2 = S_rr - 2c S_r[x=1] + c^2 S_x
        squares = self.revenue_squares - 2 * c * self.revenue_converted + c * c * self.conversions
        return MeanArm(self.n, self.revenue - c * self.conversions, max(0.0, squares))

    def with_covariate(self, metric: PrimaryMetric) -> CovariateArm:
        """The value metric with the pre-period covariate X, for CUPED."""
        y = self.value(metric)
        xy = self.covariate_revenue - self._cost(metric) * self.covariate_converted
        return CovariateArm(
            self.n, y.total, y.sum_squares, self.covariate, self.covariate_squares, xy
        )

    def rate(self, count: int) -> float | None:
        return count / self.n if self.n else None


@dataclass(frozen=True)
class VariantComparison:
    arm: str
    frequentist: ComparisonResult | None
    adjusted_p_value: float | None
    significant: bool
    chance_to_beat_control: float | None
    expected_loss: float | None
    sequential_p_value: float | None
    sequential_decision: StopDecision | None
    cuped: CupedAdjustment | None = None


@dataclass(frozen=True)
class GuardrailCheck:
    metric: GuardrailMetric
    arm: str
    max_increase: float
    observed_increase: float | None
    lower_bound: float | None
    breached: bool


@dataclass(frozen=True)
class Results:
    metric: PrimaryMetric
    arms: list[ArmCounters]
    comparisons: list[VariantComparison]
    correction: str | None
    srm: SrmResult | None
    guardrails: list[GuardrailCheck]
    stop: StopDecision
    elasticity: ElasticityFit | None
    recommendation: PriceRecommendation | None
    notes: list[str]


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


def _attempt(compute: Callable[[], Any], notes: list[str], what: str) -> Any:
    """Statistics that need more data raise ValueError: say so instead of failing."""
    try:
        return compute()
    except (ValueError, ZeroDivisionError, KeyError) as error:
        notes.append(f"{what}: {error}")
        return None


def analyse(experiment: Experiment, arms: list[ArmCounters]) -> Results:
    notes: list[str] = []
    metric = experiment.primary_metric
    control = next(a for a in arms if a.arm.key == experiment.control_arm().key)
    variants = [a for a in arms if a is not control]
    srm = _attempt(
        lambda: sample_ratio_mismatch([a.n for a in arms], [a.arm.traffic_share for a in arms]),
        notes,
        "sample ratio check",
    )
    comparisons, correction = _comparisons(experiment, control, variants, notes)
    guardrails = _guardrails(experiment, control, variants, notes)
    return Results(
        metric=metric,
        arms=arms,
        comparisons=comparisons,
        correction=correction,
        srm=srm,
        guardrails=guardrails,
        stop=_decision(experiment, arms, comparisons, srm),
        elasticity=_attempt(lambda: fit_elasticity(_price_arms(arms)), notes, "elasticity"),
        recommendation=_agree_with_verdict(
            _attempt(lambda: _recommend(experiment, control, arms, srm), notes, "recommendation"),
            metric,
            variants,
            comparisons,
        ),
        notes=notes,
    )


def _price_arms(arms: list[ArmCounters]) -> list[PriceArm]:
    return [PriceArm(a.arm.price_cents / 100, a.n, a.conversions) for a in arms]


def _recommend(
    experiment: Experiment, control: ArmCounters, arms: list[ArmCounters], srm: SrmResult | None
) -> PriceRecommendation:
    margin = experiment.primary_metric == PrimaryMetric.GROSS_MARGIN_PER_VISITOR
    return recommend_price(
        _price_arms(arms),
        control_index=arms.index(control),
        objective="margin" if margin else "revenue",
        unit_cost=control.unit_cost_cents / 100,
        ending=DEFAULT_ENDINGS,
        alpha=experiment.alpha,
        srm=srm,
    )


def _agree_with_verdict(
    recommendation: PriceRecommendation | None,
    metric: PrimaryMetric,
    variants: list[ArmCounters],
    comparisons: list[VariantComparison],
) -> PriceRecommendation | None:
    """A confident move to a tested price needs that arm's comparison to agree, when the
    primary metric is the recommendation's objective (revenue or margin per visitor): a
    roll-out is not advised while the same data's verdict is "not significant"."""
    if (
        recommendation is None
        or recommendation.confidence != "high"
        or metric == PrimaryMetric.CONVERSION
        or recommendation.recommended_price == recommendation.control_price
        or not variants
    ):
        return recommendation
    price = recommendation.recommended_price
    nearest = min(variants, key=lambda v: abs(v.arm.price_cents / 100 - price))
    comparison = comparisons[variants.index(nearest)]
    verdict = comparison.frequentist.verdict if comparison.frequentist else None
    if comparison.significant and verdict is not None and verdict.ci.lower > 0.0:
        return recommendation
    p = f"p = {verdict.p_value:.3g} on the {verdict.scale} scale" if verdict else "no test"
    finding = f"the {metric.value} comparison of {comparison.arm} with control is not a win ({p})"
    steps = (*recommendation.next_steps[:-1], f"Keep testing: {finding}.")
    return replace(
        recommendation,
        confidence="medium",
        reasoning=(*recommendation.reasoning, f"At most medium confidence: {finding}."),
        next_steps=steps,
    )


@dataclass(frozen=True)
class EffectArms:
    """What one variant's comparisons run on: the metric's two arms, CUPED-adjusted
    (with the adjustment) when the experiment has pre-period values."""

    control: ArmStats
    variant: ArmStats
    cuped: CupedAdjustment | None = None


def _uses_cuped(metric: PrimaryMetric, arms: list[ArmCounters]) -> bool:
    """Value metrics once any exposed unit has a (non-zero) pre-period value."""
    return metric != PrimaryMetric.CONVERSION and any(a.covariate_squares > 0 for a in arms)


def _effect_arms(
    metric: PrimaryMetric, control: ArmCounters, variant: ArmCounters, cuped: bool
) -> EffectArms:
    if not cuped:
        return EffectArms(control.metric(metric), variant.metric(metric))
    adjustment = cuped_adjust(control.with_covariate(metric), variant.with_covariate(metric))
    return EffectArms(adjustment.control, adjustment.treatment, adjustment)


def _comparisons(
    experiment: Experiment,
    control: ArmCounters,
    variants: list[ArmCounters],
    notes: list[str],
) -> tuple[list[VariantComparison], str | None]:
    metric = experiment.primary_metric
    m = max(1, len(variants))
    cuped = _uses_cuped(metric, [control, *variants])
    arm = _arm(metric, cuped)
    multi = _attempt(
        lambda: compare_arms(
            arm(control), [arm(v) for v in variants], _test(metric, cuped), experiment.alpha, "holm"
        ),
        notes,
        "comparison",
    )
    out = []
    for i, variant in enumerate(variants):
        key = variant.arm.key
        frequentist = multi.comparisons[i] if multi else None
        effect = _attempt(partial(_effect_arms, metric, control, variant, cuped), notes, key)
        bayes = _attempt(partial(_bayes, effect), notes, "bayesian") if effect else None
        sequential = (
            _attempt(
                partial(_sequential, experiment, effect, m, frequentist),
                notes,
                f"sequential test of {key}",
            )
            if effect
            else None
        )
        if frequentist is not None and not frequentist.normal_approximation_trusted:
            notes.append(_untrusted_note(key, frequentist))
        out.append(
            VariantComparison(
                arm=key,
                frequentist=frequentist,
                adjusted_p_value=multi.correction.adjusted_p_values[i] if multi else None,
                significant=bool(multi and multi.correction.reject[i]),
                chance_to_beat_control=bayes[0] if bayes else None,
                expected_loss=bayes[1] if bayes else None,
                sequential_p_value=sequential.p_value if sequential else None,
                sequential_decision=(
                    _sequential_decision(sequential, frequentist, [control.n, variant.n])
                    if sequential
                    else None
                ),
                cuped=effect.cuped if effect else None,
            )
        )
    correction = "holm (Bonferroni intervals)" if len(variants) > 1 else None
    return out, correction


def _sequential(
    experiment: Experiment,
    effect: EffectArms,
    comparisons: int,
    frequentist: ComparisonResult | None,
) -> SequentialResult:
    """mSPRT at alpha/m (Bonferroni over variants), tuned to the planned total sample, on
    the verdict's scale: the relative lift under the delta method, else the difference
    (whose test of no effect is Fieller's)."""
    return sequential_comparison(
        effect.control,
        effect.variant,
        experiment.alpha / comparisons,
        tuning_n=2.0 * experiment.planned_sample_size_per_arm or DEFAULT_TUNING_N,
        relative=frequentist is not None and frequentist.verdict.method == "delta",
    )


def _untrusted_note(key: str, comparison: ComparisonResult) -> str:
    return (
        f"{key}: the normal approximation is not yet trustworthy (g = {comparison.g:.3f}, "
        "at least 0.05: too few conversions or heavy-tailed values), so the verdict "
        "uses Fieller's interval and the experiment does not stop on an effect yet"
    )


def _sequential_decision(
    sequential: SequentialResult, frequentist: ComparisonResult | None, n_per_arm: list[int]
) -> StopDecision:
    """The stopping rule, which waits while the normal approximation is not trusted."""
    decision = should_stop(sequential, n_per_arm, MIN_UNITS_PER_ARM)
    effect = decision.reason in ("positive_effect", "negative_effect")
    if effect and frequentist is not None and not frequentist.normal_approximation_trusted:
        detail = f"normal approximation not yet trustworthy (g = {frequentist.g:.3f})"
        return StopDecision(False, "too_few_units", detail)
    return decision


def _arm(metric: PrimaryMetric, cuped: bool) -> Callable[[ArmCounters], Any]:
    if cuped:
        return lambda a: a.with_covariate(metric)
    return lambda a: a.metric(metric)


def _test(metric: PrimaryMetric, cuped: bool) -> Callable[[Any, Any, float], ComparisonResult]:
    if cuped:
        return cuped_t_test
    if metric == PrimaryMetric.CONVERSION:
        return two_proportion_z_test
    return welch_t_test


def _bayes(effect: EffectArms) -> tuple[float, float]:
    """Chance to beat control and the expected loss of shipping the variant (metric units)."""
    c, v = effect.control, effect.variant
    if isinstance(c, ProportionArm) and isinstance(v, ProportionArm):
        result = beta_binomial_comparison(c, v)
    else:
        result = gaussian_comparison(c, v, scale="absolute")
    return result.chance_to_beat, result.expected_loss_treatment


def _guardrails(
    experiment: Experiment,
    control: ArmCounters,
    variants: list[ArmCounters],
    notes: list[str],
) -> list[GuardrailCheck]:
    """Breached when the always-valid interval of the rate increase lies above the limit."""
    checks = []
    for guardrail in experiment.guardrails:
        for variant in variants:
            checks.append(
                _guardrail(
                    experiment, guardrail.metric, guardrail.max_increase, control, variant, notes
                )
            )
    return checks


def _guardrail(
    experiment: Experiment,
    metric: GuardrailMetric,
    limit: float,
    control: ArmCounters,
    variant: ArmCounters,
    notes: list[str],
) -> GuardrailCheck:
    def arm(a: ArmCounters) -> ProportionArm:
        return ProportionArm(a.n, a.churns if metric == GuardrailMetric.CHURN_RATE else a.refunds)

    enough = min(control.n, variant.n) >= MIN_UNITS_PER_ARM
    seq = _attempt(
        lambda: sequential_comparison(arm(control), arm(variant), experiment.alpha),
        notes if enough else [],
        f"guardrail {metric}",
    )
    lower = seq.ci.lower if seq and math.isfinite(seq.ci.lower) else None
    return GuardrailCheck(
        metric=metric,
        arm=variant.arm.key,
        max_increase=limit,
        observed_increase=seq.estimate if seq else None,
        lower_bound=lower,
        breached=bool(enough and lower is not None and lower > limit),
    )


def _decision(
    experiment: Experiment,
    arms: list[ArmCounters],
    comparisons: list[VariantComparison],
    srm: SrmResult | None,
) -> StopDecision:
    """Stop on SRM, when every variant's sequence has concluded, or at twice the plan."""
    if srm is not None and srm.sequential_mismatch and min(a.n for a in arms) >= MIN_UNITS_PER_ARM:
        return srm_stop(srm)
    decisions = [c.sequential_decision for c in comparisons]
    if decisions and all(d is not None and d.stop for d in decisions):
        detail = "; ".join(
            f"{c.arm}: {d.detail}" for c, d in zip(comparisons, decisions, strict=True) if d
        )
        first = decisions[0]
        assert first is not None
        return StopDecision(True, first.reason, detail)
    cap = 2 * experiment.planned_sample_size_per_arm * len(arms)
    if experiment.planned_sample_size_per_arm and sum(a.n for a in arms) >= cap:
        return StopDecision(True, "max_sample_reached", f"{cap} units without a conclusion")
    return StopDecision(False, "continue", "collecting data")


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


def after_stop(results: Results, reason: str | None) -> Results:
    """The price analysis ends on "keep testing" unless it is confident; a stopped
    experiment collects no more data, so that verdict becomes the stop's."""
    recommendation = results.recommendation
    if reason is None or recommendation is None or recommendation.confidence == "high":
        return results
    verdict = (
        f"The experiment has stopped ({reason}) before the data favoured a price change: "
        f"keep the control price {recommendation.control_price:.2f}, or start a new "
        "experiment to learn more."
    )
    steps = (*recommendation.next_steps[:-1], verdict)
    return replace(results, recommendation=replace(recommendation, next_steps=steps))


def stop_reason(results: Results, only: Collection[str] | None = None) -> str | None:
    """Why the experiment should stop now, or None to keep it running; `only` limits the
    stopping rule's reasons that count (a guardrail breach always does)."""
    breached = [g for g in results.guardrails if g.breached]
    if breached:
        g = breached[0]
        return (
            f"guardrail breached: {g.metric} of {g.arm} rose by at least {g.lower_bound:.4f}"
            f" (limit {g.max_increase})"
        )
    if results.stop.stop and (only is None or results.stop.reason in only):
        return f"{results.stop.reason}: {results.stop.detail}"
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
