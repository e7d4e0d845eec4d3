"""Price elasticity of conversion from price-test arms.

Model (constant elasticity): conversion(p) = c0 * (p / p_ref)^e, i.e.
log r = a + e log p. Fitted by weighted least squares on the arms' observed log
conversion rates with inverse-variance weights w = n r / (1 - r), the
delta-method variance of log r_hat being (1 - r) / (n r) (the same term as in
the log relative-risk interval, Agresti, *Categorical Data Analysis*).
Var(e_hat) = 1 / sum w (x - xbar_w)^2.

With two prices this is exactly the two-point arc estimate
e = (log r2 - log r1) / (log p2 - log p1) with delta-method
SE = sqrt(1/w1 + 1/w2) / |log p2 - log p1|.

With three or more prices the weighted residual sum of squares is a chi-square
goodness-of-fit statistic on k - 2 df; when it exceeds its df the SE is inflated
by sqrt(chi2 / df) (the quasi-likelihood dispersion scale factor, McCullagh & Nelder
1989, *Generalized Linear Models*), so a poorly fitting curve reports
honest uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from app.analytics.arms import Interval, normal_quantile


@dataclass(frozen=True)
class PriceArm:
    """One tested price with its visitors and conversions."""

    price: float
    n: int
    conversions: int

    def __post_init__(self) -> None:
        if self.price <= 0.0:
            raise ValueError("prices must be positive")
        if not 0 < self.conversions < self.n:
            raise ValueError("each price arm needs 0 < conversions < n to take logs")

    @property
    def rate(self) -> float:
        return self.conversions / self.n


@dataclass(frozen=True)
class ElasticityFit:
    """Elasticity estimate with SE and CI; the curve passes through
    (log_price_center, log_rate_center). `goodness_of_fit_p` is None for 2 prices."""

    elasticity: float
    std_error: float
    ci: Interval
    log_price_center: float
    log_rate_center: float
    n_prices: int
    chi_square: float
    goodness_of_fit_p: float | None
    se_scale: float

    def conversion_rate(self, price: float) -> float:
        """Fitted conversion rate at `price` on the constant-elasticity curve."""
        return math.exp(
            self.log_rate_center + self.elasticity * (math.log(price) - self.log_price_center)
        )


def _lack_of_fit(chi_square: float, df: int) -> tuple[float | None, float]:
    if df <= 0:
        return None, 1.0
    return float(special.chdtrc(df, chi_square)), max(1.0, math.sqrt(chi_square / df))


def fit_elasticity(arms: Sequence[PriceArm], alpha: float = 0.05) -> ElasticityFit:
    """Weighted log-log fit of conversion on price; needs >= 2 distinct prices."""
    if len({arm.price for arm in arms}) < 2:
        raise ValueError("need at least two distinct prices")
    x = np.log([arm.price for arm in arms])
    r = np.array([arm.rate for arm in arms])
    y = np.log(r)
    w = np.array([arm.n for arm in arms]) * r / (1.0 - r)
    x_bar, y_bar = np.average(x, weights=w), np.average(y, weights=w)
    sxx = float(np.sum(w * (x - x_bar) ** 2))
    slope = float(np.sum(w * (x - x_bar) * (y - y_bar)) / sxx)
    chi_square = float(np.sum(w * (y - y_bar - slope * (x - x_bar)) ** 2))
    gof_p, scale = _lack_of_fit(chi_square, len(arms) - 2)
    se = scale / math.sqrt(sxx)
    half = normal_quantile(1.0 - alpha / 2.0) * se
    return ElasticityFit(
        elasticity=slope,
        std_error=se,
        ci=Interval(slope - half, slope + half, 1.0 - alpha),
        log_price_center=float(x_bar),
        log_rate_center=float(y_bar),
        n_prices=len(arms),
        chi_square=chi_square,
        goodness_of_fit_p=gof_p,
        se_scale=scale,
    )
