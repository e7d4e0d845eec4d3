"""Scoring maths against direct computations on planted data."""

from __future__ import annotations

import numpy as np

from app.analytics import scoring


def test_totals_are_the_weighted_average_of_the_scored_criteria_scaled_to_100():
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 11, size=(500, 4)).astype(float)
    scores[rng.random(scores.shape) < 0.2] = np.nan
    weights = np.array([1.0, 3.0, 2.0, 5.0])
    computed = scoring.totals(scores, weights)
    for row, total in zip(scores, computed.total, strict=True):
        scored = [(s, w) for s, w in zip(row, weights, strict=True) if not np.isnan(s)]
        if not scored:
            assert np.isnan(total)
            continue
        average = sum(s * w for s, w in scored) / sum(w for _, w in scored)
        assert total == int(10 * average + 0.5)


def test_contributions_and_the_neutral_fifty_add_up_to_the_unrounded_total():
    scores = np.array([[10.0, 0.0, 7.0]])
    weights = np.array([2.0, 1.0, 1.0])
    points = scoring.totals(scores, weights).contributions[0]
    assert 50 + points.sum() == 10 * (20 + 0 + 7) / 4
    positive, negative = scoring.top_contributions(points[None, :], 3)
    assert positive == [[0, 2]] and negative == [[1]]


def test_rules_score_bands_bounds_categories_and_keywords():
    values = scoring.numbers(["5", "", "abc", "1,500", "100%", "50"])
    assert np.array_equal(np.isnan(values), [False, True, True, False, False, False])
    bands = scoring.band_scores(values, [10, 100, 1000], [3, 6, 9], 1)
    assert bands.tolist() == [1, 1, 1, 9, 6, 3]
    linear = scoring.linear_scores(np.array([0, 25, 50, 125, np.nan]), 100, 0, 4)
    assert linear.tolist() == [10, 8, 5, 0, 4]  # high to low, clipped, 7.5 rounds up to 8
    cats = scoring.category_scores([" Gold", "SILVER", "tin"], {"gold": 9, "silver": 6}, 2)
    assert cats.tolist() == [9, 6, 2]
    words = scoring.keyword_scores(["Cloud SaaS vendor", "bakery", ""], {"saas": 7, "cloud": 9}, 0)
    assert words.tolist() == [9, 0, 0]


def test_tiers_take_the_highest_band_a_total_reaches():
    totals = np.array([100, 75, 74.0, 25, 24, 0, np.nan])
    assert scoring.tier_indices(totals, [75, 50, 25, 0]).tolist() == [0, 0, 1, 2, 3, 3, -1]


def test_auc_is_the_mann_whitney_probability_of_ranking_a_positive_higher():
    outcome = np.array([True, False, True, False])
    assert scoring.auc(outcome, np.array([0.9, 0.1, 0.8, 0.2])) == 1.0
    assert scoring.auc(outcome, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    assert scoring.auc(outcome, np.array([0.9, 0.8, 0.1, 0.2])) == 0.5


def test_a_planted_propensity_is_recovered_and_too_few_outcomes_refused():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3000, 3))
    truth = 1 / (1 + np.exp(-(1.5 * x[:, 0] - 1.0 * x[:, 1])))
    outcome = rng.random(3000) < truth
    x[rng.random(x.shape) < 0.05] = np.nan  # missing cells take the median
    fit = scoring.fit_propensity(x, outcome)
    assert abs(fit.auc - scoring.auc(outcome, truth)) < 0.02
    assert np.corrcoef(fit.scores(np.nan_to_num(x)), truth)[0, 1] > 0.9
    try:
        scoring.fit_propensity(x[:10], np.array([True] * 8 + [False] * 2))
    except scoring.CannotFit as refusal:
        assert "at least 5 of each" in str(refusal)
    else:
        raise AssertionError("fitted on two negatives")
