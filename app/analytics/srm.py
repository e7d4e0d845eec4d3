"""Sample-ratio mismatch (SRM) check.

Pearson chi-square goodness of fit of observed units per arm against the planned
traffic split (Fabijan et al. 2019, "Diagnosing Sample Ratio Mismatch in Online
Controlled Experiments", KDD; gbstats ``check_srm``). A mismatch is flagged at
p < 0.001, GrowthBook's default, because the check runs on every experiment and
every refresh: a strict threshold keeps false alarms rare.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import special

DEFAULT_SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SrmResult:
    """Chi-square statistic, p-value and the mismatch flag (p < threshold)."""

    observed: tuple[int, ...]
    expected: tuple[float, ...]
    chi_square: float
    df: int
    p_value: float
    threshold: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < self.threshold


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
    total = sum(observed)
    total_weight = sum(weights)
    expected = tuple(total * w / total_weight for w in weights)
    if total == 0:
        return SrmResult(tuple(observed), expected, 0.0, len(observed) - 1, 1.0, threshold)
    leaked = any(o > 0 and e == 0.0 for o, e in zip(observed, expected, strict=True))
    active = [(o, e) for o, e in zip(observed, expected, strict=True) if e > 0.0]
    chi_square = math.inf if leaked else math.fsum((o - e) ** 2 / e for o, e in active)
    df = len(active) - 1
    p_value = 0.0 if leaked else float(special.chdtrc(df, chi_square)) if df > 0 else 1.0
    return SrmResult(tuple(observed), expected, chi_square, df, p_value, threshold)
