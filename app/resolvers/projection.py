"""Unit economics of a plan, revenue scenarios of a product, and what moving a segment to
another plan would do, from the stored data.

A move's elasticity comes, in this order, from the most recently started running or completed
experiment of the product (aimed at the segment or at no segment in particular) whose arms
fit one (its 95% interval gives the spread: HIGH confidence when its half-width is at most a
quarter of the estimate, MEDIUM when it excludes zero, LOW otherwise); from the elasticity the
caller states (spread +-25%, as in the scenarios; MEDIUM); or from DEFAULT_ELASTICITY, unit
elastic, with the interval [-2, 0] (LOW).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

import numpy as np

from app.analytics.elasticity import ElasticityFit
from app.analytics.projection import (
    Assumptions,
    Holding,
    MoveProjection,
    Projection,
    UnitEconomics,
    monthly_churn_rate,
    move_scenarios,
    scenarios,
    unit_economics,
)
from app.errors import FieldIssue, ValidationFailed
from app.models import (
    CustomerSegment,
    PricingPlan,
    Product,
    RevenueSeries,
    SegmentPlanLink,
)
from app.models.base import TenantScope
from app.models.experiment import Experiment, ExperimentStatus
from app.resolvers.canvas import monthly_price_cents
from app.resolvers.experiment_results import compute
from app.resolvers.segment import IS_ACTIVE, aggregate_one, sum_if

DAYS_PER_MONTH = 30.4375
MAX_MONTHS = 60
ELASTICITY_RANGE = (-10.0, 2.0)
DEFAULT_ELASTICITY = -1.0
DEFAULT_INTERVAL = (-2.0, 0.0)
STATED_SPREAD = 0.25


async def plan_economics(
    scope: TenantScope, plan_id: str, cac_cents: int | None
) -> tuple[PricingPlan, UnitEconomics, int]:
    """ARPU and churn from the plan's customers; returns the customers counted too."""
    if cac_cents is not None and cac_cents < 0:
        raise ValidationFailed.single("cacCents", "must not be negative")
    plan = await scope.require(PricingPlan, plan_id)
    now = datetime.now(UTC)
    # A customer's time on the plan, in ms: to churn, or to now while active.
    lifetime = {"$max": [0, {"$subtract": [{"$ifNull": ["$churned_at", now]}, "$signup_at"]}]}
    group = {
        "_id": None,
        "customers": {"$sum": 1},
        "active": sum_if(IS_ACTIVE, 1),
        "active_revenue": sum_if(IS_ACTIVE, "$monthly_revenue_cents"),
        "lifetime_ms": {"$sum": lifetime},
    }
    match = {"$match": scope.filter({"plan_id": plan.id})}
    row = await aggregate_one([match, {"$group": group}]) or dict.fromkeys(group, 0)
    customers, active = int(row["customers"]), int(row["active"])
    customer_months = row["lifetime_ms"] / 86_400_000 / DAYS_PER_MONTH
    churn = monthly_churn_rate(customers - active, customer_months)
    arpu = row["active_revenue"] / active if active else 0.0
    economics = unit_economics(plan.unit_price_cents, plan.unit_cost_cents, arpu, churn, cac_cents)
    return plan, economics, customers


@dataclass(frozen=True)
class Baseline:
    subscriptions: float
    arpu_cents: float
    monthly_growth: float  # fitted on the last twelve months of subscriptions
    period: date  # the last month


def trend(series: list[RevenueSeries]) -> Baseline | None:
    """The series' summed last month, and its trend over the twelve months before."""
    totals: dict[date, list[float]] = {}
    for doc in series:
        for point in doc.points:
            month = totals.setdefault(point.period, [0.0, 0.0])
            month[0] += point.active_subscriptions
            month[1] += point.revenue_cents
    if not totals:
        return None
    last = max(totals)
    months = [totals[period] for period in sorted(totals)][-13:]
    subscriptions, revenue = months[-1]
    counts = np.array([m[0] for m in months], dtype=float)
    growth = 0.0
    if len(counts) >= 3 and (counts > 0).all():
        growth = float(np.expm1(np.polyfit(np.arange(len(counts)), np.log(counts), 1)[0]))
    return Baseline(subscriptions, revenue / subscriptions if subscriptions else 0.0, growth, last)


async def baseline(scope: TenantScope, product: Product) -> Baseline:
    """The product's last month, and its trend over the twelve months before."""
    base = trend(await scope.find(RevenueSeries, {"product_id": product.id}).to_list())
    if base is None:
        raise ValidationFailed.single("productId", "the product has no revenue data yet")
    return base


def range_issues(
    prefix: tuple[str, ...], elasticity: float | None, months: int
) -> list[FieldIssue]:
    low, high = ELASTICITY_RANGE
    issues = []
    if elasticity is not None and not low <= elasticity <= high:
        issues.append(FieldIssue((*prefix, "elasticity"), f"must be from {low:g} to {high:g}"))
    if not 1 <= months <= MAX_MONTHS:
        issues.append(FieldIssue((*prefix, "months"), f"must be 1 to {MAX_MONTHS}"))
    return issues


def check_assumptions(price_change: float, elasticity: float, churn: float, months: int) -> None:
    issues = range_issues(("input",), elasticity, months)
    if not -0.9 <= price_change <= 5:
        issues.append(FieldIssue(("input", "priceChange"), "must be from -0.9 to 5"))
    if not 0 <= churn < 1:
        issues.append(FieldIssue(("input", "monthlyChurn"), "must be from 0 to below 1"))
    if issues:
        raise ValidationFailed(issues)


async def product_scenarios(
    scope: TenantScope,
    product_id: str,
    price_change: float,
    elasticity: float,
    monthly_churn: float,
    months: int,
    monthly_growth: float | None = None,
) -> tuple[Baseline, list[Projection]]:
    """Optimistic, realistic and pessimistic projections; growth defaults to the trend."""
    check_assumptions(price_change, elasticity, monthly_churn, months)
    product = await scope.require(Product, product_id)
    base = await baseline(scope, product)
    # The trend already nets out churn, so the stated churn is added back to it.
    growth = base.monthly_growth + monthly_churn if monthly_growth is None else monthly_growth
    realistic = Assumptions(price_change, elasticity, growth, monthly_churn)
    return base, scenarios(base.subscriptions, base.arpu_cents, realistic, months)


class ElasticitySource(StrEnum):
    EXPERIMENT = "experiment"
    ASSUMPTION = "assumption"
    DEFAULT = "default"


class BaseSource(StrEnum):
    """Where a move's starting month comes from."""

    CONTRIBUTIONS = "contributions"
    SEGMENT_METRICS = "segment metrics"


class Confidence(StrEnum):
    """How far an estimate can be relied on (the rule is stated where it is used)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class ElasticityChoice:
    estimate: float
    lower: float
    upper: float
    source: ElasticitySource
    confidence: Confidence
    experiment: Experiment | None = None
    tested_price_ratio: float | None = None  # highest over lowest tested price


@dataclass(frozen=True)
class CurrentPlan:
    plan: PricingPlan
    subscriptions: float
    revenue_cents: float  # a month
    price_ratio: float  # the target plan's monthly price over this one's


@dataclass(frozen=True)
class SegmentMove:
    segment: CustomerSegment
    target: PricingPlan
    today: Today  # the month the move starts from and what the segment holds then
    current: list[CurrentPlan]
    monthly_growth: float
    elasticity: ElasticityChoice
    scenarios: list[MoveProjection]
    assumptions: list[str]


async def experiment_elasticity(
    scope: TenantScope, segment: CustomerSegment
) -> tuple[Experiment, ElasticityFit] | None:
    """The newest running or completed experiment of the product, aimed at the segment or
    at no segment in particular, whose arms fit an elasticity."""
    running = [ExperimentStatus.RUNNING, ExperimentStatus.COMPLETED]
    query = {"product_id": segment.product_id, "status": {"$in": running}}
    async for experiment in scope.find(Experiment, query).sort("-started_at", "-_id"):
        targets = experiment.target_segment_ids
        if targets and segment.id not in targets:
            continue
        fit = (await compute(scope, experiment)).elasticity
        if fit is not None:
            return experiment, fit
    return None


def measured(experiment: Experiment, fit: ElasticityFit) -> ElasticityChoice:
    half = (fit.ci.upper - fit.ci.lower) / 2
    if half <= 0.25 * abs(fit.elasticity):
        confidence = Confidence.HIGH
    elif fit.ci.upper < 0 or fit.ci.lower > 0:
        confidence = Confidence.MEDIUM
    else:
        confidence = Confidence.LOW
    prices = [arm.price_cents for arm in experiment.arms]
    return ElasticityChoice(
        fit.elasticity,
        fit.ci.lower,
        fit.ci.upper,
        ElasticitySource.EXPERIMENT,
        confidence,
        experiment,
        max(prices) / min(prices),
    )


def assumed(stated: float | None) -> ElasticityChoice:
    if stated is None:
        low, high = DEFAULT_INTERVAL
        return ElasticityChoice(
            DEFAULT_ELASTICITY, low, high, ElasticitySource.DEFAULT, Confidence.LOW
        )
    ends = sorted((stated * (1 - STATED_SPREAD), stated * (1 + STATED_SPREAD)))
    return ElasticityChoice(
        stated, ends[0], ends[1], ElasticitySource.ASSUMPTION, Confidence.MEDIUM
    )


@dataclass(frozen=True)
class Today:
    """Where a segment is: per plan (plan, subscriptions, monthly revenue), and its trend."""

    period: date
    source: BaseSource
    held: list[tuple[PricingPlan, float, float]]
    trend: float | None


async def today(scope: TenantScope, segment: CustomerSegment) -> Today:
    """From the segment's contributions' last month when it has any, else from its computed
    metrics split over its active links by their traffic shares (no trend then)."""
    series = await scope.find(RevenueSeries, {"segment_id": segment.id}).to_list()
    base = trend(series)
    if base is not None:
        rows = {
            doc.plan_id: (p.active_subscriptions, p.revenue_cents)
            for doc in series
            for p in doc.points
            if p.period == base.period
        }
        plans = await scope.get_many(PricingPlan, list(rows))
        held = [(plans[i], float(n), float(r)) for i, (n, r) in rows.items() if i in plans]
        return Today(base.period, BaseSource.CONTRIBUTIONS, held, base.monthly_growth)
    metrics = segment.metrics
    links = await scope.find(SegmentPlanLink, {"segment_id": segment.id, "active": True}).to_list()
    if metrics.computed_at is None or not links:
        raise ValidationFailed.single(
            "segmentId", "the segment has no revenue data, and no computed metrics and plan links"
        )
    stated = sum(link.percentage or 0 for link in links) / 100
    plans = await scope.get_many(PricingPlan, [link.plan_id for link in links])
    held = []
    for link in links:
        share = link.percentage / 100 if link.percentage is not None else 1 - stated
        users = metrics.active_users * share
        if link.plan_id in plans:
            held.append((plans[link.plan_id], users, users * metrics.avg_revenue_cents))
    return Today(metrics.computed_at.date().replace(day=1), BaseSource.SEGMENT_METRICS, held, None)


def priced(target: PricingPlan, held: list[tuple[PricingPlan, float, float]]) -> list[CurrentPlan]:
    """The plans holding subscriptions, with the target's price ratio; same currency only."""
    issues = []
    out = []
    for plan, subscriptions, revenue in held:
        if subscriptions <= 0:
            continue
        if plan.currency != target.currency:
            issues.append(
                f"{plan.name} is priced in {plan.currency}, the target in {target.currency}"
            )
        elif monthly_price_cents(plan) <= 0:
            issues.append(f"{plan.name} has no price to compare with")
        else:
            ratio = monthly_price_cents(target) / monthly_price_cents(plan)
            out.append(CurrentPlan(plan, subscriptions, revenue, ratio))
    if issues:
        raise ValidationFailed.single("planId", "; ".join(issues))
    if not out:
        raise ValidationFailed.single("segmentId", "the segment has no subscriptions to move")
    return out


async def segment_move(
    scope: TenantScope,
    segment_id: str,
    plan_id: str,
    months: int,
    elasticity: float | None = None,
    monthly_growth: float | None = None,
) -> SegmentMove:
    """Optimistic, realistic and pessimistic projections of moving a segment to a plan."""
    issues = range_issues((), elasticity, months)
    if monthly_growth is not None and not -0.5 <= monthly_growth <= 1:
        issues.append(FieldIssue(("monthlyGrowth",), "must be from -0.5 to 1"))
    if issues:
        raise ValidationFailed(issues)
    segment = await scope.require(CustomerSegment, segment_id)
    target = await scope.require(PricingPlan, plan_id)
    if target.product_id != segment.product_id:
        raise ValidationFailed.single("planId", "not a plan of the segment's product")
    if monthly_price_cents(target) <= 0:
        raise ValidationFailed.single("planId", "the plan has no price to move to")
    now = await today(scope, segment)
    current = priced(target, now.held)
    found = await experiment_elasticity(scope, segment)
    choice = measured(*found) if found else assumed(elasticity)
    growth = monthly_growth if monthly_growth is not None else now.trend or 0.0
    holdings = [Holding(c.subscriptions, c.revenue_cents, c.price_ratio) for c in current]
    projections = move_scenarios(
        holdings, (choice.estimate, choice.lower, choice.upper), growth, months
    )
    notes = assumptions_used(choice, elasticity, current, now, monthly_growth)
    return SegmentMove(segment, target, now, current, growth, choice, projections, notes)


def assumptions_used(
    choice: ElasticityChoice,
    stated: float | None,
    current: list[CurrentPlan],
    now: Today,
    monthly_growth: float | None,
) -> list[str]:
    notes = [
        f"today's subscriptions and monthly revenue per plan: the segment's {now.source} "
        f"of {now.period:%B %Y}",
        "monthly prices compare unit price x minimum units over the billing period",
        "subscriptions answer the price ratio at once with constant elasticity; revenue per "
        "subscription scales with the price ratio",
        elasticity_note(choice),
    ]
    if choice.source == ElasticitySource.EXPERIMENT and stated is not None:
        notes.append(f"the stated elasticity {stated:g} was not used: an experiment measured one")
    tested = choice.tested_price_ratio
    if tested is not None:
        outside = [c.plan.name for c in current if not 1 / tested <= c.price_ratio <= tested]
        if outside:
            notes.append(
                f"the price ratio from {', '.join(outside)} is wider than the experiment's "
                f"{tested:.2f}: the elasticity is extrapolated"
            )
    if monthly_growth is not None:
        notes.append(f"net growth {monthly_growth:+.2%} a month, as stated")
    elif now.trend is not None:
        notes.append(f"net growth {now.trend:+.2%} a month: the trend of the last year")
    else:
        notes.append("no growth: segment metrics carry no history")
    return notes


def elasticity_note(choice: ElasticityChoice) -> str:
    interval = f"[{choice.lower:.2f}, {choice.upper:.2f}]"
    if choice.experiment is not None:
        return (
            f"elasticity {choice.estimate:.2f} (95% CI {interval}) of conversion to price, "
            f"measured by experiment '{choice.experiment.name}' "
            f"({choice.experiment.status}), taken for the segment's subscriptions"
        )
    if choice.source == ElasticitySource.ASSUMPTION:
        return f"elasticity {choice.estimate:g} as stated, spread +-25% to {interval}"
    return (
        f"no experiment measured an elasticity and none was stated: default "
        f"{DEFAULT_ELASTICITY:g} (unit elastic) with {interval}, low confidence"
    )
