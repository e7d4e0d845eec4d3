"""Bayesian chance to beat control and expected loss (risk).

Two models:

* ``beta_binomial_comparison`` (conversion): independent Beta(a0, b0) priors,
  default Beta(1, 1) (uniform), conjugate Beta posteriors. Chance to beat control
  is exact (Evan Miller 2015, "Formulas for Bayesian A/B Testing"); expected loss
  is exact (C. Stucchio 2015, "Bayesian A/B Testing at VWO", whitepaper). The relative
  lift credible interval uses the log-normal approximation of each Beta posterior
  (digamma/trigamma moments of log p), as gbstats ``BinomialBayesianABTest`` did.
* ``gaussian_comparison`` (any metric): gbstats ``EffectBayesianABTest``. The
  effect (relative by default, delta-method variance) is treated as Gaussian with
  a Gaussian prior on the effect; default prior is flat (improper), optional
  proper prior N(0, 0.3^2) on the relative lift as in GrowthBook's settings.
  Expected loss uses the closed form of E[max(-D, 0)] for D ~ N(mu, s^2).

Expected loss of shipping treatment = E[max(control - treatment, 0)] under the
posterior, i.e. how much is given up on average if treatment is in fact worse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

from app.analytics.arms import (
    ArmStats,
    Interval,
    ProportionArm,
    normal_quantile,
    relative_estimate,
    relative_lift_variance,
)

Scale = Literal["relative", "absolute"]


@dataclass(frozen=True)
class GaussianPrior:
    """Gaussian prior on the effect; `proper=False` means flat (data only)."""

    mean: float = 0.0
    variance: float = 0.09
    proper: bool = False

    def __post_init__(self) -> None:
        if self.variance <= 0.0:
            raise ValueError("prior variance must be positive")


@dataclass(frozen=True)
class BayesianResult:
    """Posterior summary of treatment vs control.

    `lift` and `credible_interval` are on `lift_scale`; the two expected losses
    are on `loss_scale` (absolute = metric units, relative = fraction of control).
    """

    method: str
    prior: str
    chance_to_beat: float
    expected_loss_treatment: float
    expected_loss_control: float
    loss_scale: Scale
    lift: float
    lift_scale: Scale
    credible_interval: Interval


def _log_beta_sum(a: int, b: float, c: float, d: float) -> float:
    """log P(X > Y), X ~ Beta(a, b), Y ~ Beta(c, d), integer a (Evan Miller 2015).

    P = sum_{i=0}^{a-1} B(c + i, b + d) / ((b + i) B(1 + i, b) B(c, d)); summed in
    log space so that large counts neither overflow nor underflow.
    """
    i = np.arange(a, dtype=float)
    log_terms = (
        special.betaln(c + i, b + d)
        - np.log(b + i)
        - special.betaln(1.0 + i, b)
        - special.betaln(c, d)
    )
    return float(special.logsumexp(log_terms))


def prob_beta_greater(a: float, b: float, c: float, d: float) -> float:
    """P(X > Y) for independent X ~ Beta(a, b), Y ~ Beta(c, d); a and c integers.

    Cost is O(min(a, c)) terms: the sum runs over the smaller first parameter,
    using P(X > Y) = 1 - P(Y > X) (ties have probability 0).
    """
    if a != int(a) or c != int(c):
        raise ValueError("the exact Beta formula needs integer first parameters")
    if a <= c:
        return min(1.0, math.exp(_log_beta_sum(int(a), b, c, d)))
    return max(0.0, 1.0 - math.exp(_log_beta_sum(int(c), d, a, b)))


def beta_expected_loss(a_x: float, b_x: float, a_y: float, b_y: float) -> float:
    """E[max(X - Y, 0)] for X ~ Beta(a_x, b_x), Y ~ Beta(a_y, b_y) (Stucchio 2015).

    E[X 1{X>Y}] = E[X] P(X' > Y) with X' ~ Beta(a_x + 1, b_x), and likewise for Y.
    """
    mean_x = a_x / (a_x + b_x)
    mean_y = a_y / (a_y + b_y)
    loss = mean_x * prob_beta_greater(a_x + 1, b_x, a_y, b_y) - mean_y * prob_beta_greater(
        a_x, b_x, a_y + 1, b_y
    )
    return max(0.0, loss)


def _log_beta_moments(a: float, b: float) -> tuple[float, float]:
    # E[log p] = psi(a) - psi(a + b); Var[log p] = psi'(a) - psi'(a + b).
    mean = float(special.digamma(a) - special.digamma(a + b))
    var = float(special.polygamma(1, a) - special.polygamma(1, a + b))
    return mean, var


def beta_binomial_comparison(
    control: ProportionArm,
    treatment: ProportionArm,
    prior_alpha: int = 1,
    prior_beta: int = 1,
    credible_level: float = 0.95,
) -> BayesianResult:
    """Exact Beta-Binomial chance to beat control and expected losses (absolute).

    Prior: independent Beta(prior_alpha, prior_beta) on each conversion rate
    (integers; default uniform). Posterior Beta(a0 + conversions, b0 + failures).
    """
    if prior_alpha < 1 or prior_beta < 1:
        raise ValueError("prior parameters must be integers >= 1")
    a_c = prior_alpha + control.conversions
    b_c = prior_beta + control.n - control.conversions
    a_t = prior_alpha + treatment.conversions
    b_t = prior_beta + treatment.n - treatment.conversions
    mu_c, var_c = _log_beta_moments(a_c, b_c)
    mu_t, var_t = _log_beta_moments(a_t, b_t)
    mu, sd = mu_t - mu_c, math.sqrt(var_c + var_t)
    z = normal_quantile(0.5 + credible_level / 2.0)
    return BayesianResult(
        method="beta-binomial (exact)",
        prior=f"independent Beta({prior_alpha}, {prior_beta}) on each conversion rate",
        chance_to_beat=prob_beta_greater(a_t, b_t, a_c, b_c),
        expected_loss_treatment=beta_expected_loss(a_c, b_c, a_t, b_t),
        expected_loss_control=beta_expected_loss(a_t, b_t, a_c, b_c),
        loss_scale="absolute",
        lift=math.expm1(mu),
        lift_scale="relative",
        credible_interval=Interval(
            math.expm1(mu - z * sd), math.expm1(mu + z * sd), credible_level
        ),
    )


def normal_expected_shortfall(mu: float, sd: float) -> float:
    """E[max(-D, 0)] for D ~ N(mu, sd^2): sd * phi(mu/sd) - mu * Phi(-mu/sd)."""
    if sd == 0.0:
        return max(0.0, -mu)
    k = mu / sd
    density = math.exp(-0.5 * k * k) / math.sqrt(2.0 * math.pi)
    return sd * density - mu * float(special.ndtr(-k))


def _effect_moments(control: ArmStats, treatment: ArmStats, scale: Scale) -> tuple[float, float]:
    """Effect estimate and its sampling variance (delta method when relative)."""
    if scale == "absolute":
        diff = treatment.mean - control.mean
        return diff, control.variance / control.n + treatment.variance / treatment.n
    return relative_estimate(control, treatment), relative_lift_variance(control, treatment)


def _posterior(estimate: float, variance: float, prior: GaussianPrior) -> tuple[float, float]:
    """Normal-normal update (gbstats EffectBayesianABTest): precision-weighted mean."""
    if not prior.proper:
        return estimate, math.sqrt(variance)
    precision = 1.0 / variance + 1.0 / prior.variance
    mean = (estimate / variance + prior.mean / prior.variance) / precision
    return mean, math.sqrt(1.0 / precision)


def gaussian_comparison(
    control: ArmStats,
    treatment: ArmStats,
    prior: GaussianPrior | None = None,
    scale: Scale = "relative",
    credible_level: float = 0.95,
) -> BayesianResult:
    """Gaussian-effect posterior: chance to beat = Phi(mu/s), losses in closed form.

    The prior is on the effect on `scale` (relative lift by default). With the
    default flat prior the chance to beat equals one minus the one-sided p-value
    of the z-test on the same effect.
    """
    prior = prior or GaussianPrior()
    estimate, variance = _effect_moments(control, treatment, scale)
    if variance <= 0.0:
        raise ValueError("zero variance: the posterior is undefined")
    mu, sd = _posterior(estimate, variance, prior)
    z = normal_quantile(0.5 + credible_level / 2.0)
    described = (
        f"N({prior.mean}, {prior.variance}) on the {scale} effect"
        if prior.proper
        else f"flat (improper) on the {scale} effect"
    )
    return BayesianResult(
        method="gaussian effect posterior",
        prior=described,
        chance_to_beat=float(special.ndtr(mu / sd)),
        expected_loss_treatment=normal_expected_shortfall(mu, sd),
        expected_loss_control=normal_expected_shortfall(-mu, sd),
        loss_scale=scale,
        lift=mu,
        lift_scale=scale,
        credible_interval=Interval(mu - z * sd, mu + z * sd, credible_level),
    )
