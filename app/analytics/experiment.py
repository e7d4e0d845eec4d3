"""An experiment's statistics from its per-arm counters: the comparisons on the primary
metric (CUPED when pre-period values exist), sample ratio, guardrails, the sequential
stopping rule, elasticity and the price recommendation. Pure: the counters come from
app.resolvers.experiment_results, which loads them and acts on the verdict.

Per arm: n, conversions, revenue sum and sum of squares of per-unit revenue, refunds,
churn. Margin per visitor = revenue - unit cost x converted, whose sums follow from the
same group-by (sum of revenue over converted units gives the cross term). With a
pre-period covariate, revenue and margin per visitor are compared with CUPED: the t-test,
the Bayesian posterior and the sequential test all use the adjusted arms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Protocol

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

# The metrics, by the values of app.models.experiment's PrimaryMetric and GuardrailMetric.
CONVERSION = "conversion"
GROSS_MARGIN_PER_VISITOR = "gross_margin_per_visitor"
CHURN_RATE = "churn_rate"


class Arm(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def price_cents(self) -> int: ...
    @property
    def traffic_share(self) -> float: ...


class GuardrailLimit(Protocol):
    @property
    def metric(self) -> str: ...
    @property
    def max_increase(self) -> float: ...


class Design(Protocol):
    """What the analysis reads of an experiment (an app.models.experiment.Experiment is one)."""

    @property
    def primary_metric(self) -> str: ...
    @property
    def alpha(self) -> float: ...
    @property
    def planned_sample_size_per_arm(self) -> int: ...
    @property
    def guardrails(self) -> Sequence[GuardrailLimit]: ...
    def control_arm(self) -> Arm: ...


SEGMENT_STOP_REASONS = ("positive_effect", "negative_effect")
MIN_UNITS_PER_ARM = 100  # below this the normal approximations are not trusted


@dataclass(frozen=True)
class ArmCounters:
    arm: Arm
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

    def metric(self, metric: str) -> ProportionArm | MeanArm:
        if metric == CONVERSION:
            return ProportionArm(self.n, self.conversions)
        return self.value(metric)

    def _cost(self, metric: str) -> int:
        return self.unit_cost_cents if metric == GROSS_MARGIN_PER_VISITOR else 0

    def value(self, metric: str) -> MeanArm:
        """Revenue per visitor, or margin: revenue - unit cost c x converted (0/1)."""
        c = self._cost(metric)  # sum (r - c x)^2 = S_rr - 2c S_r[x=1] + c^2 S_x
        squares = self.revenue_squares - 2 * c * self.revenue_converted + c * c * self.conversions
        return MeanArm(self.n, self.revenue - c * self.conversions, max(0.0, squares))

    def with_covariate(self, metric: str) -> CovariateArm:
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
    metric: str
    arm: str
    max_increase: float
    observed_increase: float | None
    lower_bound: float | None
    breached: bool


@dataclass(frozen=True)
class Results:
    metric: str
    arms: list[ArmCounters]
    comparisons: list[VariantComparison]
    correction: str | None
    srm: SrmResult | None
    guardrails: list[GuardrailCheck]
    stop: StopDecision
    elasticity: ElasticityFit | None
    recommendation: PriceRecommendation | None
    notes: list[str]


def _attempt(compute: Callable[[], Any], notes: list[str], what: str) -> Any:
    """Statistics that need more data raise ValueError: say so instead of failing."""
    try:
        return compute()
    except (ValueError, ZeroDivisionError, KeyError) as error:
        notes.append(f"{what}: {error}")
        return None


def analyse(experiment: Design, arms: list[ArmCounters]) -> Results:
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
    experiment: Design, control: ArmCounters, arms: list[ArmCounters], srm: SrmResult | None
) -> PriceRecommendation:
    margin = experiment.primary_metric == GROSS_MARGIN_PER_VISITOR
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
    metric: str,
    variants: list[ArmCounters],
    comparisons: list[VariantComparison],
) -> PriceRecommendation | None:
    """A confident move to a tested price needs that arm's comparison to agree, when the
    primary metric is the recommendation's objective (revenue or margin per visitor): a
    roll-out is not advised while the same data's verdict is "not significant"."""
    if (
        recommendation is None
        or recommendation.confidence != "high"
        or metric == CONVERSION
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
    finding = f"the {metric} comparison of {comparison.arm} with control is not a win ({p})"
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


def _uses_cuped(metric: str, arms: list[ArmCounters]) -> bool:
    """Value metrics once any exposed unit has a (non-zero) pre-period value."""
    return metric != CONVERSION and any(a.covariate_squares > 0 for a in arms)


def _effect_arms(
    metric: str, control: ArmCounters, variant: ArmCounters, cuped: bool
) -> EffectArms:
    if not cuped:
        return EffectArms(control.metric(metric), variant.metric(metric))
    adjustment = cuped_adjust(control.with_covariate(metric), variant.with_covariate(metric))
    return EffectArms(adjustment.control, adjustment.treatment, adjustment)


def _comparisons(
    experiment: Design,
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
    experiment: Design,
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


def _arm(metric: str, cuped: bool) -> Callable[[ArmCounters], Any]:
    if cuped:
        return lambda a: a.with_covariate(metric)
    return lambda a: a.metric(metric)


def _test(metric: str, cuped: bool) -> Callable[[Any, Any, float], ComparisonResult]:
    if cuped:
        return cuped_t_test
    if metric == CONVERSION:
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
    experiment: Design,
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
    experiment: Design,
    metric: str,
    limit: float,
    control: ArmCounters,
    variant: ArmCounters,
    notes: list[str],
) -> GuardrailCheck:
    def arm(a: ArmCounters) -> ProportionArm:
        return ProportionArm(a.n, a.churns if metric == CHURN_RATE else a.refunds)

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
    experiment: Design,
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
