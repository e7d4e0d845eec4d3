"""Customer value: orders recorded in batches, a tenant-level BG/NBD + Gamma-Gamma fit, and
a customer's expected lifetime value, churn risk, value drivers, risk factors and next best
action (app/analytics/customer_value.py has the models).

Time is measured in days; a customer's summary is taken at the moment of the fit or query:
x = orders after the first, t_x = days from the first to the last order, T = days from the
first order to now, m_x = mean amount of the orders after the first (Fader, Hardie & Lee).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from beanie import PydanticObjectId
from pymongo import UpdateOne

from app.analytics import customer_value as cv
from app.errors import Conflict, FieldIssue, ValidationFailed
from app.models import Customer
from app.models.base import parse_id, utcnow
from app.models.customer_value import CustomerValueModel, Order
from app.resolvers.ctx import ResolverCtx

MAX_BATCH = 1000
MAX_HORIZON_DAYS = 3650
DAYS_PER_MONTH = 30.0
MIN_CUSTOMERS = 20
MIN_REPEAT_CUSTOMERS = 10
DAY = 86400.0


@dataclass(frozen=True)
class OrderIn:
    order_id: str
    customer_id: str
    amount_cents: int
    at: datetime


@dataclass(frozen=True)
class OrderReport:
    recorded: int
    duplicates: int


class NextBestAction(enum.Enum):
    WIN_BACK = "WIN_BACK"
    ENCOURAGE_REPEAT_PURCHASE = "ENCOURAGE_REPEAT_PURCHASE"
    UPSELL = "UPSELL"
    NURTURE = "NURTURE"


@dataclass(frozen=True)
class CustomerValue:
    customer_id: str
    horizon_days: int
    current_value_cents: int
    expected_lifetime_value_cents: int
    expected_purchases: float
    expected_order_value_cents: int
    probability_alive: float
    churn_risk: float
    value_drivers: list[str]
    risk_factors: list[str]
    next_best_action: NextBestAction
    model: CustomerValueModel


@dataclass(frozen=True)
class Summary:
    """One customer's (x, t_x, T, m_x) and total spend."""

    x: float
    t_x: float
    t: float
    m_x: float
    total_cents: int


def _check_orders(orders: Sequence[OrderIn]) -> None:
    issues: list[FieldIssue] = []
    if not orders or len(orders) > MAX_BATCH:
        issues.append(FieldIssue(("orders",), f"give 1 to {MAX_BATCH} orders"))
    now = utcnow()
    for i, order in enumerate(orders):
        if not order.order_id.strip():
            issues.append(FieldIssue(("orders", str(i), "orderId"), "must not be empty"))
        if order.amount_cents <= 0:
            issues.append(FieldIssue(("orders", str(i), "amountCents"), "must be more than 0"))
        if order.at.tzinfo is None or order.at > now:
            issues.append(
                FieldIssue(("orders", str(i), "at"), "a time with its zone, not in the future")
            )
        if parse_id(order.customer_id) is None:
            issues.append(FieldIssue(("orders", str(i), "customerId"), "not a customer id"))
    if issues:
        raise ValidationFailed(issues)


async def record_orders(ctx: ResolverCtx, orders: Sequence[OrderIn]) -> OrderReport:
    """Store new orders; an order id seen before (in this batch or earlier) is a duplicate."""
    _check_orders(orders)
    ids = list({PydanticObjectId(o.customer_id) for o in orders})
    known = await ctx.scope.get_many(Customer, list(ids))
    unknown = [
        FieldIssue(("orders", str(i), "customerId"), "no such customer")
        for i, o in enumerate(orders)
        if PydanticObjectId(o.customer_id) not in known
    ]
    if unknown:
        raise ValidationFailed(unknown)
    now = utcnow()
    writes = [
        UpdateOne(
            ctx.scope.filter({"order_id": o.order_id}),
            {
                "$setOnInsert": {
                    "customer_id": PydanticObjectId(o.customer_id),
                    "amount_cents": o.amount_cents,
                    "at": o.at,
                    "created_at": now,
                    "updated_at": now,
                    "revision": 0,
                }
            },
            upsert=True,
        )
        for o in orders
    ]
    result = await Order.get_pymongo_collection().bulk_write(writes, ordered=False)
    return OrderReport(
        recorded=result.upserted_count, duplicates=len(orders) - result.upserted_count
    )


def summarise(times: list[datetime], amounts: list[int], now: datetime) -> Summary:
    """A customer's (x, t_x, T) in days and mean repeat spend, from orders in time order."""
    first = times[0]
    repeat = amounts[1:]
    return Summary(
        x=float(len(repeat)),
        t_x=(times[-1] - first).total_seconds() / DAY,
        t=(now - first).total_seconds() / DAY,
        m_x=float(np.mean(repeat)) if repeat else 0.0,
        total_cents=sum(amounts),
    )


async def _summaries(ctx: ResolverCtx, query: dict[str, object]) -> dict[PydanticObjectId, Summary]:
    orders = await ctx.scope.find(Order, query).sort("at").to_list()
    grouped: dict[PydanticObjectId, tuple[list[datetime], list[int]]] = {}
    for order in orders:
        times, amounts = grouped.setdefault(order.customer_id, ([], []))
        times.append(order.at)
        amounts.append(order.amount_cents)
    now = utcnow()
    return {cid: summarise(times, amounts, now) for cid, (times, amounts) in grouped.items()}


def _fit(summaries: list[Summary]) -> tuple[cv.BgNbd, cv.GammaGamma]:
    x = [s.x for s in summaries]
    purchases = cv.fit_bgnbd(x, [s.t_x for s in summaries], [s.t for s in summaries])
    spend = cv.fit_gamma_gamma(x, [s.m_x for s in summaries])
    return purchases, spend


async def fit_model(ctx: ResolverCtx) -> CustomerValueModel:
    """Fit both models on every customer with orders and store the parameters."""
    summaries = list((await _summaries(ctx, {})).values())
    repeat = sum(1 for s in summaries if s.x > 0)
    if len(summaries) < MIN_CUSTOMERS or repeat < MIN_REPEAT_CUSTOMERS:
        raise ValidationFailed.single(
            "orders",
            f"the fit needs orders of at least {MIN_CUSTOMERS} customers, "
            f"{MIN_REPEAT_CUSTOMERS} of them with repeat orders "
            f"(there are {len(summaries)} and {repeat})",
        )
    # The optimiser takes a moment on large tenants: off the event loop.
    purchases, spend = await asyncio.to_thread(_fit, summaries)
    model = CustomerValueModel(
        tenant_id=ctx.scope.tenant_id,
        r=purchases.r,
        alpha=purchases.alpha,
        a=purchases.a,
        b=purchases.b,
        p=spend.p,
        q=spend.q,
        gamma=spend.gamma,
        customers=len(summaries),
        repeat_customers=repeat,
        fitted_at=utcnow(),
    )
    model = await ctx.scope.insert(model)
    ctx.audit.record("CustomerValueModel", model.id, None, model)
    return model


async def latest_model(ctx: ResolverCtx) -> CustomerValueModel | None:
    return await ctx.scope.find(CustomerValueModel).sort("-fitted_at").first_or_none()


def _drivers_and_risks(
    summary: Summary, model: CustomerValueModel, alive: float, order_value: float
) -> tuple[list[str], list[str]]:
    """Readable reasons from the customer's numbers against the tenant's population."""
    population_value = model.p * model.gamma / (model.q - 1) if model.q > 1 else order_value
    drivers = [
        f"{int(summary.x)} repeat orders in {summary.t:.0f} days as a customer",
        f"expected order value {order_value / 100:.2f} against a tenant mean of "
        f"{population_value / 100:.2f}",
    ]
    risks: list[str] = []
    if summary.x == 0:
        risks.append("no repeat order yet")
    else:
        gap = summary.t_x / summary.x
        silent = summary.t - summary.t_x
        if silent > 2 * gap:
            risks.append(
                f"{silent:.0f} days since the last order, over twice the usual gap of {gap:.0f}"
            )
    if alive < 0.5:
        risks.append(f"probably no longer buying (P(alive) {alive:.2f})")
    return drivers, risks


def next_best_action(
    churn_risk: float, summary: Summary, order_value: float, model: CustomerValueModel
) -> NextBestAction:
    """Stated rules: likely lost -> win back; one order only -> encourage a second; spends
    at least the tenant's mean order value -> upsell; otherwise nurture."""
    if churn_risk >= 0.5:
        return NextBestAction.WIN_BACK
    if summary.x == 0:
        return NextBestAction.ENCOURAGE_REPEAT_PURCHASE
    if model.q > 1 and order_value >= model.p * model.gamma / (model.q - 1):
        return NextBestAction.UPSELL
    return NextBestAction.NURTURE


async def customer_value(ctx: ResolverCtx, customer_id: str, horizon_days: int) -> CustomerValue:
    """Value over the next `horizon_days`, undiscounted, from the tenant's latest fit."""
    if not 1 <= horizon_days <= MAX_HORIZON_DAYS:
        raise ValidationFailed.single("horizonDays", f"from 1 to {MAX_HORIZON_DAYS}")
    customer = await ctx.scope.require(Customer, customer_id)
    model = await latest_model(ctx)
    if model is None:
        raise Conflict("no customer value model yet: run fitCustomerValueModel first")
    summaries = await _summaries(ctx, {"customer_id": customer.id})
    summary = next(iter(summaries.values()), None)
    if summary is None:
        raise ValidationFailed.single("customerId", "the customer has no orders")
    purchases = cv.BgNbd(model.r, model.alpha, model.a, model.b)
    spend = cv.GammaGamma(model.p, model.q, model.gamma)
    x, t_x, t, m_x = summary.x, summary.t_x, summary.t, summary.m_x
    alive = cv.probability_alive(purchases, x, t_x, t).item()
    order_value = cv.expected_average_spend(spend, x, m_x).item()
    value = cv.lifetime_value(purchases, spend, (x, t_x, t, m_x), horizon_days, DAYS_PER_MONTH)
    drivers, risks = _drivers_and_risks(summary, model, alive, order_value)
    return CustomerValue(
        customer_id=str(customer.id),
        horizon_days=horizon_days,
        current_value_cents=summary.total_cents,
        expected_lifetime_value_cents=round(value),
        expected_purchases=cv.expected_purchases(purchases, horizon_days, x, t_x, t).item(),
        expected_order_value_cents=round(order_value),
        probability_alive=alive,
        churn_risk=1.0 - alive,
        value_drivers=drivers,
        risk_factors=risks,
        next_best_action=next_best_action(1.0 - alive, summary, order_value, model),
        model=model,
    )
