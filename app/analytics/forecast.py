"""Automatic monthly forecasting with exponential smoothing and prediction intervals.

Public entry points: :func:`forecast` for one series and :func:`forecast_many` for
a batch (fitted together, vectorised; a series gets the same answer either way).

Method (Hyndman & Athanasopoulos, "Forecasting: Principles and Practice", 3rd ed.
(FPP3), ch. 8; Hyndman, Koehler, Ord & Snyder 2008 (HKOS)):

* candidates: the fifteen ETS models of :mod:`app.analytics.ets` (those the R
  ``forecast`` package and statsforecast's AutoETS consider by default); seasonal
  ones need two full seasons, multiplicative-error ones strictly positive data, and
  every one n >= k + 2 so that AICc is defined. Each is fitted by maximum
  likelihood (:mod:`app.analytics.ets_fit`);
* combination: the forecast is the Akaike-weighted combination of the candidates
  (:mod:`app.analytics.ets_select`; Kolassa 2011), the intervals are quantiles of
  the weighted mixture of their forecast distributions: Gaussian with the exact
  h-step variance for the linear models (HKOS 6.3; FPP3 table 8.8), simulated
  sample paths for the multiplicative ones (HKOS ch. 6; FPP3 8.7), each with
  sigma^2 = SSE / (n - k) and the variance from estimating the parameters added
  (:func:`app.analytics.ets_forecast.estimation_variance`). The result describes
  the AICc-best model (parameters, fitted values) and lists every weight;
* fallbacks: a constant series is forecast as that constant with zero-width
  intervals; with fewer than 5 observations (or no valid candidate) a random walk
  with Student-t intervals, df = n - 1, widening with sqrt(h) (FPP3 5.2, 5.5);
* series with no negative value are treated as non-negative: forecasts and
  bounds are clipped at 0 and the result says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from app.analytics import ets, ets_forecast, ets_select
from app.analytics.ets import BatchFit, EtsSpec, FloatArray
from app.analytics.ets_select import Selection
from app.analytics.forecast_result import (
    ForecastResult,
    Options,
    constant_result,
    forecast_points,
    is_nonnegative,
    naive_result,
    tol,
)

DEFAULT_LEVELS: tuple[float, ...] = (80.0, 95.0)
DEFAULT_PERIOD = 12
DEFAULT_PATHS = 2000
MIN_ETS_OBS = 5
FIT_CHUNK = 512


def forecast(
    y: npt.ArrayLike,
    horizon: int = 12,
    *,
    period: int = DEFAULT_PERIOD,
    levels: Sequence[float] = DEFAULT_LEVELS,
    model: str = "auto",
    nonnegative: bool | None = None,
    n_paths: int = DEFAULT_PATHS,
    seed: int = 0,
) -> ForecastResult:
    """Forecast one series ``horizon`` steps ahead with automatic ETS selection.

    ``model`` is "auto" (the Akaike-weighted combination) or one ETS code of
    ``ets.SPECS`` ("ANN", "MAdN", "MAM", ...); a requested model that does not suit
    the series raises ValueError (constant and very short series still take their
    fallbacks). ``nonnegative`` defaults to "no observation is negative".
    ``seed`` fixes the draws the intervals are taken from.
    """
    return forecast_many(
        [y],
        horizon,
        period=period,
        levels=levels,
        model=model,
        nonnegative=nonnegative,
        n_paths=n_paths,
        seed=seed,
    )[0]


def forecast_many(
    series: Sequence[npt.ArrayLike],
    horizon: int = 12,
    *,
    period: int = DEFAULT_PERIOD,
    levels: Sequence[float] = DEFAULT_LEVELS,
    model: str = "auto",
    nonnegative: bool | None = None,
    n_paths: int = DEFAULT_PATHS,
    seed: int = 0,
) -> list[ForecastResult]:
    """Forecast many series; equally long ones are fitted together in one batch."""
    opts = _options(horizon, period, levels, model, nonnegative, n_paths, seed)
    arrays = [_as_series(y, i) for i, y in enumerate(series)]
    fallback, by_length = _route(arrays)
    _check_forced_model(arrays, by_length, opts)
    results: list[ForecastResult | None] = [None] * len(arrays)
    for i, kind in fallback.items():
        if kind == "constant":
            results[i] = constant_result(arrays[i], opts)
        else:
            reason = f"fewer than {MIN_ETS_OBS} observations: random walk forecast"
            results[i] = naive_result(arrays[i], opts, reason)
    for idx in _chunks(by_length):
        for i, res in zip(idx, _forecast_group([arrays[i] for i in idx], opts), strict=True):
            results[i] = res
    return [r for r in results if r is not None]


def _route(arrays: list[FloatArray]) -> tuple[dict[int, str], dict[int, list[int]]]:
    """Fallback kind ("constant" or "naive") per index, and the rest by length."""
    fallback: dict[int, str] = {}
    by_length: dict[int, list[int]] = {}
    for i, y in enumerate(arrays):
        if y.size > 1 and _is_constant(y):
            fallback[i] = "constant"
        elif y.size < MIN_ETS_OBS:
            fallback[i] = "naive"
        else:
            by_length.setdefault(y.size, []).append(i)
    return fallback, by_length


def _chunks(by_length: dict[int, list[int]]) -> list[list[int]]:
    """Equal-length groups cut into batches of at most FIT_CHUNK series.

    Results do not depend on the cut (every row is fitted independently); it
    keeps the working arrays cache-sized.
    """
    return [
        idx[i : i + FIT_CHUNK] for idx in by_length.values() for i in range(0, len(idx), FIT_CHUNK)
    ]


def point_forecast_many(
    series: Sequence[npt.ArrayLike],
    horizon: int = 12,
    *,
    period: int = DEFAULT_PERIOD,
    model: str = "auto",
    nonnegative: bool | None = None,
) -> list[FloatArray]:
    """Point forecasts only (no intervals, no result objects): for back-tests.

    Same models, selection, fallbacks and clipping as :func:`forecast_many`.
    """
    opts = _options(horizon, period, DEFAULT_LEVELS, model, nonnegative, DEFAULT_PATHS, 0)
    arrays = [_as_series(y, i) for i, y in enumerate(series)]
    fallback, by_length = _route(arrays)
    _check_forced_model(arrays, by_length, opts)
    out: list[FloatArray] = [np.empty(0)] * len(arrays)
    for i, kind in fallback.items():
        out[i] = np.full(opts.horizon, float(arrays[i][0 if kind == "constant" else -1]))
    for idx in _chunks(by_length):
        means = _group_means(np.stack([arrays[i] for i in idx]), opts)
        for i, mean in zip(idx, means, strict=True):
            out[i] = mean
    pairs = zip(arrays, out, strict=True)
    return [np.maximum(f, 0.0) if is_nonnegative(y, opts) else f for y, f in pairs]


def _group_means(y: FloatArray, opts: Options) -> FloatArray:
    """Akaike-weighted point forecasts (rows, H) of equally long series; naive if none fits."""
    scale = np.mean(np.abs(y), axis=1)
    fits = ets_select.fit_candidates(
        y / scale[:, None], np.all(y > 0, axis=1), opts.period, opts.model
    )
    sel = ets_select.select(fits, scale, y.shape[1])
    means = ets_select.combined_means(fits, sel, y.shape[1], opts.horizon) * scale[:, None]
    naive = np.repeat(y[:, -1:], opts.horizon, axis=1)
    return np.where(np.isnan(means), naive, means)


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def _options(
    horizon: int,
    period: int,
    levels: Sequence[float],
    model: str,
    nonnegative: bool | None,
    n_paths: int,
    seed: int,
) -> Options:
    if int(horizon) != horizon or horizon < 1:
        raise ValueError("horizon must be a positive integer")
    if int(period) != period or period < 1:
        raise ValueError("period must be a positive integer (1 = no seasonality)")
    lv = tuple(sorted({float(v) for v in levels}))
    if not lv or any(not 0.0 < v < 100.0 for v in lv):
        raise ValueError("levels must be percentages strictly between 0 and 100")
    code = _model_code(model)
    if n_paths < 100:
        raise ValueError("n_paths must be at least 100")
    return Options(int(horizon), int(period), lv, code, nonnegative, int(n_paths), int(seed))


def _model_code(model: str) -> str:
    if model == "auto":
        return model
    code = model.removeprefix("ETS(").removesuffix(")").replace(",", "")
    if code not in ets.SPECS:
        raise ValueError(f"unknown model {model!r}; use 'auto' or one of {sorted(ets.SPECS)}")
    return code


def _as_series(y: npt.ArrayLike, i: int) -> FloatArray:
    arr = np.asarray(y, dtype=float).ravel()
    if arr.size == 0:
        raise ValueError(f"series {i} is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"series {i} has missing or non-finite values; fill them first")
    return arr


def _check_forced_model(
    arrays: list[FloatArray], by_length: dict[int, list[int]], opts: Options
) -> None:
    """A requested model must suit every series that is not a constant/short fallback."""
    if opts.model == "auto":
        return
    for idx in by_length.values():
        for i in idx:
            y = arrays[i]
            if not ets_select.candidate_specs(y.size, opts.period, bool(np.all(y > 0)), opts.model):
                raise ValueError(
                    f"model {opts.model} is not valid for series {i} (length {y.size}; "
                    "multiplicative models need positive data, seasonal ones two seasons)"
                )


def _is_constant(y: FloatArray) -> bool:
    return bool(np.ptp(y) <= 1e-12 * max(1.0, float(np.max(np.abs(y)))))


# ---------------------------------------------------------------------------
# Model selection and forecasting for a group of equally long series
# ---------------------------------------------------------------------------


def _forecast_group(ys: list[FloatArray], opts: Options) -> list[ForecastResult]:
    y = np.stack(ys)
    rows, n = y.shape
    scale = np.mean(np.abs(y), axis=1)
    yn = y / scale[:, None]
    fits = ets_select.fit_candidates(yn, np.all(y > 0, axis=1), opts.period, opts.model)
    sel = ets_select.select(fits, scale, n)
    mean = ets_select.combined_means(fits, sel, n, opts.horizon) * scale[:, None]
    lower, upper = ets_select.mixture_bounds(
        fits, sel, yn, opts.horizon, opts.levels, opts.n_paths, opts.seed
    )
    lower *= scale[:, None, None]
    upper *= scale[:, None, None]
    results: list[ForecastResult | None] = [None] * rows
    for code, fit_rows in _group_rows(sel.best).items():
        if code == "":
            for r in fit_rows:
                results[r] = naive_result(ys[r], opts, "no exponential smoothing model valid")
            continue
        fit, covered = fits[code]
        best = ets_select.take_fit(fit, np.searchsorted(covered, fit_rows))
        for j, r in enumerate(fit_rows):
            bands = (mean[r], lower[r], upper[r])
            results[r] = _ets_result(best, j, ys[r], float(scale[r]), bands, sel, r, opts)
    return [r for r in results if r is not None]


def _group_rows(codes: list[str]) -> dict[str, npt.NDArray[np.intp]]:
    groups: dict[str, list[int]] = {}
    for r, code in enumerate(codes):
        groups.setdefault(code, []).append(r)
    return {k: np.array(v, dtype=np.intp) for k, v in groups.items()}


# ---------------------------------------------------------------------------
# Result assembly
# ---------------------------------------------------------------------------


def _ets_result(
    fit: BatchFit,
    j: int,
    y: FloatArray,
    scale: float,
    bands: tuple[FloatArray, FloatArray, FloatArray],
    sel: Selection,
    row: int,
    opts: Options,
) -> ForecastResult:
    """Row ``j`` of the AICc-best model's fit, with the combined forecast ``bands``.

    ``bands`` are the point forecasts (H,) and lower and upper bounds (levels, H).
    """
    spec, n = fit.spec, y.size
    k = spec.n_params(fit.period)
    assert fit.filtered.fitted is not None
    fitted = fit.filtered.fitted[j] * scale
    resid = y - fitted
    dof = max(n - k + 1, 1)
    sigma = math.sqrt(max(float(fit.sse[j]), n * ets.SSE_FLOOR) / dof)
    nll = float(fit.neg2loglik[j]) + 2.0 * n * math.log(scale)
    warnings = _ets_warnings(spec, n, opts)
    if sigma < 1e-6:
        warnings.append("the model reproduces the history exactly: intervals show no noise")
    nonneg = is_nonnegative(y, opts)
    pts, clipped = forecast_points(n, *bands, opts.levels, nonneg, tol(y))
    if clipped:
        warnings.append("forecasts or bounds below 0 were clipped to 0 (non-negative series)")
    weights = sel.weights_of(row)
    crit = sel.crit[row]
    return ForecastResult(
        model=spec.name,
        trend={"N": "none", "A": "additive", "Ad": "damped"}[spec.trend],
        seasonality={"N": "none", "A": "additive", "M": "multiplicative"}[spec.season],
        params=_params(fit, j, scale),
        initial_season=_initial_season(fit, j, scale),
        aicc=crit.get(spec.code),
        loglik=-0.5 * nll,
        n_params=k,
        sigma=sigma * (scale if spec.error == "A" else 1.0),
        residual_sd=math.sqrt(float(np.sum(resid * resid)) / dof),
        fitted=tuple(fitted.tolist()),
        residuals=tuple(resid.tolist()),
        points=pts,
        levels=opts.levels,
        interval_method=_method(weights, opts),
        nonnegative=nonneg,
        clipped=clipped,
        period=opts.period,
        n_obs=n,
        candidates=dict(sorted(crit.items(), key=lambda kv: kv[1])),
        weights=dict(sorted(weights.items(), key=lambda kv: -kv[1])),
        warnings=tuple(warnings),
    )


def _method(weights: dict[str, float], opts: Options) -> str:
    draws = f"{opts.n_paths} draws, seed {opts.seed}"
    parts = "Gaussian h-step variance for linear models, simulated sample paths for the others"
    drawn = [code for code, w in weights.items() if w * opts.n_paths >= 0.5]
    if len(drawn) > 1:
        return f"mixture of {len(drawn)} ETS models by Akaike weight ({draws}): {parts}"
    if ets_forecast.linear(ets.SPECS[drawn[0]]):
        return f"analytic: Gaussian h-step variance of the linear model ({draws})"
    return f"simulation: sample paths of the state space model ({draws})"


def _ets_warnings(spec: EtsSpec, n: int, opts: Options) -> list[str]:
    out = []
    if opts.model == "auto" and opts.period >= 2 and n < 2 * opts.period:
        out.append(
            f"fewer than 2 full seasons ({n} < {2 * opts.period} observations): "
            "seasonal models were not considered"
        )
    return out


def _params(fit: BatchFit, j: int, scale: float) -> dict[str, float]:
    spec, sm, seed = fit.spec, fit.smoothing, fit.seed
    out = {"alpha": float(sm.alpha[j])}
    if spec.has_trend:
        out["beta"] = float(sm.beta[j])
    if spec.seasonal:
        out["gamma"] = float(sm.gamma[j])
    if spec.damped:
        out["phi"] = float(sm.phi[j])
    out["level0"] = float(seed.level[j]) * scale
    if spec.has_trend:
        out["trend0"] = float(seed.trend[j]) * scale
    return out


def _initial_season(fit: BatchFit, j: int, scale: float) -> tuple[float, ...]:
    if not fit.spec.seasonal:
        return ()
    season = fit.seed.season[j] * (scale if fit.spec.season == "A" else 1.0)
    return tuple(season.tolist())
