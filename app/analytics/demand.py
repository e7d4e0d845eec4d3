"""Demand curves of conversion on price from price-test arms, compared by AIC.

Families, with x = log p - mean log price of the arms:
* constant elasticity  log r = a + b x          revenue p r(p) is monotone in p
* linear               r = a + b (p - mean p)   revenue peaks at an interior price if b < 0
* log-quadratic        log r = a + b x + c x^2  elasticity b + 2 c x changes with price,
                                                revenue peaks where it crosses -1 (c < 0)

Each is a binomial GLM (log link, or identity for the linear curve) fitted by maximum
likelihood with iteratively reweighted least squares (McCullagh & Nelder 1989, *Generalized
Linear Models*, ch. 2); weights n r / (1 - r) (log link) or n / (r (1 - r)) (identity).
With more arms than parameters, the Pearson chi-square on k - q df tests the fit and, when
it exceeds its df, inflates the covariance by chi-square / df (quasi-likelihood
dispersion). Curves are compared by AIC = 2 q - 2 log L (Akaike 1974); the curve used is
the simplest, in the order above, within 2 of the lowest AIC (curves that close have
substantial support, Burnham & Anderson 2002, *Model Selection and Multimodel Inference*),
so that a curved fit must earn its extra parameter. A family needs at least as many
distinct prices as parameters, and a curve whose rate leaves (0, 1) at a tested price is
not used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import special

from app.analytics.elasticity import PriceArm

Family = Literal["constant_elasticity", "linear", "log_quadratic"]
FAMILIES: tuple[Family, ...] = ("constant_elasticity", "linear", "log_quadratic")
PARAMETERS: dict[Family, int] = {"constant_elasticity": 2, "linear": 2, "log_quadratic": 3}
Floats = NDArray[np.float64]
ITERATIONS = 50


def _design(family: Family, prices: Floats, log_center: float, price_center: float) -> Floats:
    if family == "linear":
        return np.column_stack([np.ones_like(prices), prices - price_center])
    x = np.log(prices) - log_center
    columns = [np.ones_like(x), x] + ([x * x] if family == "log_quadratic" else [])
    return np.column_stack(columns)


@dataclass(frozen=True)
class DemandFit:
    family: Family
    coef: Floats
    cov: Floats  # of coef, with the dispersion factor applied
    log_likelihood: float
    aic: float
    chi_square: float
    goodness_of_fit_p: float | None  # None when the curve has as many parameters as prices
    dispersion: float
    log_price_center: float
    price_center: float

    def design(self, prices: Sequence[float] | Floats) -> Floats:
        p = np.asarray(prices, dtype=float)
        return _design(self.family, p, self.log_price_center, self.price_center)

    def rate(self, prices: Sequence[float] | Floats) -> Floats:
        eta = self.design(prices) @ self.coef
        return eta if self.family == "linear" else np.exp(eta)

    def log_rate_gradient(self, price: float) -> Floats:
        """d log r(price) / d coef, for delta-method intervals."""
        row = self.design([price])[0]
        return row / self.rate([price])[0] if self.family == "linear" else row

    def elasticity(self, price: float) -> float:
        """d log r / d log p at `price`."""
        if self.family == "linear":
            return float(self.coef[1] * price / self.rate([price])[0])
        slope = float(self.coef[1])
        if self.family == "log_quadratic":
            slope += 2.0 * float(self.coef[2]) * (math.log(price) - self.log_price_center)
        return slope

    @property
    def name(self) -> str:
        return self.family.replace("_", "-")


def _irls(family: Family, arms: Sequence[PriceArm]) -> DemandFit | None:
    prices = np.array([a.price for a in arms])
    n = np.array([a.n for a in arms], dtype=float)
    k = np.array([a.conversions for a in arms], dtype=float)
    y = k / n
    log_center, price_center = float(np.mean(np.log(prices))), float(np.mean(prices))
    x = _design(family, prices, log_center, price_center)
    mu = y.copy()
    for _ in range(ITERATIONS):
        if family == "linear":
            z, w = y, n / (mu * (1.0 - mu))
        else:
            z, w = np.log(mu) + (y - mu) / mu, n * mu / (1.0 - mu)
        information = x.T @ (w[:, None] * x)
        coef = np.linalg.solve(information, x.T @ (w * z))
        fitted = x @ coef if family == "linear" else np.exp(x @ coef)
        if np.any(fitted <= 0.0) or np.any(fitted >= 1.0):
            return None
        converged = np.max(np.abs(fitted - mu)) < 1e-13
        mu = fitted
        if converged:
            break
    w = n / (mu * (1.0 - mu)) if family == "linear" else n * mu / (1.0 - mu)
    information = x.T @ (w[:, None] * x)
    q = PARAMETERS[family]
    chi_square = float(np.sum(n * (y - mu) ** 2 / (mu * (1.0 - mu))))
    df = len(arms) - q
    gof = float(special.chdtrc(df, chi_square)) if df > 0 else None
    dispersion = max(1.0, chi_square / df) if df > 0 else 1.0
    log_likelihood = float(np.sum(k * np.log(mu) + (n - k) * np.log1p(-mu)))
    return DemandFit(
        family=family,
        coef=coef,
        cov=np.linalg.inv(information) * dispersion,
        log_likelihood=log_likelihood,
        aic=2.0 * q - 2.0 * log_likelihood,
        chi_square=chi_square,
        goodness_of_fit_p=gof,
        dispersion=dispersion,
        log_price_center=log_center,
        price_center=price_center,
    )


AIC_SUPPORT = 2.0


def fit_demand(arms: Sequence[PriceArm]) -> list[DemandFit]:
    """Every family the arms can fit, the one to use first, then the others by AIC."""
    distinct = len({a.price for a in arms})
    if distinct < 2:
        raise ValueError("need at least two distinct prices")
    fits = [
        fit
        for family in FAMILIES
        if PARAMETERS[family] <= distinct and (fit := _irls(family, arms)) is not None
    ]
    lowest = min(fit.aic for fit in fits)
    chosen = next(fit for fit in fits if fit.aic <= lowest + AIC_SUPPORT)
    return [chosen, *sorted((f for f in fits if f is not chosen), key=lambda f: f.aic)]
