"""Fixed-horizon frequentist comparisons of one treatment arm against control.

* Two-proportion z-test: pooled standard error under H0 for the statistic
  (Fleiss, Levin & Paik, *Statistical Methods for Rates and Proportions*; equal to the
  Pearson chi-square on the 2x2 table without continuity correction), unpooled
  Wald standard error for the interval on the difference (Newcombe 1998, method 1).
* Welch t-test from counters (Welch 1947) with Welch-Satterthwaite df.
* Relative lift interval by the delta method with the same critical value, as
  GrowthBook gbstats ``TwoSidedTTest`` does.

Valid for one look at a pre-planned sample size; use ``sequential`` when peeking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import special

from app.analytics.arms import (
    ArmStats,
    Lift,
    ProportionArm,
    normal_quantile,
    relative_lift,
    symmetric_interval,
    t_quantile,
    welch_df,
)


@dataclass(frozen=True)
class ComparisonResult:
    """Treatment vs control: lifts with intervals, test statistic and p-value.

    `relative` is None when the control mean is 0 (the ratio is undefined).
    `df` is infinite for z-tests.
    """

    method: str
    control_mean: float
    treatment_mean: float
    absolute: Lift
    relative: Lift | None
    statistic: float
    df: float
    p_value: float
    alpha: float

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")


def two_sided_normal_p(z: float) -> float:
    """P(|Z| >= |z|) for standard normal Z; erfc keeps precision in the far tail."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def two_proportion_z_test(
    control: ProportionArm, treatment: ProportionArm, alpha: float = 0.05
) -> ComparisonResult:
    """Two-sided two-proportion z-test with absolute and relative lift intervals.

    z = (p_t - p_c) / sqrt(p(1 - p)(1/n_c + 1/n_t)), p pooled (Fleiss et al.).
    Interval on p_t - p_c: Wald, +/- z_{1-alpha/2} sqrt(p_c q_c / n_c + p_t q_t / n_t).
    Because the test uses the null (pooled) SE and the interval the unpooled SE,
    they can disagree in rare borderline cases; the p-value is the decision rule.
    """
    _check_alpha(alpha)
    diff = treatment.mean - control.mean
    pooled = (control.conversions + treatment.conversions) / (control.n + treatment.n)
    se_null = math.sqrt(pooled * (1.0 - pooled) * (1.0 / control.n + 1.0 / treatment.n))
    z = diff / se_null if se_null > 0.0 else 0.0
    critical = normal_quantile(1.0 - alpha / 2.0)
    se = math.sqrt(control.variance / control.n + treatment.variance / treatment.n)
    level = 1.0 - alpha
    return ComparisonResult(
        method="two-proportion z-test",
        control_mean=control.mean,
        treatment_mean=treatment.mean,
        absolute=Lift(diff, se, symmetric_interval(diff, se, critical, level)),
        relative=relative_lift(control, treatment, critical, level),
        statistic=z,
        df=math.inf,
        p_value=two_sided_normal_p(z) if se_null > 0.0 else 1.0,
        alpha=alpha,
    )


def welch_t_test(
    control: ArmStats, treatment: ArmStats, alpha: float = 0.05, method: str = "Welch t-test"
) -> ComparisonResult:
    """Two-sided Welch t-test on means from (n, mean, variance) per arm.

    t = (m_t - m_c) / sqrt(s_c^2/n_c + s_t^2/n_t), df by Welch-Satterthwaite;
    intervals use t_{1-alpha/2, df} for both the absolute and the delta-method
    relative lift (gbstats ``TwoSidedTTest``). Raises if both variances are 0.
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
    level = 1.0 - alpha
    return ComparisonResult(
        method=method,
        control_mean=control.mean,
        treatment_mean=treatment.mean,
        absolute=Lift(diff, se, symmetric_interval(diff, se, critical, level)),
        relative=relative_lift(control, treatment, critical, level),
        statistic=t_stat,
        df=df,
        p_value=float(2.0 * special.stdtr(df, -abs(t_stat))),
        alpha=alpha,
    )
