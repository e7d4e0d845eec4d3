"""Account scoring maths: rule scores per criterion, the weighted total, tiers, the
contributions that explain a total, and the propensity model of MODEL criteria.

The total follows the scoring seed ("total scores are calculated as weighted averages",
criterion scores 0-10, totals 0-100): total = 10 * sum(w_i * s_i) / sum(w_i) over the
criteria that scored the account, rounded half up. A criterion's contribution is its share
of the total against a neutral 5 of 10: 10 * w_i * (s_i - 5) / sum(w_i), in points; the
contributions and 50 add up to the unrounded total.

Rules are vectorised: a column's distinct values are scored once and mapped back
(np.unique's inverse), numbers by np.searchsorted or clipping over the whole column.

The propensity model is a logistic regression on standardised features with sigmoid
(Platt) calibration (scikit-learn's CalibratedClassifierCV, Platt 1999); its quality is the
area under the ROC curve of out-of-fold predictions (Mann-Whitney U / (n1 * n0), Hanley &
McNeil 1982) and the Brier score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FloatArray = NDArray[np.float64]
MAX_SCORE = 10
NEUTRAL = 5.0
FOLDS = 5
MIN_PER_CLASS = FOLDS  # each fold needs both outcomes


def round_half_up(values: FloatArray) -> FloatArray:
    """Rounding as people do it (2.5 -> 3), not numpy's half-to-even."""
    return np.floor(values + 0.5)


def numbers(cells: Sequence[str]) -> FloatArray:
    """Cells as floats; blank or non-numeric cells are NaN. `1,234` and `12%` read as
    1234 and 12."""
    try:
        return np.asarray(cells, dtype=np.float64)  # the common case: every cell a number
    except ValueError:
        pass
    unique, inverse = np.unique(np.asarray(cells, dtype=str), return_inverse=True)
    parsed = np.array([_number(text) for text in unique], dtype=np.float64)
    return parsed[inverse] if len(cells) else parsed


def _number(text: str) -> float:
    try:
        value = float(text.strip().replace(",", "").removesuffix("%"))
    except ValueError:
        return np.nan
    return value if np.isfinite(value) else np.nan


def band_scores(values: FloatArray, mins: Sequence[float], scores: Sequence[int], default: int):
    """The score of the highest band whose lower bound the value reaches (bands sorted by
    `mins`, ascending); `default` below the first band and for NaN."""
    index = np.searchsorted(np.asarray(mins, dtype=np.float64), values, side="right") - 1
    table = np.append(np.asarray(scores, dtype=np.float64), float(default))
    result: FloatArray = table[np.where((index < 0) | np.isnan(values), len(scores), index)]
    return result


def linear_scores(values: FloatArray, low: float, high: float, default: int) -> FloatArray:
    """0 at `low`, 10 at `high` (either way round), clipped, rounded; `default` for NaN."""
    scaled = np.clip((values - low) / (high - low), 0.0, 1.0) * MAX_SCORE
    return np.where(np.isnan(values), float(default), round_half_up(scaled))


def text_scores(cells: Sequence[str], score_of: Callable[[str], float]) -> FloatArray:
    """`score_of` applied once per distinct cell (case and surrounding blanks ignored)."""
    if not len(cells):
        return np.zeros(0)
    folded = np.char.lower(np.char.strip(np.asarray(cells, dtype=str)))
    unique, inverse = np.unique(folded, return_inverse=True)
    result: FloatArray = np.array([score_of(str(u)) for u in unique], dtype=np.float64)[inverse]
    return result


def category_scores(cells: Sequence[str], table: dict[str, int], default: int) -> FloatArray:
    folded = {key.strip().lower(): float(score) for key, score in table.items()}
    return text_scores(cells, lambda value: folded.get(value, float(default)))


def keyword_scores(cells: Sequence[str], table: dict[str, int], default: int) -> FloatArray:
    words = [(key.strip().lower(), float(score)) for key, score in table.items()]

    def best(value: str) -> float:
        found = [score for word, score in words if word and word in value]
        return max(found) if found else float(default)

    return text_scores(cells, best)


@dataclass(frozen=True)
class Totals:
    total: FloatArray  # 0-100, rounded half up; NaN where no criterion scored the account
    contributions: FloatArray  # (accounts, criteria) points; NaN where not scored


def totals(scores: FloatArray, weights: FloatArray) -> Totals:
    """`scores`: (accounts, criteria) 0-10, NaN where a criterion did not score the
    account; `weights`: (criteria,) positive."""
    scored = ~np.isnan(scores)
    weight_sum = scored @ weights
    safe = np.where(weight_sum > 0, weight_sum, 1.0)
    weighted = np.where(scored, scores, 0.0) @ weights
    total = np.where(weight_sum > 0, round_half_up(10 * weighted / safe), np.nan)
    points = 10 * weights * (scores - NEUTRAL) / safe[:, None]
    return Totals(total, points)


def tier_indices(total: FloatArray, mins: Sequence[int]) -> NDArray[np.int64]:
    """The index of each total's tier (tiers by `mins`, descending; the last is the
    floor); -1 for NaN."""
    ascending = np.asarray(mins[::-1], dtype=np.float64)
    position = np.searchsorted(ascending, np.nan_to_num(total, nan=-1.0), side="right") - 1
    index = len(mins) - 1 - np.clip(position, 0, None)
    return np.where(np.isnan(total), -1, index).astype(np.int64)


def top_contributions(points: FloatArray, count: int) -> tuple[list[list[int]], list[list[int]]]:
    """Per account, the criteria (column indices) of its largest positive and most negative
    contributions, at most `count` each, largest first."""
    filled = np.nan_to_num(points, nan=0.0)
    order = np.argsort(-filled, axis=1, kind="stable")
    positive, negative = [], []
    for row, ranked in zip(filled, order, strict=True):
        positive.append([int(i) for i in ranked[:count] if row[i] > 0])
        negative.append([int(i) for i in ranked[::-1][:count] if row[i] < 0])
    return positive, negative


def auc(outcome: NDArray[np.bool_], predicted: FloatArray) -> float:
    """Area under the ROC curve: the chance a random positive ranks above a random
    negative (ties count half), from the Mann-Whitney U statistic."""
    positives = int(outcome.sum())
    negatives = len(outcome) - positives
    ranks = rankdata(predicted)
    u = ranks[outcome].sum() - positives * (positives + 1) / 2
    return float(u / (positives * negatives))


@dataclass(frozen=True)
class Propensity:
    model: CalibratedClassifierCV
    medians: FloatArray  # per feature, standing in for missing values
    auc: float
    brier: float
    accounts: int
    positives: int

    def scores(self, features: FloatArray) -> FloatArray:
        """0-10: the calibrated probability of the outcome, times 10, rounded."""
        probability = self.model.predict_proba(_impute(features, self.medians))[:, 1]
        return round_half_up(probability * MAX_SCORE)


class CannotFit(ValueError):
    """Too few accounts with a known outcome (the message says what is missing)."""


def fit_propensity(features: FloatArray, outcome: NDArray[np.bool_], seed: int = 0) -> Propensity:
    """Fit on the accounts with a known outcome; missing features take the median."""
    positives = int(outcome.sum())
    negatives = len(outcome) - positives
    if min(positives, negatives) < MIN_PER_CLASS:
        raise CannotFit(
            f"{positives} positive and {negatives} negative outcomes; "
            f"at least {MIN_PER_CLASS} of each are needed"
        )
    all_missing = np.isnan(features).all(axis=0)  # nanmedian would warn on such a column
    medians = np.nanmedian(np.where(all_missing, 0.0, features), axis=0)
    x = _impute(features, medians)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    model = CalibratedClassifierCV(
        make_pipeline(StandardScaler(), LogisticRegression()), method="sigmoid", cv=folds
    )
    out_of_fold = cross_val_predict(model, x, outcome, cv=folds, method="predict_proba")[:, 1]
    model.fit(x, outcome)
    brier = float(np.mean((out_of_fold - outcome) ** 2))
    return Propensity(model, medians, auc(outcome, out_of_fold), brier, len(outcome), positives)


def _impute(features: FloatArray, medians: FloatArray) -> FloatArray:
    return np.where(np.isnan(features), medians, features)
