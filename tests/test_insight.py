"""Performance insights recover planted growth: the slow plan is found, its gap priced."""

from __future__ import annotations

from datetime import date

import pytest

from app.models import CustomerSegment, PricingPlan, Product, TenantScope
from tests.support.graphql import GraphQLClient

INSIGHTS = """query($p: ID!) { performanceInsights(productId: $p) {
  productGrowth potentialCaptureCents recommendations
  underperformingPlan { planName growth efficiency valueGap potentialRevenueCents }
  overperformingPlan { planName growth efficiency } } }"""
UPSERT = """mutation($input: RevenueContributionInput!) {
  upsertRevenueContribution(input: $input) { __typename } }"""


def month(i: int) -> str:
    return date(2023 + i // 12, i % 12 + 1, 1).isoformat()


async def test_insights_find_the_plan_growing_slower_than_its_product(
    client: GraphQLClient, tenant: TenantScope
):
    product = await tenant.insert(Product(tenant_id=tenant.tenant_id, name="Insightful"))
    segment = await tenant.insert(
        CustomerSegment(tenant_id=tenant.tenant_id, product_id=product.id, name="All")
    )
    growth = {"Fast": 0.03, "Flat": 0.0}
    plans = {}
    for name, rate in growth.items():
        plan = await tenant.insert(
            PricingPlan(
                tenant_id=tenant.tenant_id, product_id=product.id, name=name, unit_price_cents=1000
            )
        )
        plans[name] = plan
        points = [
            {
                "period": month(i),
                "revenueCents": round(100_000 * (1 + rate) ** i),
                "activeSubscriptions": 100,
            }
            for i in range(24)
        ]
        variables = {
            "input": {
                "productId": str(product.id),
                "segmentId": str(segment.id),
                "planId": str(plan.id),
                "points": points,
            }
        }
        assert (await client.data(UPSERT, variables))["upsertRevenueContribution"][
            "__typename"
        ] == "RevenueContribution"

    result = (await client.data(INSIGHTS, {"p": str(product.id)}))["performanceInsights"]
    under, over = result["underperformingPlan"], result["overperformingPlan"]
    assert under["planName"] == "Flat" and over["planName"] == "Fast"
    assert over["growth"] == pytest.approx(1.03**12, rel=1e-3)
    assert under["growth"] == pytest.approx(1.0)

    fast = [100_000 * 1.03**i for i in range(24)]
    flat = [100_000.0] * 24
    total = [a + b for a, b in zip(fast, flat, strict=True)]
    product_growth = sum(total[-3:]) / sum(total[-15:-12])
    assert result["productGrowth"] == pytest.approx(product_growth, rel=1e-4)
    assert under["efficiency"] == pytest.approx(1 / product_growth, rel=1e-4)
    assert under["potentialRevenueCents"] == pytest.approx(
        sum(flat[-12:]) * (product_growth - 1), rel=1e-3
    )
    assert result["recommendations"][0].startswith("Review Flat")


FILTERED = """query($p: ID!, $s: ID, $plan: ID) {
  performanceInsights(productId: $p, segmentId: $s, planId: $plan) {
  productGrowth plans { planName growth efficiency } } }"""


async def test_insights_of_one_segment_or_plan_use_only_that_revenue(
    client: GraphQLClient, tenant: TenantScope
):
    """Two segments on one plan: the fast segment alone grows at its own rate; one plan
    alone is reported against the whole product."""
    product = await tenant.insert(Product(tenant_id=tenant.tenant_id, name="Filtered"))
    plans = [
        await tenant.insert(
            PricingPlan(
                tenant_id=tenant.tenant_id, product_id=product.id, name=n, unit_price_cents=1000
            )
        )
        for n in ("Pro", "Team")
    ]
    segments = {}
    for name, rate in (("Fast", 0.03), ("Flat", 0.0)):
        segment = await tenant.insert(
            CustomerSegment(tenant_id=tenant.tenant_id, product_id=product.id, name=name)
        )
        segments[name] = segment
        for plan in plans:
            points = [
                {
                    "period": month(i),
                    "revenueCents": round(1000 * (1 + rate) ** i),
                    "activeSubscriptions": 10,
                }
                for i in range(24)
            ]
            ids = {"productId": str(product.id), "segmentId": str(segment.id)}
            variables = {"input": ids | {"planId": str(plan.id), "points": points}}
            await client.data(UPSERT, variables)
    fast = (await client.data(FILTERED, {"p": str(product.id), "s": str(segments["Fast"].id)}))[
        "performanceInsights"
    ]
    assert fast["productGrowth"] == pytest.approx(1.03**12, rel=1e-3)
    assert [p["efficiency"] for p in fast["plans"]] == pytest.approx([1.0, 1.0], rel=1e-6)
    whole = (await client.data(FILTERED, {"p": str(product.id)}))["performanceInsights"]
    pro = (await client.data(FILTERED, {"p": str(product.id), "plan": str(plans[0].id)}))[
        "performanceInsights"
    ]
    assert [p["planName"] for p in pro["plans"]] == ["Pro"]
    assert pro["productGrowth"] == pytest.approx(whole["productGrowth"])
