"""Contributions derived from customer records, against a month-by-month count done here."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.models import (
    Customer,
    CustomerSegment,
    OrchestrationRun,
    PricingPlan,
    RevenueSeries,
    TenantScope,
)
from app.models.revenue import RevenuePoint
from tests.support.experiments import make_product
from tests.support.graphql import GraphQLClient
from tests.support.runs import finished, outputs

DERIVE = """mutation($p: ID!, $m: Int!) { deriveRevenueFromCustomers(productId: $p, months: $m) {
  __typename ... on Run { id } ... on ValidationError { fields { path message } } } }"""
MONTHS = 18
PAST = date(2015, 1, 1)  # stored before, outside any window: must stay


def window(today: date, months: int) -> list[tuple[int, int]]:
    """The (year, month) of the last `months` complete months, oldest first."""
    out, year, month = [], today.year, today.month
    for _ in range(months):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        out.append((year, month))
    return out[::-1]


def expected(customers: list[dict[str, Any]], region: str, plan_id: Any) -> list[tuple]:
    """(period, revenue, subscriptions) per month from the first with a subscriber: a
    customer counts from its signup month up to the month before its churn month."""
    rows = []
    for year, month in window(datetime.now(UTC).date(), MONTHS):
        active = [
            c
            for c in customers
            if c["region"] == region
            and c["plan_id"] == plan_id
            and (c["signup_at"].year, c["signup_at"].month) <= (year, month)
            and (
                c["churned_at"] is None
                or (year, month) < (c["churned_at"].year, c["churned_at"].month)
            )
        ]
        if rows or active:
            rows.append(
                (date(year, month, 1), sum(c["monthly_revenue_cents"] for c in active), len(active))
            )
    return rows


async def planted(tenant: TenantScope) -> tuple[Any, list[Any], list[dict[str, Any]]]:
    product, pro = await make_product(tenant)
    team = await tenant.insert(
        PricingPlan(
            tenant_id=tenant.tenant_id, product_id=product.id, name="Team", unit_price_cents=4_000
        )
    )
    rng, now = random.Random(5), datetime.now(UTC)
    customers = []
    for i in range(3_000):
        signup = now - timedelta(days=rng.uniform(0, 900))
        churned = signup + timedelta(days=rng.uniform(1, 400)) if rng.random() < 0.35 else None
        customers.append(
            {
                "tenant_id": tenant.tenant_id,
                "product_id": product.id,
                "external_id": f"c{i}",
                "plan_id": rng.choice([pro.id, team.id]),
                "region": rng.choice(["eu", "us"]),
                "monthly_revenue_cents": rng.randint(1_000, 20_000),
                "signup_at": signup,
                "churned_at": churned if churned and churned < now else None,
                "revision": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
    await Customer.get_pymongo_collection().insert_many([dict(c) for c in customers])
    return product, [pro, team], customers


async def test_contributions_derived_from_customers_match_a_count_month_by_month(
    client: GraphQLClient, tenant: TenantScope, worker
):
    product, plans, customers = await planted(tenant)
    segments = {}
    for region in ("eu", "us"):
        segments[region] = await tenant.insert(
            CustomerSegment(
                tenant_id=tenant.tenant_id,
                product_id=product.id,
                name=region,
                filter={"region": region},
            )
        )
    inside = date(*window(datetime.now(UTC).date(), MONTHS)[-1], 1)
    stale = [
        RevenuePoint(period=p, revenue_cents=1, active_subscriptions=1) for p in (PAST, inside)
    ]
    key = {"product_id": product.id, "segment_id": segments["eu"].id, "plan_id": plans[0].id}
    await tenant.insert(
        RevenueSeries(tenant_id=tenant.tenant_id, currency="USD", points=stale, **key)
    )

    started = (await client.data(DERIVE, {"p": str(product.id), "m": MONTHS}))[
        "deriveRevenueFromCustomers"
    ]
    run = await finished(client, started["id"])
    assert run["status"] == "COMPLETED", run
    steps = outputs(run)
    assert steps["forecast"]["refreshed"] is True
    assert sum(steps[f"derive: {r}"]["customers"] for r in segments) == len(customers)

    for region, segment in segments.items():
        for plan in plans:
            query = {"segment_id": segment.id, "plan_id": plan.id}
            series = await tenant.find(RevenueSeries, query).first_or_none()
            derived = [(p.period, p.revenue_cents, p.active_subscriptions) for p in series.points]
            if (region, plan.id) == ("eu", plans[0].id):
                assert derived[0] == (PAST, 1, 1)  # outside the window: kept
                derived = derived[1:]
            assert derived == expected(customers, region, plan.id)


async def test_a_window_out_of_range_is_refused_and_starts_nothing(client: GraphQLClient, tenant):
    product, _ = await make_product(tenant)
    for months in (0, 121):
        result = (await client.data(DERIVE, {"p": str(product.id), "m": months}))[
            "deriveRevenueFromCustomers"
        ]
        assert result["fields"] == [
            {"path": ["months"], "message": "must be a whole number from 1 to 120"}
        ]
    assert await tenant.find(OrchestrationRun, {"product_id": product.id}).count() == 0
