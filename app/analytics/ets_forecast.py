"""Forecasts of fitted ETS models: point forecasts, forecast variances, sample paths."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from app.analytics.ets import (
    LOWER,
    PHI_LOWER,
    PHI_UPPER,
    SSE_FLOOR,
    UPPER,
    BatchFit,
    EtsSpec,
    FloatArray,
    Smoothing,
    fitted_values,
    gram,
    repeat_rows,
    run_filter,
)
from app.analytics.ets_seed import seed_basis, seed_to_vector, vector_to_seed


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


def estimation_variance(y: FloatArray, fit: BatchFit, horizon: int) -> FloatArray:
    """Variance of the point forecasts from estimating the parameters, in units of sigma^2.

    The delta method for (nonlinear) least squares: the estimate theta of the
    smoothing parameters and free seed states has covariance sigma^2 (J'J)^-1 with
    J = d e / d theta (absolute errors) or d eps / d theta (relative errors); the
    h-step forecast moves by z_h' d theta, z_h = d f_h / d theta, so its variance is
    sigma^2 z_h' (J'J)^-1 z_h (Seber & Wild 1989, "Nonlinear Regression", 5.1; the
    textbook intervals, HKOS ch. 6, treat theta as known). A smoothing parameter at
    a bound of its region is an active constraint and is held fixed. The term is
    made non-decreasing in h (running maximum), so that intervals never narrow
    with the horizon. Returns (rows, H); multiply by sigma^2 (relative sigma^2 for
    M errors).
    """
    spec, m = fit.spec, fit.period
    rows, n = y.shape
    sm_pert, sm_free = _smoothing_perturbations(spec, fit.smoothing)
    d = len(sm_pert)
    basis = seed_basis(spec, m)
    q = basis.shape[1]
    k = 1 + d + q
    x = seed_to_vector(spec, fit.seed)
    seed_step = 1.0 if spec.error == "A" else 1e-6
    pert = np.repeat(x[:, None, :], k, axis=1)
    pert[:, 1 + d :, :] += seed_step * basis.T[None]
    params = [np.repeat(v[:, None], k, axis=1) for v in _as_columns(fit.smoothing)]
    steps = np.ones((rows, k - 1)) * seed_step
    for c, (col, step) in enumerate(sm_pert):
        params[col][:, 1 + c] += step
        steps[:, c] = step
    sm = Smoothing(*(p.reshape(-1) for p in params))
    seeds = vector_to_seed(spec, m, pert.reshape(rows * k, -1))
    out = run_filter(repeat_rows(np.asfortranarray(y), k), spec, m, sm, seeds, True)
    tmp = BatchFit(spec, m, sm, seeds, out.sse, out.sse, out.sse, out)
    fc = point_forecasts(tmp, n, horizon).reshape(rows, k, horizon)
    mu = fitted_values(out).reshape(rows, k, n)
    free = np.concatenate([sm_free, np.ones((rows, q), dtype=bool)], axis=1)
    dmu = np.where(free[:, :, None], (mu[:, 1:] - mu[:, :1]) / steps[:, :, None], 0.0)
    dfc = np.where(free[:, :, None], (fc[:, 1:] - fc[:, :1]) / steps[:, :, None], 0.0)
    with np.errstate(all="ignore"):
        jac = dmu if spec.error == "A" else dmu * (y / (mu[:, 0] * mu[:, 0]))[:, None, :]
        cov = np.linalg.pinv(gram(jac), rcond=1e-10, hermitian=True)
        var = np.einsum("rqh,rqp,rph->rh", dfc, cov, dfc)
    var = np.where(np.isfinite(var) & (var > 0), var, 0.0)
    return np.maximum.accumulate(var, axis=1)


PARAM_STEP = 1e-5
ACTIVE_BOUND = 1e-3  # a smoothing parameter this close to a bound is held fixed


def _as_columns(sm: Smoothing) -> list[FloatArray]:
    return [sm.alpha, sm.beta, sm.gamma, sm.phi]


def _smoothing_perturbations(
    spec: EtsSpec, sm: Smoothing
) -> tuple[list[tuple[int, FloatArray]], npt.NDArray[np.bool_]]:
    """Per present smoothing parameter: (column, signed step per row), and which are free.

    The step points away from the nearer bound of the usual region, so that the
    perturbed model stays inside it.
    """
    cols: list[tuple[int, float, float | FloatArray]] = [(0, LOWER, UPPER)]
    if spec.has_trend:
        cols.append((1, LOWER, sm.alpha))
    if spec.seasonal:
        cols.append((2, LOWER, 1.0 - sm.alpha))
    if spec.damped:
        cols.append((3, PHI_LOWER, PHI_UPPER))
    values = _as_columns(sm)
    pert, free = [], []
    for col, lo, hi in cols:
        v = values[col]
        pert.append((col, np.where(hi - v > v - lo, PARAM_STEP, -PARAM_STEP)))
        free.append((v - lo > ACTIVE_BOUND) & (hi - v > ACTIVE_BOUND))
    return pert, np.stack(free, axis=1)


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


def linear(spec: EtsSpec) -> bool:
    """Additive error and no multiplicative season: HKOS class 1, Gaussian forecasts."""
    return spec.error == "A" and spec.season != "M"


def sample_forecasts(fit: BatchFit, y: FloatArray, horizon: int, normals: FloatArray) -> FloatArray:
    """Draws (rows, paths, H) from each row's h-step forecast distribution.

    ``normals`` (paths, H + 1) are standard normal draws shared by all rows. For
    linear models the distribution is Gaussian with the exact h-step variance
    (:func:`analytic_variance`); for the others sample paths of the state space
    model (:func:`simulate_paths`; HKOS ch. 6). Both add the parameter-estimation
    variance (:func:`estimation_variance`) as a Gaussian term, drawn from the
    first column of ``normals``.
    """
    n = y.shape[1]
    sigma2 = innovation_variance(fit, n)
    extra_sd = np.sqrt(sigma2[:, None] * estimation_variance(y, fit, horizon))
    shift = extra_sd[:, None, :] * normals[None, :, :1]
    if linear(fit.spec):
        var = analytic_variance(fit.spec, fit.period, fit.smoothing, sigma2, horizon)
        mean = point_forecasts(fit, n, horizon)
        # One draw per path for every h: the marginals are exact and the quantiles
        # scale with the sd, so intervals widen exactly as the variance does.
        return mean[:, None, :] + np.sqrt(var)[:, None, :] * normals[None, :, 1:2] + shift
    return simulate_paths(fit, n, horizon, np.sqrt(sigma2), normals[:, 1:]) + shift
