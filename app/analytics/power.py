"""Sample size and power for planning a fixed-horizon test.

* Proportions: the normal-approximation formula for the pooled two-proportion
  z-test (Fleiss, Levin & Paik 2003, *Statistical Methods for Rates and
  Proportions*, without continuity correction; R ``power.prop.test``):
      n = (z_{1-a/2} sqrt(2 pbar qbar) + z_{1-b} sqrt(p1 q1 + p2 q2))^2 / (p2 - p1)^2.
* Means: the two-sample t-test power from the noncentral t distribution with
  df = 2(n - 1) and ncp = delta / (sigma sqrt(2/n)) (R ``power.t.test``); n is
  solved numerically.

Both ignore the far rejection tail (R's strict = FALSE). With k arms (k - 1
comparisons against control) alpha is split Bonferroni-style, alpha / (k - 1),
which is what Holm needs at worst.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import optimize, special

from app.analytics.arms import normal_quantile


@dataclass(frozen=True)
class SampleSizePlan:
    """Units needed per arm (rounded up; `n_per_arm_exact` unrounded) and the inputs."""

    n_per_arm: int
    n_per_arm_exact: float
    n_total: int
    n_arms: int
    alpha_per_comparison: float
    power: float
    baseline: float
    treatment: float
    mde_relative: float


def _comparison_alpha(alpha: float, n_arms: int) -> float:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if n_arms < 2:
        raise ValueError("need a control and at least one treatment arm")
    return alpha / (n_arms - 1)


def _check_power(power: float) -> None:
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must lie in (0, 1), got {power}")


def _proportions(baseline_rate: float, mde_relative: float) -> tuple[float, float]:
    treated = baseline_rate * (1.0 + mde_relative)
    if not 0.0 < baseline_rate < 1.0 or not 0.0 < treated < 1.0 or mde_relative == 0.0:
        raise ValueError("baseline and baseline*(1+mde) must lie in (0, 1), mde != 0")
    return baseline_rate, treated


def _proportion_n(p1: float, p2: float, alpha: float, power: float) -> float:
    pbar = (p1 + p2) / 2.0
    null_sd = math.sqrt(2.0 * pbar * (1.0 - pbar))
    alt_sd = math.sqrt(p1 * (1.0 - p1) + p2 * (1.0 - p2))
    z_a, z_b = normal_quantile(1.0 - alpha / 2.0), normal_quantile(power)
    return (z_a * null_sd + z_b * alt_sd) ** 2 / (p2 - p1) ** 2


def _plan(
    n: float, n_arms: int, alpha: float, power: float, base: float, mde: float
) -> SampleSizePlan:
    n_per_arm = math.ceil(n - 1e-9)  # guard against 76.0000000001 from rounding
    return SampleSizePlan(
        n_per_arm, n, n_per_arm * n_arms, n_arms, alpha, power, base, base * (1 + mde), mde
    )


def sample_size_proportion(
    baseline_rate: float,
    mde_relative: float,
    alpha: float = 0.05,
    power: float = 0.8,
    n_arms: int = 2,
) -> SampleSizePlan:
    """Per-arm n to detect baseline -> baseline*(1+mde) with the two-proportion z-test."""
    _check_power(power)
    a = _comparison_alpha(alpha, n_arms)
    p1, p2 = _proportions(baseline_rate, mde_relative)
    return _plan(_proportion_n(p1, p2, a, power), n_arms, a, power, p1, mde_relative)


def power_proportion(
    n_per_arm: float,
    baseline_rate: float,
    mde_relative: float,
    alpha: float = 0.05,
    n_arms: int = 2,
) -> float:
    """Power of the two-sided pooled z-test with n_per_arm units in each arm.

    Phi((sqrt(n)|p2 - p1| - z_{1-a/2} sqrt(2 pbar qbar)) / sqrt(p1 q1 + p2 q2)).
    """
    a = _comparison_alpha(alpha, n_arms)
    p1, p2 = _proportions(baseline_rate, mde_relative)
    pbar = (p1 + p2) / 2.0
    z_a = normal_quantile(1.0 - a / 2.0)
    numerator = math.sqrt(n_per_arm) * abs(p2 - p1) - z_a * math.sqrt(2.0 * pbar * (1.0 - pbar))
    return float(special.ndtr(numerator / math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))))


def _t_power(n: float, effect_size: float, alpha: float) -> float:
    """Noncentral-t power of the two-sided two-sample t-test (n per arm)."""
    df = 2.0 * (n - 1.0)
    critical = special.stdtrit(df, 1.0 - alpha / 2.0)
    ncp = effect_size * math.sqrt(n / 2.0)
    return float(1.0 - special.nctdtr(df, ncp, critical))


def _effect_size(baseline_mean: float, std_dev: float, mde_relative: float) -> float:
    if std_dev <= 0.0 or baseline_mean == 0.0 or mde_relative == 0.0:
        raise ValueError("need std_dev > 0, baseline_mean != 0 and mde_relative != 0")
    return abs(baseline_mean * mde_relative) / std_dev


def power_mean(
    n_per_arm: float,
    baseline_mean: float,
    std_dev: float,
    mde_relative: float,
    alpha: float = 0.05,
    n_arms: int = 2,
) -> float:
    """Power of the two-sided two-sample t-test for a relative change in the mean."""
    if n_per_arm < 2:
        raise ValueError("need at least 2 units per arm")
    a = _comparison_alpha(alpha, n_arms)
    return _t_power(n_per_arm, _effect_size(baseline_mean, std_dev, mde_relative), a)


def sample_size_mean(
    baseline_mean: float,
    std_dev: float,
    mde_relative: float,
    alpha: float = 0.05,
    power: float = 0.8,
    n_arms: int = 2,
) -> SampleSizePlan:
    """Per-arm n for the two-sample t-test; std_dev is the per-unit SD (both arms)."""
    _check_power(power)
    a = _comparison_alpha(alpha, n_arms)
    d = _effect_size(baseline_mean, std_dev, mde_relative)
    # The normal-approximation n is a lower bound; the t answer lies just above it.
    z_n = 2.0 * ((normal_quantile(1 - a / 2) + normal_quantile(power)) / d) ** 2
    if _t_power(2.0, d, a) >= power:
        return _plan(2.0, n_arms, a, power, baseline_mean, mde_relative)
    upper = 2.0 * z_n + 10.0
    n = optimize.brentq(lambda x: _t_power(x, d, a) - power, 2.0, upper, xtol=1e-10)
    return _plan(float(n), n_arms, a, power, baseline_mean, mde_relative)
