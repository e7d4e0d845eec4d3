"""GraphQL shape of an experiment's results (computed by app.resolvers.experiment_results)."""

from __future__ import annotations

import math
from enum import Enum

import strawberry

from app.analytics import ComparisonResult, Interval, Lift
from app.analytics import experiment as stats
from app.analytics.elasticity import ElasticityFit
from app.analytics.pricing import PriceRecommendation
from app.models.experiment import GuardrailMetric, PrimaryMetric
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


@strawberry.type(
    description="A lift on one scale: its estimate, standard error, interval and the "
    "two-sided p-value of no effect on the same scale (pValue < 1 - ci.level exactly when "
    "ci excludes 0)."
)
class LiftEstimate:
    estimate: float
    std_error: float
    ci: ConfidenceInterval
    p_value: float

    @classmethod
    def of(cls, lift: Lift | None) -> LiftEstimate | None:
        if lift is None:
            return None
        return cls(
            estimate=lift.estimate,
            std_error=lift.std_error,
            ci=ConfidenceInterval.of(lift.ci),
            p_value=lift.p_value,
        )


@strawberry.enum(description="The scale of a comparison's verdict.")
class LiftScale(Enum):
    RELATIVE = "relative"
    ABSOLUTE = "absolute"


@strawberry.enum(description="How a comparison's verdict interval and p-value are computed.")
class VerdictMethod(Enum):
    DELTA = strawberry.enum_value(
        "delta", description="Delta method on the relative lift (as GrowthBook gbstats)."
    )
    FIELLER = strawberry.enum_value(
        "fieller",
        description="Fieller's interval on the relative lift; its test of no lift is the "
        "unpooled test of the difference.",
    )
    DIFFERENCE = strawberry.enum_value(
        "difference",
        description="The named test on the difference: the control mean is too close to 0 "
        "to divide by.",
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


@strawberry.type(
    description="A variant against control on the primary metric. One verdict: pValue, "
    "adjustedPValue, significant, ci and the sequential test are all on `scale`, by "
    "`verdictMethod`."
)
class ArmComparison:
    arm: str
    method: str | None = strawberry.field(description="The test on the difference.")
    control_mean: float | None
    variant_mean: float | None
    absolute_lift: LiftEstimate | None = strawberry.field(
        description="variant - control, with the named test's p-value."
    )
    relative_lift: LiftEstimate | None = strawberry.field(
        description="variant / control - 1 by the delta method, with its p-value on the "
        "relative scale (as GrowthBook gbstats); null when the control mean is 0."
    )
    fieller_ci: ConfidenceInterval | None = strawberry.field(
        description="Fieller's interval for the relative lift: honest at small counts and "
        "heavy-tailed revenue, where the delta method's interval is too narrow; unbounded "
        "(null ends) when the control mean is not distinguishable from 0."
    )
    normal_approximation_trusted: bool | None = strawberry.field(
        description="False while g = t^2 (SE/mean)^2 of either arm is at least 0.05 (about "
        "80 conversions per arm, or revenue with few buyers): the delta-method interval is "
        "not yet trustworthy, the verdict uses Fieller's and the experiment does not stop on "
        "an effect."
    )
    scale: LiftScale | None = strawberry.field(
        description="The scale of pValue, ci and the sequential test: RELATIVE unless the "
        "control mean is too close to 0."
    )
    verdict_method: VerdictMethod | None
    ci: ConfidenceInterval | None = strawberry.field(
        description="The verdict's interval on `scale`, at 1 - alpha (Bonferroni over "
        "variants): it excludes 0 exactly when pValue < alpha / variants."
    )
    p_value: float | None = strawberry.field(
        description="Two-sided p-value of no effect on `scale`: the test whose inversion "
        "gives `ci`."
    )
    adjusted_p_value: float | None = strawberry.field(
        description="pValue adjusted by Holm over all variants."
    )
    significant: bool = strawberry.field(description="adjustedPValue below alpha.")
    chance_to_beat_control: float | None
    expected_loss: float | None = strawberry.field(
        description="E[max(control - variant, 0)] in metric units if the variant ships."
    )
    sequential_p_value: float | None = strawberry.field(
        description="Always-valid p-value of the mSPRT on `scale` (the difference under "
        "Fieller's verdict), at alpha / variants."
    )
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
            fieller_ci=ConfidenceInterval.of(f.fieller) if f and f.fieller else None,
            normal_approximation_trusted=f.normal_approximation_trusted if f else None,
            scale=LiftScale(f.verdict.scale) if f else None,
            verdict_method=VerdictMethod(f.verdict.method) if f else None,
            ci=ConfidenceInterval.of(f.verdict.ci) if f else None,
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
            metric=PrimaryMetric(r.metric),
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
                    metric=GuardrailMetric(g.metric),
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
