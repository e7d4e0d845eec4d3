"""ETS internals: variance formulas, the simulator and the batch optimiser."""

from __future__ import annotations

import numpy as np
import pytest

from app.analytics import ets, ets_fit, ets_forecast
from tests.support.ets_reference import fit_reference

PHI = 0.9


def smoothing(alpha: float, beta: float = 0.0, gamma: float = 0.0, phi: float = 1.0):
    return ets.Smoothing(np.array([alpha]), np.array([beta]), np.array([gamma]), np.array([phi]))


def variance(code: str, sm: ets.Smoothing, horizon: int, period: int = 12) -> np.ndarray:
    return ets_forecast.analytic_variance(ets.SPECS[code], period, sm, np.array([1.0]), horizon)[0]


# FPP3 table 8.8 closed forms, sigma^2 = 1, h = 1..H.
def fpp3_ann(a: float, h: np.ndarray) -> np.ndarray:
    return 1 + a**2 * (h - 1)


def fpp3_aan(a: float, b: float, h: np.ndarray) -> np.ndarray:
    return 1 + (h - 1) * (a**2 + a * b * h + b**2 * h * (2 * h - 1) / 6)


def fpp3_aadn(a: float, b: float, p: float, h: np.ndarray) -> np.ndarray:
    return (
        1
        + a**2 * (h - 1)
        + b * p * h / (1 - p) ** 2 * (2 * a * (1 - p) + b * p)
        - b
        * p
        * (1 - p**h)
        / ((1 - p) ** 2 * (1 - p**2))
        * (2 * a * (1 - p**2) + b * p * (1 + 2 * p - p**h))
    )


def fpp3_ana(a: float, g: float, h: np.ndarray, m: int = 12) -> np.ndarray:
    k = (h - 1) // m
    return 1 + a**2 * (h - 1) + g * k * (2 * a + g)


def fpp3_aaa(a: float, b: float, g: float, h: np.ndarray, m: int = 12) -> np.ndarray:
    k = (h - 1) // m
    return fpp3_aan(a, b, h) + g * k * (2 * a + g + b * m * (k + 1))


HS = np.arange(1, 31)


def test_ann_variance_matches_fpp3_table_8_8() -> None:
    np.testing.assert_allclose(variance("ANN", smoothing(0.3), 30), fpp3_ann(0.3, HS))


def test_aan_variance_matches_fpp3_table_8_8() -> None:
    got = variance("AAN", smoothing(0.4, 0.1), 30)
    np.testing.assert_allclose(got, fpp3_aan(0.4, 0.1, HS))


def test_aadn_variance_matches_fpp3_table_8_8() -> None:
    got = variance("AAdN", smoothing(0.4, 0.1, phi=PHI), 30)
    np.testing.assert_allclose(got, fpp3_aadn(0.4, 0.1, PHI, HS))


def test_ana_variance_matches_fpp3_table_8_8() -> None:
    got = variance("ANA", smoothing(0.3, gamma=0.2), 30)
    np.testing.assert_allclose(got, fpp3_ana(0.3, 0.2, HS))


def test_aaa_variance_matches_fpp3_table_8_8() -> None:
    got = variance("AAA", smoothing(0.3, 0.05, 0.2), 30)
    np.testing.assert_allclose(got, fpp3_aaa(0.3, 0.05, 0.2, HS))


def planted(seed: int, n: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = (100 + 2 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) * (1 + rng.normal(0, 0.03, n))
    return y / np.mean(np.abs(y))


def test_simulated_paths_reproduce_the_analytic_variance_of_a_linear_model() -> None:
    y = planted(1)[None, :]
    fit = ets_fit.fit_batch(y, ets.SPECS["AAA"], 12)
    sigma = np.array([0.05])
    normals = np.random.default_rng(0).standard_normal((40000, 18))
    sims = ets_forecast.simulate_paths(fit, y.shape[1], 18, sigma, normals)[0]
    expected = ets_forecast.analytic_variance(fit.spec, 12, fit.smoothing, sigma**2, 18)[0]
    np.testing.assert_allclose(sims.var(axis=0), expected, rtol=0.05)
    np.testing.assert_allclose(
        sims.mean(axis=0), ets_forecast.point_forecasts(fit, y.shape[1], 18)[0], atol=0.01
    )


@pytest.mark.parametrize("code", ["AAN", "ANA", "MNM", "MAN", "MNA", "MAdA"])
def test_batch_fit_reaches_the_scipy_lbfgsb_reference_likelihood(code: str) -> None:
    y = planted(2, n=36)
    reference, _, _ = fit_reference(y, ets.SPECS[code], 12, starts=3)
    batch = ets_fit.fit_batch(y[None, :], ets.SPECS[code], 12).neg2loglik[0]
    assert batch <= reference + 1.0


def test_batch_fit_recovers_planted_smoothing_parameters() -> None:
    """ETS(A,A,N) simulated with alpha = 0.5, beta = 0.1 over 400 steps."""
    rng = np.random.default_rng(3)
    level, slope, ys = 10.0, 0.1, []
    for _ in range(400):
        e = rng.normal(0.0, 0.5)
        ys.append(level + slope + e)
        level, slope = level + slope + 0.5 * e, slope + 0.1 * e
    y = np.array(ys)
    fit = ets_fit.fit_batch((y / np.mean(np.abs(y)))[None, :], ets.SPECS["AAN"], 12)
    assert abs(fit.smoothing.alpha[0] - 0.5) < 0.1
    assert abs(fit.smoothing.beta[0] - 0.1) < 0.05


def test_fitted_parameters_stay_inside_the_usual_bounds() -> None:
    ys = np.stack([planted(s) for s in range(6)])
    for code in ("AAdA", "MAdM"):
        sm = ets_fit.fit_batch(ys, ets.SPECS[code], 12).smoothing
        assert np.all((sm.alpha >= ets.LOWER) & (sm.alpha <= ets.UPPER))
        assert np.all((sm.beta >= ets.LOWER - 1e-12) & (sm.beta <= sm.alpha + 1e-12))
        assert np.all((sm.gamma >= ets.LOWER - 1e-12) & (sm.gamma <= 1 - sm.alpha + 1e-12))
        assert np.all((sm.phi >= ets.PHI_LOWER) & (sm.phi <= ets.PHI_UPPER))


def test_parameter_count_includes_seed_states_and_variance() -> None:
    # alpha, beta, gamma, phi + level, trend, 11 free seasonal states + sigma^2
    assert ets.SPECS["AAdA"].n_params(12) == 4 + 2 + 11 + 1
    assert ets.SPECS["ANN"].n_params(12) == 1 + 1 + 1


def test_aicc_is_infinite_when_there_are_too_few_observations() -> None:
    assert np.isinf(ets.aicc(np.array([10.0]), k=5, n=6)[0])
    np.testing.assert_allclose(ets.aicc(np.array([10.0]), k=2, n=10), 10 + 4 + 12 / 7)


@pytest.mark.parametrize(
    ("code", "kwargs"),
    [
        ("AAA", {"error": "add", "trend": "add", "seasonal": "add"}),
        ("MAdM", {"error": "mul", "trend": "add", "damped_trend": True, "seasonal": "mul"}),
        ("MAN", {"error": "mul", "trend": "add"}),
        ("MNA", {"error": "mul", "seasonal": "add"}),
        ("MAdA", {"error": "mul", "trend": "add", "damped_trend": True, "seasonal": "add"}),
    ],
)
def test_log_likelihood_equals_statsmodels_at_its_own_estimates(
    code: str, kwargs: dict[str, object]
) -> None:
    """Cross-check with statsmodels' ETSModel (a development dependency)."""
    import warnings

    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = planted(4) * 1000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ETSModel(y, seasonal_periods=12, **kwargs).fit(disp=False)  # type: ignore[arg-type]
    p = dict(zip(res.model.param_names, res.params, strict=True))
    spec = ets.SPECS[code]
    if spec.seasonal:
        season = np.array([p[f"initial_seasonal.{j}"] for j in range(12)])[::-1]
    else:
        season = np.zeros(12)
    sm = smoothing(
        p["smoothing_level"],
        p.get("smoothing_trend", 0.0),
        p.get("smoothing_seasonal", 0.0),
        p.get("damping_trend", 1.0),
    )
    seed = ets.SeedState(
        np.array([p["initial_level"]]), np.array([p.get("initial_trend", 0.0)]), season[None, :]
    )
    out = ets.run_filter(y[None, :], ets.SPECS[code], 12, sm, seed)
    ours = ets.neg2loglik(ets.SPECS[code], out, y.size)[0]
    assert ours == pytest.approx(-2.0 * res.llf, rel=1e-7)
