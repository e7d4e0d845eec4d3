"""mSPRT / confidence sequences: formulas, and peeking simulations with planted truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

from app.analytics import (
    ProportionArm,
    mixing_rho,
    running_p_values,
    sample_ratio_mismatch,
    sequential_comparison,
    sequential_test,
    should_stop,
    two_proportion_z_test,
)

ALPHA = 0.05
SIMS, LOOKS, BATCH = 1_000, 100, 200  # 100 peeks, up to 20,000 units per arm


def _half_width(rho: float, n: float) -> float:
    v = n * rho * rho
    return math.sqrt((1 + v) / v * (math.log1p(v) - 2 * math.log(ALPHA)))


def test_tuning_parameter_puts_the_narrowest_sequence_at_n() -> None:
    n = 5_000.0
    best = optimize.minimize_scalar(
        lambda log_rho: _half_width(math.exp(log_rho), n), bounds=(-12, 2), method="bounded"
    )
    assert _half_width(mixing_rho(ALPHA, n), n) == pytest.approx(best.fun, rel=1e-4)


def test_likelihood_ratio_equals_johari_normal_mixture_formula() -> None:
    # Johari et al. (2022) two-stream mSPRT with known sigma^2, n per arm, mixing
    # N(0, tau^2): Lambda = sqrt(2s2/(2s2 + n tau2)) exp(n^2 tau2 D^2 / (4 s2 (2s2 + n tau2))).
    sigma2, n, diff = 4.0, 3_000, 0.12
    rho = mixing_rho(ALPHA, 5_000)
    tau2 = 4.0 * sigma2 * rho**2  # tau^2 = rho^2 * SE^2 * n_total
    expected = math.sqrt(2 * sigma2 / (2 * sigma2 + n * tau2)) * math.exp(
        n**2 * tau2 * diff**2 / (4 * sigma2 * (2 * sigma2 + n * tau2))
    )
    result = sequential_test(diff, math.sqrt(2 * sigma2 / n), 2 * n, ALPHA, 5_000)
    assert math.exp(result.log_likelihood_ratio) == pytest.approx(expected, rel=1e-12)


def test_sequence_excludes_zero_exactly_when_p_value_is_below_alpha() -> None:
    for estimate in np.linspace(-0.05, 0.05, 201):
        result = sequential_test(float(estimate), 0.01, 10_000, ALPHA, 5_000)
        assert result.ci.excludes_zero == (result.p_value <= ALPHA)


def test_sequence_is_wider_than_the_fixed_horizon_interval() -> None:
    result = sequential_test(0.01, 0.004, 10_000, ALPHA, 5_000)
    assert result.ci.upper - result.ci.lower > 2 * 1.96 * 0.004


def test_running_p_values_never_increase() -> None:
    assert running_p_values([0.9, 0.4, 0.6, 0.2, 0.3]) == (0.9, 0.4, 0.4, 0.2, 0.2)


def _cumulative_conversions(rate_c: float, rate_t: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    batches = rng.binomial(BATCH, [rate_c, rate_t], size=(SIMS, LOOKS, 2))
    return np.cumsum(batches, axis=1)


def _first_stop(conversions: np.ndarray) -> tuple[int, str] | None:
    for look in range(LOOKS):
        n = BATCH * (look + 1)
        control = ProportionArm(n, int(conversions[look, 0]))
        treatment = ProportionArm(n, int(conversions[look, 1]))
        result = sequential_comparison(control, treatment, ALPHA, tuning_n=2 * BATCH * LOOKS)
        decision = should_stop(result, [n, n])
        if decision.stop:
            return n, decision.reason
    return None


def _naive_ever_significant(conversions: np.ndarray) -> bool:
    for look in range(LOOKS):
        n = BATCH * (look + 1)
        pair = (
            ProportionArm(n, int(conversions[look, 0])),
            ProportionArm(n, int(conversions[look, 1])),
        )
        if two_proportion_z_test(*pair, ALPHA).significant:
            return True
    return False


@pytest.fixture(scope="module")
def a_a_paths() -> np.ndarray:
    return _cumulative_conversions(0.10, 0.10, seed=2024)


def test_false_positive_rate_stays_below_alpha_under_continuous_peeking(
    a_a_paths: np.ndarray,
) -> None:
    false_stops = sum(_first_stop(path) is not None for path in a_a_paths)
    # alpha plus two binomial standard errors (sqrt(.05 * .95 / 1000) = 0.0069).
    assert false_stops / SIMS <= ALPHA + 2 * 0.0069


def test_naive_fixed_horizon_peeking_inflates_false_positives(a_a_paths: np.ndarray) -> None:
    naive = sum(_naive_ever_significant(path) for path in a_a_paths) / SIMS
    assert naive > 3 * ALPHA


def test_sequential_test_stops_early_for_a_real_effect() -> None:
    paths = _cumulative_conversions(0.10, 0.115, seed=7)[:300]
    stops = [_first_stop(path) for path in paths]
    positive = [s for s in stops if s is not None and s[1] == "positive_effect"]
    assert len(positive) / len(paths) > 0.8
    assert np.median([n for n, _ in positive]) < BATCH * LOOKS


def test_confidence_sequence_covers_the_planted_effect_at_every_look() -> None:
    rng = np.random.default_rng(99)
    n_look = np.arange(1, LOOKS + 1) * BATCH
    missed = 0
    for _ in range(400):
        conv = np.cumsum(rng.binomial(BATCH, [0.10, 0.11], size=(LOOKS, 2)), axis=0)
        for look, n in enumerate(n_look):
            arms = (
                ProportionArm(int(n), int(conv[look, 0])),
                ProportionArm(int(n), int(conv[look, 1])),
            )
            if n >= 1_000 and not sequential_comparison(*arms, ALPHA, 40_000).ci.contains(0.01):
                missed += 1
                break
    assert missed / 400 <= ALPHA + 2 * 0.011


def test_relative_sequential_effect_uses_the_delta_method_scale() -> None:
    control, treatment = ProportionArm(20_000, 2_000), ProportionArm(20_000, 2_300)
    result = sequential_comparison(control, treatment, relative=True)
    assert result.estimate == pytest.approx(0.15)
    assert result.ci.lower > 0.0


def test_stop_rule_halts_on_sample_ratio_mismatch_first() -> None:
    result = sequential_test(0.0, 0.01, 2_000)
    srm = sample_ratio_mismatch([1_200, 800], [1, 1])
    decision = should_stop(result, [1_200, 800], srm=srm)
    assert decision.stop
    assert decision.reason == "sample_ratio_mismatch"


def test_stop_rule_waits_for_the_minimum_sample() -> None:
    result = sequential_test(1.0, 0.01, 100)
    decision = should_stop(result, [50, 50], min_n_per_arm=100)
    assert not decision.stop
    assert decision.reason == "too_few_units"


def test_stop_rule_ends_inconclusive_at_the_maximum_sample() -> None:
    result = sequential_test(0.0, 0.01, 40_000)
    decision = should_stop(result, [20_000, 20_000], max_n_total=40_000)
    assert decision.stop
    assert decision.reason == "max_sample_reached"


def test_stop_rule_flags_a_harmful_treatment() -> None:
    decision = should_stop(sequential_test(-0.05, 0.01, 40_000), [20_000, 20_000])
    assert decision.stop
    assert decision.reason == "negative_effect"
