"""Rolling-origin back-testing with sMAPE and MASE, and a seasonal naive baseline.

Evaluation on a rolling forecasting origin with an expanding window ("time series
cross-validation", FPP3 5.10; Tashman 2000, IJF 16(4)): for origins
o = min_train, min_train + step, ... up to n - horizon, fit on y[:o] and score the
forecasts of y[o:o + horizon].

* sMAPE = mean(200 |y - f| / (|y| + |f|)) in percent, the M3/M4 form with absolute
  values in the denominator (Makridakis & Hibon 2000; M4 guide); a term with
  y = f = 0 counts as 0.
* MASE = mean|y - f| / Q, Q = mean_{t > m} |y_t - y_{t-m}| over the training
  window, the in-sample seasonal naive MAE (Hyndman & Koehler 2006, IJF 22(4);
  FPP3 5.8). With no more than m training points the non-seasonal naive (m = 1) is
  used. Q = 0 leaves MASE undefined (NaN), and such cases are counted.

Per series, both measures are averaged over origins and horizons; the aggregate
is the mean over series (as in the M competitions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.analytics.ets import FloatArray
from app.analytics.forecast import point_forecast_many

Forecaster = Callable[[Sequence[FloatArray], int], list[FloatArray]]
"""Maps a batch of histories and a horizon to one point-forecast array per history."""


@dataclass(frozen=True)
class SeriesScore:
    """Accuracy of one series, averaged over its origins and horizons."""

    series: int
    origins: int
    smape: float
    mase: float  # NaN when the scale was 0 at every origin


@dataclass(frozen=True)
class BacktestReport:
    """Per-series and aggregate accuracy of a rolling-origin back-test."""

    horizon: int
    step: int
    period: int
    per_series: tuple[SeriesScore, ...]
    smape: float
    mase: float
    smape_by_horizon: tuple[float, ...]
    mase_by_horizon: tuple[float, ...]
    n_forecasts: int
    n_mase_undefined: int  # origins whose MASE scale was 0
    skipped: tuple[int, ...]  # series too short for a single origin


def smape_terms(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> FloatArray:
    """200 |y - f| / (|y| + |f|) elementwise, 0 where y = f = 0."""
    y = np.asarray(actual, dtype=float)
    f = np.asarray(forecast, dtype=float)
    denom = np.abs(y) + np.abs(f)
    num = 200.0 * np.abs(y - f)
    return np.divide(num, denom, out=np.zeros_like(num), where=denom > 0)


def smape(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> float:
    """Symmetric MAPE in percent (0..200)."""
    return float(np.mean(smape_terms(actual, forecast)))


def mase_scale(history: npt.ArrayLike, period: int = 12) -> float:
    """In-sample MAE of the seasonal naive method (naive if history <= period)."""
    h = np.asarray(history, dtype=float)
    m = period if h.size > period else 1
    if h.size <= m:
        return float("nan")
    return float(np.mean(np.abs(h[m:] - h[:-m])))


def mase(
    actual: npt.ArrayLike, forecast: npt.ArrayLike, history: npt.ArrayLike, period: int = 12
) -> float:
    """Mean absolute scaled error; NaN when the scale is 0 or undefined."""
    q = mase_scale(history, period)
    err = float(np.mean(np.abs(np.asarray(actual, float) - np.asarray(forecast, float))))
    if not q > 0:
        return float("nan")
    return err / q


def seasonal_naive(history: npt.ArrayLike, horizon: int, period: int = 12) -> FloatArray:
    """y_{T+h} = y_{T+h-m(k+1)}, k = floor((h-1)/m) (FPP3 5.2); naive if T < m."""
    y = np.asarray(history, dtype=float)
    m = period if y.size >= period else 1
    last = y[-m:]
    return np.array([last[h % m] for h in range(horizon)])


def seasonal_naive_forecaster(period: int = 12) -> Forecaster:
    """The seasonal naive baseline with the :data:`Forecaster` interface."""

    def run(histories: Sequence[FloatArray], horizon: int) -> list[FloatArray]:
        return [seasonal_naive(h, horizon, period) for h in histories]

    return run


def ets_forecaster(period: int = 12, model: str = "auto") -> Forecaster:
    """Point forecasts of the automatic ETS forecaster (batched)."""

    def run(histories: Sequence[FloatArray], horizon: int) -> list[FloatArray]:
        return point_forecast_many(histories, horizon, period=period, model=model)

    return run


def origins(n: int, horizon: int, step: int, min_train: int, max_origins: int | None) -> list[int]:
    """Forecast origins (training lengths) of an expanding-window back-test."""
    out = list(range(min_train, n - horizon + 1, step))
    if max_origins is not None:
        out = out[len(out) - max_origins :] if max_origins > 0 else []
    return out


def rolling_origin(
    series: Sequence[npt.ArrayLike],
    forecaster: Forecaster,
    *,
    horizon: int,
    step: int = 1,
    min_train: int | None = None,
    period: int = 12,
    max_origins: int | None = None,
) -> BacktestReport:
    """Back-test ``forecaster`` on every series; all windows go in one batch call.

    ``min_train`` defaults to two seasons (2 * period). ``max_origins`` keeps only
    the latest origins.
    """
    if horizon < 1 or step < 1:
        raise ValueError("horizon and step must be positive")
    first = 2 * period if min_train is None else min_train
    arrays = [np.asarray(y, dtype=float).ravel() for y in series]
    windows: list[tuple[int, int]] = []
    skipped = []
    for i, y in enumerate(arrays):
        os = origins(y.size, horizon, step, max(first, 1), max_origins)
        if not os:
            skipped.append(i)
        windows.extend((i, o) for o in os)
    forecasts = forecaster([arrays[i][:o] for i, o in windows], horizon) if windows else []
    return _score(arrays, windows, forecasts, horizon, step, period, tuple(skipped))


def _score(
    arrays: list[FloatArray],
    windows: list[tuple[int, int]],
    forecasts: list[FloatArray],
    horizon: int,
    step: int,
    period: int,
    skipped: tuple[int, ...],
) -> BacktestReport:
    s_terms = np.empty((len(windows), horizon))
    m_terms = np.empty((len(windows), horizon))
    for w, ((i, o), f) in enumerate(zip(windows, forecasts, strict=True)):
        y = arrays[i]
        actual = y[o : o + horizon]
        s_terms[w] = smape_terms(actual, f)
        q = mase_scale(y[:o], period)
        m_terms[w] = np.abs(actual - f) / q if q > 0 else np.nan
    owner = np.array([i for i, _ in windows], dtype=int)
    per_series = []
    for i in sorted(set(owner.tolist())):
        rows = owner == i
        m_rows = m_terms[rows]
        per_series.append(
            SeriesScore(
                series=i,
                origins=int(rows.sum()),
                smape=float(s_terms[rows].mean()),
                mase=_nanmean(m_rows),
            )
        )
    undefined = int(np.isnan(m_terms[:, 0]).sum()) if windows else 0
    return BacktestReport(
        horizon=horizon,
        step=step,
        period=period,
        per_series=tuple(per_series),
        smape=_nanmean(np.array([s.smape for s in per_series])),
        mase=_nanmean(np.array([s.mase for s in per_series])),
        smape_by_horizon=tuple(_col_means(s_terms)),
        mase_by_horizon=tuple(_col_means(m_terms)),
        n_forecasts=len(windows),
        n_mase_undefined=undefined,
        skipped=skipped,
    )


def _nanmean(a: FloatArray) -> float:
    finite = a[np.isfinite(a)]
    return float(finite.mean()) if finite.size else float("nan")


def _col_means(a: FloatArray) -> list[float]:
    return [_nanmean(a[:, j]) for j in range(a.shape[1])]
