"""Van Westendorp (with Newton-Miller-Smith) and Gabor-Granger against hand-worked examples
and planted distributions whose curve intersections have closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.analytics.wtp import (
    LadderAnswer,
    gabor_granger,
    mean_piecewise_linear,
    van_westendorp,
)


def test_two_respondents_give_the_price_points_worked_by_hand() -> None:
    # Curves at 10..50 (ties counted half): too cheap .75 .25 0 0 0, cheap 1 .75 .25 0 0,
    # expensive 0 0 .25 .75 1, too expensive 0 0 0 .25 .75. PMC: too cheap - not cheap
    # = .75, 0 -> 20; OPP: too cheap - too expensive = .75 .25 0 -> 30; IPP: 1 .75 0 -> 30;
    # PME: not expensive - too expensive = 1 1 .75 0 -> 40. The mean respondent answers
    # 15, 25, 35, 45, whose midpoints these are.
    result = van_westendorp([[10, 20, 30, 40], [20, 30, 40, 50]])
    assert result.marginal_cheapness == pytest.approx(20.0)
    assert result.optimal_price == pytest.approx(30.0)
    assert result.indifference_price == pytest.approx(30.0)
    assert result.marginal_expensiveness == pytest.approx(40.0)
    assert result.acceptable_range == pytest.approx((20.0, 40.0))
    assert list(result.curves.too_cheap) == [0.75, 0.25, 0.0, 0.0, 0.0]


def test_a_crossing_between_answered_prices_is_interpolated_linearly() -> None:
    # Three respondents. too cheap - not cheap (an answer at the price counts half):
    # 10: 5/6 - 0, 12: 1/2 - 0, 14: 1/6 - 0, 16: 0 - 1/6 (cheap 2/3 + 1/6): halfway, 15.
    result = van_westendorp([[10, 20, 30, 40], [12, 18, 32, 44], [14, 16, 34, 42]])
    gap = result.curves.too_cheap - result.curves.not_cheap
    assert list(result.curves.prices[:4]) == [10, 12, 14, 16]
    assert gap[:4] == pytest.approx([5 / 6, 1 / 2, 1 / 6, -1 / 6])
    assert result.marginal_cheapness == pytest.approx(15.0)
    # IPP: cheap - expensive at 20: cheap 1/6 (20 half), expensive 0 -> 1/6; at 30 -> -1/6
    # (cheap 0, expensive 1/6): halfway, 25.
    assert result.indifference_price == pytest.approx(25.0)


def test_planted_lognormal_answers_meet_at_their_closed_form_prices() -> None:
    # Answers are multiples a < b < c < d of a lognormal value v (median m): too cheap(p) =
    # P(a v > p) and too expensive(p) = P(d v < p) meet where ln(p/a) and ln(p/d) are
    # symmetric about ln m, p = m sqrt(a d); likewise PMC m sqrt(a b), IPP m sqrt(b c),
    # PME m sqrt(c d).
    rng = np.random.default_rng(7)
    m, (a, b, c, d) = 20.0, (0.5, 0.8, 1.25, 1.6)
    v = m * np.exp(0.25 * rng.standard_normal(40_000))
    answers = np.column_stack([a * v, b * v, c * v, d * v])
    inconsistent = answers[:700][:, [0, 2, 1, 3]]  # cheap and expensive swapped
    result = van_westendorp(np.vstack([answers, inconsistent]))
    assert (result.respondents, result.excluded) == (40_700, 700)
    assert result.marginal_cheapness == pytest.approx(m * math.sqrt(a * b), rel=0.01)
    assert result.optimal_price == pytest.approx(m * math.sqrt(a * d), rel=0.01)
    assert result.indifference_price == pytest.approx(m * math.sqrt(b * c), rel=0.01)
    assert result.marginal_expensiveness == pytest.approx(m * math.sqrt(c * d), rel=0.01)


def test_inconsistent_answers_are_excluded_and_counted() -> None:
    rows = [
        [10, 20, 30, 40],
        [20, 30, 40, 50],
        [30, 20, 40, 50],  # too cheap above cheap
        [10, 20, 20, 30],  # cheap equal to expensive: the order is strict
        [10, 20, 50, 40],  # expensive above too expensive
    ]
    result = van_westendorp(rows)
    assert (result.respondents, result.excluded) == (5, 3)
    assert result.optimal_price == pytest.approx(30.0)  # as the two consistent ones alone
    with pytest.raises(ValueError, match="no response"):
        van_westendorp(rows[2:])


def test_newton_miller_smith_optima_of_one_respondent_worked_by_hand() -> None:
    # Probability 0 at 5, 0.7 ("definitely", 5) at 10, 0.3 ("might", 3) at 20, 0 at 30.
    # Trial peaks at 10. Revenue on [10, 20]: p (0.7 - 0.04 (p - 10)) = 1.1 p - 0.04 p^2,
    # peak at p = 13.75 with 7.5625 (above 7 at 10 and 6 at 20).
    result = van_westendorp([[5, 10, 20, 30]], intents=[[5, 3]])
    nms = result.nms
    assert nms is not None
    assert (nms.trial_optimal_price, nms.trial_at_optimum) == pytest.approx((10.0, 0.7))
    assert nms.revenue_optimal_price == pytest.approx(13.75)
    assert nms.revenue_at_optimum == pytest.approx(7.5625)


def test_the_trial_curve_is_the_mean_of_each_respondents_interpolated_probability() -> None:
    rng = np.random.default_rng(3)
    base = rng.uniform(5, 50, 300)
    knots = np.sort(base[:, None] * rng.uniform(0.3, 3.0, (300, 4)), axis=1)
    values = np.column_stack([np.zeros(300), rng.uniform(0, 1, (300, 2)), np.zeros(300)])
    grid, mean = mean_piecewise_linear(knots, values)
    brute = np.mean(
        [np.interp(grid, k, v, left=0.0, right=0.0) for k, v in zip(knots, values, strict=True)],
        axis=0,
    )
    assert mean == pytest.approx(brute, abs=1e-9)


def test_nms_revenue_optimum_matches_a_dense_search() -> None:
    rng = np.random.default_rng(11)
    v = 30 * np.exp(0.3 * rng.standard_normal(100))
    answers = np.column_stack([0.5 * v, 0.8 * v, 1.2 * v, 1.7 * v])
    intents = rng.integers(1, 6, (100, 2))
    nms = van_westendorp(answers, intents).nms
    assert nms is not None
    calibration = np.array([0.0, 0.1, 0.3, 0.5, 0.7])  # intent 1..5
    dense = np.linspace(answers.min(), answers.max(), 100_001)
    trial = np.mean(
        [
            np.interp(dense, row, [0, calibration[i[0] - 1], calibration[i[1] - 1], 0], 0, 0)
            for row, i in zip(answers, intents, strict=True)
        ],
        axis=0,
    )
    revenue = dense * trial
    assert nms.revenue_optimal_price == pytest.approx(dense[np.argmax(revenue)], abs=5e-3)
    assert nms.revenue_at_optimum == pytest.approx(revenue.max(), rel=1e-6)


def _ladder(intents_by_respondent: list[list[int]], rungs: list[float]) -> list[LadderAnswer]:
    return [
        LadderAnswer(r, price, intent)
        for r, intents in enumerate(intents_by_respondent)
        for price, intent in zip(rungs, intents, strict=True)
    ]


def test_gabor_granger_demand_and_optima_worked_by_hand() -> None:
    # Calibrated intents 5, 4, 3, 2 -> demand .7 .5 .3 .1 at 10..40: revenue 7, 10, 9, 4
    # (optimum 20); profit at unit cost 15: -3.5, 2.5, 4.5, 2.5 (optimum 30).
    rungs = [10.0, 20.0, 30.0, 40.0]
    answers = _ladder([[5, 4, 3, 2]] * 3 + [[2, 4, 3, 1]], rungs)  # the last one rises
    result = gabor_granger(answers, unit_cost=15.0)
    assert (result.respondents, result.excluded) == (4, 1)
    assert list(result.demand) == pytest.approx([0.7, 0.5, 0.3, 0.1])
    assert list(result.asked) == [3, 3, 3, 3]
    assert result.revenue_optimal_price == 20.0
    assert result.profit_optimal_price == 30.0
    assert gabor_granger(answers, unit_cost=40.0).profit_optimal_price is None


def test_gabor_granger_recovers_the_optima_of_planted_uniform_demand() -> None:
    # Willingness to pay uniform on [0, 100], "yes" (5) up to it and "no" (1) above, with a
    # 0/1 calibration: D(p) = 1 - p/100. Revenue p D(p) peaks at 50; profit at cost 20,
    # (p - 20) D(p), at 60.
    rng = np.random.default_rng(5)
    wtp = rng.uniform(0, 100, 10_000)
    rungs = [float(p) for p in range(10, 100, 10)]
    answers = _ladder([[5 if p <= w else 1 for p in rungs] for w in wtp], rungs)
    result = gabor_granger(answers, unit_cost=20.0, calibration=(1.0, 0.75, 0.5, 0.25, 0.0))
    assert result.demand == pytest.approx([1 - p / 100 for p in rungs], abs=0.015)
    assert result.revenue_optimal_price == 50.0
    assert result.profit_optimal_price == 60.0
