"""What the forecaster returns, and the forecasts of series no ETS model suits.

The result types of :mod:`app.analytics.forecast`, the options every forecast
shares, the assembly of forecast points (with clipping at 0 for non-negative
series), and the two fallbacks: a constant series forecast as that constant, and
a random walk for series too short for exponential smoothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from app.analytics.ets import FloatArray


@dataclass(frozen=True)
class ForecastPoint:
    """One forecast period: position after the history, value and bounds per level.

    ``period`` is the 0-based index on the series' own time axis (the first
    forecast of a 36-month history has period 36); ``step`` is h = 1, 2, ...
    ``lower`` and ``upper`` map a coverage level in percent (e.g. 95.0) to a bound.
    """

    period: int
    step: int
    value: float
    lower: dict[float, float]
    upper: dict[float, float]


@dataclass(frozen=True)
class ForecastResult:
    """A fitted model, its in-sample fit and its forecasts (data units throughout)."""

    model: str  # the AICc-best model, e.g. "ETS(A,Ad,A)"; "naive" or "constant"
    trend: str  # "none" | "additive" | "damped"
    seasonality: str  # "none" | "additive" | "multiplicative"
    params: dict[str, float]  # alpha, beta, gamma, phi, level0, trend0 as present
    initial_season: tuple[float, ...]
    aicc: float | None
    loglik: float | None
    n_params: int
    sigma: float  # innovation sd; relative (a fraction) for multiplicative errors
    residual_sd: float  # sd of y - fitted, data units, df-adjusted
    fitted: tuple[float, ...]
    residuals: tuple[float, ...]
    points: tuple[ForecastPoint, ...]
    levels: tuple[float, ...]
    interval_method: str
    nonnegative: bool
    clipped: bool
    period: int
    n_obs: int
    candidates: dict[str, float] = field(default_factory=dict)  # AICc per model
    weights: dict[str, float] = field(default_factory=dict)  # Akaike weight per model
    warnings: tuple[str, ...] = ()

    @property
    def values(self) -> FloatArray:
        """Point forecasts as an array (horizon,)."""
        return np.array([p.value for p in self.points])

    def lower(self, level: float) -> FloatArray:
        """Lower bounds of the ``level``% interval, (horizon,)."""
        return np.array([p.lower[float(level)] for p in self.points])

    def upper(self, level: float) -> FloatArray:
        """Upper bounds of the ``level``% interval, (horizon,)."""
        return np.array([p.upper[float(level)] for p in self.points])

    def to_records(self) -> list[dict[str, float | int]]:
        """Flat rows for charts: period, step, value, lower_80, upper_80, ..."""
        rows: list[dict[str, float | int]] = []
        for p in self.points:
            row: dict[str, float | int] = {"period": p.period, "step": p.step, "value": p.value}
            for level in self.levels:
                tag = f"{level:g}".replace(".", "_")
                row[f"lower_{tag}"] = p.lower[level]
                row[f"upper_{tag}"] = p.upper[level]
            rows.append(row)
        return rows


@dataclass(frozen=True)
class Options:
    """Validated options shared by every forecast of one call."""

    horizon: int
    period: int
    levels: tuple[float, ...]
    model: str
    nonnegative: bool | None
    n_paths: int
    seed: int


def is_nonnegative(y: FloatArray, opts: Options) -> bool:
    if opts.nonnegative is None:
        return bool(np.all(y >= 0))
    return opts.nonnegative


def forecast_points(
    n: int,
    mean: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    levels: tuple[float, ...],
    nonneg: bool,
    tol: float,
) -> tuple[tuple[ForecastPoint, ...], bool]:
    """Forecast points; with ``nonneg`` everything is clipped at 0.

    Clipping is reported when a value was below ``-tol`` (rounding noise on an
    exact zero is not worth a warning).
    """
    clipped = False
    if nonneg:
        clipped = bool(min(mean.min(), lower.min(), upper.min()) < -tol)
        mean, lower, upper = (np.maximum(a, 0.0) for a in (mean, lower, upper))
    mean_l, lower_l, upper_l = mean.tolist(), lower.tolist(), upper.tolist()
    points = tuple(
        ForecastPoint(
            period=n + h,
            step=h + 1,
            value=mean_l[h],
            lower={lv: lower_l[i][h] for i, lv in enumerate(levels)},
            upper={lv: upper_l[i][h] for i, lv in enumerate(levels)},
        )
        for h in range(mean.size)
    )
    return points, clipped


def tol(y: FloatArray) -> float:
    """Values below -tol count as clipped; rounding noise on an exact 0 does not."""
    return 1e-9 * max(1.0, float(np.max(np.abs(y))))


def _fallback_result(
    y: FloatArray,
    opts: Options,
    model: str,
    mean: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    sigma: float,
    method: str,
    warnings: list[str],
) -> ForecastResult:
    nonneg = is_nonnegative(y, opts)
    pts, clipped = forecast_points(y.size, mean, lower, upper, opts.levels, nonneg, tol(y))
    if clipped:
        warnings.append("forecasts or bounds below 0 were clipped to 0 (non-negative series)")
    fitted = np.concatenate([y[:1], y[:-1]]) if model == "naive" else np.full(y.size, y[0])
    return ForecastResult(
        model=model,
        trend="none",
        seasonality="none",
        params={},
        initial_season=(),
        aicc=None,
        loglik=None,
        n_params=0,
        sigma=sigma,
        residual_sd=sigma,
        fitted=tuple(fitted.tolist()),
        residuals=tuple((y - fitted).tolist()),
        points=pts,
        levels=opts.levels,
        interval_method=method,
        nonnegative=nonneg,
        clipped=clipped,
        period=opts.period,
        n_obs=y.size,
        warnings=tuple(warnings),
    )


def constant_result(y: FloatArray, opts: Options) -> ForecastResult:
    """A constant series: the constant, with zero-width intervals (no variation seen)."""
    h, nl = opts.horizon, len(opts.levels)
    mean = np.full(h, float(y[0]))
    bounds = np.full((nl, h), float(y[0]))
    note = "series is constant: forecast equals the constant and intervals have zero width"
    return _fallback_result(
        y, opts, "constant", mean, bounds, bounds.copy(), 0.0, "none (no variation)", [note]
    )


def naive_result(y: FloatArray, opts: Options, reason: str) -> ForecastResult:
    """Random walk forecast with Student-t intervals widening with sqrt(h) (FPP3 5.2, 5.5).

    sigma^2 is the mean squared first difference (df = n - 1). With a single
    observation nothing can be estimated; the interval then assumes a one-step
    sd equal to the observed value's magnitude and the result says so.
    """
    h = np.arange(1, opts.horizon + 1)
    warnings = [reason]
    if y.size >= 2:
        sigma = float(np.sqrt(np.mean(np.diff(y) ** 2)))
        df = y.size - 1
        q = stats.t.ppf(0.5 + np.array(opts.levels) / 200.0, df)
        method = f"random walk, Student t with {df} df"
    else:
        sigma = abs(float(y[0]))
        q = stats.norm.ppf(0.5 + np.array(opts.levels) / 200.0)
        method = "random walk, assumed sd"
        warnings.append("single observation: interval width assumes a one-step sd of |y|")
    mean = np.full(opts.horizon, float(y[-1]))
    half = q[:, None] * sigma * np.sqrt(h)[None, :]
    return _fallback_result(
        y, opts, "naive", mean, mean - half, mean + half, sigma, method, warnings
    )
