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
    net_churn,
    price_anomalies,
    revenue_drops,
    revenue_per_subscription_anomalies,
    severity,
    subscription_churn_spikes,
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


def _noiseless(kind: str) -> np.ndarray:
    t = np.arange(48, dtype=float)
    if kind == "constant":
        return np.full(48, 100.0)
    if kind == "linear trend":  # on the linear scale: it crosses zero
        return 2.0 * t - 30.0
    # Exact log-linear trend times a fixed seasonal profile: the model fits it exactly.
    profile = 1 + 0.3 * np.sin(2 * np.pi * np.arange(12) / 12)
    return 1000 * 1.01**t * profile[t.astype(int) % 12]


@pytest.mark.parametrize("kind", ["constant", "linear trend", "seasonal trend"])
def test_noiseless_series_score_a_planted_drop_negative_and_a_spike_positive(kind: str) -> None:
    clean = _noiseless(kind)
    y = clean.copy()
    y[20] -= 0.3 * abs(clean[20]) + 5  # away from zero, so the change is material
    y[33] += 0.3 * abs(clean[33]) + 5
    report = detect_anomalies(y)
    found = {a.index: a for a in report.anomalies}
    assert set(found) == {20, 33}
    assert found[20].z < 0 and found[20].direction == "down"
    assert found[33].z > 0 and found[33].direction == "up"
    assert found[20].severity == found[33].severity == "high"
    assert found[20].expected == pytest.approx(clean[20], rel=1e-6, abs=1e-6)
    assert found[33].expected == pytest.approx(clean[33], rel=1e-6, abs=1e-6)
    others = np.delete(np.asarray(report.z), [20, 33])
    assert np.all(np.abs(others) < 1)


def subscription_curve(
    phase: float, n: int = 48, growth: float = 0.02, amplitude: float = 0.1
) -> np.ndarray:
    """Steadily growing (or shrinking) subscriptions with a seasonal swing."""
    t = np.arange(n)
    return 1000 * (1 + growth) ** t * (1 + amplitude * np.sin(2 * np.pi * t / 12 + phase))


def subscriptions(rng: np.random.Generator, n: int = 48, growth: float = 0.02) -> np.ndarray:
    """A subscription curve of random phase with 1 % noise."""
    curve = subscription_curve(rng.uniform(0, 2 * np.pi), n, growth)
    return curve * np.exp(rng.normal(0, 0.01, n))


def test_net_churn_is_the_share_of_last_months_subscriptions_lost() -> None:
    assert net_churn([100.0, 90.0, 99.0]) == pytest.approx([0.10, -0.10])


def test_planted_churn_spike_is_found_at_its_month_with_the_usual_churn_expected() -> None:
    """50 series: 15 % of the subscriptions leave in one month, and stay gone."""
    rng = np.random.default_rng(12)
    for _ in range(50):
        clean = subscription_curve(rng.uniform(0, 2 * np.pi))
        s = clean * np.exp(rng.normal(0, 0.01, clean.size))
        month = int(rng.integers(13, s.size))
        usual = net_churn(clean)[month - 1]  # what trend and season alone would lose
        s[month:] *= 0.85
        [spike] = subscription_churn_spikes(s)
        assert spike.index == month and spike.direction == "up" and spike.z > 0
        assert spike.actual == pytest.approx(net_churn(s)[month - 1])
        assert spike.expected == pytest.approx(usual, abs=0.03)  # 3 sd of its error
        assert spike.deviation_pct is None


@pytest.mark.parametrize("growth", [0.03, 0.0, -0.03])
def test_steady_trends_and_seasons_raise_few_churn_spikes(growth: float) -> None:
    """200 series per trend: at most 2 % of them flagged anywhere."""
    rng = np.random.default_rng(13)
    flagged = sum(
        bool(subscription_churn_spikes(subscriptions(rng, growth=growth))) for _ in range(200)
    )
    assert flagged <= 4


def test_a_small_unusual_churn_is_not_material() -> None:
    s = 1000 * 1.01 ** np.arange(36)  # noiseless: any deviation is unusual
    s[30:] *= 0.99  # one point of the base lost beyond the trend
    assert subscription_churn_spikes(s) == ()
    assert [a.index for a in subscription_churn_spikes(s, min_excess=0.005)] == [30]


def test_churn_is_scored_from_after_the_last_month_without_subscriptions() -> None:
    rng = np.random.default_rng(14)
    s = subscriptions(rng, n=40)
    s[:4] = 0.0  # launched in month 4
    s[35:] *= 0.8
    assert [a.index for a in subscription_churn_spikes(s)] == [35]


def test_planted_price_jump_is_found_in_revenue_per_subscription() -> None:
    """50 series: average revenue per subscription 20 % up (or down) in one month."""
    rng = np.random.default_rng(15)
    for i in range(50):
        s = np.round(subscriptions(rng))
        t = np.arange(s.size)
        price = 2000 * (1 + 0.005 * t) * (1 + 0.1 * np.sin(2 * np.pi * t / 12))
        revenue = s * price * np.exp(rng.normal(0, 0.01, s.size))
        month = int(rng.integers(0, s.size))
        factor = 1.2 if i % 2 else 0.8
        revenue[month] *= factor
        [jump] = revenue_per_subscription_anomalies(revenue, s)
        assert jump.index == month and jump.direction == ("up" if factor > 1 else "down")
        # About 4 sd of the errors: 1 % noise on the month, 0.75 % on its expected value.
        assert jump.expected == pytest.approx(price[month], rel=0.03)
        assert jump.deviation_pct == pytest.approx(100 * (factor - 1), abs=6)


def test_seasonal_prices_and_churn_alone_raise_no_price_anomaly() -> None:
    rng = np.random.default_rng(16)
    flagged = 0
    for _ in range(200):
        s = np.round(subscriptions(rng))  # churn and growth move the count, not the price
        t = np.arange(s.size)
        s[30:] = np.round(s[30:] * 0.85)
        price = 2000 * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.01, s.size))
        flagged += bool(revenue_per_subscription_anomalies(s * price, s))
    assert flagged <= 4


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
