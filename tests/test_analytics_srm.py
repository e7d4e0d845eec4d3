"""Sample-ratio mismatch against published examples and scipy.stats.chisquare; the
anytime-valid version against scipy's Dirichlet-multinomial and by simulated peeking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from app.analytics import sample_ratio_mismatch
from app.analytics.srm import sequential_p_value


def test_wikipedia_600_400_example_gives_p_2_54e_10() -> None:
    # Wikipedia "Sample ratio mismatch": 1000 users, 50/50 plan, 600 vs 400.
    result = sample_ratio_mismatch([600, 400], [0.5, 0.5])
    assert result.p_value == pytest.approx(2.54e-10, rel=5e-3)
    assert result.mismatch


def test_44000_vs_45000_example_gives_p_0_0008() -> None:
    # srm.osc.garden worked example: 44,000 vs 45,000 on a 50/50 split -> p = 0.0008.
    result = sample_ratio_mismatch([44_000, 45_000], [1, 1])
    assert result.p_value == pytest.approx(0.0008, abs=5e-5)
    assert result.mismatch


def test_kohavi_tang_xu_example_gives_p_1_8e_6() -> None:
    # Kohavi, Tang & Xu (2020) *Trustworthy Online Controlled Experiments*, ch. 3:
    # 821,588 control vs 815,482 treatment users on a 50/50 design -> p = 1.8e-6.
    result = sample_ratio_mismatch([821_588, 815_482], [1, 1])
    assert result.p_value == pytest.approx(1.8e-6, abs=5e-8)


def test_unequal_three_way_split_matches_scipy_chisquare() -> None:
    observed, weights = [10_120, 4_950, 4_930], [0.5, 0.25, 0.25]
    expected = [sum(observed) * w for w in weights]
    reference = stats.chisquare(observed, expected)
    result = sample_ratio_mismatch(observed, weights)
    assert result.chi_square == pytest.approx(reference.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-10)
    assert result.df == 2


def test_imbalance_with_p_between_0_001_and_0_05_is_not_flagged() -> None:
    result = sample_ratio_mismatch([5_000, 5_200], [1, 1])
    assert 0.001 < result.p_value < 0.05
    assert not result.mismatch


def test_units_in_a_zero_weight_arm_are_a_mismatch() -> None:
    result = sample_ratio_mismatch([1_000, 990, 3], [1, 1, 0])
    assert result.p_value == 0.0
    assert result.mismatch


def test_no_units_yet_is_not_a_mismatch() -> None:
    assert sample_ratio_mismatch([0, 0], [1, 1]).p_value == 1.0


def test_weights_must_match_arms() -> None:
    with pytest.raises(ValueError, match="one planned weight per arm"):
        sample_ratio_mismatch([1, 2, 3], [1, 1])


# -- anytime-valid (sequential) SRM ------------------------------------------------------


def test_sequential_p_is_the_inverse_bayes_factor_of_the_dirichlet_multinomial_mixture():
    """1/BF = P(x | planned split) / P(x | Dirichlet(100 * split) mixture), the pmfs taken
    from scipy: beta-binomial for two arms, Dirichlet-multinomial for three."""
    two = [600, 400]
    bf = stats.betabinom.pmf(600, 1000, 50, 50) / stats.binom.pmf(600, 1000, 0.5)
    assert sequential_p_value(two, [1, 1]) == pytest.approx(1 / bf, rel=1e-9)

    three, split = [2_100, 950, 950], np.array([0.5, 0.25, 0.25])
    mixture = stats.dirichlet_multinomial.pmf(three, 100 * split, 4_000)
    assert sequential_p_value(three, [2, 1, 1]) == pytest.approx(
        stats.multinomial.pmf(three, 4_000, split) / mixture, rel=1e-9
    )


def test_sequential_p_is_reported_with_the_chi_square_and_is_more_cautious():
    result = sample_ratio_mismatch([44_000, 45_000], [1, 1])
    assert result.mismatch and not result.sequential_mismatch  # one look's p = 0.0008
    assert result.sequential_p_value > result.p_value
    assert sample_ratio_mismatch([600, 400], [1, 1]).sequential_mismatch
    assert sequential_p_value([1_000, 990, 3], [1, 1, 0]) == 0.0
    assert sequential_p_value([0, 0], [1, 1]) == 1.0


def peeked(true_share: float, runs: int, looks: int, step: int, seed: int) -> np.ndarray:
    """Control's cumulative count at each look of `runs` simulated 50/50 experiments."""
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.binomial(step, true_share, size=(runs, looks)), axis=1)


def test_checking_after_every_100_units_keeps_false_alarms_under_alpha():
    """Under a correct split, looking 100 times: the anytime-valid check stays under its
    alpha, while the one-look chi-square at the same alpha is fooled several times over."""
    alpha, step = 0.05, 100
    control = peeked(0.5, runs=1_000, looks=100, step=step, seed=7)
    sequential_alarms = chi_square_alarms = 0
    for run in control:
        seq = chi = False
        for look, c in enumerate(run, start=1):
            counts = [int(c), look * step - int(c)]
            seq = seq or sequential_p_value(counts, [1, 1]) < alpha
            chi = chi or sample_ratio_mismatch(counts, [1, 1]).p_value < alpha
        sequential_alarms += seq
        chi_square_alarms += chi
    assert sequential_alarms / 1_000 <= alpha + 3 * (alpha * (1 - alpha) / 1_000) ** 0.5
    assert chi_square_alarms / 1_000 > 3 * alpha


def test_a_planted_52_48_split_is_caught_by_30000_units():
    control = peeked(0.52, runs=300, looks=1, step=30_000, seed=11)[:, 0]
    caught = [sequential_p_value([int(c), 30_000 - int(c)], [1, 1]) < 0.001 for c in control]
    assert np.mean(caught) >= 0.95
