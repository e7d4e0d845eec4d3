"""Exponential smoothing (ETS) state space models: the family, its recursions, its likelihood.

The models are the innovations state space forms of Hyndman, Koehler, Ord & Snyder
(2008), "Forecasting with Exponential Smoothing: The State Space Approach" (HKOS),
ch. 2 and table 2.1, as presented in Hyndman & Athanasopoulos, "Forecasting:
Principles and Practice", 3rd ed. (FPP3), ch. 8, tables 8.7 and 8.8. Supported are
the fifteen models the R ``forecast`` package and statsforecast's AutoETS consider
by default (no multiplicative trend, no additive error with multiplicative season,
which is numerically unstable; HKOS 15.1):

* additive error: (A,N,N), (A,A,N), (A,Ad,N), (A,N,A), (A,A,A), (A,Ad,A);
* multiplicative error: (M,N,N), (M,A,N), (M,Ad,N), (M,N,A), (M,A,A), (M,Ad,A),
  (M,N,M), (M,A,M), (M,Ad,M).

Estimation is maximum likelihood (FPP3 8.6; HKOS ch. 5): -2 log L, with sigma^2
concentrated out, is ``n log(SSE / n)`` for additive errors and
``n log(sum(eps^2) / n) + 2 sum(log |mu|)`` for multiplicative errors, plus
``n (1 + log 2 pi)``. Smoothing parameters are bounded as in the R ``forecast``
package's "usual" region: alpha in [1e-4, 0.9999], beta in [1e-4, alpha],
gamma in [1e-4, 1 - alpha], phi in [0.8, 0.98] (FPP3 8.2 recommends 0.8..0.98).

Everything is vectorised over a batch of equally long series ("rows"). Fitting is
in :mod:`app.analytics.ets_fit` (seed states in :mod:`app.analytics.ets_seed`),
forecasts and their distributions in :mod:`app.analytics.ets_forecast`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

LOWER = 1e-4
UPPER = 0.9999
PHI_LOWER = 0.8
PHI_UPPER = 0.98
LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class EtsSpec:
    """One member of the ETS family: error, trend and seasonal component types."""

    error: str  # "A" | "M"
    trend: str  # "N" | "A" | "Ad"
    season: str  # "N" | "A" | "M"

    @property
    def code(self) -> str:
        return f"{self.error}{self.trend}{self.season}"

    @property
    def name(self) -> str:
        return f"ETS({self.error},{self.trend},{self.season})"

    @property
    def has_trend(self) -> bool:
        return self.trend != "N"

    @property
    def damped(self) -> bool:
        return self.trend == "Ad"

    @property
    def seasonal(self) -> bool:
        return self.season != "N"

    @property
    def n_smoothing(self) -> int:
        """Number of smoothing parameters (alpha, beta, gamma, phi as present)."""
        return 1 + int(self.has_trend) + int(self.seasonal) + int(self.damped)

    def n_states(self, period: int) -> int:
        """Length of the state vector (level, trend, ``period`` seasonal states)."""
        return 1 + int(self.has_trend) + (period if self.seasonal else 0)

    def n_params(self, period: int) -> int:
        """Parameters counted by the information criteria.

        Smoothing parameters, free seed states (the seasonal seed is normalised,
        so it has ``period - 1`` free values) and the innovation variance.
        """
        free_seed = 1 + int(self.has_trend) + (period - 1 if self.seasonal else 0)
        return self.n_smoothing + free_seed + 1


SPECS: dict[str, EtsSpec] = {
    spec.code: spec
    for spec in (
        EtsSpec("A", "N", "N"),
        EtsSpec("A", "A", "N"),
        EtsSpec("A", "Ad", "N"),
        EtsSpec("A", "N", "A"),
        EtsSpec("A", "A", "A"),
        EtsSpec("A", "Ad", "A"),
        EtsSpec("M", "N", "N"),
        EtsSpec("M", "A", "N"),
        EtsSpec("M", "Ad", "N"),
        EtsSpec("M", "N", "A"),
        EtsSpec("M", "A", "A"),
        EtsSpec("M", "Ad", "A"),
        EtsSpec("M", "N", "M"),
        EtsSpec("M", "A", "M"),
        EtsSpec("M", "Ad", "M"),
    )
}


@dataclass(frozen=True)
class Smoothing:
    """Per-row smoothing parameters; absent components carry neutral values."""

    alpha: FloatArray
    beta: FloatArray
    gamma: FloatArray
    phi: FloatArray

    def take(self, idx: npt.NDArray[np.intp]) -> Smoothing:
        return Smoothing(self.alpha[idx], self.beta[idx], self.gamma[idx], self.phi[idx])


@dataclass(frozen=True)
class SeedState:
    """Per-row seed (time-0) states: level, trend and seasonal states by phase.

    ``season[:, j]`` is the seasonal state used at time ``t`` with ``t % m == j``.
    """

    level: FloatArray
    trend: FloatArray
    season: FloatArray

    def take(self, idx: npt.NDArray[np.intp]) -> SeedState:
        return SeedState(self.level[idx], self.trend[idx], self.season[idx])


@dataclass(frozen=True)
class FilterOutput:
    """Objective pieces, final states and (optionally) one-step predictions."""

    sse: FloatArray  # sum of squared errors (relative errors for M error)
    sum_log_mu: FloatArray  # sum of log one-step predictions (M error only)
    valid: BoolArray
    level: FloatArray
    trend: FloatArray
    season: FloatArray  # (rows, m), indexed by phase
    fitted: FloatArray | None  # (rows, n)


@dataclass(frozen=True)
class BatchFit:
    """A fitted model for every row of a batch (on the rows' normalised scale)."""

    spec: EtsSpec
    period: int
    smoothing: Smoothing
    seed: SeedState
    neg2loglik: FloatArray  # -2 log L on the normalised scale
    aicc: FloatArray  # inf where the criterion is undefined
    sse: FloatArray
    filtered: FilterOutput


def unit_to_smoothing(spec: EtsSpec, u: FloatArray) -> Smoothing:
    """Map points of the unit cube (rows, d) to bounded smoothing parameters.

    Coordinates in order: alpha, beta/alpha, gamma/(1 - alpha), phi, as present.
    This keeps every point inside the usual region 0 < beta <= alpha,
    0 < gamma <= 1 - alpha (HKOS 10.2).
    """
    rows = u.shape[0]
    col = 0
    alpha = LOWER + (UPPER - LOWER) * u[:, col]
    beta = np.zeros(rows)
    gamma = np.zeros(rows)
    phi = np.ones(rows)
    if spec.has_trend:
        col += 1
        beta = LOWER + u[:, col] * np.maximum(alpha - LOWER, 0.0)
    if spec.seasonal:
        col += 1
        gamma = LOWER + u[:, col] * np.maximum(1.0 - alpha - LOWER, 0.0)
    if spec.damped:
        col += 1
        phi = PHI_LOWER + (PHI_UPPER - PHI_LOWER) * u[:, col]
    return Smoothing(alpha, beta, gamma, phi)


def take_rows(y: FloatArray, idx: npt.NDArray[np.intp]) -> FloatArray:
    """``y[idx]`` kept time-major (Fortran order), so run_filter needs no copy."""
    return np.asarray(y.T[:, idx].T)


def repeat_rows(y: FloatArray, k: int) -> FloatArray:
    """``np.repeat(y, k, axis=0)`` kept time-major (Fortran order)."""
    return np.asarray(np.repeat(y.T, k, axis=1).T)


def run_filter(
    y: FloatArray,
    spec: EtsSpec,
    period: int,
    sm: Smoothing,
    seed: SeedState,
    keep_fitted: bool = False,
) -> FilterOutput:
    """Run the ETS recursions (FPP3 table 8.7, error-correction form) on all rows.

    ``y`` is (rows, n). For the multiplicative-season models the state updates
    ``l = a + alpha e / s``, ``b = phi b + beta e / s``, ``s = s + gamma e / a``
    (with ``a = l + phi b``) are those of ETS(M,*,M) written with the raw error
    ``e = y - mu``; HKOS table 2.1. The loop runs over time with every row in
    one vector and preallocated buffers; the likelihood pieces are summed once
    from the stored one-step predictions.
    """
    rows, n = y.shape
    yt = np.ascontiguousarray(y.T)
    level = seed.level.copy()
    trend = seed.trend.copy()
    season = seed.season.T.copy()  # (m, rows), C order
    mu = np.empty((n, rows))
    e, tmp, a = np.empty(rows), np.empty(rows), np.empty(rows)
    with np.errstate(all="ignore"):
        for t in range(n):
            s_j = season[t % period]
            if spec.has_trend:
                np.multiply(sm.phi, trend, out=a)
                a += level
            else:
                a[:] = level
            if spec.season == "A":
                np.add(a, s_j, out=mu[t])
            elif spec.season == "M":
                np.multiply(a, s_j, out=mu[t])
            else:
                mu[t] = a
            np.subtract(yt[t], mu[t], out=e)
            _update(spec, sm, e, tmp, a, level, trend, s_j)
        resid = yt - mu
        if spec.error == "M":
            bad = ~np.all(mu > 0.0, axis=0)
            resid /= mu
            slog = np.sum(np.log(np.abs(mu)), axis=0)
        else:
            bad = np.zeros(rows, dtype=bool)
            slog = np.zeros(rows)
        sse = np.einsum("ij,ij->j", resid, resid)
    valid = ~bad & np.isfinite(sse) & np.isfinite(slog)
    return FilterOutput(
        sse=sse,
        sum_log_mu=slog,
        valid=valid,
        level=level,
        trend=trend,
        season=season.T,
        fitted=mu.T if keep_fitted else None,
    )


def _update(
    spec: EtsSpec,
    sm: Smoothing,
    e: FloatArray,
    tmp: FloatArray,
    a: FloatArray,
    level: FloatArray,
    trend: FloatArray,
    s_j: FloatArray,
) -> None:
    """One state update in place: level, trend and the current seasonal state."""
    if spec.season == "M":
        np.multiply(sm.gamma, e, out=tmp)
        tmp /= a
        e /= s_j  # from here on e is e / s
        s_j += tmp
    elif spec.season == "A":
        np.multiply(sm.gamma, e, out=tmp)
        s_j += tmp
    np.multiply(sm.alpha, e, out=level)
    level += a
    if spec.has_trend:
        trend *= sm.phi
        np.multiply(sm.beta, e, out=tmp)
        trend += tmp


SSE_FLOOR = 1e-16  # per observation, on the normalised (mean |y| = 1) scale


def neg2loglik(spec: EtsSpec, out: FilterOutput, n: int) -> FloatArray:
    """-2 log L with sigma^2 concentrated out (HKOS eq. 5.3; FPP3 8.6).

    The SSE is floored at a relative sd of 1e-8 so that exact fits tie instead
    of diverging to -inf, and AICc then prefers the simplest exact model.
    """
    with np.errstate(all="ignore"):
        value = n * np.log(np.maximum(out.sse, n * SSE_FLOOR) / n) + n * (1.0 + LOG_2PI)
        if spec.error == "M":
            value = value + 2.0 * out.sum_log_mu
    return np.where(out.valid & np.isfinite(value), value, np.inf)


def aicc(neg2ll: FloatArray, k: int, n: int) -> FloatArray:
    """AICc = -2 log L + 2k + 2k(k+1)/(n-k-1) (FPP3 8.6); inf when n <= k + 1."""
    if n - k - 1 <= 0:
        return np.full_like(neg2ll, np.inf)
    return neg2ll + 2.0 * k + 2.0 * k * (k + 1) / (n - k - 1)


def fitted_values(out: FilterOutput) -> FloatArray:
    assert out.fitted is not None
    return out.fitted


def bmv(a: FloatArray, v: FloatArray) -> FloatArray:
    """Batched matrix-vector product: (r, q, n) x (r, n) -> (r, q)."""
    return np.matmul(np.ascontiguousarray(a), np.ascontiguousarray(v)[..., None])[..., 0]


def gram(a: FloatArray) -> FloatArray:
    """Batched Gram matrices: (r, q, n) -> (r, q, q)."""
    a = np.ascontiguousarray(a)
    return np.matmul(a, a.transpose(0, 2, 1))
