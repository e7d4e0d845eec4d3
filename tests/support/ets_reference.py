"""A slow, independent single-series ETS fit with scipy.optimize, to check the batch fitter."""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

from app.analytics.ets import (
    EtsSpec,
    FloatArray,
    SeedState,
    Smoothing,
    neg2loglik,
    run_filter,
    unit_to_smoothing,
)
from app.analytics.ets_seed import heuristic_seed, seed_basis, seed_to_vector, vector_to_seed


def fit_reference(
    y: FloatArray, spec: EtsSpec, period: int, starts: int = 8, seed: int = 0
) -> tuple[float, Smoothing, SeedState]:
    """Slow single-series reference fit with scipy.optimize (bounded L-BFGS-B).

    Minimises -2 log L jointly over the unit-cube smoothing coordinates (box
    bounds [0, 1]) and the free seed directions, from the heuristic seed and
    ``starts`` random smoothing values, keeping the best. Independent of the
    batch optimiser of app.analytics.ets_fit, it exists to check it.
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
