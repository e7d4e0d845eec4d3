"""Elasticity recovered from arms generated with a known (planted) elasticity."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.analytics import PriceArm, fit_elasticity

PRICES = (8.0, 10.0, 12.0, 14.0)


def _arms(elasticity: float, n: int, rng: np.random.Generator) -> list[PriceArm]:
    # conversion(p) = 0.10 * (p / 10)^e, the constant-elasticity demand curve.
    rates = [0.10 * (p / 10.0) ** elasticity for p in PRICES]
    return [PriceArm(p, n, int(rng.binomial(n, r))) for p, r in zip(PRICES, rates, strict=True)]


def test_large_samples_recover_the_planted_elasticity_within_the_interval() -> None:
    fit = fit_elasticity(_arms(-1.5, 200_000, np.random.default_rng(3)))
    assert fit.ci.contains(-1.5)
    assert fit.elasticity == pytest.approx(-1.5, abs=0.1)


def test_interval_covers_the_planted_elasticity_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(9)
    covered = sum(fit_elasticity(_arms(-0.8, 20_000, rng)).ci.contains(-0.8) for _ in range(1_000))
    assert abs(covered / 1_000 - 0.95) < 0.021


def test_two_arms_give_the_arc_elasticity_with_delta_method_error() -> None:
    low, high = PriceArm(10.0, 5_000, 600), PriceArm(12.0, 5_000, 480)
    fit = fit_elasticity([low, high])
    span = math.log(12.0 / 10.0)
    assert fit.elasticity == pytest.approx(math.log(0.096 / 0.12) / span)
    se = math.sqrt((1 - 0.12) / 600 + (1 - 0.096) / 480) / span  # Var(log r) = (1 - r)/(n r)
    assert fit.std_error == pytest.approx(se)
    assert fit.goodness_of_fit_p is None


def test_fitted_curve_predicts_the_planted_conversion_rate() -> None:
    fit = fit_elasticity(_arms(-1.2, 500_000, np.random.default_rng(4)))
    assert fit.conversion_rate(11.0) == pytest.approx(0.10 * 1.1**-1.2, rel=0.02)


def test_curved_demand_fails_goodness_of_fit_and_widens_the_interval() -> None:
    # Linear (not constant-elasticity) demand with large samples.
    arms = [PriceArm(p, 200_000, int(200_000 * (0.30 - 0.02 * p))) for p in PRICES]
    fit = fit_elasticity(arms)
    assert fit.goodness_of_fit_p is not None and fit.goodness_of_fit_p < 0.001
    assert fit.se_scale > 1.0


def test_an_arm_without_conversions_is_rejected() -> None:
    with pytest.raises(ValueError, match="0 < conversions < n"):
        PriceArm(10.0, 1_000, 0)


def test_one_distinct_price_is_rejected() -> None:
    with pytest.raises(ValueError, match="two distinct prices"):
        fit_elasticity([PriceArm(10.0, 100, 5), PriceArm(10.0, 100, 6)])
