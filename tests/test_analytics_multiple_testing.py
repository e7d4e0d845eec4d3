"""Holm and Benjamini-Hochberg against published examples, scipy, and simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from app.analytics import (
    ProportionArm,
    adjust_p_values,
    bonferroni_alpha,
    compare_arms,
    two_proportion_z_test,
)

# Benjamini & Hochberg (1995), JRSS B 57:289, section 4 example (15 p-values).
BH_1995 = [
    0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
    0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000,
]  # fmt: skip


def test_holm_matches_wikipedia_four_hypothesis_example() -> None:
    # Wikipedia "Holm-Bonferroni method": p = 0.01, 0.04, 0.03, 0.005 at alpha 0.05
    # -> H1 and H4 rejected, H2 and H3 not.
    result = adjust_p_values([0.01, 0.04, 0.03, 0.005], alpha=0.05, method="holm")
    assert result.reject == (True, False, False, True)


def test_holm_adjusted_p_values_follow_the_step_down_formula() -> None:
    # Sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005, 3*0.01, max(2*0.03, .), max(1*0.04, .).
    result = adjust_p_values([0.01, 0.04, 0.03, 0.005])
    assert result.adjusted_p_values == pytest.approx((0.03, 0.06, 0.06, 0.02))


def test_benjamini_hochberg_rejects_four_in_the_1995_example() -> None:
    result = adjust_p_values(BH_1995, alpha=0.05, method="benjamini-hochberg")
    assert sum(result.reject) == 4
    assert all(result.reject[:4])


def test_holm_rejects_three_in_the_1995_example() -> None:
    # 0.0095 > 0.05/12, so the step-down stops after three rejections.
    assert sum(adjust_p_values(BH_1995, alpha=0.05, method="holm").reject) == 3


def test_benjamini_hochberg_matches_scipy_false_discovery_control() -> None:
    p = np.random.default_rng(0).uniform(size=40) ** 3
    result = adjust_p_values(p.tolist(), method="benjamini-hochberg")
    assert result.adjusted_p_values == pytest.approx(
        tuple(stats.false_discovery_control(p, method="bh"))
    )


def test_bonferroni_alpha_splits_the_level_evenly() -> None:
    assert bonferroni_alpha(0.05, 4) == pytest.approx(0.0125)


def test_out_of_range_p_values_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        adjust_p_values([0.2, 1.5])


def test_compare_arms_uses_simultaneous_intervals() -> None:
    control = ProportionArm(10_000, 1_000)
    arms = [ProportionArm(10_000, 1_050), ProportionArm(10_000, 1_150)]
    result = compare_arms(control, arms, two_proportion_z_test, alpha=0.05)
    single = two_proportion_z_test(control, arms[1], 0.05)
    assert result.correction.interval_level == pytest.approx(0.975)
    assert result.comparisons[1].absolute.ci.level == pytest.approx(0.975)
    assert result.comparisons[1].absolute.ci.lower < single.absolute.ci.lower
    assert result.comparisons[1].p_value == pytest.approx(single.p_value)


def test_holm_keeps_family_wise_error_at_alpha_with_three_null_arms() -> None:
    rng = np.random.default_rng(42)
    n, sims, any_false = 5_000, 2_000, 0
    conversions = rng.binomial(n, 0.08, size=(sims, 4))
    for row in conversions:
        control = ProportionArm(n, int(row[0]))
        arms = [ProportionArm(n, int(c)) for c in row[1:]]
        result = compare_arms(control, arms, two_proportion_z_test, alpha=0.05)
        any_false += any(result.correction.reject)
    # alpha plus two binomial standard errors; uncorrected would be ~0.12.
    assert any_false / sims <= 0.05 + 2 * 0.0049
