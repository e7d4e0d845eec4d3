"""Sample-ratio mismatch (SRM) check.

Pearson chi-square goodness of fit of observed units per arm against the planned
traffic split (Fabijan et al. 2019, "Diagnosing Sample Ratio Mismatch in Online
Controlled Experiments", KDD; gbstats ``check_srm``). A mismatch is flagged at
p < 0.001, GrowthBook's default, because the check runs on every experiment and
every refresh: a strict threshold keeps false alarms rare.

The chi-square p-value is only valid at one look; the check runs on every refresh, so
automatic stopping uses an anytime-valid p-value instead: the Dirichlet-multinomial
Bayes factor against the planned split (Lindon & Malek 2022, "Anytime-Valid Inference for
Multinomial Count Data", NeurIPS), with a Dirichlet(k * weights) mixture, k = 100. Under
the null the Bayes factor is a nonnegative martingale with mean 1, so by Ville's inequality
P(ever 1/BF < alpha) <= alpha however often it is looked at.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

DEFAULT_SRM_THRESHOLD = 0.001
PRIOR_CONCENTRATION = 100.0  # Lindon & Malek's default: the mixture's prior sample size


@dataclass(frozen=True)
class SrmResult:
    """Chi-square statistic, p-value and the mismatch flag (p < threshold)."""

    observed: tuple[int, ...]
    expected: tuple[float, ...]
    chi_square: float
    df: int
    p_value: float
    threshold: float
    sequential_p_value: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < self.threshold

    @property
    def sequential_mismatch(self) -> bool:
        """The mismatch that may stop an experiment: valid under continuous monitoring."""
        return self.sequential_p_value < self.threshold


def _validate(observed: Sequence[int], weights: Sequence[float]) -> None:
    if len(observed) != len(weights) or len(observed) < 2:
        raise ValueError("need one planned weight per arm and at least two arms")
    if any(o < 0 for o in observed) or any(w < 0 for w in weights):
        raise ValueError("counts and weights must be non-negative")
    if sum(weights) <= 0:
        raise ValueError("weights must not all be zero")


def sample_ratio_mismatch(
    observed: Sequence[int], weights: Sequence[float], threshold: float = DEFAULT_SRM_THRESHOLD
) -> SrmResult:
    """Chi-square GOF of `observed` units per arm against planned `weights`.

    chi2 = sum (O_i - E_i)^2 / E_i with E_i = N w_i / sum(w), df = k - 1 over arms
    with positive weight. Units seen in a zero-weight arm are an SRM by themselves
    (p = 0). With no units yet, p = 1.
    """
    _validate(observed, weights)
    sequential = _sequential_p_value(observed, weights, PRIOR_CONCENTRATION)
    total = sum(observed)
    total_weight = sum(weights)
    expected = tuple(total * w / total_weight for w in weights)
    if total == 0:
        return SrmResult(tuple(observed), expected, 0.0, len(observed) - 1, 1.0, threshold, 1.0)
    leaked = any(o > 0 and e == 0.0 for o, e in zip(observed, expected, strict=True))
    active = [(o, e) for o, e in zip(observed, expected, strict=True) if e > 0.0]
    chi_square = math.inf if leaked else math.fsum((o - e) ** 2 / e for o, e in active)
    df = len(active) - 1
    p_value = 0.0 if leaked else float(special.chdtrc(df, chi_square)) if df > 0 else 1.0
    return SrmResult(tuple(observed), expected, chi_square, df, p_value, threshold, sequential)


def sequential_p_value(
    observed: Sequence[int], weights: Sequence[float], concentration: float = PRIOR_CONCENTRATION
) -> float:
    """Anytime-valid p-value min(1, 1/BF) of the counts against the planned split.

    log BF = log B(a + x) - log B(a) - sum x_i log theta_i, with theta = weights / sum,
    a = concentration * theta and B the multivariate beta function. Units in a
    zero-weight arm make p = 0.
    """
    _validate(observed, weights)
    return _sequential_p_value(observed, weights, concentration)


def _sequential_p_value(
    observed: Sequence[int], weights: Sequence[float], concentration: float
) -> float:
    total_weight = sum(weights)
    if any(o > 0 and w == 0 for o, w in zip(observed, weights, strict=True)):
        return 0.0
    active = [(o, w / total_weight) for o, w in zip(observed, weights, strict=True) if w > 0]
    counts = np.array([o for o, _ in active], dtype=float)
    theta = np.array([t for _, t in active])
    prior = concentration * theta
    log_bf = _log_beta(prior + counts) - _log_beta(prior) - float(np.sum(counts * np.log(theta)))
    return float(min(1.0, math.exp(-log_bf))) if log_bf > 0 else 1.0


def _log_beta(a: np.ndarray) -> float:
    return float(np.sum(special.gammaln(a)) - special.gammaln(np.sum(a)))
