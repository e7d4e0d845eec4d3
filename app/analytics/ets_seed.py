"""Seed (time-0) states of ETS models: heuristics and Gauss-Newton refinement.

For additive models the one-step errors are affine in the seed state, so for given
smoothing parameters the optimal seed is a linear least squares problem (HKOS 5.2,
"concentrating out" the seed state); for multiplicative ones a heuristic
decomposition (HKOS 2.6.1) is refined by Gauss-Newton steps on the likelihood.
"""

from __future__ import annotations

import numpy as np

from app.analytics.ets import (
    BoolArray,
    EtsSpec,
    FloatArray,
    SeedState,
    Smoothing,
    bmv,
    gram,
    neg2loglik,
    repeat_rows,
    run_filter,
)


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
    if spec.error == "M":
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


def residuals(
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
        mu0, f0, ok0 = residuals(y, spec, period, sm, x)
        pert = x[:, None, :] + step * basis.T[None, :, :]
        y_rep = repeat_rows(y, q)
        mu1, _, _ = residuals(
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
            grad_lin = bmv(jr, resid)
            hess = gram(jr)
        else:
            eps = (y - mu) / mu
            deps = -jac * (y / (mu * mu))[:, None, :]
            s = np.maximum(np.sum(eps * eps, axis=1), 1e-300)
            grad = (2.0 * n / s)[:, None] * bmv(deps, eps) + 2.0 * np.sum(
                jac / mu[:, None, :], axis=2
            )
            hess = (2.0 * n / s)[:, None, None] * gram(deps)
            grad_lin = -grad
        scale = np.sqrt(np.maximum(np.einsum("rqq->rq", hess), 1e-300))
        hs = hess / (scale[:, :, None] * scale[:, None, :])
        q = hess.shape[1]
        hs = hs + 1e-10 * np.eye(q)
        sol = np.linalg.solve(hs, (grad_lin / scale)[..., None])[..., 0] / scale
    return np.where(np.isfinite(sol), sol, 0.0)


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
        _, f, ok = residuals(y, spec, period, sm, trial)
        better = pending & ok & (f < best_f)
        best_x[better] = trial[better]
        best_f[better] = f[better]
        pending &= ~better
        if not pending.any():
            break
    return best_x
