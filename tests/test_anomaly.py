"""Anomaly detection on planted drops, spikes and clean seasonal series.

Rates are stated with their simulation size; clean series follow the same
generator as the planted ones, so seasonal swings alone must not raise alerts.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.analytics.anomaly import (
    churn_spikes,
    detect_anomalies,
    price_anomalies,
    revenue_drops,
    severity,
)

NOISE = 0.05  # 5 % month-to-month noise


def revenue(rng: np.random.Generator, n: int = 60, amplitude: float = 0.3) -> np.ndarray:
    """Growing revenue with a strong seasonal swing and multiplicative noise."""
    t = np.arange(n)
    phase = rng.uniform(0, 2 * np.pi)
    season = 1 + amplitude * np.sin(2 * np.pi * t / 12 + phase)
    return 1000 * (1 + 0.01 * t) * season * np.exp(rng.normal(0, NOISE, n))


def test_planted_30_percent_drop_is_found_in_at_least_90_percent_of_series() -> None:
    rng = np.random.default_rng(0)
    found = 0
    for _ in range(100):
        y = revenue(rng)
        i = int(rng.integers(0, y.size))
        y[i] *= 0.7
        found += i in [a.index for a in revenue_drops(y).anomalies]
    assert found >= 90


def test_planted_drop_reports_direction_expected_value_and_deviation() -> None:
    rng = np.random.default_rng(1)
    y = revenue(rng)
    clean = y[40]
    y[40] *= 0.7
    hits = [a for a in revenue_drops(y).anomalies if a.index == 40]
    assert len(hits) == 1
    hit = hits[0]
    assert hit.direction == "down" and hit.z < 0
    assert hit.expected == pytest.approx(clean, rel=3 * NOISE)
    assert hit.deviation_pct == pytest.approx(100 * (hit.actual / hit.expected - 1))
    assert hit.severity in ("low", "medium", "high")


def test_clean_seasonal_series_raise_few_false_alarms() -> None:
    """300 clean 36-month series: <= 0.3 % of points and <= 6 % of series flagged."""
    rng = np.random.default_rng(2)
    flagged_points = flagged_series = 0
    for _ in range(300):
        found = detect_anomalies(revenue(rng, n=36)).anomalies
        flagged_points += len(found)
        flagged_series += bool(found)
    assert flagged_points <= 0.003 * 300 * 36
    assert flagged_series <= 0.06 * 300


def test_large_seasonal_swings_alone_are_not_flagged() -> None:
    t = np.arange(48)
    y = (
        500
        * (1 + 0.6 * np.sin(2 * np.pi * t / 12))
        * np.exp(np.random.default_rng(3).normal(0, 0.01, 48))
    )
    assert detect_anomalies(y).anomalies == ()


def test_alerting_on_the_latest_month_finds_a_fresh_drop() -> None:
    rng = np.random.default_rng(4)
    found = 0
    for _ in range(50):
        y = revenue(rng)
        y[-1] *= 0.7
        latest = revenue_drops(y, last=1).anomalies
        found += len(latest) == 1 and latest[0].index == y.size - 1
    assert found >= 40


def test_latest_month_of_clean_series_is_rarely_flagged() -> None:
    rng = np.random.default_rng(5)
    alerts = sum(len(detect_anomalies(revenue(rng), last=1).anomalies) for _ in range(200))
    assert alerts <= 2


def test_churn_spike_is_flagged_up_and_ignored_by_drop_detection() -> None:
    rng = np.random.default_rng(6)
    churn = revenue(rng, amplitude=0.2) / 100
    churn[30] *= 1.5
    spikes = churn_spikes(churn).anomalies
    assert [a.index for a in spikes] == [30] and spikes[0].direction == "up"
    assert 30 not in [a.index for a in revenue_drops(churn).anomalies]


def test_price_anomalies_are_flagged_in_both_directions() -> None:
    rng = np.random.default_rng(7)
    price = 20 * np.exp(rng.normal(0, 0.01, 48))
    price[10] *= 1.25
    price[35] *= 0.8
    found = {a.index: a.direction for a in price_anomalies(price).anomalies}
    assert found == {10: "up", 35: "down"}


def test_deviations_below_min_change_are_not_reported() -> None:
    price = np.full(36, 10.0) * np.exp(np.random.default_rng(8).normal(0, 0.001, 36))
    price[20] *= 1.03  # highly unusual statistically, but only +3 %
    assert price_anomalies(price).anomalies == ()
    assert [a.index for a in price_anomalies(price, min_change=0.01).anomalies] == [20]


def test_series_with_zeros_is_scored_on_the_linear_scale() -> None:
    rng = np.random.default_rng(9)
    churn = rng.poisson(20, 48).astype(float)
    churn[5] = 0.0
    churn[40] = 80.0
    report = churn_spikes(churn)
    assert not report.log_scale
    assert np.all(np.isfinite(report.z))
    assert 40 in [a.index for a in report.anomalies]


def test_constant_series_gives_no_anomalies_and_no_nans() -> None:
    report = detect_anomalies(np.full(36, 7.0))
    assert report.anomalies == ()
    assert np.all(np.isfinite(report.z)) and np.all(np.isfinite(report.expected))


def test_short_series_are_not_scored_and_say_why() -> None:
    report = detect_anomalies([1.0, 2.0, 3.0])
    assert report.anomalies == () and report.warnings


def test_under_three_seasons_warns_that_detection_is_weak() -> None:
    report = detect_anomalies(revenue(np.random.default_rng(11), n=30))
    assert report.seasonal
    assert any("3 full seasons" in w for w in report.warnings)


def test_under_two_seasons_warns_that_seasonality_is_not_modelled() -> None:
    report = detect_anomalies(revenue(np.random.default_rng(10), n=20))
    assert not report.seasonal
    assert any("seasonality" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("z", "label"),
    [(3.4, None), (-3.5, "low"), (4.99, "low"), (5.0, "medium"), (-7.0, "high"), (12.0, "high")],
)
def test_severity_follows_the_robust_z_thresholds(z: float, label: str | None) -> None:
    assert severity(z) == label


def test_invalid_direction_and_non_finite_values_raise() -> None:
    with pytest.raises(ValueError):
        detect_anomalies(np.ones(30), direction="sideways")
    with pytest.raises(ValueError):
        detect_anomalies([1.0, float("inf")] * 10)
