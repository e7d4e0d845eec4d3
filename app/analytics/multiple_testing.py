"""Corrections for several treatment arms compared with one control.

* Holm (1979), "A simple sequentially rejective multiple test procedure", Scand.
  J. Statist.: step-down Bonferroni, controls the family-wise error rate (FWER)
  under any dependence. Adjusted p_(i) = max_{j<=i} min(1, (m - j + 1) p_(j)).
* Benjamini & Hochberg (1995), "Controlling the false discovery rate", JRSS B:
  step-up, controls the FDR for independent or positively dependent tests.
  Adjusted p_(i) = min_{j>=i} min(1, m p_(j) / j).

Holm has no matching interval, so intervals are Bonferroni simultaneous intervals
at level 1 - alpha/m (every interval covers with joint probability >= 1 - alpha).
They are slightly conservative next to Holm's rejections.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np

from app.analytics.frequentist import ComparisonResult

Method = Literal["holm", "benjamini-hochberg", "bonferroni"]
Arm = TypeVar("Arm")


@dataclass(frozen=True)
class MultipleTestingResult:
    """Adjusted p-values (input order), rejections at `alpha`, and the CI level."""

    method: Method
    alpha: float
    p_values: tuple[float, ...]
    adjusted_p_values: tuple[float, ...]
    reject: tuple[bool, ...]
    interval_level: float


def bonferroni_alpha(alpha: float, m: int) -> float:
    """Per-comparison level for m comparisons (Bonferroni)."""
    if m < 1:
        raise ValueError("need at least one comparison")
    return alpha / m


def _checked(p_values: Sequence[float]) -> np.ndarray:
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or p.size == 0 or np.any((p < 0.0) | (p > 1.0)):
        raise ValueError("p-values must be a non-empty list of numbers in [0, 1]")
    return p


def _holm(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p, kind="stable")
    m = p.size
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def _benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p, kind="stable")
    m = p.size
    scaled = np.minimum(1.0, m * p[order] / np.arange(1, m + 1))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum.accumulate(scaled[::-1])[::-1]
    return adjusted


def adjust_p_values(
    p_values: Sequence[float], alpha: float = 0.05, method: Method = "holm"
) -> MultipleTestingResult:
    """Adjusted p-values and rejections (adjusted p <= alpha, as in the papers)."""
    p = _checked(p_values)
    if method == "holm":
        adjusted = _holm(p)
    elif method == "benjamini-hochberg":
        adjusted = _benjamini_hochberg(p)
    else:
        adjusted = np.minimum(1.0, p * p.size)
    return MultipleTestingResult(
        method=method,
        alpha=alpha,
        p_values=tuple(float(v) for v in p),
        adjusted_p_values=tuple(float(v) for v in adjusted),
        reject=tuple(bool(v <= alpha) for v in adjusted),
        interval_level=1.0 - bonferroni_alpha(alpha, p.size),
    )


@dataclass(frozen=True)
class MultiArmResult:
    """Per-arm comparisons with Bonferroni intervals, plus the p-value correction."""

    comparisons: tuple[ComparisonResult, ...]
    correction: MultipleTestingResult


def compare_arms(
    control: Arm,
    treatments: Sequence[Arm],
    test: Callable[[Arm, Arm, float], ComparisonResult],
    alpha: float = 0.05,
    method: Method = "holm",
) -> MultiArmResult:
    """Run `test` for each treatment vs control with simultaneous (alpha/m) intervals.

    Each comparison is computed at alpha/m so its intervals are Bonferroni
    simultaneous intervals; raw p-values do not depend on alpha and are then
    corrected by `method` at the family level `alpha`.
    """
    per_test_alpha = bonferroni_alpha(alpha, len(treatments))
    comparisons = tuple(test(control, arm, per_test_alpha) for arm in treatments)
    correction = adjust_p_values([c.p_value for c in comparisons], alpha, method)
    return MultiArmResult(comparisons, correction)
