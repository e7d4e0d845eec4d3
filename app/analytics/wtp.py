"""Willingness-to-pay surveys: Van Westendorp's price sensitivity meter (PSM) with the
Newton-Miller-Smith extension, and Gabor-Granger's buy-response curve.

Van Westendorp (1976, "NSS price sensitivity meter", ESOMAR congress) asks each respondent
four prices: too cheap (quality doubted), cheap (a bargain), expensive (getting expensive,
still considered) and too expensive (not considered). Four cumulative curves over price:
"too cheap" and "cheap" descend (share whose answer is at or above the price), "expensive"
and "too expensive" ascend (share whose answer is at or below it); "not cheap" = 1 - cheap,
"not expensive" = 1 - expensive. The price points are their intersections (the common
convention, as in the R package pricesensitivitymeter):

* PMC, point of marginal cheapness:      too cheap x not cheap      (lower end of the range)
* PME, point of marginal expensiveness:  too expensive x not expensive (upper end)
* OPP, optimal price point:              too cheap x too expensive
* IPP, indifference price point:         cheap x expensive
* acceptable range: [PMC, PME].

Only responses with too cheap < cheap < expensive < too expensive are used (the strict
order of pricesensitivitymeter's `validate`); the others are excluded and counted. Each
curve is evaluated at every answered price as a mid-distribution function (answers equal
to the price count half, so ascending and descending curves treat ties alike), joined
linearly between answered prices; an intersection is the first sign change of the
difference of two curves, interpolated linearly.

Newton, Miller and Smith (1993, "A market acceptance extension to traditional price
sensitivity measurement", AMA ART Forum) add purchase intent (5-point scale) at the
respondent's cheap and expensive prices. Intent is calibrated to a probability
(INTENT_CALIBRATION: 5 "definitely" 0.7, 4 0.5, 3 0.3, 2 0.1, 1 "definitely not" 0, the
package's default); each respondent's probability is 0 at too cheap and too expensive
(and outside them), the calibrated intents at cheap and expensive, linear in between.
Trial(p) is their mean, revenue(p) = p trial(p); the trial- and revenue-optimal prices
maximise them exactly on that piecewise-linear curve (pricesensitivitymeter searches
its price grid, interpolating by grid position rather than by price).

Gabor and Granger (1966, "Price as an indicator of quality", Economica) ask purchase
intent at prices along a ladder. Demand at a rung is the mean calibrated intent of the
respondents asked there; a respondent whose intent rises with price is inconsistent,
excluded and counted. The revenue- and profit-optimal prices are the rungs maximising
p D(p) and (p - unit cost) D(p): prices between rungs were not asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

INTENT_CALIBRATION = (0.7, 0.5, 0.3, 0.1, 0.0)  # intent 5, 4, 3, 2, 1
INTENT_SCALE = (5, 4, 3, 2, 1)

Floats = NDArray[np.float64]


def calibrate(intents: Sequence[int] | NDArray[np.int64], calibration: Sequence[float]) -> Floats:
    """Purchase probabilities of 5-point intents (5 -> calibration[0] ... 1 -> [4])."""
    table = np.asarray(calibration, dtype=float)
    codes = np.asarray(intents, dtype=int)
    if codes.size and (codes.min() < 1 or codes.max() > 5):
        raise ValueError("purchase intent is on a 1 to 5 scale")
    return table[5 - codes]


def _mid_share_at_or_above(answers: Floats, grid: Floats) -> Floats:
    """Share of answers above each grid price, those equal to it counted half."""
    ordered = np.sort(answers)
    below = np.searchsorted(ordered, grid, side="left")
    at_or_below = np.searchsorted(ordered, grid, side="right")
    return 1.0 - (below + at_or_below) / (2.0 * ordered.size)


def first_crossing(grid: Floats, falling: Floats, rising: Floats) -> float:
    """Price where `falling` - `rising` first reaches 0, interpolated between grid prices."""
    gap = falling - rising
    reached = np.flatnonzero(gap <= 0.0)
    if reached.size == 0:
        return float(grid[-1])
    k = int(reached[0])
    if k == 0 or gap[k] == 0.0:
        return float(grid[k])
    step = gap[k - 1] / (gap[k - 1] - gap[k])
    return float(grid[k - 1] + step * (grid[k] - grid[k - 1]))


@dataclass(frozen=True)
class PsmCurves:
    """The cumulative curves at every answered price (shares in [0, 1])."""

    prices: Floats
    too_cheap: Floats
    cheap: Floats
    expensive: Floats
    too_expensive: Floats

    @property
    def not_cheap(self) -> Floats:
        return 1.0 - self.cheap

    @property
    def not_expensive(self) -> Floats:
        return 1.0 - self.expensive


@dataclass(frozen=True)
class NmsResult:
    """Newton-Miller-Smith: trial (mean purchase probability) and revenue per respondent."""

    prices: Floats
    trial: Floats
    trial_optimal_price: float
    trial_at_optimum: float
    revenue_optimal_price: float
    revenue_at_optimum: float
    respondents: int

    @property
    def revenue(self) -> Floats:
        return self.prices * self.trial


@dataclass(frozen=True)
class PsmResult:
    respondents: int  # responses given
    excluded: int  # of them, inconsistent (not too cheap < cheap < expensive < too expensive)
    curves: PsmCurves
    marginal_cheapness: float
    marginal_expensiveness: float
    optimal_price: float
    indifference_price: float
    nms: NmsResult | None

    @property
    def acceptable_range(self) -> tuple[float, float]:
        return self.marginal_cheapness, self.marginal_expensiveness


def consistent_psm(answers: Floats) -> NDArray[np.bool_]:
    """Rows (too cheap, cheap, expensive, too expensive) in strictly increasing order."""
    return np.all(np.diff(answers, axis=1) > 0.0, axis=1)


def van_westendorp(
    answers: Sequence[Sequence[float]] | Floats,
    intents: Sequence[Sequence[int]] | NDArray[np.int64] | None = None,
    calibration: Sequence[float] = INTENT_CALIBRATION,
) -> PsmResult:
    """PSM of rows (too cheap, cheap, expensive, too expensive), with NMS when `intents`
    gives each row's (intent at cheap, intent at expensive) on the 5-point scale."""
    table = np.asarray(answers, dtype=float).reshape(-1, 4)
    valid = consistent_psm(table)
    if not valid.any():
        raise ValueError("no response has too cheap < cheap < expensive < too expensive")
    kept = table[valid]
    grid = np.unique(kept)
    share = [_mid_share_at_or_above(kept[:, i], grid) for i in range(4)]
    curves = PsmCurves(grid, share[0], share[1], 1.0 - share[2], 1.0 - share[3])
    nms = None
    if intents is not None:
        chosen = np.asarray(intents, dtype=int).reshape(-1, 2)[valid]
        nms = newton_miller_smith(kept, calibrate(chosen, calibration))
    return PsmResult(
        respondents=len(table),
        excluded=int((~valid).sum()),
        curves=curves,
        marginal_cheapness=first_crossing(grid, curves.too_cheap, curves.not_cheap),
        marginal_expensiveness=first_crossing(grid, curves.not_expensive, curves.too_expensive),
        optimal_price=first_crossing(grid, curves.too_cheap, curves.too_expensive),
        indifference_price=first_crossing(grid, curves.cheap, curves.expensive),
        nms=nms,
    )


def mean_piecewise_linear(knots: Floats, values: Floats) -> tuple[Floats, Floats]:
    """The mean of per-row piecewise-linear functions, zero at each row's first and last
    knot and outside them, exactly at the union of the knots: sums of slope changes,
    O(n log n) however many distinct prices there are."""
    slopes = np.diff(values, axis=1) / np.diff(knots, axis=1)
    padded = np.pad(slopes, ((0, 0), (1, 1)))  # slope 0 before the first and after the last
    kinks = np.diff(padded, axis=1)  # slope change at each knot
    grid, where = np.unique(knots, return_inverse=True)
    change = np.bincount(where.ravel(), weights=kinks.ravel(), minlength=grid.size)
    slope_after = np.cumsum(change)[:-1]
    total = np.concatenate([[0.0], np.cumsum(slope_after * np.diff(grid))])
    return grid, total / len(knots)


def best_on_segments(prices: Floats, shares: Floats, unit_cost: float = 0.0) -> tuple[float, float]:
    """Maximum of (p - c) s(p) with s linear between the given prices: each segment's
    quadratic peaks at an end or at its vertex p = (p_j + c)/2 - s_j/(2m) when m < 0."""
    candidates = list(prices)
    slope = np.diff(shares) / np.diff(prices)
    for j in np.flatnonzero(slope < 0.0):
        vertex = (prices[j] + unit_cost) / 2.0 - shares[j] / (2.0 * slope[j])
        if prices[j] < vertex < prices[j + 1]:
            candidates.append(float(vertex))
    at = np.asarray(candidates)
    objective = (at - unit_cost) * np.interp(at, prices, shares)
    best = int(np.argmax(objective))
    return float(at[best]), float(objective[best])


def newton_miller_smith(kept: Floats, probabilities: Floats) -> NmsResult:
    """Trial and revenue curves of consistent PSM rows with calibrated (cheap, expensive)
    purchase probabilities."""
    zeros = np.zeros(len(kept))
    values = np.column_stack([zeros, probabilities[:, 0], probabilities[:, 1], zeros])
    prices, trial = mean_piecewise_linear(kept, values)
    top = int(np.argmax(trial))
    revenue_price, revenue = best_on_segments(prices, trial)
    return NmsResult(
        prices=prices,
        trial=trial,
        trial_optimal_price=float(prices[top]),
        trial_at_optimum=float(trial[top]),
        revenue_optimal_price=revenue_price,
        revenue_at_optimum=revenue,
        respondents=len(kept),
    )


@dataclass(frozen=True)
class LadderAnswer:
    respondent: int
    price: float
    intent: int


@dataclass(frozen=True)
class GaborGrangerResult:
    respondents: int
    excluded: int  # intent rising with price somewhere on the respondent's ladder
    prices: Floats  # the rungs
    demand: Floats  # mean calibrated intent at each rung
    asked: NDArray[np.int64]  # consistent respondents asked at each rung
    unit_cost: float
    revenue_optimal_price: float
    profit_optimal_price: float | None  # None when no rung is above the unit cost

    @property
    def revenue(self) -> Floats:
        return self.prices * self.demand

    @property
    def profit(self) -> Floats:
        return (self.prices - self.unit_cost) * self.demand


def _inconsistent_respondents(
    who: NDArray[np.int64], price: Floats, intent: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Respondents whose intent rises somewhere as their price rises."""
    order = np.lexsort((price, who))
    who, intent = who[order], intent[order]
    same = who[1:] == who[:-1]
    return np.unique(who[1:][same & (intent[1:] > intent[:-1])])


def gabor_granger(
    answers: Sequence[LadderAnswer],
    unit_cost: float = 0.0,
    calibration: Sequence[float] = INTENT_CALIBRATION,
) -> GaborGrangerResult:
    """Demand, revenue and profit along the price ladder of the answers."""
    who = np.array([a.respondent for a in answers], dtype=np.int64)
    price = np.array([a.price for a in answers], dtype=float)
    intent = np.array([a.intent for a in answers], dtype=np.int64)
    bad = _inconsistent_respondents(who, price, intent)
    keep = ~np.isin(who, bad)
    if not keep.any():
        raise ValueError("every respondent's intent rises with price somewhere")
    rungs, where = np.unique(price[keep], return_inverse=True)
    asked = np.bincount(where, minlength=rungs.size)
    demand = np.bincount(where, calibrate(intent[keep], calibration), rungs.size) / asked
    margin = rungs - unit_cost
    profitable = margin > 0.0
    profit_price = (
        float(rungs[np.argmax(np.where(profitable, margin * demand, -np.inf))])
        if profitable.any()
        else None
    )
    return GaborGrangerResult(
        respondents=len(np.unique(who)),
        excluded=len(bad),
        prices=rungs,
        demand=demand,
        asked=asked,
        unit_cost=unit_cost,
        revenue_optimal_price=float(rungs[np.argmax(rungs * demand)]),
        profit_optimal_price=profit_price,
    )


def sample_curve(prices: Floats, values: Floats, at_most: int) -> tuple[Floats, Floats]:
    """At most `at_most` of a curve's points, evenly spread, both ends kept (for charts)."""
    if len(prices) <= at_most:
        return prices, values
    picks = np.unique(np.linspace(0, len(prices) - 1, at_most).round().astype(int))
    return prices[picks], values[picks]
