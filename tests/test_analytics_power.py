"""Sample size and power against R / JMP documented examples and by simulation."""

from __future__ import annotations

import numpy as np
import pytest

from app.analytics import (
    MeanArm,
    ProportionArm,
    power_mean,
    power_proportion,
    sample_size_mean,
    sample_size_proportion,
    two_proportion_z_test,
    welch_t_test,
)


def test_power_matches_r_power_prop_test_example() -> None:
    # R ?power.prop.test: power.prop.test(n = 50, p1 = .50, p2 = .75) => power = 0.740
    assert power_proportion(50, 0.50, 0.5) == pytest.approx(0.740, abs=5e-4)


def test_sample_size_matches_r_power_prop_test_example() -> None:
    # R ?power.prop.test: power.prop.test(p1 = .50, p2 = .75, power = .90) => n = 76.7
    plan = sample_size_proportion(0.50, 0.5, power=0.90)
    assert plan.n_per_arm_exact == pytest.approx(76.7, abs=0.05)
    assert plan.n_per_arm == 77


def test_sample_size_matches_jmp_two_proportion_example() -> None:
    # JMP 13.2 help, "Two Sample Proportions": p1 = 0.08, p2 = 0.06, alpha 0.05,
    # two-sided, power 0.8 -> 2554 per group.
    assert sample_size_proportion(0.06, 1 / 3, alpha=0.05, power=0.8).n_per_arm == 2554


def test_power_matches_r_power_t_test_example() -> None:
    # R ?power.t.test: power.t.test(n = 20, delta = 1) -> power = 0.8689528
    assert power_mean(20, 1.0, 1.0, 1.0) == pytest.approx(0.8689528, abs=5e-7)


def test_sample_size_matches_r_power_t_test_example() -> None:
    # R ?power.t.test: power.t.test(power = .90, delta = 1) -> n = 22.02110
    plan = sample_size_mean(1.0, 1.0, 1.0, power=0.90)
    assert plan.n_per_arm_exact == pytest.approx(22.02110, abs=5e-4)
    assert plan.n_per_arm == 23


def test_more_arms_split_alpha_and_need_more_units() -> None:
    two = sample_size_proportion(0.10, 0.10, n_arms=2)
    four = sample_size_proportion(0.10, 0.10, n_arms=4)
    assert four.alpha_per_comparison == pytest.approx(0.05 / 3)
    assert four.n_per_arm > two.n_per_arm
    assert four.n_total == four.n_per_arm * 4


def test_planned_proportion_sample_size_delivers_planned_power() -> None:
    plan = sample_size_proportion(0.10, 0.10, alpha=0.05, power=0.80)
    rng = np.random.default_rng(17)
    n = plan.n_per_arm
    conversions = rng.binomial(n, [plan.baseline, plan.treatment], size=(2_000, 2))
    # The plan is for the test of the difference (Fleiss), so its p-value is what counts.
    hits = [
        two_proportion_z_test(ProportionArm(n, int(c)), ProportionArm(n, int(t))).absolute.p_value
        < 0.05
        for c, t in conversions
    ]
    assert np.mean(hits) == pytest.approx(0.80, abs=0.04)


def test_planned_mean_sample_size_delivers_planned_power() -> None:
    # Revenue per visitor 20 with SD 30, +10% MDE.
    plan = sample_size_mean(20.0, 30.0, 0.10, alpha=0.05, power=0.80)
    rng = np.random.default_rng(23)
    n = plan.n_per_arm
    hits = 0
    for _ in range(2_000):
        values = rng.normal([[20.0], [22.0]], 30.0, size=(2, n))
        arms = [MeanArm(n, float(v.sum()), float((v**2).sum())) for v in values]
        hits += welch_t_test(arms[0], arms[1]).absolute.p_value < 0.05  # planned: difference
    assert hits / 2_000 == pytest.approx(0.80, abs=0.04)


def test_invalid_mde_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        sample_size_proportion(0.6, 0.8)
