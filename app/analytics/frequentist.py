"""Fixed-horizon frequentist comparisons of one treatment arm against control.

* Two-proportion z-test: pooled standard error under H0 for the statistic
  (Fleiss, Levin & Paik, *Statistical Methods for Rates and Proportions*; equal to the
  Pearson chi-square on the 2x2 table without continuity correction), unpooled
  Wald standard error for the interval on the difference (Newcombe 1998, method 1).
* Welch t-test from counters (Welch 1947) with Welch-Satterthwaite df.
* Relative lift by the delta method with the same critical value, its p-value on the
  relative scale, as GrowthBook gbstats ``TwoSidedTTest`` does; and Fieller's interval
  for it (``arms.fieller_interval``).

One verdict per comparison (``Verdict``): an interval and the p-value of the test whose
inversion gives that interval, so p < alpha exactly when the interval excludes 0. It is
on the relative scale: the delta method while its normal approximation is trusted,
Fieller's interval otherwise (its test of "no lift" is the unpooled test of the
difference). Trusted means g = t^2 (SE / mean)^2 < 0.05 for both arms' means, the rule
of thumb of bioassay (Finney, *Statistical Method in Biological Assay*) under which the
delta method's limits are adequate; it fails at about 20 conversions per arm or at
revenue with few buyers, where the delta interval under-covers. When the control mean is
not distinguishable from 0 the ratio is undefined and the verdict is on the difference.

Valid for one look at a pre-planned sample size; use ``sequential`` when peeking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from app.analytics.arms import (
    ArmStats,
    Interval,
    Lift,
    ProportionArm,
    fieller_interval,
    relative_lift,
    squared_relative_error,
    symmetric_interval,
    t_quantile,
    two_sided_p,
    welch_df,
)

TRUSTED_G = 0.05
Scale = Literal["relative", "absolute"]
VerdictMethod = Literal["delta", "fieller", "difference"]


@dataclass(frozen=True)
class Verdict:
    """The comparison's one answer: `ci` on `scale`, and the p-value of the test whose
    inversion gives it (the test of no effect at the same level)."""

    scale: Scale
    method: VerdictMethod
    ci: Interval
    p_value: float


@dataclass(frozen=True)
class ComparisonResult:
    """Treatment vs control: lifts with intervals and p-values, and the verdict.

    `absolute` carries the named test's statistic and p-value; `relative` the delta
    method (None when the control mean is 0) and `fieller` Fieller's interval for it.
    `g` is t^2 times the larger squared relative standard error of the two means.
    `df` is infinite for z-tests.
    """

    method: str
    control_mean: float
    treatment_mean: float
    absolute: Lift
    relative: Lift | None
    fieller: Interval | None
    g: float
    statistic: float
    df: float
    alpha: float
    verdict: Verdict

    @property
    def p_value(self) -> float:
        return self.verdict.p_value

    @property
    def significant(self) -> bool:
        return self.verdict.p_value < self.alpha

    @property
    def normal_approximation_trusted(self) -> bool:
        return self.g < TRUSTED_G


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")


def _compare(
    method: str,
    control: ArmStats,
    treatment: ArmStats,
    absolute: Lift,
    statistic: float,
    df: float,
    alpha: float,
) -> ComparisonResult:
    """The relative lift, Fieller's interval and the verdict around the named test."""
    critical = t_quantile(df, 1.0 - alpha / 2.0)
    relative = relative_lift(control, treatment, df, alpha)
    fieller = fieller_interval(control, treatment, critical, 1.0 - alpha) if relative else None
    g = critical**2 * max(squared_relative_error(control), squared_relative_error(treatment))
    if relative is None or fieller is None or not math.isfinite(fieller.lower):
        verdict = Verdict("absolute", "difference", absolute.ci, absolute.p_value)
    elif g < TRUSTED_G:
        verdict = Verdict("relative", "delta", relative.ci, relative.p_value)
    else:
        # Fieller's set excludes lift 0 exactly when the unpooled test of the difference
        # rejects at the same critical value: that test is its p-value.
        se = math.sqrt(control.variance / control.n + treatment.variance / treatment.n)
        p = two_sided_p((treatment.mean - control.mean) / se, df) if se > 0.0 else 1.0
        verdict = Verdict("relative", "fieller", fieller, p)
    return ComparisonResult(
        method=method,
        control_mean=control.mean,
        treatment_mean=treatment.mean,
        absolute=absolute,
        relative=relative,
        fieller=fieller,
        g=g,
        statistic=statistic,
        df=df,
        alpha=alpha,
        verdict=verdict,
    )


def two_proportion_z_test(
    control: ProportionArm, treatment: ProportionArm, alpha: float = 0.05
) -> ComparisonResult:
    """Two-sided two-proportion z-test with absolute and relative lift intervals.

    z = (p_t - p_c) / sqrt(p(1 - p)(1/n_c + 1/n_t)), p pooled (Fleiss et al.).
    Interval on p_t - p_c: Wald, +/- z_{1-alpha/2} sqrt(p_c q_c / n_c + p_t q_t / n_t).
    Because the test uses the null (pooled) SE and the interval the unpooled SE,
    they can disagree in rare borderline cases; the verdict is on the relative scale
    unless the control's conversions are too few to divide by.
    """
    _check_alpha(alpha)
    diff = treatment.mean - control.mean
    pooled = (control.conversions + treatment.conversions) / (control.n + treatment.n)
    se_null = math.sqrt(pooled * (1.0 - pooled) * (1.0 / control.n + 1.0 / treatment.n))
    z = diff / se_null if se_null > 0.0 else 0.0
    critical = t_quantile(math.inf, 1.0 - alpha / 2.0)
    se = math.sqrt(control.variance / control.n + treatment.variance / treatment.n)
    p_value = two_sided_p(z, math.inf) if se_null > 0.0 else 1.0
    absolute = Lift(diff, se, symmetric_interval(diff, se, critical, 1.0 - alpha), p_value)
    return _compare("two-proportion z-test", control, treatment, absolute, z, math.inf, alpha)


def welch_t_test(
    control: ArmStats, treatment: ArmStats, alpha: float = 0.05, method: str = "Welch t-test"
) -> ComparisonResult:
    """Two-sided Welch t-test on means from (n, mean, variance) per arm.

    t = (m_t - m_c) / sqrt(s_c^2/n_c + s_t^2/n_t), df by Welch-Satterthwaite;
    intervals use t_{1-alpha/2, df} for the absolute lift, the delta-method relative
    lift and Fieller's interval (gbstats ``TwoSidedTTest``). Raises if both variances
    are 0.
    """
    _check_alpha(alpha)
    if control.n < 2 or treatment.n < 2:
        raise ValueError("a t-test needs at least 2 units per arm")
    se = math.sqrt(control.variance / control.n + treatment.variance / treatment.n)
    if se == 0.0:
        raise ValueError("both arms have zero variance; the t-test is undefined")
    diff = treatment.mean - control.mean
    df = welch_df(control, treatment)
    t_stat = diff / se
    critical = t_quantile(df, 1.0 - alpha / 2.0)
    ci = symmetric_interval(diff, se, critical, 1.0 - alpha)
    absolute = Lift(diff, se, ci, two_sided_p(t_stat, df))
    return _compare(method, control, treatment, absolute, t_stat, df, alpha)
