"""Customer lifetime value from a BG/NBD purchase model with Gamma-Gamma spend.

Purchases (Fader, Hardie & Lee 2005, "Counting your customers the easy way: an
alternative to the Pareto/NBD model", Marketing Science 24(2)): while alive a customer
buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after each purchase they
drop out with probability p ~ Beta(a, b). A customer is summarised by x (repeat
purchases), t_x (time of the last purchase) and T (time since the first purchase), all
in one time unit. The likelihood (their eq. 6) is evaluated in logs with gammaln/betaln
so large counts do not overflow; eq. 10 gives E[Y(t) | x, t_x, T], and the odds of
having dropped out give P(alive | x, t_x, T).

Spend (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves for customer base
analysis", Journal of Marketing Research 42(4), and their note "The Gamma-Gamma model of
monetary value", 2013): the spend of each transaction is Gamma(p, nu) with
nu ~ Gamma(q, gamma), independent of the purchase process. Fitted on customers with at
least one repeat purchase from their mean repeat spend m_x; the conditional expected
average spend is a weighted mean of the population mean p gamma / (q - 1) and m_x.

Both models are fitted by maximum likelihood with scipy.optimize.minimize over log
parameters, which keeps every parameter positive without bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float


def _arrays(*values: ArrayLike) -> list[Floats]:
    return [np.asarray(v, dtype=np.float64) for v in values]


def bgnbd_log_likelihood(params: BgNbd, x: ArrayLike, t_x: ArrayLike, t: ArrayLike) -> Floats:
    """Per-customer log-likelihood, Fader, Hardie & Lee (2005) eq. 6."""
    xs, txs, ts = _arrays(x, t_x, t)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    a1 = special.gammaln(r + xs) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + xs) - special.betaln(a, b) - (r + xs) * np.log(alpha + ts)
    # The dropped-out-after-the-last-purchase term exists only for repeat buyers; where
    # x = 0 betaln(a + 1, b - 1) may be undefined, so it is evaluated on a safe x.
    safe_x = np.maximum(xs, 1.0)
    a3 = (
        special.betaln(a + 1, b + safe_x - 1)
        - special.betaln(a, b)
        - (r + xs) * np.log(alpha + txs)
    )
    return np.asarray(a1 + np.where(xs > 0, np.logaddexp(a2, a3), a2), dtype=np.float64)


def _minimize(neg_ll: object, start: Floats) -> Floats:
    result = optimize.minimize(
        neg_ll,
        start,
        method="Nelder-Mead",
        options={"maxiter": 20000, "xatol": 1e-8, "fatol": 1e-10},
    )
    # Nelder-Mead finds the basin robustly; BFGS from there polishes the optimum.
    polished = optimize.minimize(neg_ll, result.x, method="BFGS")
    best = polished.x if polished.fun <= result.fun else result.x
    return np.asarray(np.exp(best), dtype=np.float64)


def fit_bgnbd(x: ArrayLike, t_x: ArrayLike, t: ArrayLike) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters for customers summarised as (x, t_x, T)."""
    xs, txs, ts = _arrays(x, t_x, t)

    def neg_ll(log_params: Floats) -> float:
        r, alpha, a, b = np.exp(log_params)
        return -float(bgnbd_log_likelihood(BgNbd(r, alpha, a, b), xs, txs, ts).sum())

    r, alpha, a, b = _minimize(neg_ll, np.zeros(4))
    return BgNbd(float(r), float(alpha), float(a), float(b))


def _dropout_odds(params: BgNbd, xs: Floats, txs: Floats, ts: Floats) -> Floats:
    """Odds that a repeat buyer dropped out right after the last purchase (0 if x = 0)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    safe_x = np.maximum(xs, 1.0)
    odds = a / (b + safe_x - 1) * ((alpha + ts) / (alpha + txs)) ** (r + xs)
    return np.asarray(np.where(xs > 0, odds, 0.0), dtype=np.float64)


def probability_alive(params: BgNbd, x: ArrayLike, t_x: ArrayLike, t: ArrayLike) -> Floats:
    """P(alive | x, t_x, T), Fader, Hardie & Lee (2005) eq. 11 inverted."""
    xs, txs, ts = _arrays(x, t_x, t)
    return np.asarray(1.0 / (1.0 + _dropout_odds(params, xs, txs, ts)), dtype=np.float64)


def expected_purchases(
    params: BgNbd, horizon: float, x: ArrayLike, t_x: ArrayLike, t: ArrayLike
) -> Floats:
    """E[Y(horizon) | x, t_x, T], purchases in the next `horizon` time units (eq. 10)."""
    xs, txs, ts = _arrays(x, t_x, t)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = horizon / (alpha + ts + horizon)
    hyp = special.hyp2f1(r + xs, b + xs, a + b + xs - 1, z)
    ratio = ((alpha + ts) / (alpha + ts + horizon)) ** (r + xs)
    numerator = (a + b + xs - 1) / (a - 1) * (1 - ratio * hyp)
    return np.asarray(numerator / (1.0 + _dropout_odds(params, xs, txs, ts)), dtype=np.float64)


def gamma_gamma_log_likelihood(params: GammaGamma, x: ArrayLike, m_x: ArrayLike) -> Floats:
    """Per-customer log-likelihood of mean spend m_x over x transactions (x >= 1)."""
    xs, ms = _arrays(x, m_x)
    p, q, g = params.p, params.q, params.gamma
    px = p * xs
    return np.asarray(
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(g)
        + (px - 1) * np.log(ms)
        + px * np.log(xs)
        - (px + q) * np.log(g + ms * xs),
        dtype=np.float64,
    )


def fit_gamma_gamma(x: ArrayLike, m_x: ArrayLike) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma parameters from repeat buyers' (x, m_x)."""
    xs, ms = _arrays(x, m_x)
    keep = (xs > 0) & (ms > 0)
    xs, ms = xs[keep], ms[keep]

    def neg_ll(log_params: Floats) -> float:
        p, q, g = np.exp(log_params)
        return -float(gamma_gamma_log_likelihood(GammaGamma(p, q, g), xs, ms).sum())

    p, q, g = _minimize(neg_ll, np.zeros(3))
    return GammaGamma(float(p), float(q), float(g))


def expected_average_spend(params: GammaGamma, x: ArrayLike, m_x: ArrayLike) -> Floats:
    """E[M | x, m_x]: shrinks the observed mean spend towards the population mean.

    With no repeat purchase (x = 0) it is the population mean p gamma / (q - 1).
    """
    xs, ms = _arrays(x, m_x)
    p, q, g = params.p, params.q, params.gamma
    return np.asarray(p * (g + xs * ms) / (p * xs + q - 1), dtype=np.float64)


def lifetime_value(
    purchases: BgNbd,
    spend: GammaGamma,
    customer: tuple[float, float, float, float],
    horizon: float,
    units_per_month: float,
    monthly_discount: float = 0.0,
) -> float:
    """CLV over `horizon`: expected purchases per month x expected spend, discounted.

    `customer` is (x, t_x, T, m_x). Month i's purchases are E[Y(t_i)] - E[Y(t_{i-1})]
    and are discounted by (1 + monthly_discount)^i; a discount of 0 is undiscounted.
    The last month may be partial.
    """
    x, t_x, t, m_x = customer
    ends = np.append(np.arange(units_per_month, horizon, units_per_month), horizon)
    cumulative = np.array([expected_purchases(purchases, h, x, t_x, t).item() for h in ends])
    per_month = np.diff(cumulative, prepend=0.0)
    discount = (1.0 + monthly_discount) ** -np.arange(1, len(ends) + 1)
    value = expected_average_spend(spend, x, m_x).item()
    return float(value * (per_month * discount).sum())
