"""Fixed-horizon tests against published worked examples, scipy, and planted truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from app.analytics import MeanArm, ProportionArm, two_proportion_z_test, welch_t_test

# Student (1908) / Cushny & Peebles sleep data, as used in R's ?t.test example.
SLEEP_GROUP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_GROUP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_z_test_matches_freedman_pisani_purves_vitamin_c_example() -> None:
    # Freedman, Pisani & Purves, *Statistics*, ch. 28 (Pauling's skier trial):
    # colds 31/140 on placebo vs 17/139 on vitamin C -> z = 2.19, chi-square = 4.8.
    result = two_proportion_z_test(ProportionArm(139, 17), ProportionArm(140, 31))
    assert result.statistic == pytest.approx(2.19, abs=0.005)
    assert result.statistic**2 == pytest.approx(4.8, abs=0.05)


def test_z_test_p_value_equals_pearson_chi_square_without_correction() -> None:
    table = np.array([[17, 139 - 17], [31, 140 - 31]])
    chi2, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    result = two_proportion_z_test(ProportionArm(139, 17), ProportionArm(140, 31))
    assert result.statistic**2 == pytest.approx(chi2, rel=1e-12)
    assert result.p_value == pytest.approx(p_value, rel=1e-10)


def test_z_test_difference_interval_matches_newcombe_1998_wald_example() -> None:
    # Newcombe (1998) Stat. Med. 17:873, Table II example (a) 56/70 vs 48/80,
    # method 1 (simple asymptotic): +0.0575 to +0.3425.
    result = two_proportion_z_test(ProportionArm(80, 48), ProportionArm(70, 56))
    assert result.absolute.estimate == pytest.approx(0.2)
    assert result.absolute.ci.lower == pytest.approx(0.0575, abs=5e-5)
    assert result.absolute.ci.upper == pytest.approx(0.3425, abs=5e-5)


def test_z_test_relative_interval_is_delta_method() -> None:
    control, treatment = ProportionArm(10_000, 1_000), ProportionArm(10_000, 1_100)
    result = two_proportion_z_test(control, treatment)
    # Var(p_t/p_c) ~= var_t/(p_c^2 n_t) + var_c p_t^2/(p_c^4 n_c), computed by hand here.
    var = 0.11 * 0.89 / (0.1**2 * 10_000) + 0.1 * 0.9 * 0.11**2 / (0.1**4 * 10_000)
    assert result.relative is not None
    assert result.relative.estimate == pytest.approx(0.1)
    assert result.relative.std_error == pytest.approx(math.sqrt(var))
    assert result.relative.ci.upper - 0.1 == pytest.approx(1.959964 * math.sqrt(var), rel=1e-6)


def test_z_test_with_no_conversions_anywhere_has_no_evidence() -> None:
    result = two_proportion_z_test(ProportionArm(500, 0), ProportionArm(500, 0))
    assert result.p_value == 1.0
    assert result.relative is None
    assert math.isinf(result.absolute.ci.upper)


def test_welch_matches_r_t_test_sleep_example() -> None:
    # R ?t.test: t.test(extra ~ group, data = sleep) -> t = -1.8608, df = 17.776,
    # p-value = 0.07939, 95% CI -3.3654832 0.2054832 (group 1 minus group 2).
    result = welch_t_test(MeanArm.from_values(SLEEP_GROUP_2), MeanArm.from_values(SLEEP_GROUP_1))
    assert result.statistic == pytest.approx(-1.8608, abs=5e-5)
    assert result.df == pytest.approx(17.776, abs=5e-4)
    assert result.p_value == pytest.approx(0.07939, abs=5e-6)
    assert result.absolute.ci.lower == pytest.approx(-3.3654832, abs=5e-8)
    assert result.absolute.ci.upper == pytest.approx(0.2054832, abs=5e-8)


def test_welch_matches_published_r_output_for_small_integer_samples() -> None:
    # R output quoted on Cross Validated (Welch Two Sample t-test, ts1 vs ts2):
    # t = -1.8325, df = 17.9, p-value = 0.08356, CI -2.1469104 0.1469104.
    ts1 = [11, 9, 10, 11, 10, 12, 9, 11, 12, 9]
    ts2 = [11, 13, 10, 13, 12, 9, 11, 12, 12, 11]
    result = welch_t_test(MeanArm.from_values(ts2), MeanArm.from_values(ts1))
    assert result.statistic == pytest.approx(-1.8325, abs=5e-5)
    assert result.df == pytest.approx(17.9, abs=0.05)
    assert result.p_value == pytest.approx(0.08356, abs=5e-6)
    assert result.absolute.ci.lower == pytest.approx(-2.1469104, abs=5e-7)


def test_welch_from_counters_equals_scipy_on_raw_skewed_revenue() -> None:
    rng = np.random.default_rng(7)
    control = rng.lognormal(1.0, 1.2, size=1_500) * (rng.random(1_500) < 0.3)
    treatment = rng.lognormal(1.1, 1.0, size=900) * (rng.random(900) < 0.32)
    expected = stats.ttest_ind(treatment, control, equal_var=False)
    result = welch_t_test(MeanArm.from_values(control), MeanArm.from_values(treatment))
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-8)
    assert result.df == pytest.approx(expected.df, rel=1e-9)
    ci = expected.confidence_interval(0.95)
    assert (result.absolute.ci.lower, result.absolute.ci.upper) == pytest.approx(
        (ci.low, ci.high), rel=1e-9
    )


def test_welch_rejects_two_constant_arms() -> None:
    with pytest.raises(ValueError, match="zero variance"):
        welch_t_test(MeanArm.from_values([1.0, 1.0]), MeanArm.from_values([2.0, 2.0]))


def _counters(values: np.ndarray) -> MeanArm:
    return MeanArm(values.size, float(values.sum()), float((values**2).sum()))


def test_relative_interval_covers_planted_lift_95_percent_of_the_time() -> None:
    # Planted truth: revenue/visitor 5.0 -> 5.5 (+10%), skewed zero-inflated spend.
    rng = np.random.default_rng(11)
    n, sims, covered = 4_000, 1_000, 0
    for _ in range(sims):
        c = rng.exponential(25.0, n) * (rng.random(n) < 0.2)
        t = rng.exponential(27.5, n) * (rng.random(n) < 0.2)
        rel = welch_t_test(_counters(c), _counters(t)).relative
        assert rel is not None
        covered += rel.ci.contains(0.1)
    # 95% nominal; binomial SE over 1000 sims is 0.7 points.
    assert abs(covered / sims - 0.95) < 0.021


def test_relative_lift_is_positive_when_a_negative_margin_improves() -> None:
    # Margin per visitor -2.0 -> -1.0 is an improvement of half the baseline's size.
    control = MeanArm.from_values([-3.0, -1.0, -2.0, -2.0])
    treatment = MeanArm.from_values([-2.0, 0.0, -1.0, -1.0])
    result = welch_t_test(control, treatment)
    assert result.relative is not None
    assert result.relative.estimate == pytest.approx(0.5)
