"""BG/NBD and Gamma-Gamma against the published CDNOW fit and against planted truth."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from app.analytics.customer_value import (
    BgNbd,
    GammaGamma,
    expected_average_spend,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    lifetime_value,
    probability_alive,
)

# Fader, Hardie & Lee (2005), "Counting your customers the easy way", CDNOW cohort.
CDNOW = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)


def cdnow_rows() -> list[dict[str, str]]:
    """The CDNOW summary (x, t_x, T in weeks, mean repeat spend) the lifetimes wheel ships.

    Read from the installed package's files without importing it (its import needs
    pkg_resources, which modern setuptools no longer provides).
    """
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.origin is not None
    path = Path(spec.origin).parent / "datasets" / "cdnow_customers_summary_with_transactions.csv"
    with path.open() as handle:
        return list(csv.DictReader(handle))


def column(rows: list[dict[str, str]], name: str) -> np.ndarray:
    return np.array([float(row[name]) for row in rows])


def test_bgnbd_fit_on_cdnow_matches_the_published_estimates() -> None:
    rows = cdnow_rows()
    assert len(rows) == 2357
    fit = fit_bgnbd(column(rows, "x"), column(rows, "t_x"), column(rows, "T"))
    for got, published in zip(
        (fit.r, fit.alpha, fit.a, fit.b), (CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b), strict=True
    ):
        assert got == pytest.approx(published, rel=0.01)


def test_gamma_gamma_fit_on_cdnow_matches_the_published_estimates() -> None:
    # Fader, Hardie & Lee (2005), "RFM and CLV": p 6.25, q 3.74, gamma 15.44.
    rows = cdnow_rows()
    fit = fit_gamma_gamma(column(rows, "x"), column(rows, "zbar"))
    assert fit.p == pytest.approx(6.25, rel=0.01)
    assert fit.q == pytest.approx(3.74, rel=0.01)
    assert fit.gamma == pytest.approx(15.44, rel=0.01)


def test_conditional_expectation_matches_the_papers_worked_customer() -> None:
    # The paper's example: x = 2, t_x = 30.43, T = 38.86 weeks buys 1.226 times in 39 weeks.
    assert expected_purchases(CDNOW, 39, 2, 30.43, 38.86).item() == pytest.approx(1.226, abs=1e-3)


def test_probability_alive_is_one_without_repeat_purchases_and_falls_with_silence() -> None:
    assert probability_alive(CDNOW, 0, 0, 38.86).item() == 1.0
    recent = probability_alive(CDNOW, 5, 38, 38.86).item()
    silent = probability_alive(CDNOW, 5, 5, 38.86).item()
    assert silent < recent < 1.0


def simulate_bgnbd(truth: BgNbd, customers: int, t: float, seed: int) -> tuple[list[float], ...]:
    """Draw (x, t_x, T) from the BG/NBD story: Poisson buying, dropout after each purchase."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(truth.r, 1.0 / truth.alpha, customers)
    dropouts = rng.beta(truth.a, truth.b, customers)
    xs, last = [], []
    for rate, dropout in zip(rates, dropouts, strict=True):
        now, count, last_at = 0.0, 0, 0.0
        while True:
            now += rng.exponential(1.0 / rate)
            if now > t:
                break
            count, last_at = count + 1, now
            if rng.random() < dropout:
                break
        xs.append(float(count))
        last.append(last_at)
    return xs, last, [t] * customers


def test_bgnbd_fit_recovers_planted_parameters() -> None:
    truth = BgNbd(r=0.5, alpha=6.0, a=0.8, b=3.0)
    x, t_x, t = simulate_bgnbd(truth, customers=6000, t=52.0, seed=7)
    fit = fit_bgnbd(x, t_x, t)
    # Dropout is identified only through the purchases seen, so a and b are looser.
    assert fit.r == pytest.approx(truth.r, rel=0.15)
    assert fit.alpha == pytest.approx(truth.alpha, rel=0.2)
    assert fit.a == pytest.approx(truth.a, rel=0.35)
    assert fit.b == pytest.approx(truth.b, rel=0.35)


def test_gamma_gamma_fit_recovers_planted_parameters() -> None:
    truth = GammaGamma(p=5.0, q=4.0, gamma=20.0)
    rng = np.random.default_rng(11)
    x = rng.integers(1, 10, 4000).astype(float)
    nu = rng.gamma(truth.q, 1.0 / truth.gamma, x.size)
    # The mean of x Gamma(p, nu) spends is Gamma(p x, nu x).
    m_x = rng.gamma(truth.p * x, 1.0 / (nu * x))
    fit = fit_gamma_gamma(x, m_x)
    assert fit.p == pytest.approx(truth.p, rel=0.1)
    assert fit.q == pytest.approx(truth.q, rel=0.15)
    assert fit.gamma == pytest.approx(truth.gamma, rel=0.2)


def test_expected_spend_without_history_is_the_population_mean() -> None:
    spend = GammaGamma(p=6.0, q=4.0, gamma=15.0)
    assert expected_average_spend(spend, 0, 0).item() == pytest.approx(6 * 15 / 3)
    # Many purchases pull the estimate towards the customer's own mean.
    assert expected_average_spend(spend, 200, 10).item() == pytest.approx(10, rel=0.01)


def test_lifetime_value_is_purchases_times_spend_and_discounting_lowers_it() -> None:
    spend = GammaGamma(p=6.0, q=4.0, gamma=15.0)
    customer = (2.0, 30.43, 38.86, 25.0)
    undiscounted = lifetime_value(CDNOW, spend, customer, horizon=39, units_per_month=4.35)
    expected = expected_purchases(CDNOW, 39, 2, 30.43, 38.86).item() * (
        expected_average_spend(spend, 2, 25).item()
    )
    assert undiscounted == pytest.approx(expected)
    discounted = lifetime_value(
        CDNOW, spend, customer, horizon=39, units_per_month=4.35, monthly_discount=0.01
    )
    assert 0 < discounted < undiscounted
