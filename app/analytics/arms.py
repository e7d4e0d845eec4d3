"""Per-arm summary statistics and the small formulas every comparison shares.

The API keeps counters, not raw rows, so everything here starts from n, sum and
sum of squares (plus covariate sums and cross products for CUPED). Formulas:

* sample variance from sums: ``(S2 - S1**2 / n) / (n - 1)``;
* delta-method variance of the relative lift ``mean_t / mean_c - 1`` (the same
  first-order Taylor expansion as GrowthBook gbstats ``variance_of_ratios`` with
  zero covariance between independent arms);
* Welch (1947) / Satterthwaite (1946) degrees of freedom;
* Fieller's (1940, 1954) interval for the ratio mean_t / mean_c: the ratios rho that a
  test of mean_t - rho mean_c = 0 does not reject. Its test of rho = 1 is the test of the
  difference, so it never disagrees with it; it stays honest where the delta method
  under-covers (small counts, heavy-tailed revenue).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from scipy import special


class ArmStats(Protocol):
    """What a two-sample comparison needs from one arm."""

    @property
    def n(self) -> int: ...

    @property
    def mean(self) -> float: ...

    @property
    def variance(self) -> float: ...


def _require_units(n: int, minimum: int = 1) -> None:
    if n < minimum:
        raise ValueError(f"an arm needs at least {minimum} unit(s), got n={n}")


@dataclass(frozen=True)
class ProportionArm:
    """A conversion metric: `conversions` of `n` units converted (0/1 per unit)."""

    n: int
    conversions: int

    def __post_init__(self) -> None:
        _require_units(self.n)
        if not 0 <= self.conversions <= self.n:
            raise ValueError(f"conversions must lie in [0, n], got {self.conversions}/{self.n}")

    @property
    def mean(self) -> float:
        return self.conversions / self.n

    @property
    def variance(self) -> float:
        # Bernoulli variance p(1 - p), as gbstats ProportionStatistic uses.
        p = self.mean
        return p * (1.0 - p)


@dataclass(frozen=True)
class MeanArm:
    """A per-unit numeric metric (revenue or margin per visitor) from its sums."""

    n: int
    total: float
    sum_squares: float

    def __post_init__(self) -> None:
        _require_units(self.n)
        if self.sum_squares < 0:
            raise ValueError("sum_squares cannot be negative")

    @classmethod
    def from_values(cls, values: Iterable[float]) -> MeanArm:
        """Build the counters from raw per-unit values (tests, back-fills)."""
        data = [float(v) for v in values]
        return cls(n=len(data), total=math.fsum(data), sum_squares=math.fsum(v * v for v in data))

    @property
    def mean(self) -> float:
        return self.total / self.n

    @property
    def variance(self) -> float:
        """Unbiased sample variance; clipped at 0 against rounding in S2 - S1^2/n."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.sum_squares - self.total**2 / self.n) / (self.n - 1))


@dataclass(frozen=True)
class CovariateArm:
    """A metric Y with a pre-period covariate X for CUPED (Deng et al. 2013).

    Counters: n, sum Y, sum Y^2, sum X, sum X^2 and sum X*Y over the arm's units.
    """

    n: int
    y_sum: float
    y_sum_squares: float
    x_sum: float
    x_sum_squares: float
    xy_sum: float

    def __post_init__(self) -> None:
        _require_units(self.n, minimum=2)

    @property
    def metric(self) -> MeanArm:
        return MeanArm(self.n, self.y_sum, self.y_sum_squares)

    @property
    def covariate(self) -> MeanArm:
        return MeanArm(self.n, self.x_sum, self.x_sum_squares)

    @property
    def covariance(self) -> float:
        """Unbiased sample covariance of X and Y."""
        return (self.xy_sum - self.x_sum * self.y_sum / self.n) / (self.n - 1)


@dataclass(frozen=True)
class GaussianArm:
    """An arm reduced to (n, mean, variance); what CUPED hands to the t-test."""

    n: int
    mean: float
    variance: float


@dataclass(frozen=True)
class Interval:
    """A two-sided interval at confidence (or credibility) `level`."""

    lower: float
    upper: float
    level: float

    def contains(self, value: float) -> bool:
        return self.lower <= value <= self.upper

    @property
    def excludes_zero(self) -> bool:
        return self.lower > 0.0 or self.upper < 0.0


@dataclass(frozen=True)
class Lift:
    """A point estimate with its standard error, interval, and the two-sided p-value of
    no effect on the same scale (p < 1 - ci.level exactly when ci excludes 0)."""

    estimate: float
    std_error: float
    ci: Interval
    p_value: float


def normal_quantile(probability: float) -> float:
    return float(special.ndtri(probability))


def t_quantile(df: float, probability: float) -> float:
    if math.isinf(df):
        return normal_quantile(probability)
    return float(special.stdtrit(df, probability))


def two_sided_p(statistic: float, df: float) -> float:
    """P(|T| >= |statistic|) for Student's t with df (the normal when df is infinite);
    erfc keeps precision in the normal's far tail."""
    if math.isinf(df):
        return math.erfc(abs(statistic) / math.sqrt(2.0))
    return float(2.0 * special.stdtr(df, -abs(statistic)))


def symmetric_interval(
    estimate: float, std_error: float, critical: float, level: float
) -> Interval:
    """estimate +/- critical * SE; an infinite interval when SE is 0 (no information)."""
    if std_error <= 0.0 or not math.isfinite(std_error):
        return Interval(-math.inf, math.inf, level)
    half = critical * std_error
    return Interval(estimate - half, estimate + half, level)


def relative_lift_variance(control: ArmStats, treatment: ArmStats) -> float:
    """Delta-method variance of mean_t / mean_c - 1 for independent arms.

    Var ~= var_t / (m_c^2 n_t) + var_c m_t^2 / (m_c^4 n_c)  (first-order Taylor;
    gbstats ``variance_of_ratios`` with covariance 0). Unreliable when the control
    mean's own interval includes 0.
    """
    m_c, m_t = control.mean, treatment.mean
    return treatment.variance / (m_c**2 * treatment.n) + control.variance * m_t**2 / (
        m_c**4 * control.n
    )


def welch_df(control: ArmStats, treatment: ArmStats) -> float:
    """Welch-Satterthwaite degrees of freedom (Welch 1947; Satterthwaite 1946)."""
    a = control.variance / control.n
    b = treatment.variance / treatment.n
    denominator = a**2 / max(control.n - 1, 1) + b**2 / max(treatment.n - 1, 1)
    if denominator == 0.0:
        return math.inf
    return (a + b) ** 2 / denominator


def relative_estimate(control: ArmStats, treatment: ArmStats) -> float:
    """(m_t - m_c) / |m_c|: equals m_t/m_c - 1 for positive baselines, and keeps
    "positive = treatment higher" when the baseline is negative (margin per visitor)."""
    if control.mean == 0.0:
        raise ValueError("relative effect undefined: control mean is 0")
    return (treatment.mean - control.mean) / abs(control.mean)


def relative_lift(control: ArmStats, treatment: ArmStats, df: float, alpha: float) -> Lift | None:
    """Relative lift with its delta-method interval and the p-value on that scale, both
    with t_{1-alpha/2, df} (gbstats ``TwoSidedTTest``); None when the control mean is 0."""
    if control.mean == 0.0:
        return None
    estimate = relative_estimate(control, treatment)
    std_error = math.sqrt(relative_lift_variance(control, treatment))
    critical = t_quantile(df, 1.0 - alpha / 2.0)
    ci = symmetric_interval(estimate, std_error, critical, 1.0 - alpha)
    p_value = two_sided_p(estimate / std_error, df) if std_error > 0.0 else 1.0
    return Lift(estimate, std_error, ci, p_value)


def squared_relative_error(arm: ArmStats) -> float:
    """(SE of the arm's mean / mean)^2: how well the mean is known; infinite at mean 0."""
    if arm.mean == 0.0:
        return math.inf
    return arm.variance / (arm.n * arm.mean**2)


def fieller_interval(
    control: ArmStats, treatment: ArmStats, critical: float, level: float
) -> Interval:
    """Fieller's interval for the relative lift of independent arms.

    The ratios rho with (m_t - rho m_c)^2 <= t^2 (v_t/n_t + rho^2 v_c/n_c) (Fieller 1954;
    independent arms, so no covariance term), solved as a quadratic in rho and mapped to
    the lift's scale as relative_estimate does. When g = t^2 SE_c^2 / m_c^2 >= 1 the
    control mean is not distinguishable from 0 and the set is unbounded.
    """
    m_c, m_t = control.mean, treatment.mean
    a, b = treatment.variance / treatment.n, control.variance / control.n
    t2 = critical * critical
    leading = m_c * m_c - t2 * b
    if leading <= 0.0:
        return Interval(-math.inf, math.inf, level)
    half = math.sqrt(t2 * (b * m_t * m_t + a * leading))
    low, high = (m_t * m_c - half) / leading, (m_t * m_c + half) / leading
    if m_c > 0.0:
        return Interval(low - 1.0, high - 1.0, level)
    return Interval(1.0 - high, 1.0 - low, level)  # a negative baseline flips the sign
