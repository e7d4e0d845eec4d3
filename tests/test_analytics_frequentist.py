"""Fixed-horizon tests against published worked examples, scipy, and planted truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from app.analytics import (
    GaussianArm,
    MeanArm,
    ProportionArm,
    two_proportion_z_test,
    welch_t_test,
)
from app.analytics.arms import fieller_interval, t_quantile
from app.analytics.frequentist import Verdict

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
    assert result.absolute.p_value == pytest.approx(p_value, rel=1e-10)


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
    assert result.verdict.scale == "absolute"
    assert math.isinf(result.absolute.ci.upper)


def test_welch_matches_r_t_test_sleep_example() -> None:
    # R ?t.test: t.test(extra ~ group, data = sleep) -> t = -1.8608, df = 17.776,
    # p-value = 0.07939, 95% CI -3.3654832 0.2054832 (group 1 minus group 2).
    result = welch_t_test(MeanArm.from_values(SLEEP_GROUP_2), MeanArm.from_values(SLEEP_GROUP_1))
    assert result.statistic == pytest.approx(-1.8608, abs=5e-5)
    assert result.df == pytest.approx(17.776, abs=5e-4)
    assert result.absolute.p_value == pytest.approx(0.07939, abs=5e-6)
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
    assert result.absolute.p_value == pytest.approx(0.08356, abs=5e-6)
    assert result.absolute.ci.lower == pytest.approx(-2.1469104, abs=5e-7)


def test_welch_from_counters_equals_scipy_on_raw_skewed_revenue() -> None:
    rng = np.random.default_rng(7)
    control = rng.lognormal(1.0, 1.2, size=1_500) * (rng.random(1_500) < 0.3)
    treatment = rng.lognormal(1.1, 1.0, size=900) * (rng.random(900) < 0.32)
    expected = stats.ttest_ind(treatment, control, equal_var=False)
    result = welch_t_test(MeanArm.from_values(control), MeanArm.from_values(treatment))
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert result.absolute.p_value == pytest.approx(expected.pvalue, rel=1e-8)
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
    assert result.fieller is not None
    assert result.fieller.lower < 0.5 < result.fieller.upper


# gbstats' documented TwoSidedTTest example (packages/stats/tests/frequentist/test_tests.py):
# control mean 0.41, sd 3.9, n 3407; treatment mean 0.70, sd 6.2, n 3461.
GBSTATS_CONTROL = GaussianArm(3407, 0.41, 3.9**2)
GBSTATS_TREATMENT = GaussianArm(3461, 0.70, 6.2**2)


def test_relative_lift_and_its_p_value_match_gbstats_documented_example() -> None:
    # gbstats today: relative 0.70732, SE 0.37879, CI [-0.03526, 1.44989], p 0.06191.
    result = welch_t_test(GBSTATS_CONTROL, GBSTATS_TREATMENT)
    assert result.relative is not None
    assert result.relative.estimate == pytest.approx(0.70732, abs=5e-6)
    assert result.relative.std_error == pytest.approx(0.37879, abs=5e-6)
    assert result.relative.ci.lower == pytest.approx(-0.03526, abs=5e-6)
    assert result.relative.ci.upper == pytest.approx(1.44989, abs=5e-6)
    assert result.relative.p_value == pytest.approx(0.06191, abs=5e-6)


def test_absolute_lift_and_its_p_value_match_gbstats_earlier_absolute_example() -> None:
    # The same example when gbstats reported the difference: 0.29, CI [0.04538, 0.53462],
    # p 0.02016; the p-value 0.02 beside the relative interval crossing 0 is the mismatch.
    result = welch_t_test(GBSTATS_CONTROL, GBSTATS_TREATMENT)
    assert result.absolute.ci.lower == pytest.approx(0.04538, abs=5e-6)
    assert result.absolute.ci.upper == pytest.approx(0.53462, abs=5e-6)
    assert result.absolute.p_value == pytest.approx(0.02016, abs=5e-6)


def test_gbstats_example_is_judged_by_fieller_because_its_means_are_imprecise() -> None:
    # g = t^2 (SE/mean)^2 is 0.10 for the control: above 0.05 the delta method is not
    # trusted, and the verdict is Fieller's interval with the difference test's p-value.
    result = welch_t_test(GBSTATS_CONTROL, GBSTATS_TREATMENT)
    assert result.g == pytest.approx(1.9604**2 * 3.9**2 / 3407 / 0.41**2, rel=1e-3)
    assert not result.normal_approximation_trusted
    assert result.verdict.method == "fieller"
    assert result.verdict.scale == "relative"
    assert result.p_value == result.absolute.p_value
    assert result.significant and result.verdict.ci.lower > 0.0


def test_precise_means_are_judged_on_the_relative_scale_by_the_delta_method() -> None:
    control, treatment = ProportionArm(20_000, 2_000), ProportionArm(20_000, 2_150)
    result = two_proportion_z_test(control, treatment)
    assert result.normal_approximation_trusted
    assert result.relative is not None
    assert result.verdict == Verdict(
        "relative", "delta", result.relative.ci, result.relative.p_value
    )
    assert result.p_value == result.relative.p_value


@pytest.mark.parametrize(
    ("level", "lower", "upper"), [(0.90, 1.54, 2.64), (0.95, 1.46, 2.83), (0.99, 1.27, 3.36)]
)
def test_fieller_interval_matches_motulsky_graphpad_example(
    level: float, lower: float, upper: float
) -> None:
    # Motulsky's Fieller calculator (GraphPad QuickCalcs, from Intuitive Biostatistics):
    # A = 14 (SD 3, n 6) over B = 7 (SD 2, n 6), df 10: the ratio 2.00 and its intervals.
    critical = t_quantile(10, 0.5 + level / 2.0)
    interval = fieller_interval(GaussianArm(6, 7, 4), GaussianArm(6, 14, 9), critical, level)
    assert interval.lower + 1.0 == pytest.approx(lower, abs=0.005)
    assert interval.upper + 1.0 == pytest.approx(upper, abs=0.005)


def test_fieller_interval_is_unbounded_when_the_control_mean_may_be_zero() -> None:
    interval = fieller_interval(GaussianArm(10, 0.1, 1.0), GaussianArm(10, 1.0, 1.0), 2.0, 0.95)
    assert math.isinf(interval.lower) and math.isinf(interval.upper)


def test_significance_agrees_with_the_verdict_interval_on_every_input() -> None:
    rng = np.random.default_rng(3)
    for _ in range(2_000):
        n_c, n_t = (int(v) for v in rng.integers(20, 3_000, 2))
        control = ProportionArm(n_c, int(rng.integers(0, n_c // 4)))
        treatment = ProportionArm(n_t, int(rng.integers(0, n_t // 4)))
        for result in (
            two_proportion_z_test(control, treatment),
            welch_t_test(
                GaussianArm(n_c, *rng.gamma(2.0, 1.0, 2)), GaussianArm(n_t, *rng.gamma(2.0, 1.0, 2))
            ),
        ):
            if result.verdict.method == "difference" and result.method != "Welch t-test":
                continue  # pooled test beside the Wald interval: documented borderline gap
            assert result.significant == result.verdict.ci.excludes_zero, result


# Coverage with planted truth: 2,000 seeded replications; the bound is 4 binomial standard
# errors of a 95% coverage (4 x 0.49 points), so a correct interval cannot fail it.
REPLICATIONS = 2_000
BOUND = 4 * math.sqrt(0.95 * 0.05 / REPLICATIONS)


def _coverage(draw, true_lift: float, seed: int, test) -> tuple[float, float]:
    """Shares of replications whose verdict and delta-method intervals hold the lift."""
    rng = np.random.default_rng(seed)
    verdict = delta = 0
    for _ in range(REPLICATIONS):
        result = test(*draw(rng))
        verdict += result.verdict.ci.contains(true_lift)
        delta += result.relative.ci.contains(true_lift)
    return verdict / REPLICATIONS, delta / REPLICATIONS


def test_verdict_covers_the_planted_lift_at_twenty_conversions_per_arm() -> None:
    def draw(rng):
        return ProportionArm(1_000, int(rng.binomial(1_000, 0.02))), ProportionArm(
            1_000, int(rng.binomial(1_000, 0.024))
        )

    verdict, _ = _coverage(draw, 0.2, 5, two_proportion_z_test)
    assert abs(verdict - 0.95) < BOUND


def test_verdict_covers_heavy_tailed_revenue_where_the_delta_interval_falls_short() -> None:
    # 5% buyers at n = 1,000, lognormal spend (sigma 1.5), planted lift +20%.
    def draw(rng):
        arms = []
        for scale in (1.0, 1.2):
            values = scale * rng.lognormal(3.0, 1.5, 1_000) * (rng.random(1_000) < 0.05)
            arms.append(_counters(values))
        return arms

    verdict, delta = _coverage(draw, 0.2, 6, welch_t_test)
    assert abs(verdict - 0.95) < BOUND
    assert delta < 0.95 - BOUND
