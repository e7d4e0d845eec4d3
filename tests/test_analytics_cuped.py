"""CUPED on simulated data with a correlated pre-period covariate (planted truth)."""

from __future__ import annotations

import numpy as np
import pytest

from app.analytics import CovariateArm, cuped_adjust, cuped_t_test, cuped_theta, welch_t_test

RHO, EFFECT, N = 0.7, 0.05, 1_000


def _arm(x: np.ndarray, y: np.ndarray) -> CovariateArm:
    return CovariateArm(
        n=x.size,
        y_sum=float(y.sum()),
        y_sum_squares=float((y**2).sum()),
        x_sum=float(x.sum()),
        x_sum_squares=float((x**2).sum()),
        xy_sum=float((x * y).sum()),
    )


def _experiment(rng: np.random.Generator, effect: float) -> tuple[CovariateArm, CovariateArm]:
    # Pre-period X and outcome Y share a unit effect: corr(X, Y) = RHO, var(Y) = 1.
    x = rng.normal(0.0, 1.0, size=(2, N))
    y = 10.0 + RHO * x + np.sqrt(1 - RHO**2) * rng.normal(size=(2, N))
    y[1] += effect
    return _arm(x[0], y[0]), _arm(x[1], y[1])


@pytest.fixture(scope="module")
def replications() -> list[tuple[float, float, bool]]:
    rng = np.random.default_rng(13)
    rows = []
    for _ in range(2_000):
        control, treatment = _experiment(rng, EFFECT)
        adjusted = cuped_t_test(control, treatment)
        raw = welch_t_test(control.metric, treatment.metric)
        rows.append(
            (
                adjusted.absolute.estimate,
                raw.absolute.estimate,
                adjusted.absolute.ci.contains(EFFECT),
            )
        )
    return rows


def test_theta_equals_the_pooled_within_arm_ols_slope() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 2.0, size=(2, 500))
    y = 3.0 + 1.7 * x + rng.normal(size=(2, 500))
    y[1] += 4.0  # a treatment shift must not leak into theta
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    slope = float((xc * yc).sum() / (xc**2).sum())
    assert cuped_theta(_arm(x[0], y[0]), _arm(x[1], y[1])) == pytest.approx(slope, rel=1e-10)


def test_variance_shrinks_by_one_minus_rho_squared(
    replications: list[tuple[float, float, bool]],
) -> None:
    adjusted, raw, _ = np.array(replications).T
    assert np.var(adjusted) / np.var(raw) == pytest.approx(1 - RHO**2, abs=0.06)


def test_adjusted_effect_is_unbiased(replications: list[tuple[float, float, bool]]) -> None:
    adjusted = np.array([row[0] for row in replications])
    standard_error = adjusted.std() / np.sqrt(adjusted.size)
    assert abs(adjusted.mean() - EFFECT) < 3.5 * standard_error


def test_adjusted_interval_keeps_95_percent_coverage(
    replications: list[tuple[float, float, bool]],
) -> None:
    coverage = np.mean([row[2] for row in replications])
    assert abs(coverage - 0.95) < 0.015


def test_reported_variance_ratio_matches_the_sample_correlation() -> None:
    control, treatment = _experiment(np.random.default_rng(8), EFFECT)
    adjustment = cuped_adjust(control, treatment)
    metric, covariate = control.metric, control.covariate
    corr = control.covariance / np.sqrt(metric.variance * covariate.variance)
    assert adjustment.variance_ratio_control == pytest.approx(1 - corr**2, abs=0.01)


def test_identical_covariate_means_leave_the_difference_unchanged() -> None:
    rng = np.random.default_rng(4)
    x = np.tile(np.arange(N, dtype=float), (2, 1))  # identical covariate in both arms
    y = rng.normal(size=(2, N))
    control, treatment = _arm(x[0], y[0]), _arm(x[1], y[1])
    adjusted = cuped_t_test(control, treatment)
    raw = welch_t_test(control.metric, treatment.metric)
    assert adjusted.absolute.estimate == pytest.approx(raw.absolute.estimate, abs=1e-12)
