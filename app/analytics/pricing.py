"""Optimal price on the best-fitting demand curve, price endings, and the recommendation
a pricing team acts on.

The curve of conversion on price is chosen among constant-elasticity, linear and
log-quadratic fits by AIC (app/analytics/demand.py). The objective per visitor is
(p - c) r(p), c = 0 for revenue and the unit cost for margin:
* constant elasticity r = c0 (p/p0)^e: revenue ~ p^(1 + e) is monotone (it rises without
  bound for e > -1 and falls for e < -1); the margin optimum is c e / (1 + e) for e < -1
  (the Lerner / inverse-elasticity markup rule, Lerner 1934);
* linear and log-quadratic curves can peak inside the tested range: revenue peaks where
  the elasticity crosses -1.

The optimum is searched on the fitted curve within the tested range, never extrapolated;
when the objective still rises at an end of the range (inelastic demand at the highest
price, for revenue), the optimum lies beyond what was tested: that is said, and a move to
that end is never a high-confidence roll-out. The expected change in the objective at p
against the control price p0, ((p - c)/(p0 - c)) r(p)/r(p0) - 1, has a delta-method
interval on the log scale, and P(improvement) = P(log ratio > 0) under its normal
approximation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

from app.analytics.arms import Interval, normal_quantile
from app.analytics.demand import DemandFit, Family, fit_demand
from app.analytics.elasticity import ElasticityFit, PriceArm, fit_elasticity
from app.analytics.srm import SrmResult

Objective = Literal["revenue", "margin"]
PriceEnding = Literal["none", ".99", ".95", ".00", "9", "99"]
Boundary = Literal["interior", "above_range", "below_range"]
Confidence = Literal["high", "medium", "low"]
ENDING_TOLERANCE = 0.01
SEARCH_POINTS = 4001  # prices searched on the fitted curve, evenly in log price


def _ending_candidates(price: float, ending: PriceEnding) -> list[float]:
    whole = math.floor(price)
    if ending == "none":
        return [price]
    if ending in (".99", ".95"):
        cents = 0.99 if ending == ".99" else 0.95
        return [k + cents for k in (whole - 1, whole, whole + 1)]
    if ending == ".00":
        return [float(k) for k in (whole - 1, whole, whole + 1)]
    step = 10 if ending == "9" else 100  # whole prices ending in 9 (29, 39) or 99 (199, 299)
    base = step * math.floor(price / step)
    return [float(base + d) for d in (-1, step - 1, 2 * step - 1)]


def apply_price_ending(
    price: float,
    ending: PriceEnding = "none",
    lower: float | None = None,
    upper: float | None = None,
) -> float:
    """Nearest price with the chosen ending, preferring candidates inside [lower, upper].

    ".99"/".95" -> k.99/k.95, ".00" -> whole units, "9" / "99" -> whole prices ending in
    9 / 99.
    A candidate may sit up to 1% past a bound (6.00 -> 5.99): that is rounding, not
    extrapolation, and beats jumping a whole unit away from the optimum.
    """
    lo = -math.inf if lower is None else lower * (1.0 - ENDING_TOLERANCE)
    hi = math.inf if upper is None else upper * (1.0 + ENDING_TOLERANCE)
    candidates = [round(c, 2) for c in _ending_candidates(price, ending) if c > 0]
    inside = [c for c in candidates if lo <= c <= hi]
    return min(inside or candidates, key=lambda c: (abs(c - price), c))


@dataclass(frozen=True)
class EndingRule:
    """Prices below `below` (and at or above the previous rule's bound) take `ending`."""

    below: float
    ending: PriceEnding


# Psychological price endings by price range, each step about a tenth of the price's
# magnitude or less, so rounding moves a price by at most about 5%: 4.99, 47.99, 149,
# 1,299.
DEFAULT_ENDINGS: tuple[EndingRule, ...] = (
    EndingRule(100.0, ".99"),
    EndingRule(1000.0, "9"),
    EndingRule(math.inf, "99"),
)


def ending_for(price: float, rules: Sequence[EndingRule]) -> PriceEnding:
    """The ending of the first rule whose range holds `price` ("none" past the last)."""
    return next((rule.ending for rule in rules if price < rule.below), "none")


def psychological_price(
    price: float,
    rules: Sequence[EndingRule] = DEFAULT_ENDINGS,
    lower: float | None = None,
    upper: float | None = None,
) -> float:
    """`price` with the ending its price range takes (see apply_price_ending)."""
    return apply_price_ending(price, ending_for(price, rules), lower, upper)


@dataclass(frozen=True)
class OptimalPrice:
    """The optimum within the tested range. `unconstrained` is the constant-elasticity
    closed form (may be 0 or inf); for other curves it is the price when interior and None
    when the optimum lies beyond the range (curves are not extrapolated)."""

    objective: Objective
    price: float
    unconstrained: float | None
    boundary: Boundary
    price_range: tuple[float, float]
    unconstrained_ci: Interval | None
    family: Family

    @property
    def within_tested_range(self) -> bool:
        return self.boundary == "interior"


def _constant_optimum(elasticity: float, objective: Objective, unit_cost: float) -> float:
    if elasticity >= -1.0:
        return math.inf  # revenue and margin both keep rising with price
    if objective == "revenue":
        return 0.0  # p^(1+e) with 1 + e < 0 falls with price
    return unit_cost * elasticity / (1.0 + elasticity)


def _margin_optimum_interval(fit: DemandFit, unit_cost: float, level: float) -> Interval:
    # p*(e) = c e / (1 + e) increases with e on e < -1 (derivative c / (1 + e)^2).
    e, half = float(fit.coef[1]), normal_quantile(0.5 + level / 2.0) * math.sqrt(fit.cov[1, 1])
    low = _constant_optimum(e - half, "margin", unit_cost)
    high = _constant_optimum(e + half, "margin", unit_cost)
    return Interval(low, high, level)


def optimal_price(
    fit: DemandFit,
    objective: Objective,
    unit_cost: float,
    price_range: tuple[float, float],
    level: float = 0.95,
) -> OptimalPrice:
    """Objective-maximising price on the fitted curve, searched within `price_range`."""
    lo, hi = price_range
    grid = np.exp(np.linspace(math.log(lo), math.log(hi), SEARCH_POINTS))
    best = int(np.argmax((grid - unit_cost) * fit.rate(grid)))
    boundary: Boundary = (
        "below_range" if best == 0 else "above_range" if best == len(grid) - 1 else "interior"
    )
    price = {"below_range": lo, "above_range": hi}.get(boundary, round(float(grid[best]), 2))
    unconstrained: float | None = price if boundary == "interior" else None
    ci = None
    if fit.family == "constant_elasticity":
        unconstrained = _constant_optimum(float(fit.coef[1]), objective, unit_cost)
        if objective == "margin":
            ci = _margin_optimum_interval(fit, unit_cost, level)
    return OptimalPrice(objective, price, unconstrained, boundary, price_range, ci, fit.family)


@dataclass(frozen=True)
class ObjectiveChange:
    """Relative change in revenue or margin per visitor vs the reference price."""

    estimate: float
    ci: Interval
    probability_of_improvement: float


def objective_change(
    fit: DemandFit,
    price: float,
    reference_price: float,
    unit_cost: float = 0.0,
    level: float = 0.95,
) -> ObjectiveChange:
    """((p - c)/(p0 - c)) r(p)/r(p0) - 1 with its interval and P(> 0); c = 0 for revenue."""
    if price == reference_price:
        return ObjectiveChange(0.0, Interval(0.0, 0.0, level), 0.0)
    margin_ratio = (price - unit_cost) / (reference_price - unit_cost)
    rates = fit.rate([price, reference_price])
    log_rate_ratio = math.log(rates[0] / rates[1])
    gradient = fit.log_rate_gradient(price) - fit.log_rate_gradient(reference_price)
    se = math.sqrt(max(float(gradient @ fit.cov @ gradient), 0.0))
    half = normal_quantile(0.5 + level / 2.0) * se

    def change(log_ratio: float) -> float:
        return margin_ratio * math.exp(log_ratio) - 1.0

    ends = sorted((change(log_rate_ratio - half), change(log_rate_ratio + half)))
    if margin_ratio <= 0.0:
        probability = 0.0
    else:
        log_change = math.log(margin_ratio) + log_rate_ratio
        probability = float(special.ndtr(log_change / se)) if se > 0 else float(log_change > 0)
    return ObjectiveChange(change(log_rate_ratio), Interval(ends[0], ends[1], level), probability)


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
    demand: DemandFit  # the curve used
    curves: tuple[DemandFit, ...]  # every curve fitted, the one used first


_LEVELS: tuple[Confidence, ...] = ("low", "medium", "high")
KEEP_CONTROL_BELOW = 0.8  # P(the interior optimum beats control) under which control stays


def _best_alternative(
    fit: DemandFit, arms: Sequence[PriceArm], control_price: float, unit_cost: float, level: float
) -> tuple[float, ObjectiveChange]:
    """The tested alternative most likely to beat control: evidence against the status quo."""
    changes = [
        (p, objective_change(fit, p, control_price, unit_cost, level))
        for p in sorted({arm.price for arm in arms} - {control_price})
    ]
    return max(changes, key=lambda pair: pair[1].probability_of_improvement)


def _confidence(
    probability_good: float,
    alpha: float,
    fit: DemandFit,
    srm: SrmResult | None,
    beyond_range: bool,
) -> Confidence:
    """high: change interval excludes 0; medium: P >= 0.8; low otherwise.

    Downgraded one level when the fitted curve fails its goodness-of-fit test; at most
    medium for a move to an end of the range beyond which the optimum lies; always low
    under a sample-ratio mismatch.
    """
    if srm is not None and srm.mismatch:
        return "low"
    rank = 2 if probability_good >= 1.0 - alpha / 2.0 else 1 if probability_good >= 0.8 else 0
    if fit.goodness_of_fit_p is not None and fit.goodness_of_fit_p < alpha:
        rank = max(0, rank - 1)
    if beyond_range:
        rank = min(rank, 1)
    return _LEVELS[rank]


def _curves_sentence(fit: DemandFit, curves: Sequence[DemandFit]) -> str:
    compared = ", ".join(f"{c.name} {c.aic:.1f}" for c in curves)
    return f"Demand curve: {fit.name}, chosen by AIC ({compared}; within 2 the simplest)."


def _optimum_sentence(optimum: OptimalPrice, fit: DemandFit) -> str:
    lo, hi = optimum.price_range
    what = optimum.objective
    if optimum.boundary == "interior":
        return (
            f"The {what}-maximising price on the {fit.name} curve, {optimum.price:.2f}, lies "
            f"inside the tested range {lo:.2f}-{hi:.2f}."
        )
    edge = hi if optimum.boundary == "above_range" else lo
    e = fit.elasticity(edge)
    if optimum.boundary == "above_range":
        why = (
            f"demand is inelastic at the highest tested price (elasticity {e:.2f} > -1)"
            if what == "revenue"
            else f"margin per visitor still rises at {hi:.2f} (elasticity {e:.2f})"
        )
        where = "above"
    else:
        why = f"{what} per visitor still rises as price falls to {lo:.2f} (elasticity {e:.2f})"
        where = "below"
    return (
        f"The {what} optimum lies {where} the tested prices ({lo:.2f}-{hi:.2f}), beyond the "
        f"tested range: {why}. The curve is not extrapolated; {edge:.2f} is the best tested end."
    )


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


@dataclass(frozen=True)
class _Choice:
    """The price chosen and the evidence for it."""

    price: float
    change: ObjectiveChange
    alternative: tuple[float, ObjectiveChange] | None
    optimum_change: ObjectiveChange | None  # when an interior optimum gave way to control


def _reasoning(
    elasticity: ElasticityFit,
    fit: DemandFit,
    curves: Sequence[DemandFit],
    optimum: OptimalPrice,
    choice: _Choice,
    control_price: float,
    srm: SrmResult | None,
) -> tuple[str, ...]:
    lines = [
        f"Elasticity of conversion {elasticity.elasticity:.2f} "
        f"({elasticity.ci.level:.0%} CI {elasticity.ci.lower:.2f} to {elasticity.ci.upper:.2f}) "
        f"from {elasticity.n_prices} arms (log-log fit).",
        _curves_sentence(fit, curves),
        _optimum_sentence(optimum, fit),
    ]
    if choice.optimum_change is not None:
        lines.append(
            f"The optimum {optimum.price:.2f} is not distinguishable from the control price: "
            f"P(it beats control) {choice.optimum_change.probability_of_improvement:.0%}."
        )
    elif choice.price != optimum.price:
        lines.append(f"Price ending applied: {optimum.price:.2f} -> {choice.price:.2f}.")
    lines.append(_change_sentence(optimum.objective, choice.price, control_price, choice.change))
    if choice.alternative is not None:
        lines.append(_alternative_sentence(optimum.objective, choice.alternative))
    if fit.goodness_of_fit_p is not None and fit.goodness_of_fit_p < 1.0 - elasticity.ci.level:
        lines.append(
            f"{fit.name.capitalize()} fit chi-square p={fit.goodness_of_fit_p:.3g}; "
            f"SE inflated x{math.sqrt(fit.dispersion):.2f} for lack of fit."
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
    fit: DemandFit,
    srm: SrmResult | None,
) -> tuple[str, ...]:
    steps: list[str] = []
    if srm is not None and srm.mismatch:
        steps.append("Fix traffic assignment (sample-ratio mismatch) and rerun before acting.")
    lo, hi = optimum.price_range
    beyond = optimum.boundary != "interior"
    if optimum.boundary == "above_range":
        steps.append(f"Test prices above {hi:.2f}; the optimum lies beyond the tested range.")
    elif optimum.boundary == "below_range":
        steps.append(f"Test prices below {lo:.2f}; the optimum lies beyond the tested range.")
    if fit.goodness_of_fit_p is not None and fit.goodness_of_fit_p < alpha:
        steps.append(f"Add price points: the {fit.name} curve does not fit the arms.")
    factor = None if price == control_price else _more_data_factor(probability, alpha)
    if confidence == "high" and price == control_price:
        steps.append(f"Keep the control price {control_price:.2f}; tested alternatives are worse.")
    elif confidence == "high":
        steps.append(f"Roll out {price:.2f} behind a holdout; monitor it with the sequential test.")
    elif beyond and price != control_price and probability >= 1.0 - alpha / 2.0:
        steps.append(
            f"Do not roll out {price:.2f} yet: it beats control, but the optimum lies beyond "
            "the tested prices; find it first."
        )
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


def _choose(
    fit: DemandFit,
    optimum: OptimalPrice,
    arms: Sequence[PriceArm],
    control_price: float,
    cost: float,
    endings: PriceEnding | Sequence[EndingRule],
    level: float,
) -> _Choice:
    """The optimum (with its ending); control instead when an interior optimum is not
    distinguishable from it; with the best tested alternative when control stays."""
    lo, hi = optimum.price_range
    if isinstance(endings, str):
        price = apply_price_ending(optimum.price, endings, lo, hi)
    else:
        price = psychological_price(optimum.price, endings, lo, hi)
    change = objective_change(fit, price, control_price, cost, level)
    given_way = None
    if optimum.within_tested_range and change.probability_of_improvement < KEEP_CONTROL_BELOW:
        price, given_way = control_price, change
        change = objective_change(fit, price, control_price, cost, level)
    alternative = (
        _best_alternative(fit, arms, control_price, cost, level) if price == control_price else None
    )
    return _Choice(price, change, alternative, given_way)


def recommend_price(
    arms: Sequence[PriceArm],
    control_index: int = 0,
    objective: Objective = "revenue",
    unit_cost: float = 0.0,
    ending: PriceEnding | Sequence[EndingRule] = "none",
    alpha: float = 0.05,
    srm: SrmResult | None = None,
) -> PriceRecommendation:
    """Recommend a price from price-test arms on the demand curve chosen by AIC.

    For revenue the unit cost is ignored. `ending` is one ending for every price or
    rules by price range (DEFAULT_ENDINGS). The recommended price stays within the
    tested range (price endings may round up to 1% past it); the confidence label
    comes from P(improvement) (or, when the control price is recommended, from
    P(the best tested alternative is better)).
    """
    cost = unit_cost if objective == "margin" else 0.0
    _validate_cost(arms, control_index, cost)
    level = 1.0 - alpha
    elasticity = fit_elasticity(arms, alpha)
    curves = tuple(fit_demand(arms))
    fit = curves[0]
    prices = [arm.price for arm in arms]
    optimum = optimal_price(fit, objective, cost, (min(prices), max(prices)), level)
    control_price = arms[control_index].price
    choice = _choose(fit, optimum, arms, control_price, cost, ending, level)
    good = (
        choice.change.probability_of_improvement
        if choice.alternative is None
        else 1.0 - choice.alternative[1].probability_of_improvement
    )
    beyond = not optimum.within_tested_range and choice.price != control_price
    confidence = _confidence(good, alpha, fit, srm, beyond)
    return PriceRecommendation(
        recommended_price=choice.price,
        control_price=control_price,
        objective=objective,
        expected_change=choice.change,
        confidence=confidence,
        reasoning=_reasoning(elasticity, fit, curves, optimum, choice, control_price, srm),
        next_steps=_next_steps(
            optimum, choice.price, control_price, confidence, good, alpha, fit, srm
        ),
        elasticity=elasticity,
        optimum=optimum,
        demand=fit,
        curves=curves,
    )
