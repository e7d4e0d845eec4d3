"""Exponential smoothing (ETS) state space models, fitted in batches.

The models are the innovations state space forms of Hyndman, Koehler, Ord & Snyder
(2008), "Forecasting with Exponential Smoothing: The State Space Approach" (HKOS),
ch. 2 and table 2.1, as presented in Hyndman & Athanasopoulos, "Forecasting:
Principles and Practice", 3rd ed. (FPP3), ch. 8, tables 8.7 and 8.8. Supported:

* ETS(A,N,N) simple, ETS(A,A,N) Holt, ETS(A,Ad,N) damped trend,
* ETS(A,N,A), ETS(A,A,A), ETS(A,Ad,A) additive Holt-Winters,
* ETS(M,N,M), ETS(M,A,M), ETS(M,Ad,M) multiplicative Holt-Winters.

Estimation is maximum likelihood (FPP3 8.6; HKOS ch. 5): -2 log L, with sigma^2
concentrated out, is ``n log(SSE / n)`` for additive errors and
``n log(sum(eps^2) / n) + 2 sum(log |mu|)`` for multiplicative errors, plus
``n (1 + log 2 pi)``. Smoothing parameters are bounded as in the R ``forecast``
package's "usual" region: alpha in [1e-4, 0.9999], beta in [1e-4, alpha],
gamma in [1e-4, 1 - alpha], phi in [0.8, 0.98] (FPP3 8.2 recommends 0.8..0.98).

Everything is vectorised over a batch of equally long series ("rows"):

1. initial states: for additive models the one-step errors are affine in the
   seed state, so for given smoothing parameters the optimal seed is a linear
   least squares problem (HKOS 5.2, "concentrating out" the seed state); for
   multiplicative ones a heuristic decomposition (HKOS 2.6.1) is refined by
   Gauss-Newton steps on the likelihood;
2. smoothing parameters: a design of scrambled Sobol points (scipy.stats.qmc)
   plus a lattice on the bounds, shared by all rows; from each row's three best
   design points a bounded compass search (Kolda, Lewis & Torczon 2003, SIAM
   Review 45(3)) with the seed held fixed, all candidate points of all rows
   evaluated in one filter run;
3. a joint Levenberg-Marquardt polish of smoothing parameters and seed from
   the best start (forward-difference Jacobians, batched).

Each row's optimisation path depends only on that row's data, so a series gets
the same fit whether it is forecast alone or in a batch of thousands.
:func:`fit_reference` is an independent, slow single-series fit with
``scipy.optimize.minimize`` (L-BFGS-B, bounded) used to check the batch optimiser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from scipy import optimize
from scipy.stats import qmc

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


def _take_rows(y: FloatArray, idx: npt.NDArray[np.intp]) -> FloatArray:
    """``y[idx]`` kept time-major (Fortran order), so run_filter needs no copy."""
    return np.asarray(y.T[:, idx].T)


def _repeat_rows(y: FloatArray, k: int) -> FloatArray:
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


# ---------------------------------------------------------------------------
# Seed states
# ---------------------------------------------------------------------------


def seed_basis(spec: EtsSpec, period: int) -> FloatArray:
    """Orthonormal basis (p, q) of seed perturbations that keep the seasonal sum.

    The seasonal seed is normalised (sum 0 for additive, sum m for
    multiplicative seasonality; HKOS 2.6.1), leaving ``q = p - 1`` free directions.
    """
    p = spec.n_states(period)
    if not spec.seasonal:
        return np.eye(p)
    k = p - period
    basis = np.zeros((p, p - 1))
    basis[:k, :k] = np.eye(k)
    centred = np.eye(period) - 1.0 / period
    q, _ = np.linalg.qr(centred[:, : period - 1])
    basis[k:, k:] = q
    return basis


def seed_to_vector(spec: EtsSpec, seed: SeedState) -> FloatArray:
    parts = [seed.level[:, None]]
    if spec.has_trend:
        parts.append(seed.trend[:, None])
    if spec.seasonal:
        parts.append(seed.season)
    return np.concatenate(parts, axis=1)


def vector_to_seed(spec: EtsSpec, period: int, x: FloatArray) -> SeedState:
    rows = x.shape[0]
    level = x[:, 0].copy()
    trend = x[:, 1].copy() if spec.has_trend else np.zeros(rows)
    if spec.seasonal:
        season = x[:, -period:].copy()
    else:
        season = np.full((rows, period), 1.0 if spec.season == "M" else 0.0)
    return SeedState(level, trend, season)


def heuristic_seed(y: FloatArray, spec: EtsSpec, period: int, window: int = 10) -> SeedState:
    """Heuristic seed states (HKOS 2.6.1).

    Seasonal states from a classical decomposition (2 x m moving average,
    ratios or differences averaged per phase, then normalised); level and trend
    from a straight line fitted to the first ``window`` seasonally adjusted
    observations (HKOS use ten; the whole series suits near-deterministic fits).
    """
    rows, n = y.shape
    season = np.full((rows, period), 1.0 if spec.season == "M" else 0.0)
    adjusted = y
    if spec.seasonal:
        season = _initial_seasonal(y, spec.season, period)
        phase = np.arange(n) % period
        adjusted = y / season[:, phase] if spec.season == "M" else y - season[:, phase]
    k = min(window, n)
    t = np.arange(1, k + 1, dtype=float)
    if spec.has_trend and k >= 2:
        tc = t - t.mean()
        slope = (adjusted[:, :k] - adjusted[:, :k].mean(axis=1, keepdims=True)) @ tc / (tc @ tc)
        level = adjusted[:, :k].mean(axis=1) - slope * t.mean()
    else:
        slope = np.zeros(rows)
        level = adjusted[:, :k].mean(axis=1)
    if spec.season == "M":
        # Multiplicative models need a positive level: fall back to the first
        # adjusted observation and a trend that keeps l0 + b0 positive.
        first = adjusted[:, 0]
        bad = ~(level > 0.0)
        level = np.where(bad, first, level)
        slope = np.where(bad | ~(level + slope > 0.0), 0.0, slope)
    return SeedState(level, slope, season)


def _initial_seasonal(y: FloatArray, kind: str, period: int) -> FloatArray:
    """Seasonal indices from a centred 2 x m moving average of the first seasons."""
    n = y.shape[1]
    span = n
    z = y[:, :span]
    weights = np.full(period + 1, 1.0 / period)
    weights[0] = weights[-1] = 0.5 / period
    if period % 2 == 1:
        weights = np.full(period, 1.0 / period)
    width = weights.size
    trend = np.stack([z[:, i : i + width] @ weights for i in range(span - width + 1)], axis=1)
    offset = (width - 1) // 2
    idx = np.arange(trend.shape[1]) + offset
    with np.errstate(all="ignore"):
        detr = z[:, idx] / trend if kind == "M" else z[:, idx] - trend
    phase = idx % period
    out = np.empty((y.shape[0], period))
    for j in range(period):
        out[:, j] = detr[:, phase == j].mean(axis=1)
    if kind == "M":
        out = np.where(np.isfinite(out) & (out > 0), out, 1.0)
        return out * (period / out.sum(axis=1, keepdims=True))
    return out - out.mean(axis=1, keepdims=True)


def _residuals(
    y: FloatArray, spec: EtsSpec, period: int, sm: Smoothing, x: FloatArray
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """One-step predictions mu (rows, n), the objective and its validity."""
    out = run_filter(y, spec, period, sm, vector_to_seed(spec, period, x), keep_fitted=True)
    assert out.fitted is not None
    return out.fitted, neg2loglik(spec, out, y.shape[1]), out.valid


def refine_seed(
    y: FloatArray,
    spec: EtsSpec,
    period: int,
    sm: Smoothing,
    seed: SeedState,
    iterations: int,
) -> SeedState:
    """Gauss-Newton steps on the seed state for fixed smoothing parameters.

    The Jacobian of the one-step predictions with respect to the free seed
    directions is taken by forward differences, all directions of all rows in
    one batched filter run. For additive models the predictions are affine in
    the seed, so one step is the exact least-squares (concentrated) seed.
    For multiplicative errors the step uses the gradient of the full
    -2 log L and the Gauss-Newton approximation of its Hessian, with step
    halving to guarantee descent.
    """
    rows, n = y.shape
    basis = seed_basis(spec, period)
    q = basis.shape[1]
    x = seed_to_vector(spec, seed)
    step = 1.0 if spec.error == "A" else 1e-6
    for _ in range(iterations):
        mu0, f0, ok0 = _residuals(y, spec, period, sm, x)
        pert = x[:, None, :] + step * basis.T[None, :, :]
        y_rep = _repeat_rows(y, q)
        mu1, _, _ = _residuals(
            y_rep, spec, period, sm.take(np.repeat(np.arange(rows), q)), pert.reshape(rows * q, -1)
        )
        jac = (mu1.reshape(rows, q, n) - mu0[:, None, :]) / step  # d mu / d c
        delta = _gauss_newton_step(y, mu0, jac, spec.error)
        x = _accept_step(y, spec, period, sm, x, delta @ basis.T, f0, ok0)
    return vector_to_seed(spec, period, x)


def _gauss_newton_step(y: FloatArray, mu: FloatArray, jac: FloatArray, error: str) -> FloatArray:
    """Solve the (Jacobi-scaled, lightly ridged) Gauss-Newton normal equations."""
    n = y.shape[1]
    with np.errstate(all="ignore"):
        if error == "A":
            resid = y - mu
            jr = jac  # d e / d c = -jac
            grad_lin = _bmv(jr, resid)
            hess = _gram(jr)
        else:
            eps = (y - mu) / mu
            deps = -jac * (y / (mu * mu))[:, None, :]
            s = np.maximum(np.sum(eps * eps, axis=1), 1e-300)
            grad = (2.0 * n / s)[:, None] * _bmv(deps, eps) + 2.0 * np.sum(
                jac / mu[:, None, :], axis=2
            )
            hess = (2.0 * n / s)[:, None, None] * _gram(deps)
            grad_lin = -grad
        scale = np.sqrt(np.maximum(np.einsum("rqq->rq", hess), 1e-300))
        hs = hess / (scale[:, :, None] * scale[:, None, :])
        q = hess.shape[1]
        hs = hs + 1e-10 * np.eye(q)
        sol = np.linalg.solve(hs, (grad_lin / scale)[..., None])[..., 0] / scale
    return np.where(np.isfinite(sol), sol, 0.0)


def _bmv(a: FloatArray, v: FloatArray) -> FloatArray:
    """Batched matrix-vector product: (r, q, n) x (r, n) -> (r, q)."""
    return np.matmul(np.ascontiguousarray(a), np.ascontiguousarray(v)[..., None])[..., 0]


def _gram(a: FloatArray) -> FloatArray:
    """Batched Gram matrices: (r, q, n) -> (r, q, q)."""
    a = np.ascontiguousarray(a)
    return np.matmul(a, a.transpose(0, 2, 1))


def _accept_step(
    y: FloatArray,
    spec: EtsSpec,
    period: int,
    sm: Smoothing,
    x: FloatArray,
    dx: FloatArray,
    f0: FloatArray,
    ok0: BoolArray,
) -> FloatArray:
    """Take the largest step fraction (1 down to 0.03) that lowers -2 log L, per row."""
    best_x = x.copy()
    best_f = np.where(ok0, f0, np.inf)
    pending = np.ones(x.shape[0], dtype=bool)
    for frac in (1.0, 0.5, 0.25, 0.1, 0.03):
        trial = x + frac * dx
        _, f, ok = _residuals(y, spec, period, sm, trial)
        better = pending & ok & (f < best_f)
        best_x[better] = trial[better]
        best_f[better] = f[better]
        pending &= ~better
        if not pending.any():
            break
    return best_x


# ---------------------------------------------------------------------------
# Smoothing parameters
# ---------------------------------------------------------------------------


@cache
def search_design(dim: int) -> FloatArray:
    """Deterministic starting design in the unit cube (points, dim).

    A scrambled Sobol sequence (scipy.stats.qmc) plus a small lattice on the
    faces where beta, gamma sit at their lower bound or phi at either bound:
    maximum likelihood estimates often lie there (HKOS 5.4).
    """
    sampler = qmc.Sobol(d=dim, scramble=True, seed=20240601 + dim)
    sobol = np.clip(sampler.random_base2({1: 4, 2: 5, 3: 5, 4: 6}[dim]), 0.02, 0.98)
    alphas = np.array([0.05, 0.2, 0.45, 0.7, 0.95])
    others = [np.array([0.0, 0.25])] * (dim - 1)
    if dim == 4:
        others[-1] = np.array([0.0, 1.0])
    mesh = np.meshgrid(alphas, *others, indexing="ij")
    lattice = np.stack([g.ravel() for g in mesh], axis=1)
    return np.concatenate([sobol, lattice])


def _top_k(f: FloatArray, k: int) -> npt.NDArray[np.intp]:
    """Indices (rows, k) of the k smallest values per row, best first."""
    k = min(k, f.shape[1])
    part = np.argpartition(f, k - 1, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(f, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


def _grid_additive(
    y: FloatArray, spec: EtsSpec, period: int, starts: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Shared design with the exact concentrated seed for every point.

    For additive models e = e0 - Z x0, where e0 comes from a zero seed and
    Z depends only on the smoothing parameters; Z is computed once per design
    point, so each row's optimal seed and SSE cost one projection. Returns the
    ``starts`` best points per row as (rows, starts, d) unit coordinates,
    (rows, starts, p) seeds and (rows, starts) objective values.
    """
    rows, n = y.shape
    design = search_design(spec.n_smoothing)
    g = design.shape[0]
    sm = unit_to_smoothing(spec, design)
    basis = seed_basis(spec, period)
    q = basis.shape[1]
    # Z B for each design point: unit seed perturbations along the basis, y = 0.
    zero_y = np.zeros((g * q, n))
    seeds = np.tile(basis.T, (g, 1))
    mu_unit = _fitted(
        run_filter(
            zero_y,
            spec,
            period,
            sm.take(np.repeat(np.arange(g), q)),
            vector_to_seed(spec, period, seeds),
            keep_fitted=True,
        )
    )
    zmat = mu_unit.reshape(g, q, n).transpose(0, 2, 1)  # (g, n, q): d mu / d c
    pinv = np.linalg.pinv(zmat, rcond=1e-10)  # (g, q, n)
    rep_sm = sm.take(np.tile(np.arange(g), rows))
    y_rep = _repeat_rows(y, g)
    zero_seed = vector_to_seed(spec, period, np.zeros((rows * g, spec.n_states(period))))
    e0 = y_rep - _fitted(run_filter(y_rep, spec, period, rep_sm, zero_seed, keep_fitted=True))
    e0 = e0.reshape(rows, g, n)
    coef = np.matmul(pinv[None], e0[..., None])[..., 0]  # (rows, g, q)
    resid = e0 - np.matmul(zmat[None], coef[..., None])[..., 0]
    sse = np.sum(resid * resid, axis=2)
    f = n * np.log(np.maximum(sse, n * SSE_FLOOR) / n) + n * (1 + LOG_2PI)
    f = np.where(np.isfinite(f), f, np.inf)
    top = _top_k(f, starts)
    x = np.take_along_axis(coef, top[:, :, None], axis=1) @ basis.T
    return design[top], x, np.take_along_axis(f, top, axis=1)


def _fitted(out: FilterOutput) -> FloatArray:
    assert out.fitted is not None
    return out.fitted


def _grid_fixed_seed(
    y: FloatArray, spec: EtsSpec, period: int, seed: SeedState, starts: int
) -> tuple[FloatArray, FloatArray]:
    """Shared design evaluated with a fixed seed state per row; best ``starts``.

    With a fixed (heuristic) seed, a large gamma can look good merely because
    it repairs the seed, so one start is always the best design point with
    gamma at its lower bound.
    """
    rows, n = y.shape
    design = search_design(spec.n_smoothing)
    g = design.shape[0]
    sm = unit_to_smoothing(spec, design).take(np.tile(np.arange(g), rows))
    rep = np.repeat(np.arange(rows), g)
    out = run_filter(_repeat_rows(y, g), spec, period, sm, seed.take(rep))
    f = neg2loglik(spec, out, n).reshape(rows, g)
    top = _top_k(f, starts)
    if spec.seasonal and starts > 1:
        gamma_col = 1 + int(spec.has_trend)
        edge = design[:, gamma_col] == 0.0
        f_edge = np.where(edge[None, :], f, np.inf)
        best_edge = np.argmin(f_edge, axis=1)
        has_edge = np.isin(best_edge[:, None], top).any(axis=1)
        top[~has_edge, -1] = best_edge[~has_edge]
    return design[top], np.take_along_axis(f, top, axis=1)


def compass_search(
    y: FloatArray,
    spec: EtsSpec,
    period: int,
    seed: SeedState,
    u: FloatArray,
    f: FloatArray,
    step: float,
    tol: float = 2e-3,
    max_iter: int = 40,
) -> tuple[FloatArray, FloatArray]:
    """Bounded compass (coordinate pattern) search on the unit cube, per row.

    Each iteration evaluates the 2d axis neighbours of every still-active row
    in one batched filter run, moves to the best improving neighbour or halves
    the step (Kolda, Lewis & Torczon 2003, algorithm 3.2).
    """
    rows, d = u.shape
    n = y.shape[1]
    u = u.copy()
    f = f.copy()
    steps = np.full(rows, step)
    moves = np.concatenate([np.eye(d), -np.eye(d)])  # (2d, d)
    for _ in range(max_iter):
        active = np.flatnonzero(steps > tol)
        if active.size == 0:
            break
        cand = np.clip(u[active, None, :] + steps[active, None, None] * moves[None], 0.0, 1.0)
        rep = np.repeat(active, 2 * d)
        out = run_filter(
            _take_rows(y, rep),
            spec,
            period,
            unit_to_smoothing(spec, cand.reshape(-1, d)),
            seed.take(rep),
        )
        fc = neg2loglik(spec, out, n).reshape(active.size, 2 * d)
        pick = np.argmin(fc, axis=1)
        fbest = fc[np.arange(active.size), pick]
        improved = fbest < f[active] - 1e-9
        moved = active[improved]
        u[moved] = cand[np.flatnonzero(improved), pick[improved]]
        f[moved] = fbest[improved]
        steps[active[~improved]] *= 0.5
    return u, f


def fit_batch(y: FloatArray, spec: EtsSpec, period: int, starts: int = 3) -> BatchFit:
    """Fit one ETS model to every row of ``y`` (rows, n) by maximum likelihood.

    Design search, then a compass search with the seed held fixed from the
    ``starts`` best design points of each row, then a joint Levenberg-Marquardt
    polish of smoothing parameters and seed from the best of those.
    """
    rows, n = y.shape
    y = np.asfortranarray(y)  # time-major in memory: run_filter reads y.T for free
    d = spec.n_smoothing
    if spec.error == "A":
        u3, x3, _ = _grid_additive(y, spec, period, starts)
        k = u3.shape[1]
        seed = vector_to_seed(spec, period, x3.reshape(rows * k, -1))
    else:
        u3, _ = _grid_fixed_seed(y, spec, period, heuristic_seed(y, spec, period), starts)
        # A start at the all-smallest corner (nearly deterministic level, trend
        # and season, phi mid-range): there the seed matters most, so the
        # fixed-seed design cannot rank it fairly.
        corner = np.zeros((rows, 1, d))
        if spec.damped:
            corner[:, :, -1] = 0.5
        u3 = np.concatenate([u3, corner], axis=1)
        k = u3.shape[1]
    owner = np.repeat(np.arange(rows), k)
    yk = _take_rows(y, owner)
    u = u3.reshape(rows * k, d)
    if spec.error == "M":
        seed = heuristic_seed(yk, spec, period)
        whole = heuristic_seed(y, spec, period, window=n)  # for the corner start
        last = np.arange(rows) * k + k - 1
        seed.level[last], seed.trend[last] = whole.level, whole.trend
        seed = refine_seed(yk, spec, period, unit_to_smoothing(spec, u), seed, iterations=2)
    f = _objective(yk, spec, period, u, seed)
    u, f = compass_search(yk, spec, period, seed, u, f, 0.12)
    seed = refine_seed(yk, spec, period, unit_to_smoothing(spec, u), seed, 1)
    f = _objective(yk, spec, period, u, seed)
    best = np.arange(rows) * k + np.argmin(f.reshape(rows, k), axis=1)
    u, seed = polish_joint(y, spec, period, u[best], seed.take(best))
    sm = unit_to_smoothing(spec, u)
    out = run_filter(y, spec, period, sm, seed, keep_fitted=True)
    nll = neg2loglik(spec, out, n)
    return BatchFit(
        spec=spec,
        period=period,
        smoothing=sm,
        seed=seed,
        neg2loglik=nll,
        aicc=aicc(nll, spec.n_params(period), n),
        sse=out.sse,
        filtered=out,
    )


def polish_joint(
    y: FloatArray,
    spec: EtsSpec,
    period: int,
    u: FloatArray,
    seed: SeedState,
    iterations: int = 10,
) -> tuple[FloatArray, SeedState]:
    """Joint Levenberg-Marquardt refinement of smoothing parameters and seed.

    Variables: the unit-cube coordinates ``u`` (projected onto the box) and the
    free seed directions. The Jacobian of the one-step predictions comes from
    forward differences, all variables of all rows in one batched filter run;
    the step uses the exact gradient of -2 log L (including the
    ``2 sum log mu`` term for multiplicative errors) and the Gauss-Newton
    Hessian, damped per row (Nocedal & Wright 2006, sec. 10.3).
    """
    rows = y.shape[0]
    d = u.shape[1]
    basis = seed_basis(spec, period)
    x = seed_to_vector(spec, seed)
    lam = np.full(rows, 1e-3)
    mu0, f0, ok0 = _predict(y, spec, period, u, x)
    f0 = np.where(ok0, f0, np.inf)
    for _ in range(iterations):
        jac = _joint_jacobian(y, spec, period, u, x, basis, mu0)
        grad, hess = _grad_hess(y, mu0, jac, spec.error)
        diag = np.maximum(np.einsum("rvv->rv", hess), 1e-12)
        step = np.linalg.solve(
            hess + (lam[:, None] * diag)[:, :, None] * np.eye(d + basis.shape[1]),
            -grad[..., None],
        )[..., 0]
        step = np.where(np.isfinite(step), step, 0.0)
        u_new = np.clip(u + step[:, :d], 0.0, 1.0)
        x_new = x + step[:, d:] @ basis.T
        mu1, f1, ok1 = _predict(y, spec, period, u_new, x_new)
        good = ok1 & (f1 < f0 - 1e-10)
        u[good], x[good], mu0[good], f0[good] = u_new[good], x_new[good], mu1[good], f1[good]
        lam = np.where(good, np.maximum(lam / 3.0, 1e-7), np.minimum(lam * 8.0, 1e6))
    return u, vector_to_seed(spec, period, x)


def _predict(
    y: FloatArray, spec: EtsSpec, period: int, u: FloatArray, x: FloatArray
) -> tuple[FloatArray, FloatArray, BoolArray]:
    return _residuals(y, spec, period, unit_to_smoothing(spec, u), x)


def _joint_jacobian(
    y: FloatArray,
    spec: EtsSpec,
    period: int,
    u: FloatArray,
    x: FloatArray,
    basis: FloatArray,
    mu0: FloatArray,
) -> FloatArray:
    """d mu / d (u, c) by forward differences, (rows, d + q, n)."""
    rows, n = y.shape
    d, q = u.shape[1], basis.shape[1]
    hu = 1e-6
    du = np.where(u + hu <= 1.0, hu, -hu)  # stay inside the box
    u_pert = np.repeat(u[:, None, :], d + q, axis=1)
    u_pert[:, np.arange(d), np.arange(d)] += du
    hx = 1.0 if spec.error == "A" else 1e-6
    x_pert = np.repeat(x[:, None, :], d + q, axis=1)
    x_pert[:, d:, :] += hx * basis.T[None, :, :]
    mu1, _, _ = _predict(
        _repeat_rows(y, d + q),
        spec,
        period,
        u_pert.reshape(rows * (d + q), d),
        x_pert.reshape(rows * (d + q), -1),
    )
    scale = np.concatenate([du, np.full((rows, q), hx)], axis=1)
    return (mu1.reshape(rows, d + q, n) - mu0[:, None, :]) / scale[:, :, None]


def _grad_hess(
    y: FloatArray, mu: FloatArray, jac: FloatArray, error: str
) -> tuple[FloatArray, FloatArray]:
    """Gradient of -2 log L and its Gauss-Newton Hessian for d mu / d v = jac."""
    n = y.shape[1]
    with np.errstate(all="ignore"):
        if error == "A":
            r = y - mu
            dr = -jac
            extra = 0.0
        else:
            r = (y - mu) / mu
            dr = -jac * (y / (mu * mu))[:, None, :]
            extra = 2.0 * np.sum(jac / mu[:, None, :], axis=2)
        s = np.maximum(np.sum(r * r, axis=1), 1e-300)
        w = (2.0 * n / s)[:, None]
        grad = w * _bmv(dr, r) + extra
        hess = w[:, :, None] * _gram(dr)
    grad = np.where(np.isfinite(grad), grad, 0.0)
    hess = np.where(np.isfinite(hess), hess, 0.0)
    return grad, hess


def _objective(
    y: FloatArray, spec: EtsSpec, period: int, u: FloatArray, seed: SeedState
) -> FloatArray:
    out = run_filter(y, spec, period, unit_to_smoothing(spec, u), seed)
    return neg2loglik(spec, out, y.shape[1])


# ---------------------------------------------------------------------------
# Forecasting
# ---------------------------------------------------------------------------


def point_forecasts(fit: BatchFit, n: int, horizon: int) -> FloatArray:
    """h-step point forecasts from the final states (FPP3 table 8.7), (rows, H)."""
    spec, m = fit.spec, fit.period
    out = fit.filtered
    h = np.arange(1, horizon + 1)
    phi_h = _phi_sum(fit.smoothing.phi, h) if spec.has_trend else np.zeros((out.level.size, 1))
    base = out.level[:, None] + phi_h * out.trend[:, None]
    phase = (n + h - 1) % m
    if spec.season == "A":
        return base + out.season[:, phase]
    if spec.season == "M":
        return base * out.season[:, phase]
    return np.broadcast_to(base, (out.level.size, horizon)).copy()


def _phi_sum(phi: FloatArray, h: npt.NDArray[np.int_]) -> FloatArray:
    """phi_h = phi + phi^2 + ... + phi^h per row (h for phi = 1), shape (rows, H)."""
    powers = phi[:, None] ** h[None, :]
    return np.cumsum(powers, axis=1)


def innovation_variance(fit: BatchFit, n: int) -> FloatArray:
    """sigma^2 = SSE / (n - k), the bias-adjusted innovation variance per row.

    k counts every estimated parameter including seed states (as the R
    ``forecast`` package does for its prediction intervals).
    """
    dof = max(n - fit.spec.n_params(fit.period) + 1, 1)
    return np.maximum(fit.sse, n * SSE_FLOOR) / dof


def analytic_variance(
    spec: EtsSpec, period: int, sm: Smoothing, sigma2: FloatArray, horizon: int
) -> FloatArray:
    """h-step forecast variance for linear (class 1) models, (rows, H).

    v_h = sigma^2 [1 + sum_{j=1}^{h-1} c_j^2] with c_j = alpha + beta phi_j
    + gamma 1{j mod m = 0} (HKOS 6.3, eq. 6.13; reproduces FPP3 table 8.8).
    """
    j = np.arange(1, horizon)
    c = np.broadcast_to(sm.alpha[:, None], (sm.alpha.size, j.size)).copy()
    if spec.has_trend and j.size:
        c += sm.beta[:, None] * _phi_sum(sm.phi, j)
    if spec.seasonal:
        c += sm.gamma[:, None] * (j % period == 0)[None, :]
    cum = np.concatenate([np.zeros((sm.alpha.size, 1)), np.cumsum(c * c, axis=1)], axis=1)
    return sigma2[:, None] * (1.0 + cum)


def seed_variance(y: FloatArray, fit: BatchFit, horizon: int) -> FloatArray:
    """Variance of the point forecasts from estimating the seed, in units of sigma^2.

    With the smoothing parameters known the innovations are iid, and the seed
    estimate c has covariance sigma^2 (J'J)^-1, J = d e / d c (absolute errors)
    or d eps / d c (relative errors); the h-step forecast moves by z_h' dc,
    z_h = d f_h / d c, so its variance is sigma^2 z_h' (J'J)^-1 z_h
    (the linear-regression prediction-variance argument, e.g. HKOS 6.6 on
    estimation uncertainty). Smoothing-parameter uncertainty is not included.
    The term is made non-decreasing in h (running maximum, conservative), so
    that intervals never narrow with the horizon. Returns (rows, H); multiply
    by sigma^2 (relative sigma^2 for M errors).
    """
    spec, m = fit.spec, fit.period
    rows, n = y.shape
    basis = seed_basis(spec, m)
    q = basis.shape[1]
    x = seed_to_vector(spec, fit.seed)
    step = 1.0 if spec.error == "A" else 1e-6
    pert = np.concatenate([x[:, None, :], x[:, None, :] + step * basis.T[None]], axis=1)
    idx = np.repeat(np.arange(rows), q + 1)
    sm = fit.smoothing.take(idx)
    seeds = vector_to_seed(spec, m, pert.reshape(rows * (q + 1), -1))
    out = run_filter(_repeat_rows(np.asfortranarray(y), q + 1), spec, m, sm, seeds, True)
    tmp = BatchFit(spec, m, sm, seeds, out.sse, out.sse, out.sse, out)
    fc = point_forecasts(tmp, n, horizon).reshape(rows, q + 1, horizon)
    mu = _fitted(out).reshape(rows, q + 1, n)
    dmu = (mu[:, 1:] - mu[:, :1]) / step
    dfc = (fc[:, 1:] - fc[:, :1]) / step  # (rows, q, H)
    with np.errstate(all="ignore"):
        jac = dmu if spec.error == "A" else dmu * (y / (mu[:, 0] * mu[:, 0]))[:, None, :]
        cov = np.linalg.pinv(_gram(jac), rcond=1e-10, hermitian=True)
        var = np.einsum("rqh,rqp,rph->rh", dfc, cov, dfc)
    var = np.where(np.isfinite(var) & (var > 0), var, 0.0)
    return np.maximum.accumulate(var, axis=1)


def simulate_paths(
    fit: BatchFit, n: int, horizon: int, sigma: FloatArray, normals: FloatArray
) -> FloatArray:
    """Sample paths from the state space model with Gaussian innovations.

    ``normals`` (paths, H) are standard normal draws shared by all rows (common
    random numbers), so each row's paths depend only on its own fit. Returns
    (rows, paths, H). For ETS(M,*,M): y = mu (1 + eps), l = a (1 + alpha eps),
    b = phi b + beta a eps, s = s (1 + gamma eps) (HKOS table 2.1; FPP3 8.7).
    """
    spec, m = fit.spec, fit.period
    sm = fit.smoothing
    out = fit.filtered
    paths = normals.shape[0]
    level = np.repeat(out.level[:, None], paths, axis=1)
    trend = np.repeat(out.trend[:, None], paths, axis=1)
    season = np.repeat(out.season[:, :, None], paths, axis=2)  # (rows, m, paths)
    alpha, beta, gamma, phi = (v[:, None] for v in (sm.alpha, sm.beta, sm.gamma, sm.phi))
    sims = np.empty((out.level.size, paths, horizon))
    with np.errstate(all="ignore"):
        for h in range(horizon):
            j = (n + h) % m
            a = level + phi * trend if spec.has_trend else level
            s_j = season[:, j, :]
            eps = sigma[:, None] * normals[None, :, h]
            if spec.error == "M":
                mu = a * s_j if spec.season == "M" else a + s_j
                sims[:, :, h] = mu * (1.0 + eps)
                e = mu * eps
            else:
                mu = a * s_j if spec.season == "M" else a + s_j
                sims[:, :, h] = mu + eps
                e = eps
            if spec.season == "M":
                level = a + alpha * e / s_j
                trend = phi * trend + beta * e / s_j
                season[:, j, :] = s_j + gamma * e / a
            else:
                level = a + alpha * e
                trend = phi * trend + beta * e
                season[:, j, :] = s_j + gamma * e
    return sims


def fit_reference(
    y: FloatArray, spec: EtsSpec, period: int, starts: int = 8, seed: int = 0
) -> tuple[float, Smoothing, SeedState]:
    """Slow single-series reference fit with scipy.optimize (bounded L-BFGS-B).

    Minimises -2 log L jointly over the unit-cube smoothing coordinates (box
    bounds [0, 1]) and the free seed directions, from the heuristic seed and
    ``starts`` random smoothing values, keeping the best. Independent of the
    batch optimiser above, it exists to check it.
    """
    y2 = np.asarray(y, dtype=float)[None, :]
    d = spec.n_smoothing
    basis = seed_basis(spec, period)
    x_base = seed_to_vector(spec, heuristic_seed(y2, spec, period))[0]
    rng = np.random.default_rng(seed)

    def objective(v: FloatArray) -> float:
        x = (x_base + basis @ v[d:])[None, :]
        sm = unit_to_smoothing(spec, v[None, :d])
        out = run_filter(y2, spec, period, sm, vector_to_seed(spec, period, x))
        value = float(neg2loglik(spec, out, y2.shape[1])[0])
        return value if math.isfinite(value) else 1e12

    bounds = [(0.0, 1.0)] * d + [(None, None)] * basis.shape[1]
    best: optimize.OptimizeResult | None = None
    for _ in range(starts):
        v0 = np.concatenate([rng.uniform(0.05, 0.95, d), np.zeros(basis.shape[1])])
        res = optimize.minimize(objective, v0, method="L-BFGS-B", bounds=bounds)
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    v = best.x
    x = (x_base + basis @ v[d:])[None, :]
    return float(best.fun), unit_to_smoothing(spec, v[None, :d]), vector_to_seed(spec, period, x)
