"""Always-valid inference for continuous monitoring and automatic stopping.

mSPRT with a normal mixture (Robbins 1970; Johari, Koomen, Pekelis & Walsh 2017,
"Peeking at A/B tests", KDD, and Johari, Pekelis & Walsh 2022, "Always valid
inference", Operations Research): for an asymptotically normal estimate D with
variance V and mixing distribution N(theta0, tau^2) on the effect,

    Lambda_n = sqrt(V / (V + tau^2)) * exp(tau^2 (D - theta0)^2 / (2 V (V + tau^2))).

Under H0 Lambda_n is a non-negative martingale, so by Ville's inequality
P(sup_n Lambda_n >= 1/alpha) <= alpha: reject the first time Lambda_n >= 1/alpha,
the always-valid p-value is p_n = min_{m<=n} min(1, 1/Lambda_m), and inverting
the test gives the confidence sequence.

GrowthBook parameterises tau^2 = rho^2 * V * n (n = units in both arms) and picks
rho so the sequence is tightest at n = N, the tuning parameter (Howard, Ramdas,
McAuliffe & Sekhon 2021, "Time-uniform, nonparametric, nonasymptotic confidence
sequences", Ann. Stat.; Waudby-Smith et al. 2023, "Time-uniform central limit
theory and asymptotic confidence sequences", eqs. 9, 155 and 161). With
v = n rho^2 this is the same statistic:

    Lambda = exp(z^2 v / (2 (1 + v))) / sqrt(1 + v),
    half-width = SE * sqrt((1 + v) / v * (ln(1 + v) - 2 ln alpha)).

Validity is asymptotic (CLT per arm), hence a minimum sample before stopping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from app.analytics.arms import ArmStats, Interval, relative_estimate, relative_lift_variance
from app.analytics.srm import SrmResult

DEFAULT_TUNING_N = 5000.0


def mixing_rho(alpha: float, tuning_n: float) -> float:
    """rho minimising the confidence-sequence width at n = tuning_n.

    rho = sqrt((-2 ln alpha + ln(-2 ln alpha + 1)) / N) (Waudby-Smith et al. 2023
    eq. 161; GrowthBook ``sequential_rho``, two-sided).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if tuning_n <= 0:
        raise ValueError("tuning_n must be positive")
    log_alpha = math.log(alpha)
    return math.sqrt((-2.0 * log_alpha + math.log(-2.0 * log_alpha + 1.0)) / tuning_n)


@dataclass(frozen=True)
class SequentialResult:
    """Always-valid p-value, mixture likelihood ratio and confidence sequence."""

    estimate: float
    std_error: float
    n_total: int
    log_likelihood_ratio: float
    p_value: float
    ci: Interval
    rho: float
    tuning_n: float
    alpha: float

    @property
    def rejects_null(self) -> bool:
        return self.p_value <= self.alpha


def sequential_test(
    estimate: float,
    std_error: float,
    n_total: int,
    alpha: float = 0.05,
    tuning_n: float = DEFAULT_TUNING_N,
    null_value: float = 0.0,
) -> SequentialResult:
    """mSPRT / asymptotic confidence sequence for any asymptotically normal effect.

    `std_error` is the estimate's standard error, `n_total` the units in both arms.
    The p-value is this look's 1/Lambda; take the running minimum over looks
    (``running_p_values``) for the monotone always-valid p-value.
    """
    if std_error <= 0.0 or n_total < 1:
        raise ValueError("need a positive standard error and at least one unit")
    rho = mixing_rho(alpha, tuning_n)
    v = n_total * rho * rho
    z = (estimate - null_value) / std_error
    log_lr = 0.5 * z * z * v / (1.0 + v) - 0.5 * math.log1p(v)
    half = std_error * math.sqrt((1.0 + v) / v * (math.log1p(v) - 2.0 * math.log(alpha)))
    return SequentialResult(
        estimate=estimate,
        std_error=std_error,
        n_total=n_total,
        log_likelihood_ratio=log_lr,
        p_value=min(1.0, math.exp(-log_lr)),
        ci=Interval(estimate - half, estimate + half, 1.0 - alpha),
        rho=rho,
        tuning_n=tuning_n,
        alpha=alpha,
    )


def sequential_comparison(
    control: ArmStats,
    treatment: ArmStats,
    alpha: float = 0.05,
    tuning_n: float = DEFAULT_TUNING_N,
    relative: bool = False,
) -> SequentialResult:
    """Sequential test of treatment - control (or the relative lift, delta method)."""
    if relative:
        estimate = relative_estimate(control, treatment)
        variance = relative_lift_variance(control, treatment)
    else:
        estimate = treatment.mean - control.mean
        variance = control.variance / control.n + treatment.variance / treatment.n
    return sequential_test(estimate, math.sqrt(variance), control.n + treatment.n, alpha, tuning_n)


def running_p_values(p_values: Sequence[float]) -> tuple[float, ...]:
    """Always-valid p-values across looks: p_n = min(p_{n-1}, 1/Lambda_n) (Johari et al.)."""
    out: list[float] = []
    current = 1.0
    for p in p_values:
        current = min(current, p)
        out.append(current)
    return tuple(out)


StopReason = Literal[
    "sample_ratio_mismatch",
    "too_few_units",
    "positive_effect",
    "negative_effect",
    "max_sample_reached",
    "continue",
]


@dataclass(frozen=True)
class StopDecision:
    stop: bool
    reason: StopReason
    detail: str


def srm_stop(srm: SrmResult) -> StopDecision:
    """A mismatch judged by the anytime-valid p-value, since the check repeats."""
    return StopDecision(
        True, "sample_ratio_mismatch", f"sequential SRM p={srm.sequential_p_value:.2e}"
    )


def should_stop(
    result: SequentialResult,
    n_per_arm: Sequence[int],
    min_n_per_arm: int = 100,
    max_n_total: int | None = None,
    srm: SrmResult | None = None,
) -> StopDecision:
    """Stop/continue rule that keeps the false-positive rate <= alpha under peeking.

    Order: a sample-ratio mismatch stops (data invalid); below `min_n_per_arm` we
    never stop on effect (the normal approximation behind the sequence needs it);
    stop when the confidence sequence excludes 0; stop at `max_n_total` without a
    winner; otherwise continue.
    """
    if srm is not None and srm.sequential_mismatch:
        return srm_stop(srm)
    if min(n_per_arm) < min_n_per_arm:
        return StopDecision(False, "too_few_units", f"need {min_n_per_arm} units per arm")
    ci = f"[{result.ci.lower:.4g}, {result.ci.upper:.4g}]"
    if result.ci.lower > 0.0:
        return StopDecision(True, "positive_effect", f"confidence sequence {ci} above 0")
    if result.ci.upper < 0.0:
        return StopDecision(True, "negative_effect", f"confidence sequence {ci} below 0")
    if max_n_total is not None and sum(n_per_arm) >= max_n_total:
        return StopDecision(True, "max_sample_reached", f"no effect detected; {ci} covers 0")
    return StopDecision(False, "continue", f"confidence sequence {ci} covers 0")
