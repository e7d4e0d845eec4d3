"""Rolling-origin back-testing: metric formulas on hand-computable examples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from app.analytics.backtest import (
    ets_forecaster,
    mase,
    mase_scale,
    origins,
    rolling_origin,
    seasonal_naive,
    seasonal_naive_forecaster,
    smape,
)


def test_smape_of_two_points_by_hand() -> None:
    # 200*10/210 = 9.5238..., 200*20/380 = 10.5263...; mean 10.0250...
    assert smape([100, 200], [110, 180]) == pytest.approx((2000 / 210 + 4000 / 380) / 2)


def test_smape_counts_zero_over_zero_as_zero_and_zero_against_nonzero_as_200() -> None:
    assert smape([0.0, 0.0], [0.0, 5.0]) == pytest.approx(100.0)


def test_smape_uses_absolute_values_in_the_denominator() -> None:
    assert smape([-10.0], [10.0]) == pytest.approx(200.0)


def test_mase_scale_is_the_in_sample_seasonal_naive_mae() -> None:
    # period 2: |2-1|, |4-3|, |3-2|, |5-4| -> 1
    assert mase_scale([1, 3, 2, 4, 3, 5], period=2) == pytest.approx(1.0)


def test_mase_of_a_forecast_by_hand() -> None:
    # MAE of (6 vs 5, 4 vs 5) = 1; scale (period 2) = 1
    assert mase([6, 4], [5, 5], [1, 3, 2, 4, 3, 5], period=2) == pytest.approx(1.0)
    # same errors against a history whose seasonal differences are 2 -> 0.5
    assert mase([6, 4], [5, 5], [0, 0, 2, 2, 4, 4], period=2) == pytest.approx(0.5)


def test_mase_falls_back_to_naive_scaling_when_history_is_short() -> None:
    # 3 points, period 12: naive differences |3-1|, |2-3| -> 1.5
    assert mase_scale([1, 3, 2], period=12) == pytest.approx(1.5)


def test_mase_is_nan_when_the_history_has_no_variation() -> None:
    assert np.isnan(mase([1.0], [2.0], [5.0] * 30, period=12))


def test_seasonal_naive_repeats_the_last_season() -> None:
    got = seasonal_naive(np.arange(1.0, 25.0), 14, period=12)
    np.testing.assert_array_equal(got, [*range(13, 25), 13, 14])


def test_seasonal_naive_uses_the_last_value_when_shorter_than_a_season() -> None:
    np.testing.assert_array_equal(seasonal_naive([4.0, 7.0], 3, period=12), [7.0, 7.0, 7.0])


def test_expanding_window_origins() -> None:
    assert origins(40, 6, 3, 24, None) == [24, 27, 30, 33]
    assert origins(40, 6, 3, 24, 2) == [30, 33]
    assert origins(20, 6, 3, 24, None) == []


def test_rolling_origin_passes_expanding_histories_to_the_forecaster() -> None:
    seen: list[int] = []

    def recorder(histories: Sequence[np.ndarray], horizon: int) -> list[np.ndarray]:
        seen.extend(h.size for h in histories)
        return [np.zeros(horizon) for _ in histories]

    report = rolling_origin([np.arange(40.0)], recorder, horizon=6, step=3, min_train=24, period=12)
    assert seen == [24, 27, 30, 33]
    assert report.n_forecasts == 4
    assert report.per_series[0].origins == 4


def test_a_perfect_forecaster_scores_zero() -> None:
    y = np.arange(1.0, 61.0) + 5 * np.sin(np.arange(60))

    def oracle(histories: Sequence[np.ndarray], horizon: int) -> list[np.ndarray]:
        return [y[h.size : h.size + horizon] for h in histories]

    report = rolling_origin([y], oracle, horizon=6, step=6)
    assert report.smape == 0.0 and report.mase == 0.0


def test_seasonal_naive_is_exact_on_a_purely_periodic_series() -> None:
    y = np.tile(np.arange(1.0, 13.0), 5)
    report = rolling_origin([y], seasonal_naive_forecaster(12), horizon=12, step=4)
    assert report.smape == 0.0


def test_aggregate_scores_are_means_over_series() -> None:
    rng = np.random.default_rng(0)
    series = [50 + rng.normal(0, s, 48) for s in (1.0, 5.0, 10.0)]
    report = rolling_origin(series, seasonal_naive_forecaster(12), horizon=6, step=6)
    assert report.smape == pytest.approx(np.mean([s.smape for s in report.per_series]))
    assert report.mase == pytest.approx(np.mean([s.mase for s in report.per_series]))
    assert len(report.smape_by_horizon) == 6


def test_undefined_mase_is_counted_and_left_out_of_the_mean() -> None:
    flat = np.full(40, 3.0)
    flat[-5:] = 4.0
    report = rolling_origin([flat], seasonal_naive_forecaster(12), horizon=3, min_train=30)
    # origins 30..37; training windows of length 30..35 are flat (scale 0)
    assert report.n_forecasts == 8
    assert report.n_mase_undefined == 6
    assert np.isfinite(report.per_series[0].mase)


def test_series_too_short_for_any_origin_are_reported_as_skipped() -> None:
    report = rolling_origin(
        [np.arange(10.0), np.arange(40.0)], seasonal_naive_forecaster(), horizon=6
    )
    assert report.skipped == (0,)
    assert [s.series for s in report.per_series] == [1]


def test_ets_beats_seasonal_naive_on_planted_trend_and_season() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(72)
    series = [
        100 + 1.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, 72) for _ in range(8)
    ]
    ours = rolling_origin(series, ets_forecaster(12), horizon=12, step=12, max_origins=2)
    base = rolling_origin(series, seasonal_naive_forecaster(12), horizon=12, step=12, max_origins=2)
    assert ours.mase < 0.6 * base.mase
