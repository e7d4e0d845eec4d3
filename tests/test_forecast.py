"""Automatic ETS forecasting against planted ground truth.

Series are generated from known level, trend, seasonality and noise (fixed seeds);
tolerances are stated in units of the planted noise, never copied from output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.analytics.ets_select import candidate_specs, path_counts
from app.analytics.forecast import ForecastResult, forecast, forecast_many, point_forecast_many

N, H = 60, 12
T = np.arange(N + H)
NOISE_SD = 4.0
ADDITIVE_TRUTH = 200.0 + 1.0 * T + 20.0 * np.sin(2 * np.pi * T / 12)
NOISE_CV = 0.04
MULT_TRUTH = (100.0 + 5.0 * T) * (1.0 + 0.3 * np.sin(2 * np.pi * T / 12))


def additive_series(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    noisy = ADDITIVE_TRUTH + rng.normal(0.0, NOISE_SD, N + H)
    return noisy[:N], noisy[N:]


def multiplicative_series(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    noisy = MULT_TRUTH * (1.0 + rng.normal(0.0, NOISE_CV, N + H))
    return noisy[:N], noisy[N:]


def coverage(results: list[ForecastResult], futures: list[np.ndarray], level: float) -> float:
    inside = [
        (f >= r.lower(level)) & (f <= r.upper(level)) for f, r in zip(futures, results, strict=True)
    ]
    return float(np.mean(inside))


@pytest.fixture(scope="module")
def additive_200() -> tuple[list[ForecastResult], list[np.ndarray]]:
    """200 planted additive series, forecast once for the coverage tests."""
    rng = np.random.default_rng(10)
    pairs = [additive_series(rng) for _ in range(200)]
    return forecast_many([p[0] for p in pairs], H), [p[1] for p in pairs]


# --- planted additive and multiplicative series -----------------------------------------


def test_additive_seasonal_forecast_is_within_noise_of_the_noiseless_truth() -> None:
    history, _ = additive_series(np.random.default_rng(1))
    result = forecast(history, H)
    error = result.values - ADDITIVE_TRUTH[N:]
    assert np.mean(np.abs(error)) < 1.0 * NOISE_SD
    assert np.max(np.abs(error)) < 2.5 * NOISE_SD


def test_additive_seasonal_series_selects_a_trend_and_a_seasonal_component() -> None:
    histories = [additive_series(np.random.default_rng(s))[0] for s in range(10)]
    for result in forecast_many(histories, H):
        assert result.trend in ("additive", "damped")
        assert result.seasonality in ("additive", "multiplicative")


def test_multiplicative_seasonal_forecast_is_within_noise_of_the_noiseless_truth() -> None:
    history, _ = multiplicative_series(np.random.default_rng(2))
    result = forecast(history, H)
    relative = result.values / MULT_TRUTH[N:] - 1.0
    assert np.mean(np.abs(relative)) < 1.0 * NOISE_CV
    assert np.max(np.abs(relative)) < 2.5 * NOISE_CV


def test_multiplicative_seasonal_series_selects_multiplicative_season_and_trend() -> None:
    histories = [multiplicative_series(np.random.default_rng(s))[0] for s in range(10)]
    for result in forecast_many(histories, H):
        assert result.seasonality == "multiplicative"
        assert result.trend in ("additive", "damped")
        assert "simulat" in result.interval_method


def test_level_plus_noise_selects_no_trend_and_no_season() -> None:
    rng = np.random.default_rng(3)
    results = forecast_many([100.0 + rng.normal(0.0, 5.0, N) for _ in range(20)], H)
    plain = [r for r in results if r.trend == "none" and r.seasonality == "none"]
    assert len(plain) >= 18


def test_quarterly_period_is_configurable() -> None:
    rng = np.random.default_rng(4)
    t = np.arange(40)
    y = 50.0 + 10.0 * np.array([1.0, -0.5, -1.5, 1.0])[t % 4] + rng.normal(0.0, 1.0, 40)
    result = forecast(y, 8, period=4)
    assert result.seasonality != "none"
    assert len(result.initial_season) == 4
    truth = 50.0 + 10.0 * np.array([1.0, -0.5, -1.5, 1.0])[np.arange(40, 48) % 4]
    assert np.max(np.abs(result.values - truth)) < 3.0


# --- interval calibration -------------------------------------------------------------


def test_additive_95_percent_intervals_cover_about_95_percent_of_200_series(
    additive_200: tuple[list[ForecastResult], list[np.ndarray]],
) -> None:
    assert 0.90 <= coverage(*additive_200, 95) <= 0.99


def test_additive_80_percent_intervals_cover_about_80_percent_of_200_series(
    additive_200: tuple[list[ForecastResult], list[np.ndarray]],
) -> None:
    assert 0.72 <= coverage(*additive_200, 80) <= 0.88


def test_multiplicative_95_percent_intervals_cover_about_95_percent_of_200_series() -> None:
    rng = np.random.default_rng(12)
    pairs = [multiplicative_series(rng) for _ in range(200)]
    results = forecast_many([p[0] for p in pairs], H)
    assert 0.90 <= coverage(results, [p[1] for p in pairs], 95) <= 0.99


def test_additive_interval_width_never_shrinks_with_horizon() -> None:
    result = forecast(additive_series(np.random.default_rng(5))[0], 24, model="AAA")
    for level in result.levels:
        width = result.upper(level) - result.lower(level)
        assert np.all(np.diff(width) >= -1e-9)


def test_multiplicative_interval_is_wider_for_the_same_month_a_year_later() -> None:
    result = forecast(multiplicative_series(np.random.default_rng(6))[0], 24, model="MAM")
    width = result.upper(95) - result.lower(95)
    assert np.all(width[12:] > width[:12])


def test_wider_levels_give_nested_intervals() -> None:
    result = forecast(additive_series(np.random.default_rng(7))[0], H, levels=(50, 99))
    assert np.all(result.lower(99) <= result.lower(50))
    assert np.all(result.lower(50) <= result.values)
    assert np.all(result.values <= result.upper(50))
    assert np.all(result.upper(50) <= result.upper(99))


# --- damped trend ------------------------------------------------------------------------


def damped_series(rng: np.random.Generator, phi: float = 0.85) -> np.ndarray:
    """ETS(A,Ad,N) simulated from its state space form (FPP3 table 8.7)."""
    level, slope, out = 100.0, 6.0, []
    for _ in range(N):
        mean = level + phi * slope
        e = rng.normal(0.0, 1.5)
        out.append(mean + e)
        level, slope = mean + 0.3 * e, phi * slope + 0.05 * e
    return np.array(out)


def test_planted_damped_trend_is_selected() -> None:
    rng = np.random.default_rng(20)
    results = forecast_many([damped_series(rng) for _ in range(20)], H)
    assert sum(r.trend == "damped" for r in results) >= 16


def test_planted_damping_curve_recovers_phi() -> None:
    rng = np.random.default_rng(21)
    t = np.arange(1, N + 1)
    y = 100.0 + 40.0 * (1.0 - 0.9**t) + rng.normal(0.0, 1.0, N)
    result = forecast(y, H)
    assert result.trend == "damped"
    assert abs(result.params["phi"] - 0.9) < 0.05


# --- short, constant and zero series ----------------------------------------------------


def test_three_points_fall_back_to_random_walk_with_t_intervals() -> None:
    result = forecast([10.0, 12.0, 11.0], 6)
    assert result.model == "naive"
    assert np.all(result.values == 11.0)
    width = result.upper(95) - result.lower(95)
    assert np.all(np.diff(width) > 0)
    # sd of the two differences is sqrt(2.5); t with 2 df is far wider than the normal
    assert width[0] > 2 * 1.96 * math.sqrt(2.5)
    assert "random walk" in result.interval_method


def test_single_observation_gives_finite_intervals_and_says_they_are_assumed() -> None:
    result = forecast([42.0], 3)
    assert result.model == "naive"
    assert np.all(np.isfinite(result.upper(95)))
    assert any("single observation" in w for w in result.warnings)


def test_under_two_seasons_uses_non_seasonal_models_and_warns() -> None:
    y = additive_series(np.random.default_rng(8))[0][:18]
    result = forecast(y, H)
    assert result.seasonality == "none"
    assert any("2 full seasons" in w for w in result.warnings)


def test_all_zero_series_forecasts_zero_without_nans() -> None:
    result = forecast(np.zeros(36), H)
    assert result.model == "constant"
    assert np.all(result.values == 0.0)
    assert np.all(result.lower(95) == 0.0) and np.all(result.upper(95) == 0.0)


def test_constant_series_forecasts_the_constant_with_zero_width() -> None:
    result = forecast(np.full(36, 250.0), H)
    assert np.all(result.values == 250.0)
    assert np.all(result.upper(80) - result.lower(80) == 0.0)
    assert result.warnings


def test_intermittent_zeros_give_finite_non_negative_output() -> None:
    rng = np.random.default_rng(9)
    y = np.where(rng.random(48) < 0.6, 0.0, rng.poisson(5, 48).astype(float))
    result = forecast(y, H)
    for arr in (result.values, result.lower(95), result.upper(95)):
        assert np.all(np.isfinite(arr)) and np.all(arr >= 0.0)
    assert result.seasonality != "multiplicative"


def test_exactly_periodic_series_is_finite_and_flags_an_exact_fit() -> None:
    y = np.tile([0, 0, 0, 5, 0, 0, 0, 0, 3, 0, 0, 0], 3).astype(float)
    result = forecast(y, H)
    np.testing.assert_allclose(result.values, y[:12], atol=1e-6)
    assert any("exactly" in w for w in result.warnings)


# --- non-negativity ----------------------------------------------------------------------


def test_declining_non_negative_series_is_clipped_at_zero_and_says_so() -> None:
    rng = np.random.default_rng(13)
    y = np.maximum(60.0 - 2.0 * np.arange(30) + rng.normal(0.0, 2.0, 30), 0.5)
    result = forecast(y, 24)
    assert result.nonnegative and result.clipped
    assert np.all(result.lower(95) >= 0.0) and np.all(result.values >= 0.0)
    assert any("clipped" in w for w in result.warnings)


def test_series_with_negative_values_is_not_clipped() -> None:
    rng = np.random.default_rng(14)
    result = forecast(rng.normal(0.0, 1.0, 40), H)
    assert not result.nonnegative
    assert np.all(result.lower(95) < 0.0)


# --- API shape and consistency ---------------------------------------------------------


def test_records_carry_period_index_value_and_bounds_per_level() -> None:
    result = forecast(additive_series(np.random.default_rng(15))[0], 3)
    records = result.to_records()
    assert [r["period"] for r in records] == [N, N + 1, N + 2]
    assert set(records[0]) == {
        "period",
        "step",
        "value",
        "lower_80",
        "upper_80",
        "lower_95",
        "upper_95",
    }


def test_result_exposes_model_parameters_aicc_sigma_and_fitted_values() -> None:
    history = additive_series(np.random.default_rng(16))[0]
    result = forecast(history, H)
    assert result.model.startswith("ETS(")
    assert 0.0 < result.params["alpha"] < 1.0
    assert result.aicc is not None and result.aicc == min(result.candidates.values())
    assert len(result.fitted) == N
    np.testing.assert_allclose(np.array(result.fitted) + result.residuals, history)
    assert 0.5 * NOISE_SD < result.residual_sd < 1.5 * NOISE_SD


def test_a_series_gets_the_same_forecast_alone_or_in_a_batch() -> None:
    rng = np.random.default_rng(17)
    batch = [additive_series(rng)[0] for _ in range(2)] + [multiplicative_series(rng)[0]]
    together = forecast_many(batch, H)
    for y, res in zip(batch, together, strict=True):
        alone = forecast(y, H)
        assert alone.model == res.model
        np.testing.assert_allclose(alone.values, res.values, rtol=1e-6)
        np.testing.assert_allclose(alone.upper(95), res.upper(95), rtol=1e-6)


def test_point_forecasts_match_the_full_forecaster() -> None:
    rng = np.random.default_rng(18)
    batch = [additive_series(rng)[0], multiplicative_series(rng)[0], np.array([3.0, 4.0])]
    full = forecast_many(batch, H)
    points = point_forecast_many(batch, H)
    for res, pts in zip(full, points, strict=True):
        np.testing.assert_allclose(res.values, pts, rtol=1e-9)


def test_forced_model_is_used() -> None:
    result = forecast(additive_series(np.random.default_rng(19))[0], H, model="ANN")
    assert result.model == "ETS(A,N,N)"


def test_requested_model_unsuitable_for_one_series_of_a_batch_raises() -> None:
    rng = np.random.default_rng(22)
    good = additive_series(rng)[0]
    with pytest.raises(ValueError, match="series 1"):
        forecast_many([good, good - 300.0], H, model="MNM")


@pytest.mark.parametrize(
    ("series", "kwargs"),
    [
        ([1.0, float("nan"), 2.0], {}),
        ([], {}),
        ([1.0, 2.0, 3.0], {"levels": (0, 95)}),
        ([1.0, 2.0, 3.0], {"horizon": 0}),
        ([1.0, 2.0, 3.0], {"model": "XYZ"}),
        (list(range(-5, 40)), {"model": "MAM"}),
    ],
)
def test_invalid_input_raises_value_error(series: list[float], kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        forecast(series, **kwargs)  # type: ignore[arg-type]


# --- candidates and the Akaike-weighted combination -----------------------------------


def test_candidates_are_the_fifteen_models_of_the_r_forecast_defaults() -> None:
    """HKOS 15.1 and R forecast::ets: no multiplicative trend, no A error with M season."""
    codes = {spec.code for spec in candidate_specs(60, 12, positive=True)}
    trends, seasons = ("N", "A", "Ad"), ("N", "A", "M")
    expected = {f"M{t}{s}" for t in trends for s in seasons}
    expected |= {f"A{t}{s}" for t in trends for s in ("N", "A")}
    assert codes == expected
    assert all(c[0] == "A" for c in (s.code for s in candidate_specs(60, 12, positive=False)))


def test_weights_are_akaike_weights_of_the_reported_aicc() -> None:
    """w_i = exp(-(AICc_i - min) / 2) / sum (Burnham & Anderson 2002, eq. 2.14)."""
    history, _ = multiplicative_series(np.random.default_rng(5))
    result = forecast(history, H)
    aicc = np.array(list(result.candidates.values()))
    expected = np.exp(-0.5 * (aicc - aicc.min()))
    expected /= expected.sum()
    got = np.array([result.weights.get(code, 0.0) for code in result.candidates])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-300)
    assert result.model == f"ETS({','.join(_split(next(iter(result.candidates))))})"


def _split(code: str) -> tuple[str, str, str]:
    return code[0], code[1:-1], code[-1]


def test_forecast_is_the_weighted_mean_of_the_single_model_forecasts() -> None:
    history, _ = additive_series(np.random.default_rng(6))
    result = forecast(history, H)
    combined = sum(
        w * forecast(history, H, model=code).values for code, w in result.weights.items()
    )
    np.testing.assert_allclose(result.values, combined, rtol=1e-9)


def test_paths_are_shared_by_weight_with_largest_remainders() -> None:
    weights = np.array([[0.5, 0.3, 0.2], [0.45, 0.45, 0.1], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    # 7 paths: quotas 3.5/2.1/1.4 -> 3 2 1 + 1 to the largest remainder (0.5)
    counts = path_counts(weights, 7)
    np.testing.assert_array_equal(counts, [[4, 2, 1], [3, 3, 1], [7, 0, 0], [0, 0, 0]])
