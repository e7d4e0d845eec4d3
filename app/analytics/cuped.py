"""CUPED variance reduction with a pre-period covariate (Deng, Xu, Kohavi & Walker 2013,
"Improving the sensitivity of online controlled experiments by utilizing
pre-experiment data", WSDM).

Y_cv = Y - theta (X - mean(X)), theta = cov(X, Y) / var(X). Because X is measured
before assignment, E[X] is the same in every arm and the adjusted difference stays
unbiased, while Var(Y_cv) = Var(Y)(1 - rho^2) (Deng et al.). theta is pooled
over arms from within-arm (centred) sums so a treatment shift in Y cannot leak into
it; gbstats instead pools raw totals, which differs by O(1/n).

Per-arm adjusted variance: s_Y^2 + theta^2 s_X^2 - 2 theta s_XY (as gbstats
``RegressionAdjustedStatistic``); the adjusted arms then go through the same Welch
t-test. Treating theta and the pooled mean of X as known is the usual first-order
(large-n) approximation.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.analytics.arms import ArmStats, CovariateArm, GaussianArm
from app.analytics.frequentist import ComparisonResult, welch_t_test


def cuped_theta(control: CovariateArm, treatment: CovariateArm) -> float:
    """Pooled within-arm regression slope of Y on X; 0 when X has no variance."""
    sxy = sum(arm.covariance * (arm.n - 1) for arm in (control, treatment))
    sxx = sum(arm.covariate.variance * (arm.n - 1) for arm in (control, treatment))
    return sxy / sxx if sxx > 0.0 else 0.0


@dataclass(frozen=True)
class CupedAdjustment:
    """theta, the adjusted arms, the variance kept per arm (Var(Y_cv)/Var(Y)), and the
    share of the difference's variance removed: intervals shrink by sqrt(1 - that)."""

    theta: float
    control: GaussianArm
    treatment: GaussianArm
    variance_ratio_control: float
    variance_ratio_treatment: float
    variance_reduction: float


def _adjust(arm: CovariateArm, theta: float, x_mean: float) -> GaussianArm:
    y, x = arm.metric, arm.covariate
    variance = y.variance + theta**2 * x.variance - 2.0 * theta * arm.covariance
    return GaussianArm(arm.n, y.mean - theta * (x.mean - x_mean), max(0.0, variance))


def _ratio(adjusted: GaussianArm, arm: CovariateArm) -> float:
    raw = arm.metric.variance
    return adjusted.variance / raw if raw > 0.0 else 1.0


def _difference_variance(control: ArmStats, treatment: ArmStats) -> float:
    return control.variance / control.n + treatment.variance / treatment.n


def cuped_adjust(control: CovariateArm, treatment: CovariateArm) -> CupedAdjustment:
    """Adjusted means (on the Y scale) and variances for both arms."""
    theta = cuped_theta(control, treatment)
    x_mean = (control.x_sum + treatment.x_sum) / (control.n + treatment.n)
    adj_c = _adjust(control, theta, x_mean)
    adj_t = _adjust(treatment, theta, x_mean)
    raw = _difference_variance(control.metric, treatment.metric)
    reduction = 1.0 - _difference_variance(adj_c, adj_t) / raw if raw > 0.0 else 0.0
    return CupedAdjustment(
        theta, adj_c, adj_t, _ratio(adj_c, control), _ratio(adj_t, treatment), reduction
    )


def cuped_t_test(
    control: CovariateArm, treatment: CovariateArm, alpha: float = 0.05
) -> ComparisonResult:
    """Welch t-test on CUPED-adjusted arms (absolute and delta-method relative lift)."""
    adjustment = cuped_adjust(control, treatment)
    return welch_t_test(
        adjustment.control, adjustment.treatment, alpha, method="CUPED Welch t-test"
    )
