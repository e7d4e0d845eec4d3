"""Sample-ratio mismatch against published examples and scipy.stats.chisquare."""

from __future__ import annotations

import pytest
from scipy import stats

from app.analytics import sample_ratio_mismatch


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
