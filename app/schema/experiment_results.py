"""GraphQL shape of an experiment's results (computed by app.resolvers.experiment_results)."""

from __future__ import annotations

import math
from enum import Enum

import strawberry

from app.analytics import ComparisonResult, Interval, Lift
from app.analytics.elasticity import ElasticityFit
from app.analytics.pricing import PriceRecommendation
from app.models.experiment import GuardrailMetric, PrimaryMetric
from app.resolvers import experiment_results as stats
from app.resolvers.projection import Confidence
from app.schema.money import Cents


def _finite(value: float | None) -> float | None:
    """GraphQL floats cannot be infinite: an unbounded end is null."""
    return value if value is not None and math.isfinite(value) else None


@strawberry.type
class ConfidenceInterval:
    lower: float | None
    upper: float | None
    level: float

    @classmethod
    def of(cls, interval: Interval) -> ConfidenceInterval:
        return cls(
            lower=_finite(interval.lower), upper=_finite(interval.upper), level=interval.level
        )


@strawberry.type
class LiftEstimate:
    estimate: float
    std_error: float
    ci: ConfidenceInterval

    @classmethod
    def of(cls, lift: Lift | None) -> LiftEstimate | None:
        if lift is None:
            return None
        return cls(
            estimate=lift.estimate, std_error=lift.std_error, ci=ConfidenceInterval.of(lift.ci)
        )


MEAN_CENTS = "A mean over exposed units, in fractional cents (a statistic, not an amount)."


@strawberry.type(description="One arm's counters over its exposed units (money in cents).")
class ArmResult:
    key: str
    price_cents: Cents
    control: bool
    units: int
    conversions: int
    conversion_rate: float | None
    revenue_per_visitor_cents: float | None = strawberry.field(description=MEAN_CENTS)
    margin_per_visitor_cents: float | None = strawberry.field(description=MEAN_CENTS)
    refund_rate: float | None
    churn_rate: float | None

    @classmethod
    def of(cls, arm: stats.ArmCounters, control_key: str) -> ArmResult:
        n = arm.n or None
        margin = arm.revenue - arm.unit_cost_cents * arm.conversions
        return cls(
            key=arm.arm.key,
            price_cents=arm.arm.price_cents,
            control=arm.arm.key == control_key,
            units=arm.n,
            conversions=arm.conversions,
            conversion_rate=arm.rate(arm.conversions),
            revenue_per_visitor_cents=arm.revenue / n if n else None,
            margin_per_visitor_cents=margin / n if n else None,
            refund_rate=arm.rate(arm.refunds),
            churn_rate=arm.rate(arm.churns),
        )


@strawberry.type(description="CUPED with the units' pre-period revenue (Deng et al. 2013).")
class Cuped:
    theta: float = strawberry.field(description="Pooled within-arm slope of the metric on X.")
    variance_reduction: float = strawberry.field(
        description="Share of the lift's variance removed; intervals shrink by sqrt(1 - it)."
    )


@strawberry.type(description="A variant against control on the primary metric.")
class ArmComparison:
    arm: str
    method: str | None
    control_mean: float | None
    variant_mean: float | None
    absolute_lift: LiftEstimate | None
    relative_lift: LiftEstimate | None
    p_value: float | None
    adjusted_p_value: float | None = strawberry.field(description="Holm, over all variants.")
    significant: bool
    chance_to_beat_control: float | None
    expected_loss: float | None = strawberry.field(
        description="E[max(control - variant, 0)] in metric units if the variant ships."
    )
    sequential_p_value: float | None
    cuped: Cuped | None = strawberry.field(description="Set when pre-period values exist.")

    @classmethod
    def of(cls, c: stats.VariantComparison) -> ArmComparison:
        f: ComparisonResult | None = c.frequentist
        return cls(
            arm=c.arm,
            method=f.method if f else None,
            control_mean=f.control_mean if f else None,
            variant_mean=f.treatment_mean if f else None,
            absolute_lift=LiftEstimate.of(f.absolute) if f else None,
            relative_lift=LiftEstimate.of(f.relative) if f else None,
            p_value=f.p_value if f else None,
            adjusted_p_value=c.adjusted_p_value,
            significant=c.significant,
            chance_to_beat_control=c.chance_to_beat_control,
            expected_loss=c.expected_loss,
            sequential_p_value=c.sequential_p_value,
            cuped=Cuped(theta=c.cuped.theta, variance_reduction=c.cuped.variance_reduction)
            if c.cuped
            else None,
        )


@strawberry.type
class SampleRatio:
    p_value: float = strawberry.field(description="Chi-square: valid at a single look.")
    chi_square: float | None
    mismatch: bool = strawberry.field(description="pValue below 0.001: a warning.")
    sequential_p_value: float = strawberry.field(
        description="Anytime-valid (Dirichlet-multinomial mixture): valid however often the "
        "check repeats; below 0.001 it stops the experiment."
    )
    observed: list[int]
    expected: list[float]


@strawberry.type(description="The automatic-stopping rule (mSPRT confidence sequences).")
class SequentialStatus:
    should_stop: bool
    reason: str
    detail: str


@strawberry.type
class GuardrailStatus:
    metric: GuardrailMetric
    arm: str
    max_increase: float
    observed_increase: float | None
    lower_bound: float | None
    breached: bool


@strawberry.type(description="Constant-elasticity fit of conversion on price (log-log).")
class Elasticity:
    elasticity: float
    std_error: float
    ci: ConfidenceInterval
    goodness_of_fit_p: float | None

    @classmethod
    def of(cls, fit: ElasticityFit) -> Elasticity:
        return cls(
            elasticity=fit.elasticity,
            std_error=fit.std_error,
            ci=ConfidenceInterval.of(fit.ci),
            goodness_of_fit_p=fit.goodness_of_fit_p,
        )


@strawberry.enum(description="What a recommended price maximises per visitor.")
class PriceObjective(Enum):
    REVENUE = "revenue"
    MARGIN = "margin"


@strawberry.type
class Recommendation:
    price_cents: Cents = strawberry.field(
        description="What to charge: the optimum with its psychological price ending (.99 "
        "below 100, whole prices ending in 9 below 1,000, in 99 above), or the control price."
    )
    optimal_price_cents: Cents = strawberry.field(
        description="The optimum on the fitted demand curve within the tested prices, "
        "before any price ending."
    )
    demand_curve: str = strawberry.field(
        description="The curve of conversion on price used (constant-elasticity, linear or "
        "log-quadratic), chosen by AIC."
    )
    optimum_within_tested_range: bool = strawberry.field(
        description="False when the objective still rises at an end of the tested prices: "
        "the optimum lies beyond them."
    )
    control_price_cents: Cents
    objective: PriceObjective
    expected_change: float
    expected_change_ci: ConfidenceInterval
    probability_of_improvement: float
    confidence: Confidence
    reasoning: list[str]
    next_steps: list[str]

    @classmethod
    def of(cls, r: PriceRecommendation) -> Recommendation:
        change = r.expected_change
        return cls(
            price_cents=round(r.recommended_price * 100),
            optimal_price_cents=round(r.optimum.price * 100),
            demand_curve=r.demand.name,
            optimum_within_tested_range=r.optimum.within_tested_range,
            control_price_cents=round(r.control_price * 100),
            objective=PriceObjective(r.objective),
            expected_change=change.estimate,
            expected_change_ci=ConfidenceInterval.of(change.ci),
            probability_of_improvement=change.probability_of_improvement,
            confidence=Confidence(r.confidence),
            reasoning=list(r.reasoning),
            next_steps=list(r.next_steps),
        )


@strawberry.type(description="Results from the flushed counters (see recomputeExperiment).")
class ExperimentResults:
    metric: PrimaryMetric
    arms: list[ArmResult]
    comparisons: list[ArmComparison]
    correction: str | None
    srm: SampleRatio | None
    sequential: SequentialStatus
    guardrails: list[GuardrailStatus]
    elasticity: Elasticity | None
    recommendation: Recommendation | None
    notes: list[str]

    @classmethod
    def of(cls, r: stats.Results, control_key: str) -> ExperimentResults:
        srm = r.srm
        return cls(
            metric=r.metric,
            arms=[ArmResult.of(a, control_key) for a in r.arms],
            comparisons=[ArmComparison.of(c) for c in r.comparisons],
            correction=r.correction,
            srm=SampleRatio(
                p_value=srm.p_value,
                chi_square=_finite(srm.chi_square),
                mismatch=srm.mismatch,
                sequential_p_value=srm.sequential_p_value,
                observed=list(srm.observed),
                expected=list(srm.expected),
            )
            if srm
            else None,
            sequential=SequentialStatus(
                should_stop=r.stop.stop, reason=r.stop.reason, detail=r.stop.detail
            ),
            guardrails=[
                GuardrailStatus(
                    metric=g.metric,
                    arm=g.arm,
                    max_increase=g.max_increase,
                    observed_increase=g.observed_increase,
                    lower_bound=g.lower_bound,
                    breached=g.breached,
                )
                for g in r.guardrails
            ],
            elasticity=Elasticity.of(r.elasticity) if r.elasticity else None,
            recommendation=Recommendation.of(r.recommendation) if r.recommendation else None,
            notes=r.notes,
        )
