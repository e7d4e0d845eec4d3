"""Financial projections: scenarios from stated assumptions, moves of a segment to another
plan, and unit economics.

Pure arithmetic on plain numbers; every assumption is an input and is echoed in the result,
so a finance lead can see exactly what a projection rests on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Assumptions:
    price_change: float  # relative, e.g. 0.10 for +10%
    elasticity: float  # of subscriptions to price; -1.2 means -12% for +10%
    monthly_growth: float  # new subscriptions per month, relative to the base
    monthly_churn: float  # share of subscriptions lost per month


@dataclass(frozen=True)
class Projection:
    name: str
    assumptions: Assumptions
    subscriptions: np.ndarray
    revenue_cents: np.ndarray

    @property
    def total_revenue_cents(self) -> int:
        return round(float(self.revenue_cents.sum()))


def project(
    name: str, base_subscriptions: float, arpu_cents: float, assumptions: Assumptions, months: int
) -> Projection:
    """Constant-elasticity response to the price change at t=0, then net growth each month.

    subscriptions_t = S0 * (1 + p)^e * (1 + g - c)^t;  revenue_t = S0 * ARPU * (1 + p)^(1 + e)
    * (1 + g - c)^t. Revenue takes the one power (1 + p)^(1 + e) rather than (1 + p)^e * (1 + p),
    so that no change in revenue (p = 0, or unit elasticity e = -1) is exactly no change.
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    if assumptions.price_change <= -1:
        raise ValueError("a price change of -100% or less leaves no price")
    t = np.arange(1, months + 1)
    price = 1 + assumptions.price_change
    growth = max(1 + assumptions.monthly_growth - assumptions.monthly_churn, 0.0) ** t
    subscriptions = base_subscriptions * price**assumptions.elasticity * growth
    revenue = base_subscriptions * arpu_cents * price ** (1 + assumptions.elasticity) * growth
    return Projection(name, assumptions, subscriptions, revenue)


def scenarios(
    base_subscriptions: float,
    arpu_cents: float,
    realistic: Assumptions,
    months: int,
    spread: float = 0.25,
) -> list[Projection]:
    """Optimistic and pessimistic variants move growth, churn and elasticity by `spread`
    (relative) in the favourable and unfavourable direction; the price change is the same."""
    up, down = 1 + spread, 1 - spread
    optimistic = Assumptions(
        realistic.price_change,
        realistic.elasticity * down,
        realistic.monthly_growth * up,
        realistic.monthly_churn * down,
    )
    pessimistic = Assumptions(
        realistic.price_change,
        realistic.elasticity * up,
        realistic.monthly_growth * down,
        realistic.monthly_churn * up,
    )
    return [
        project(name, base_subscriptions, arpu_cents, assumptions, months)
        for name, assumptions in (
            ("optimistic", optimistic),
            ("realistic", realistic),
            ("pessimistic", pessimistic),
        )
    ]


@dataclass(frozen=True)
class Holding:
    """Part of a segment on one plan today: subscriptions and monthly revenue, and the
    target plan's monthly price over this plan's."""

    subscriptions: float
    revenue_cents: float
    price_ratio: float


@dataclass(frozen=True)
class MoveProjection:
    name: str
    elasticity: float
    subscriptions: np.ndarray
    revenue_cents: np.ndarray
    baseline_revenue_cents: np.ndarray  # staying on the current plans, with the same growth

    @property
    def total_revenue_cents(self) -> int:
        return round(float(self.revenue_cents.sum()))

    @property
    def revenue_change_cents(self) -> int:
        return self.total_revenue_cents - round(float(self.baseline_revenue_cents.sum()))

    @property
    def revenue_change(self) -> float | None:
        """Relative to staying: with one current plan, ratio^(1 + elasticity) - 1."""
        moved, stay = float(self.revenue_cents.sum()), float(self.baseline_revenue_cents.sum())
        return (moved - stay) / stay if stay else None


def project_move(
    name: str,
    holdings: Sequence[Holding],
    elasticity: float,
    monthly_growth: float,
    months: int,
) -> MoveProjection:
    """Every holding answers its own price ratio (:func:`project` with price change
    ratio - 1, so revenue per subscription scales with the price); the segment then grows
    at `monthly_growth` net. The baseline is the same growth at today's prices."""
    if not holdings:
        raise ValueError("nothing to move: no subscriptions")

    def run(price_ratio: float, h: Holding) -> Projection:
        arpu = h.revenue_cents / h.subscriptions
        assumptions = Assumptions(price_ratio - 1, elasticity, monthly_growth, 0.0)
        return project(name, h.subscriptions, arpu, assumptions, months)

    moved = [run(h.price_ratio, h) for h in holdings]
    stay = [run(1.0, h) for h in holdings]
    return MoveProjection(
        name=name,
        elasticity=elasticity,
        subscriptions=np.sum([p.subscriptions for p in moved], axis=0),
        revenue_cents=np.sum([p.revenue_cents for p in moved], axis=0),
        baseline_revenue_cents=np.sum([p.revenue_cents for p in stay], axis=0),
    )


def move_scenarios(
    holdings: Sequence[Holding],
    elasticity: tuple[float, float, float],
    monthly_growth: float,
    months: int,
) -> list[MoveProjection]:
    """Realistic at the elasticity estimate; optimistic and pessimistic at the ends of its
    interval (estimate, lower, upper), the end that earns more being the optimistic one."""
    estimate, lower, upper = elasticity
    ends = sorted(
        (project_move("", holdings, e, monthly_growth, months) for e in (lower, upper)),
        key=lambda p: p.total_revenue_cents,
    )
    return [
        replace(ends[1], name="optimistic"),
        project_move("realistic", holdings, estimate, monthly_growth, months),
        replace(ends[0], name="pessimistic"),
    ]


@dataclass(frozen=True)
class UnitEconomics:
    price_cents: int
    unit_cost_cents: int
    gross_margin: float  # share of the price
    arpu_cents: float  # per active customer and month
    monthly_churn: float
    ltv_cents: float | None  # None when churn is zero: lifetime is not estimable
    cac_payback_months: float | None  # None without a CAC


def unit_economics(
    price_cents: int,
    unit_cost_cents: int,
    arpu_cents: float,
    monthly_churn: float,
    cac_cents: float | None = None,
) -> UnitEconomics:
    """LTV = ARPU * margin / churn (geometric lifetime); payback = CAC / (ARPU * margin)."""
    margin = (price_cents - unit_cost_cents) / price_cents if price_cents else 0.0
    contribution = arpu_cents * margin
    return UnitEconomics(
        price_cents=price_cents,
        unit_cost_cents=unit_cost_cents,
        gross_margin=margin,
        arpu_cents=arpu_cents,
        monthly_churn=monthly_churn,
        ltv_cents=contribution / monthly_churn if monthly_churn > 0 else None,
        cac_payback_months=cac_cents / contribution if cac_cents and contribution > 0 else None,
    )


def monthly_churn_rate(churned: int, customer_months: float) -> float:
    """Churn events per customer-month of exposure (a constant-hazard estimate)."""
    return churned / customer_months if customer_months > 0 else 0.0
