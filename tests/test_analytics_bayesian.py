"""Bayesian chance-to-beat and risk: closed forms, independent integration, calibration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from app.analytics import (
    GaussianPrior,
    MeanArm,
    ProportionArm,
    beta_binomial_comparison,
    gaussian_comparison,
    prob_beta_greater,
)
from app.analytics.bayesian import beta_expected_loss


def test_two_uniform_posteriors_tie_with_loss_one_sixth() -> None:
    # X, Y ~ U(0, 1): P(X > Y) = 1/2 and E[max(X - Y, 0)] = E|X - Y| / 2 = 1/6.
    assert prob_beta_greater(1, 1, 1, 1) == pytest.approx(0.5)
    assert beta_expected_loss(1, 1, 1, 1) == pytest.approx(1 / 6)


def test_beta_2_1_beats_uniform_two_thirds_of_the_time() -> None:
    # Density 2x: P(X > Y) = integral of 2x * x over [0, 1] = 2/3.
    assert prob_beta_greater(2, 1, 1, 1) == pytest.approx(2 / 3)


def test_chance_to_beat_matches_numerical_integration() -> None:
    a, b, c, d = 121, 880, 101, 900

    def integrand(x: float) -> float:
        return float(stats.beta.pdf(x, a, b) * stats.beta.cdf(x, c, d))

    expected, _ = integrate.quad(integrand, 0.0, 1.0, points=[0.1, 0.12], limit=200)
    assert prob_beta_greater(a, b, c, d) == pytest.approx(expected, abs=1e-9)


def test_chance_to_beat_swaps_to_the_cheaper_sum_without_changing_the_answer() -> None:
    # a > c takes the 1 - P(Y > X) branch; both must agree with integration.
    a, b, c, d = 5_001, 95_000, 4_801, 95_200
    assert prob_beta_greater(a, b, c, d) + prob_beta_greater(c, d, a, b) == pytest.approx(1.0)


def test_exact_results_agree_with_monte_carlo_on_large_counts() -> None:
    rng = np.random.default_rng(3)
    control, treatment = ProportionArm(50_000, 2_500), ProportionArm(50_000, 2_600)
    result = beta_binomial_comparison(control, treatment)
    draws_c = rng.beta(1 + 2_500, 1 + 47_500, size=1_000_000)
    draws_t = rng.beta(1 + 2_600, 1 + 47_400, size=1_000_000)
    assert result.chance_to_beat == pytest.approx(np.mean(draws_t > draws_c), abs=2e-3)
    loss_t = np.mean(np.maximum(draws_c - draws_t, 0.0))
    loss_c = np.mean(np.maximum(draws_t - draws_c, 0.0))
    assert result.expected_loss_treatment == pytest.approx(loss_t, rel=0.03)
    assert result.expected_loss_control == pytest.approx(loss_c, rel=0.01)
    lift = draws_t / draws_c - 1.0
    interval = result.credible_interval
    assert (interval.lower, interval.upper) == pytest.approx(
        tuple(np.quantile(lift, [0.025, 0.975])), abs=2e-3
    )


def test_beta_chance_to_beat_is_uniform_under_a_a() -> None:
    rng = np.random.default_rng(21)
    n = 2_000
    conversions = rng.binomial(n, 0.05, size=(1_500, 2))
    chances = np.array(
        [
            beta_binomial_comparison(
                ProportionArm(n, int(c)), ProportionArm(n, int(t))
            ).chance_to_beat
            for c, t in conversions
        ]
    )
    assert abs(chances.mean() - 0.5) < 0.025
    assert abs(np.mean(chances > 0.95) - 0.05) < 0.017
    assert stats.kstest(chances, "uniform").pvalue > 0.001


def test_gaussian_chance_to_beat_is_calibrated_against_planted_effects() -> None:
    # Draw true relative lifts from the prior, simulate data, and check that
    # among experiments reporting chance ~q, a fraction ~q truly had lift > 0.
    rng = np.random.default_rng(5)
    prior = GaussianPrior(mean=0.0, variance=0.02**2, proper=True)
    sims, n, base, sd = 4_000, 20_000, 10.0, 20.0
    lifts = rng.normal(0.0, 0.02, sims)
    chances = np.empty(sims)
    for i, lift in enumerate(lifts):
        mean_c, mean_t = rng.normal([base, base * (1 + lift)], sd / np.sqrt(n))
        var_c, var_t = sd**2 * rng.chisquare(n - 1, 2) / (n - 1)
        control = _arm(n, mean_c, var_c)
        treatment = _arm(n, mean_t, var_t)
        chances[i] = gaussian_comparison(control, treatment, prior).chance_to_beat
    for low, high in [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0)]:
        in_bin = (chances >= low) & (chances < high)
        assert in_bin.sum() > 200
        assert np.mean(lifts[in_bin] > 0) == pytest.approx(chances[in_bin].mean(), abs=0.05)


def _arm(n: int, mean: float, variance: float) -> MeanArm:
    total = mean * n
    return MeanArm(n, total, variance * (n - 1) + total**2 / n)


def test_flat_prior_chance_to_beat_is_one_minus_one_sided_p_value() -> None:
    control, treatment = _arm(800, 10.0, 16.0), _arm(800, 10.4, 20.0)
    result = gaussian_comparison(control, treatment, scale="absolute")
    z = 0.4 / np.sqrt(16.0 / 800 + 20.0 / 800)
    assert result.chance_to_beat == pytest.approx(stats.norm.cdf(z))
    assert "flat" in result.prior


def test_gaussian_expected_loss_matches_monte_carlo() -> None:
    control, treatment = _arm(800, 10.0, 16.0), _arm(800, 10.1, 16.0)
    result = gaussian_comparison(control, treatment, scale="absolute")
    draws = np.random.default_rng(1).normal(result.lift, 0.2, size=2_000_000)
    assert result.expected_loss_treatment == pytest.approx(np.mean(np.maximum(-draws, 0)), rel=0.01)
    assert result.expected_loss_control == pytest.approx(np.mean(np.maximum(draws, 0)), rel=0.01)


def test_proper_prior_shrinks_the_lift_towards_zero() -> None:
    control, treatment = _arm(200, 10.0, 100.0), _arm(200, 12.0, 100.0)
    flat = gaussian_comparison(control, treatment)
    shrunk = gaussian_comparison(control, treatment, GaussianPrior(0.0, 0.05**2, proper=True))
    assert 0.0 < shrunk.lift < flat.lift
    assert shrunk.credible_interval.upper - shrunk.credible_interval.lower < (
        flat.credible_interval.upper - flat.credible_interval.lower
    )
