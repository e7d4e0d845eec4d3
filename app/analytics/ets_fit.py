"""Maximum likelihood fitting of one ETS model to a batch of equally long series.

1. smoothing parameters: a design of scrambled Sobol points (scipy.stats.qmc)
   plus a lattice on the bounds, shared by all rows, with the exact concentrated
   seed (additive errors) or a heuristic seed (multiplicative errors); from each
   row's best design points a bounded compass search (Kolda, Lewis & Torczon 2003,
   SIAM Review 45(3)) with the seed held fixed, all candidate points of all rows
   evaluated in one filter run;
2. a joint Levenberg-Marquardt polish of smoothing parameters and seed from the
   best start (forward-difference Jacobians, batched).

Each row's optimisation path depends only on that row's data, so a series gets
the same fit whether it is forecast alone or in a batch of thousands.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt
from scipy.stats import qmc

from app.analytics.ets import (
    LOG_2PI,
    SSE_FLOOR,
    BatchFit,
    BoolArray,
    EtsSpec,
    FloatArray,
    SeedState,
    aicc,
    bmv,
    fitted_values,
    gram,
    neg2loglik,
    repeat_rows,
    run_filter,
    take_rows,
    unit_to_smoothing,
)
from app.analytics.ets_seed import (
    heuristic_seed,
    refine_seed,
    residuals,
    seed_basis,
    seed_to_vector,
    vector_to_seed,
)


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
    mu_unit = fitted_values(
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
    y_rep = repeat_rows(y, g)
    zero_seed = vector_to_seed(spec, period, np.zeros((rows * g, spec.n_states(period))))
    e0 = y_rep - fitted_values(run_filter(y_rep, spec, period, rep_sm, zero_seed, keep_fitted=True))
    e0 = e0.reshape(rows, g, n)
    coef = np.matmul(pinv[None], e0[..., None])[..., 0]  # (rows, g, q)
    resid = e0 - np.matmul(zmat[None], coef[..., None])[..., 0]
    sse = np.sum(resid * resid, axis=2)
    f = n * np.log(np.maximum(sse, n * SSE_FLOOR) / n) + n * (1 + LOG_2PI)
    f = np.where(np.isfinite(f), f, np.inf)
    top = _top_k(f, starts)
    x = np.take_along_axis(coef, top[:, :, None], axis=1) @ basis.T
    return design[top], x, np.take_along_axis(f, top, axis=1)


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
    out = run_filter(repeat_rows(y, g), spec, period, sm, seed.take(rep))
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
            take_rows(y, rep),
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
    yk = take_rows(y, owner)
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
    return residuals(y, spec, period, unit_to_smoothing(spec, u), x)


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
        repeat_rows(y, d + q),
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
        grad = w * bmv(dr, r) + extra
        hess = w[:, :, None] * gram(dr)
    grad = np.where(np.isfinite(grad), grad, 0.0)
    hess = np.where(np.isfinite(hess), hess, 0.0)
    return grad, hess


def _objective(
    y: FloatArray, spec: EtsSpec, period: int, u: FloatArray, seed: SeedState
) -> FloatArray:
    out = run_filter(y, spec, period, unit_to_smoothing(spec, u), seed)
    return neg2loglik(spec, out, y.shape[1])
