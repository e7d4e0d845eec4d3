"""Optimal price under the fitted constant-elasticity curve, price endings, and
the recommendation a pricing team acts on.

Per visitor, conversion r(p) = c0 (p/p0)^e, so
* revenue  R(p) = p r(p)       proportional to p^(1 + e): monotone in p. For e > -1
  it rises without bound and for e < -1 it falls, so the revenue optimum is never
  interior: it is reported as beyond the tested range and clamped to it.
* margin   M(p) = (p - c) r(p): stationary at p* = c e / (1 + e) for e < -1 (the
  Lerner / inverse-elasticity markup rule, Lerner 1934); unbounded for e >= -1.

Prices are never extrapolated: the recommended price stays inside the tested
range and the boundary is stated. The expected change in the objective per
visitor, ((p - c)/(p0 - c)) (p/p0)^e - 1, is monotone in e, so its interval is the
image of the elasticity interval and P(improvement) = P(e on the improving side
of the break-even elasticity) under the normal sampling distribution of e_hat.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from scipy import special

from app.analytics.arms import Interval, normal_quantile
from app.analytics.elasticity import ElasticityFit, PriceArm, fit_elasticity
from app.analytics.srm import SrmResult

Objective = Literal["revenue", "margin"]
PriceEnding = Literal["none", ".99", ".95", ".00", "9"]
Boundary = Literal["interior", "above_range", "below_range"]
Confidence = Literal["high", "medium", "low"]
ENDING_TOLERANCE = 0.01


def _ending_candidates(price: float, ending: PriceEnding) -> list[float]:
    whole = math.floor(price)
    if ending == "none":
        return [price]
    if ending in (".99", ".95"):
        cents = 0.99 if ending == ".99" else 0.95
        return [k + cents for k in (whole - 1, whole, whole + 1)]
    if ending == ".00":
        return [float(k) for k in (whole - 1, whole, whole + 1)]
    tens = 10 * math.floor(price / 10)  # "9": whole prices ending in 9 (29, 39, ...)
    return [float(tens + d) for d in (-1, 9, 19)]


def apply_price_ending(
    price: float,
    ending: PriceEnding = "none",
    lower: float | None = None,
    upper: float | None = None,
) -> float:
    """Nearest price with the chosen ending, preferring candidates inside [lower, upper].

    ".99"/".95" -> k.99/k.95, ".00" -> whole units, "9" -> whole prices ending in 9.
    A candidate may sit up to 1% past a bound (6.00 -> 5.99): that is rounding, not
    extrapolation, and beats jumping a whole unit away from the optimum.
    """
    lo = -math.inf if lower is None else lower * (1.0 - ENDING_TOLERANCE)
    hi = math.inf if upper is None else upper * (1.0 + ENDING_TOLERANCE)
    candidates = [round(c, 2) for c in _ending_candidates(price, ending) if c > 0]
    inside = [c for c in candidates if lo <= c <= hi]
    return min(inside or candidates, key=lambda c: (abs(c - price), c))


@dataclass(frozen=True)
class OptimalPrice:
    """The optimum clamped to the tested range; `unconstrained` may be 0 or inf."""

    objective: Objective
    price: float
    unconstrained: float
    boundary: Boundary
    price_range: tuple[float, float]
    unconstrained_ci: Interval | None

    @property
    def within_tested_range(self) -> bool:
        return self.boundary == "interior"


def _unconstrained_optimum(elasticity: float, objective: Objective, unit_cost: float) -> float:
    if elasticity >= -1.0:
        return math.inf  # revenue and margin both keep rising with price
    if objective == "revenue":
        return 0.0  # p^(1+e) with 1 + e < 0 falls with price
    return unit_cost * elasticity / (1.0 + elasticity)


def _margin_optimum_interval(fit: ElasticityFit, unit_cost: float) -> Interval:
    # p*(e) = c e / (1 + e) increases with e on e < -1 (derivative c / (1 + e)^2).
    low = _unconstrained_optimum(fit.ci.lower, "margin", unit_cost)
    high = _unconstrained_optimum(fit.ci.upper, "margin", unit_cost)
    return Interval(low, high, fit.ci.level)


def optimal_price(
    fit: ElasticityFit, objective: Objective, unit_cost: float, price_range: tuple[float, float]
) -> OptimalPrice:
    """Objective-maximising price on the fitted curve, clamped to `price_range`."""
    lo, hi = price_range
    p_star = _unconstrained_optimum(fit.elasticity, objective, unit_cost)
    boundary: Boundary = "interior"
    if p_star > hi:
        boundary = "above_range"
    elif p_star < lo:
        boundary = "below_range"
    ci = _margin_optimum_interval(fit, unit_cost) if objective == "margin" else None
    return OptimalPrice(objective, min(max(p_star, lo), hi), p_star, boundary, price_range, ci)


@dataclass(frozen=True)
class ObjectiveChange:
    """Relative change in revenue or margin per visitor vs the reference price."""

    estimate: float
    ci: Interval
    probability_of_improvement: float


def objective_change(
    fit: ElasticityFit, price: float, reference_price: float, unit_cost: float = 0.0
) -> ObjectiveChange:
    """((p - c)/(p0 - c)) (p/p0)^e - 1 with its interval and P(> 0); c = 0 for revenue."""
    level = fit.ci.level
    if price == reference_price:
        return ObjectiveChange(0.0, Interval(0.0, 0.0, level), 0.0)
    margin_ratio = (price - unit_cost) / (reference_price - unit_cost)
    log_ratio = math.log(price / reference_price)

    def change(e: float) -> float:
        return margin_ratio * math.exp(e * log_ratio) - 1.0

    ends = sorted((change(fit.ci.lower), change(fit.ci.upper)))
    if margin_ratio <= 0.0:
        probability = 0.0
    else:
        break_even = -math.log(margin_ratio) / log_ratio
        z = (fit.elasticity - break_even) / fit.std_error
        probability = float(special.ndtr(z if log_ratio > 0 else -z))
    return ObjectiveChange(change(fit.elasticity), Interval(ends[0], ends[1], level), probability)


@dataclass(frozen=True)
class PriceRecommendation:
    """What to charge, what it should do to the objective, and how sure we are."""

    recommended_price: float
    control_price: float
    objective: Objective
    expected_change: ObjectiveChange
    confidence: Confidence
    reasoning: tuple[str, ...]
    next_steps: tuple[str, ...]
    elasticity: ElasticityFit
    optimum: OptimalPrice


_LEVELS: tuple[Confidence, ...] = ("low", "medium", "high")


def _best_alternative(
    fit: ElasticityFit, arms: Sequence[PriceArm], control_price: float, unit_cost: float
) -> tuple[float, ObjectiveChange]:
    """The tested alternative most likely to beat control: evidence against the status quo."""
    changes = [
        (p, objective_change(fit, p, control_price, unit_cost))
        for p in sorted({arm.price for arm in arms} - {control_price})
    ]
    return max(changes, key=lambda pair: pair[1].probability_of_improvement)


def _confidence(
    probability_good: float, alpha: float, fit: ElasticityFit, srm: SrmResult | None
) -> Confidence:
    """high: change interval excludes 0; medium: P >= 0.8; low otherwise.

    Downgraded one level when the constant-elasticity curve fails its
    goodness-of-fit test; always low under a sample-ratio mismatch.
    """
    if srm is not None and srm.mismatch:
        return "low"
    rank = 2 if probability_good >= 1.0 - alpha / 2.0 else 1 if probability_good >= 0.8 else 0
    if fit.goodness_of_fit_p is not None and fit.goodness_of_fit_p < alpha:
        rank = max(0, rank - 1)
    return _LEVELS[rank]


def _optimum_sentence(optimum: OptimalPrice, fit: ElasticityFit) -> str:
    lo, hi = optimum.price_range
    e, p_star = fit.elasticity, optimum.unconstrained
    if optimum.boundary == "interior":
        return f"Margin-maximising price c*e/(1+e) = {p_star:.2f} lies inside {lo:.2f}-{hi:.2f}."
    edge = hi if optimum.boundary == "above_range" else lo
    clamp = f"clamped to the tested price {edge:.2f}, not extrapolated."
    if math.isinf(p_star):
        return (
            f"Elasticity {e:.2f} >= -1: {optimum.objective} per visitor rises with price without "
            f"limit on the fitted curve, so the optimum is beyond the tested range; {clamp}"
        )
    if optimum.objective == "revenue":
        return (
            f"Elasticity {e:.2f} < -1: revenue per visitor falls as price rises, so the optimum "
            f"is below the tested range; {clamp}"
        )
    return f"Margin-maximising price c*e/(1+e) = {p_star:.2f} is outside the tested range; {clamp}"


def _change_sentence(
    objective: Objective,
    price: float,
    control_price: float,
    change: ObjectiveChange,
) -> str:
    if price == control_price:
        return f"Keep the control price {control_price:.2f}."
    ci = f"(CI {change.ci.lower:+.1%} to {change.ci.upper:+.1%})"
    return (
        f"Expected {objective} per visitor at {price:.2f} vs control {control_price:.2f}: "
        f"{change.estimate:+.1%} {ci}, P(improvement) {change.probability_of_improvement:.0%}."
    )


def _alternative_sentence(objective: Objective, alternative: tuple[float, ObjectiveChange]) -> str:
    price, change = alternative
    return (
        f"Best tested alternative {price:.2f}: {objective} per visitor {change.estimate:+.1%} "
        f"(CI {change.ci.lower:+.1%} to {change.ci.upper:+.1%}), "
        f"P(beats control) {change.probability_of_improvement:.0%}."
    )


def _reasoning(
    fit: ElasticityFit,
    optimum: OptimalPrice,
    price: float,
    control_price: float,
    change: ObjectiveChange,
    alternative: tuple[float, ObjectiveChange] | None,
    srm: SrmResult | None,
) -> tuple[str, ...]:
    lines = [
        f"Elasticity of conversion {fit.elasticity:.2f} "
        f"({fit.ci.level:.0%} CI {fit.ci.lower:.2f} to {fit.ci.upper:.2f}) "
        f"from {fit.n_prices} arms.",
        _optimum_sentence(optimum, fit),
    ]
    if price != optimum.price:
        lines.append(f"Price ending applied: {optimum.price:.2f} -> {price:.2f}.")
    lines.append(_change_sentence(optimum.objective, price, control_price, change))
    if alternative is not None:
        lines.append(_alternative_sentence(optimum.objective, alternative))
    if fit.goodness_of_fit_p is not None and fit.goodness_of_fit_p < 1.0 - fit.ci.level:
        lines.append(
            f"Constant-elasticity fit chi-square p={fit.goodness_of_fit_p:.3g}; "
            f"SE inflated x{fit.se_scale:.2f} for lack of fit."
        )
    if srm is not None and srm.mismatch:
        lines.append(f"Sample-ratio mismatch (p={srm.p_value:.2e}): the arms are not comparable.")
    return tuple(lines)


def _more_data_factor(probability: float, alpha: float) -> float | None:
    """Approximate sample multiplier for the change interval to exclude 0 (SE ~ 1/sqrt(n))."""
    z = normal_quantile(min(max(probability, 1e-12), 1 - 1e-12))
    return (normal_quantile(1.0 - alpha / 2.0) / z) ** 2 if z > 0 else None


def _next_steps(
    optimum: OptimalPrice,
    price: float,
    control_price: float,
    confidence: Confidence,
    probability: float,
    alpha: float,
    fit: ElasticityFit,
    srm: SrmResult | None,
) -> tuple[str, ...]:
    steps: list[str] = []
    if srm is not None and srm.mismatch:
        steps.append("Fix traffic assignment (sample-ratio mismatch) and rerun before acting.")
    lo, hi = optimum.price_range
    if optimum.boundary == "above_range":
        steps.append(f"Test prices above {hi:.2f}; the optimum lies beyond the tested range.")
    elif optimum.boundary == "below_range":
        steps.append(f"Test prices below {lo:.2f}; the optimum lies beyond the tested range.")
    if fit.goodness_of_fit_p is not None and fit.goodness_of_fit_p < alpha:
        steps.append("Add price points: the constant-elasticity curve does not fit the arms.")
    factor = None if price == control_price else _more_data_factor(probability, alpha)
    if confidence == "high" and price == control_price:
        steps.append(f"Keep the control price {control_price:.2f}; tested alternatives are worse.")
    elif confidence == "high":
        steps.append(f"Roll out {price:.2f} behind a holdout; monitor it with the sequential test.")
    elif factor is not None:
        steps.append(f"Keep testing: about {factor:.1f}x the current visitors per arm are needed.")
    else:
        steps.append("Keep testing: the data do not yet favour a price change.")
    return tuple(steps)


def _validate_cost(arms: Sequence[PriceArm], control_index: int, unit_cost: float) -> None:
    if not 0 <= control_index < len(arms):
        raise ValueError("control_index is out of range")
    if unit_cost < 0.0 or arms[control_index].price <= unit_cost:
        raise ValueError("unit cost must be >= 0 and below the control price")


def recommend_price(
    arms: Sequence[PriceArm],
    control_index: int = 0,
    objective: Objective = "revenue",
    unit_cost: float = 0.0,
    ending: PriceEnding = "none",
    alpha: float = 0.05,
    srm: SrmResult | None = None,
) -> PriceRecommendation:
    """Recommend a price from price-test arms under constant-elasticity demand.

    For revenue the unit cost is ignored. The recommended price stays within the
    tested range (price endings may round up to 1% past it); the confidence label
    comes from P(improvement) (or, when the control price is recommended, from
    P(the best tested alternative is better)).
    """
    cost = unit_cost if objective == "margin" else 0.0
    _validate_cost(arms, control_index, cost)
    fit = fit_elasticity(arms, alpha)
    prices = [arm.price for arm in arms]
    optimum = optimal_price(fit, objective, cost, (min(prices), max(prices)))
    price = apply_price_ending(optimum.price, ending, min(prices), max(prices))
    control_price = arms[control_index].price
    change = objective_change(fit, price, control_price, cost)
    alternative = (
        _best_alternative(fit, arms, control_price, cost) if price == control_price else None
    )
    good = (
        change.probability_of_improvement
        if alternative is None
        else 1.0 - alternative[1].probability_of_improvement
    )
    confidence = _confidence(good, alpha, fit, srm)
    return PriceRecommendation(
        recommended_price=price,
        control_price=control_price,
        objective=objective,
        expected_change=change,
        confidence=confidence,
        reasoning=_reasoning(fit, optimum, price, control_price, change, alternative, srm),
        next_steps=_next_steps(optimum, price, control_price, confidence, good, alpha, fit, srm),
        elasticity=fit,
        optimum=optimum,
    )
