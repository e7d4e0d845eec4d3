"""Optimal price, price endings and recommendations on planted demand curves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.analytics import (
    PriceArm,
    apply_price_ending,
    objective_change,
    recommend_price,
    sample_ratio_mismatch,
)
from app.analytics.demand import fit_demand
from app.analytics.pricing import DEFAULT_ENDINGS, EndingRule, PriceEnding, psychological_price

PRICES = (6.0, 8.0, 10.0, 12.0, 14.0)


def _arms(
    elasticity: float, n: int, seed: int, prices: tuple[float, ...] = PRICES
) -> list[PriceArm]:
    rng = np.random.default_rng(seed)
    rates = [0.10 * (p / 10.0) ** elasticity for p in prices]
    return [PriceArm(p, n, int(rng.binomial(n, r))) for p, r in zip(prices, rates, strict=True)]


def test_margin_optimum_follows_the_lerner_rule_on_planted_demand() -> None:
    # e = -2, unit cost 5: p* = c e / (1 + e) = 10, inside the tested range.
    arms = _arms(-2.0, 400_000, seed=1)
    rec = recommend_price(arms, control_index=0, objective="margin", unit_cost=5.0)
    assert rec.optimum.boundary == "interior"
    assert rec.recommended_price == pytest.approx(10.0, abs=0.4)
    assert rec.optimum.unconstrained_ci is not None
    assert rec.optimum.unconstrained_ci.contains(10.0)


def test_inelastic_revenue_optimum_is_reported_beyond_the_range_and_clamped() -> None:
    rec = recommend_price(_arms(-0.5, 200_000, seed=2), control_index=2, objective="revenue")
    assert rec.optimum.boundary == "above_range"
    assert math.isinf(rec.optimum.unconstrained)
    assert rec.recommended_price == 14.0
    assert any("beyond the tested range" in line for line in rec.reasoning)
    assert any("Test prices above 14.00" in step for step in rec.next_steps)


def test_expected_revenue_change_covers_the_planted_change() -> None:
    # Revenue per visitor scales as p^(1 + e): 10 -> 14 at e = -0.5 is +18.3%.
    rec = recommend_price(_arms(-0.5, 200_000, seed=3), control_index=2, objective="revenue")
    truth = (14.0 / 10.0) ** 0.5 - 1.0
    assert rec.expected_change.ci.contains(truth)
    assert rec.expected_change.estimate == pytest.approx(truth, abs=0.03)
    assert rec.expected_change.probability_of_improvement > 0.999


def test_inelastic_demand_is_no_high_confidence_roll_out_at_the_top_of_the_range() -> None:
    # 14 surely beats control, but revenue still rises there: the optimum is untested.
    rec = recommend_price(_arms(-0.5, 200_000, seed=3), control_index=2, objective="revenue")
    assert rec.recommended_price == 14.0
    assert rec.confidence == "medium"
    assert any("demand is inelastic at the highest tested price" in r for r in rec.reasoning)
    assert not any(step.startswith("Roll out") for step in rec.next_steps)
    assert rec.next_steps[-1].startswith("Do not roll out 14.00 yet")


def test_elastic_demand_keeps_the_lowest_tested_price() -> None:
    rec = recommend_price(_arms(-2.0, 200_000, seed=4), control_index=0, objective="revenue")
    assert rec.optimum.boundary == "below_range"
    assert rec.recommended_price == rec.control_price == 6.0
    assert rec.expected_change.estimate == 0.0
    assert rec.confidence == "high"


def test_small_samples_give_low_confidence() -> None:
    rec = recommend_price(_arms(-0.9, 300, seed=5, prices=(10.0, 11.0)), objective="revenue")
    assert rec.confidence == "low"
    assert any("Keep testing" in step for step in rec.next_steps)


def test_sample_ratio_mismatch_forces_low_confidence() -> None:
    srm = sample_ratio_mismatch([10_500, 9_500], [1, 1])
    rec = recommend_price(_arms(-0.5, 200_000, seed=3), control_index=2, srm=srm)
    assert rec.confidence == "low"
    assert rec.next_steps[0].startswith("Fix traffic assignment")


def test_recommendation_stays_within_rounding_of_the_tested_range() -> None:
    for seed, elasticity in enumerate((-3.0, -1.1, -0.9, -0.2)):
        for objective in ("revenue", "margin"):
            rec = recommend_price(
                _arms(elasticity, 50_000, seed), 2, objective, unit_cost=4.0, ending=".99"
            )
            # Price endings may round at most 1% past a tested bound (6.00 -> 5.99).
            assert 0.99 * min(PRICES) <= rec.recommended_price <= 1.01 * max(PRICES)


def test_probability_of_improvement_matches_the_interval() -> None:
    fit = fit_demand(_arms(-0.5, 200_000, seed=6))[0]
    change = objective_change(fit, 14.0, 10.0)
    # The change interval excludes 0 exactly when P(improvement) >= 1 - alpha/2.
    assert change.ci.lower > 0.0
    assert change.probability_of_improvement >= 0.975


@pytest.mark.parametrize(
    ("price", "ending", "expected"),
    [(10.37, ".99", 9.99), (10.37, ".95", 9.95), (12.4, ".00", 12.0), (47.0, "9", 49.0)],
)
def test_price_endings_round_to_the_nearest_allowed_price(
    price: float, ending: PriceEnding, expected: float
) -> None:
    assert apply_price_ending(price, ending) == expected


def test_price_ending_prefers_candidates_inside_the_tested_range() -> None:
    assert apply_price_ending(9.9, ".00", lower=8.0, upper=9.5) == 9.0


def test_price_ending_may_round_just_past_the_tested_range() -> None:
    assert apply_price_ending(6.0, ".99", lower=6.0, upper=14.0) == 5.99


def test_margin_needs_a_unit_cost_below_the_control_price() -> None:
    with pytest.raises(ValueError, match="below the control price"):
        recommend_price(_arms(-2.0, 10_000, seed=7), 0, "margin", unit_cost=6.0)


def _linear_arms(n: int, seed: int, prices: tuple[float, ...] = PRICES) -> list[PriceArm]:
    # Conversion 0.2 (1 - p/20): revenue per visitor 0.2 p (1 - p/20) peaks at p = 10,
    # where the elasticity -p/(20 - p) is -1; inelastic below, elastic above.
    rng = np.random.default_rng(seed)
    return [PriceArm(p, n, int(rng.binomial(n, 0.2 * (1 - p / 20)))) for p in prices]


def test_a_revenue_optimum_at_the_control_price_keeps_the_control_price() -> None:
    rec = recommend_price(_linear_arms(200_000, seed=8), control_index=2, objective="revenue")
    assert rec.demand.family != "constant_elasticity"
    assert rec.optimum.boundary == "interior"
    assert rec.optimum.price == pytest.approx(10.0, abs=0.5)
    assert rec.recommended_price == rec.control_price == 10.0
    assert rec.confidence == "high"  # both neighbours 8 and 12 are surely worse
    assert rec.next_steps[-1].startswith("Keep the control price 10.00")


def test_an_interior_optimum_away_from_control_is_recommended_inside_the_range() -> None:
    # Control at 6: the optimum 10 lies inside the range and beats control (+19% revenue).
    rec = recommend_price(_linear_arms(200_000, seed=9), control_index=0, objective="revenue")
    assert rec.optimum.boundary == "interior"
    assert 9.5 <= rec.recommended_price <= 10.5
    truth = (rec.recommended_price * (1 - rec.recommended_price / 20)) / (6 * 0.7) - 1
    assert rec.expected_change.ci.contains(truth)
    assert rec.confidence == "high"


def test_aic_prefers_the_constant_elasticity_curve_on_constant_elasticity_demand() -> None:
    chosen = [fit_demand(_arms(-1.5, 100_000, seed))[0].family for seed in range(20)]
    assert chosen.count("constant_elasticity") >= 17  # a curved fit must earn its parameter
    assert fit_demand(_linear_arms(100_000, seed=1))[0].family != "constant_elasticity"


@pytest.mark.parametrize(
    ("price", "expected"), [(4.37, 3.99), (47.3, 46.99), (152.0, 149.0), (1234.0, 1199.0)]
)
def test_default_endings_follow_the_price_range(price: float, expected: float) -> None:
    assert psychological_price(price) == expected


def test_endings_are_configurable_by_price_range() -> None:
    rules = (EndingRule(10.0, ".99"), EndingRule(100.0, "9"), EndingRule(math.inf, "99"))
    assert [psychological_price(p, rules) for p in (7.2, 47.3, 230.0)] == [6.99, 49.0, 199.0]
    assert psychological_price(47.3, (EndingRule(10.0, ".99"),)) == 47.3  # no rule: as is


def test_the_recommended_price_takes_its_ending_beside_the_unrounded_optimum() -> None:
    arms = _linear_arms(200_000, seed=9)
    rec = recommend_price(arms, control_index=0, objective="revenue", ending=DEFAULT_ENDINGS)
    assert rec.optimum.price == pytest.approx(10.0, abs=0.5)
    assert rec.recommended_price == psychological_price(rec.optimum.price, DEFAULT_ENDINGS)
    assert f"{rec.recommended_price:.2f}".endswith(".99")
    assert f"Price ending applied: {rec.optimum.price:.2f} -> {rec.recommended_price:.2f}." in (
        rec.reasoning
    )
