"""Anomaly detection for monthly business series: revenue drops, churn spikes, prices.

Each series is decomposed by a robust regression on a piecewise-linear trend (a
linear spline with a knot every ``period`` observations, counted back from the
latest) plus a fixed seasonal profile (sum-to-zero dummies), on the log scale when
the series is strictly positive so that a "-30 %" drop means the same at any
level. The fit is an M-estimator computed by iteratively reweighted least squares:
Huber weights first, then Tukey's bisquare (Huber 1981, "Robust Statistics";
Maronna, Martin & Yohai 2006, "Robust Statistics", 4.4-4.5), so isolated
anomalies get (near) zero weight and do not distort the expected values of their
neighbours -- the same robustness idea as STL's robustness weights (Cleveland et
al. 1990, J. Official Statistics 6(1)).

A point's robust z-score is its residual divided by the robust scale and by the
residual's own standard deviation factor under the final weights (1 - h for a
fitted point, 1 + h for one the fit ignored; studentised residuals, Cook &
Weisberg 1982). The scale is the MAD (Hampel 1974) in the Huber stage and the
consistency-corrected weighted residual sd in the bisquare stage, never below
``SCALE_FLOOR`` of the series' level (0.1 %; on the log scale that is 0.001 itself):
a noiseless series has a zero MAD, and dividing by it would turn rounding error into
scores of either sign. Because that scale is estimated from few points, the score is
then mapped to the normal scale through Student's t with the fit's effective residual
df. Severity from |z|: low >= 3.5, medium >= 5, high >= 7 (Iglewicz & Hoaglin 1993
recommend 3.5 for modified z-scores). Points whose relative deviation from the expected value is
below ``min_change`` (default 5 %) are not reported, however unusual.

The seasonal profile needs at least two full seasons (three make it robust to an
anomaly in one of them); with less, seasonality is not modelled and the result
says so.

A contribution series (monthly revenue and active subscriptions) yields three
alertable series: revenue itself, the net churn rate 1 - S_t / S_(t-1) (it carries
active subscriptions only, so churn net of new subscriptions is what it tells), and
the average revenue per subscription R_t / S_t, whose jumps are price anomalies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy import stats

FloatArray = npt.NDArray[np.float64]

SEVERITY_THRESHOLDS = (3.5, 5.0, 7.0)  # low, medium, high
MAD_TO_SD = 1.4826
HUBER_C = 1.345
BISQUARE_C = 4.685
MIN_OBS = 8
MIN_CHURN_EXCESS = 0.02  # a churn spike loses 2 % of the base beyond expectation
SCALE_FLOOR = 1e-3  # relative: variation below 0.1 % of the level is rounding, not noise


def _bisquare_consistency() -> float:
    z = np.linspace(-BISQUARE_C, BISQUARE_C, 20001)
    dens = np.exp(-0.5 * z * z)
    w = (1.0 - (z / BISQUARE_C) ** 2) ** 2
    return math.sqrt(float(np.sum(w * z * z * dens) / np.sum(w * dens)))


_BISQUARE_K = _bisquare_consistency()


@dataclass(frozen=True)
class Anomaly:
    """One flagged observation."""

    index: int
    actual: float
    expected: float
    z: float  # robust z-score on the normal scale; negative = below expectation
    severity: str  # "low" | "medium" | "high"
    direction: str  # "down" | "up"
    deviation_pct: float | None  # 100 (actual / expected - 1); None if expected is 0


@dataclass(frozen=True)
class AnomalyReport:
    """Flagged points plus the expected series and scores behind them."""

    anomalies: tuple[Anomaly, ...]
    expected: tuple[float, ...]
    z: tuple[float, ...]
    scale: float  # robust residual sd, on the log scale when ``log_scale``
    log_scale: bool
    seasonal: bool
    warnings: tuple[str, ...] = ()


def detect_anomalies(
    y: npt.ArrayLike,
    *,
    period: int = 12,
    direction: str = "both",
    log_scale: bool | None = None,
    min_change: float = 0.05,
    last: int | None = None,
    thresholds: tuple[float, float, float] = SEVERITY_THRESHOLDS,
) -> AnomalyReport:
    """Score every observation; report those beyond the lowest severity threshold.

    ``direction`` is "down", "up" or "both". ``log_scale`` defaults to "the
    series is strictly positive". ``last`` restricts reports to the latest
    ``last`` observations (alerting on new data); the fit always uses them all.
    """
    x, use_log = _prepare(y, direction, log_scale, min_change, thresholds)
    warnings: list[str] = []
    if x.size < MIN_OBS:
        return _empty(x, use_log, [f"fewer than {MIN_OBS} observations: nothing scored"])
    seasonal = period >= 2 and x.size >= 2 * period
    if period >= 2 and not seasonal:
        warnings.append("fewer than 2 full seasons: seasonality not modelled")
    elif seasonal and x.size < 3 * period:
        warnings.append(
            "fewer than 3 full seasons: a one-off anomaly is partly absorbed by the "
            "seasonal profile, so detection is weak"
        )
    design = _design(x.size, period if seasonal else 1)
    if x.size - design.shape[1] < 4:
        return _empty(x, use_log, [*warnings, "too few observations for the trend model"])
    fitted, z, scale = _robust_fit(_transform(x, use_log), design, _scale_floor(x, use_log))
    expected = np.exp(fitted) if use_log else fitted
    found = _flag(x, expected, z, direction, min_change, last, thresholds)
    return AnomalyReport(
        anomalies=found,
        expected=tuple(expected.tolist()),
        z=tuple(z.tolist()),
        scale=scale,
        log_scale=use_log,
        seasonal=seasonal,
        warnings=tuple(warnings),
    )


def revenue_drops(
    y: npt.ArrayLike,
    *,
    period: int = 12,
    log_scale: bool | None = None,
    min_change: float = 0.05,
    last: int | None = None,
) -> AnomalyReport:
    """Unusually low revenue months (direction "down")."""
    return detect_anomalies(
        y, period=period, direction="down", log_scale=log_scale, min_change=min_change, last=last
    )


def churn_spikes(
    y: npt.ArrayLike,
    *,
    period: int = 12,
    log_scale: bool | None = None,
    min_change: float = 0.05,
    last: int | None = None,
) -> AnomalyReport:
    """Unusually high churn months (direction "up")."""
    return detect_anomalies(
        y, period=period, direction="up", log_scale=log_scale, min_change=min_change, last=last
    )


def price_anomalies(
    y: npt.ArrayLike,
    *,
    period: int = 12,
    log_scale: bool | None = None,
    min_change: float = 0.05,
    last: int | None = None,
) -> AnomalyReport:
    """Unusual prices in either direction."""
    return detect_anomalies(
        y, period=period, direction="both", log_scale=log_scale, min_change=min_change, last=last
    )


def net_churn(subscriptions: npt.ArrayLike) -> FloatArray:
    """Share of last month's subscriptions lost net of new ones: 1 - S_t / S_(t-1), t >= 1.

    Negative while the series grows; needs S_(t-1) > 0.
    """
    s = np.asarray(subscriptions, dtype=float).ravel()
    return 1.0 - s[1:] / s[:-1]


def subscription_churn_spikes(
    subscriptions: npt.ArrayLike,
    *,
    period: int = 12,
    last: int | None = None,
    min_excess: float = MIN_CHURN_EXCESS,
) -> tuple[Anomaly, ...]:
    """Months of unusually high net churn, indexed like ``subscriptions``.

    Scored on the linear scale from the first month after the last one without
    subscriptions. The rate is often zero or negative, so a ratio to its expected
    value means nothing: ``deviation_pct`` is None, and a spike must exceed its
    expected rate by ``min_excess`` (an absolute share of the base) to count.
    """
    s = np.asarray(subscriptions, dtype=float).ravel()
    start = _positive_from(s[:-1])
    report = churn_spikes(
        net_churn(s[start:]), period=period, log_scale=False, min_change=0.0, last=last
    )
    return tuple(
        replace(a, index=a.index + start + 1, deviation_pct=None)
        for a in report.anomalies
        if a.actual - a.expected >= min_excess
    )


def revenue_per_subscription_anomalies(
    revenue: npt.ArrayLike,
    subscriptions: npt.ArrayLike,
    *,
    period: int = 12,
    last: int | None = None,
    min_change: float = 0.05,
) -> tuple[Anomaly, ...]:
    """Unusual average revenue per subscription (either way), indexed like the inputs.

    Scored from the first month after the last one without subscriptions.
    """
    r = np.asarray(revenue, dtype=float).ravel()
    s = np.asarray(subscriptions, dtype=float).ravel()
    start = _positive_from(s)
    report = price_anomalies(r[start:] / s[start:], period=period, min_change=min_change, last=last)
    return tuple(replace(a, index=a.index + start) for a in report.anomalies)


def _positive_from(x: FloatArray) -> int:
    """Index from which every value of ``x`` is positive."""
    bad = np.flatnonzero(x <= 0)
    return int(bad[-1]) + 1 if bad.size else 0


def severity(z: float, thresholds: tuple[float, float, float] = SEVERITY_THRESHOLDS) -> str | None:
    """Severity label for a robust z-score, or None below the lowest threshold."""
    a = abs(z)
    if a >= thresholds[2]:
        return "high"
    if a >= thresholds[1]:
        return "medium"
    if a >= thresholds[0]:
        return "low"
    return None


def _prepare(
    y: npt.ArrayLike,
    direction: str,
    log_scale: bool | None,
    min_change: float,
    thresholds: tuple[float, float, float],
) -> tuple[FloatArray, bool]:
    x = np.asarray(y, dtype=float).ravel()
    if not np.all(np.isfinite(x)):
        raise ValueError("series has missing or non-finite values; fill them first")
    if direction not in ("down", "up", "both"):
        raise ValueError("direction must be 'down', 'up' or 'both'")
    if min_change < 0 or not 0 < thresholds[0] <= thresholds[1] <= thresholds[2]:
        raise ValueError("min_change must be >= 0 and thresholds positive and increasing")
    positive = bool(x.size and np.all(x > 0))
    if log_scale and not positive:
        raise ValueError("log scale needs a strictly positive series")
    return x, positive if log_scale is None else log_scale


def _transform(x: FloatArray, use_log: bool) -> FloatArray:
    return np.log(x) if use_log else x


def _empty(x: FloatArray, use_log: bool, warnings: list[str]) -> AnomalyReport:
    return AnomalyReport(
        (), tuple(x.tolist()), (0.0,) * x.size, 0.0, use_log, False, tuple(warnings)
    )


def _design(n: int, period: int) -> FloatArray:
    """Intercept, slope, hinge terms every ``period`` back from the end, seasonal contrasts."""
    t = np.arange(n, dtype=float)
    knot_step = max(period, 12) if period > 1 else 12
    knots = [k for k in range(n - knot_step, 0, -knot_step) if k >= knot_step]
    cols = [np.ones(n), t / n] + [np.maximum(t - k, 0.0) / n for k in sorted(knots)]
    if period > 1:
        phase = np.arange(n) % period
        for j in range(period - 1):
            cols.append((phase == j).astype(float) - (phase == period - 1).astype(float))
    return np.stack(cols, axis=1)


def _scale_floor(x: FloatArray, use_log: bool) -> float:
    """The smallest residual scale believed: ``SCALE_FLOOR`` of the series' typical size."""
    if use_log:
        return SCALE_FLOOR  # log residuals are relative already
    size = np.abs(x)
    level = float(np.median(size)) or float(np.mean(size)) or 1.0
    return SCALE_FLOOR * level


def _robust_fit(
    x: FloatArray, design: FloatArray, floor: float
) -> tuple[FloatArray, FloatArray, float]:
    """IRLS M-estimate (Huber, then bisquare); fitted values, robust z and scale.

    The Huber stage uses the MAD scale; the bisquare stage the more efficient
    weighted residual scale (:func:`_weighted_scale`); both at least ``floor``.
    """
    w = np.ones(x.size)
    for kind in ("huber", "bisquare"):
        for _ in range(50):
            fitted, var = _weighted_fit(x, design, w)
            std = (x - fitted) / np.sqrt(var)
            scale = _mad_scale(std) if kind == "huber" else _weighted_scale(std, w)
            c = HUBER_C if kind == "huber" else BISQUARE_C
            new_w = _weights(kind, std / max(scale, floor), c)
            done = np.max(np.abs(new_w - w)) < 1e-6
            w = new_w
            if done:
                break
    fitted, var = _weighted_fit(x, design, w)
    std = (x - fitted) / np.sqrt(var)
    scale = max(_weighted_scale(std, w), floor)
    dof = max(float(np.sum(w)) - np.linalg.matrix_rank(design), 3.0)
    return fitted, _normal_equivalent(std / scale, dof), scale


def _normal_equivalent(t_score: FloatArray, dof: float) -> FloatArray:
    """Map Student-t scores (scale estimated on ``dof`` df) to the normal scale.

    z = Phi^-1(F_t(|t|)) with the sign of t, so a threshold such as 3.5 has the
    same tail probability for a short series as for a long one.
    """
    tail = stats.t.sf(np.abs(t_score), dof)
    with np.errstate(divide="ignore"):
        z = stats.norm.isf(tail)
    z = np.where(np.isfinite(z), z, np.abs(t_score))
    return np.sign(t_score) * z


def _weighted_fit(
    x: FloatArray, design: FloatArray, w: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Weighted least squares fit and each residual's variance in units of sigma^2.

    With A = (X'WX)^-1, the residual r_i = y_i - x_i' A X'W y has variance
    sigma^2 (1 - 2 w_i x_i'A x_i + x_i'A X'W^2 X A x_i): 1 - h_i for a fully
    weighted point, 1 + h_i for a point the fit ignores (its prediction error).
    """
    xw = design * w[:, None]
    gram = design.T @ xw
    a = np.linalg.pinv(gram, rcond=1e-10, hermitian=True)
    fitted = design @ (a @ (xw.T @ x))
    ax = design @ a  # rows x_i' A
    h_tilde = np.sum(ax * design, axis=1)
    mid = design.T @ (design * (w * w)[:, None])
    h2 = np.sum((ax @ mid) * ax, axis=1)
    var = 1.0 - 2.0 * w * h_tilde + h2
    return fitted, np.maximum(var, 0.05)


def _mad_scale(std: FloatArray) -> float:
    """1.4826 x median |r| (Hampel 1974) of standardised residuals."""
    return float(MAD_TO_SD * np.median(np.abs(std)))


def _weighted_scale(std: FloatArray, w: FloatArray) -> float:
    """sqrt(sum w r^2 / sum w) / k, k making it consistent at the normal.

    With bisquare weights this is the residual sd of the points the fit keeps;
    ``_BISQUARE_K`` = sqrt(E[w(Z) Z^2] / E[w(Z)]) for Z ~ N(0, 1).
    """
    total = float(np.sum(w))
    if total <= 0:
        return _mad_scale(std)
    return math.sqrt(float(np.sum(w * std * std)) / total) / _BISQUARE_K


def _weights(kind: str, u: FloatArray, c: float) -> FloatArray:
    a = np.abs(u)
    if kind == "huber":
        return np.minimum(1.0, c / np.maximum(a, 1e-12))
    return np.where(a < c, (1.0 - (a / c) ** 2) ** 2, 0.0)


def _flag(
    x: FloatArray,
    expected: FloatArray,
    z: FloatArray,
    direction: str,
    min_change: float,
    last: int | None,
    thresholds: tuple[float, float, float],
) -> tuple[Anomaly, ...]:
    start = 0 if last is None else max(0, x.size - last)
    found = []
    for i in range(start, x.size):
        label = severity(float(z[i]), thresholds)
        dirn = "down" if z[i] < 0 else "up"
        if label is None or (direction != "both" and dirn != direction):
            continue
        exp_i = float(expected[i])
        dev = (float(x[i]) / exp_i - 1.0) if exp_i != 0 else None
        if dev is not None and abs(dev) < min_change:
            continue
        found.append(
            Anomaly(
                index=i,
                actual=float(x[i]),
                expected=exp_i,
                z=float(z[i]),
                severity=label,
                direction=dirn,
                deviation_pct=None if dev is None else 100.0 * dev,
            )
        )
    return tuple(found)
