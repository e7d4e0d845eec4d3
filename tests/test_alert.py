"""Forecasts stored on contributions, and alerts raised for a planted revenue drop."""

from __future__ import annotations

import asyncio
import math
from datetime import date

import numpy as np
import pytest

from app.models import CustomerSegment, PricingPlan, Product, TenantScope
from tests.support.graphql import GraphQLClient

UPSERT = """mutation($input: RevenueContributionInput!) {
  upsertRevenueContribution(input: $input) { __typename } }"""
FORECAST = """mutation($p: ID!) { forecastRevenue(productId: $p, horizon: 12) {
  __typename ... on Run { id } } }"""
RUN = "query($id: ID!) { run(id: $id) { status error } }"
CONTRIBUTIONS = """query($p: ID!) { revenueContributions(productId: $p) { nodes {
  forecastModel revenueForecast { period value lower upper } } } }"""
ALERTS = """query($p: ID!) { alerts(productId: $p) { nodes {
  id kind severity status period actual expected deviationPercent message } } }"""
ACT = """mutation($id: ID!) { %s(id: $id) { __typename ... on Alert { status } } }"""

BASE, TREND, AMPLITUDE = 1_000_000, 0.01, 0.2


NOISE = np.exp(np.random.default_rng(7).normal(0, 0.03, 48))  # 3% month-to-month noise


def planted(i: int, noisy: bool = True) -> float:
    curve = BASE * (1 + TREND) ** i * (1 + AMPLITUDE * math.sin(2 * math.pi * i / 12))
    return curve * NOISE[i] if noisy else curve


def month(i: int) -> str:
    return date(2023 + i // 12, i % 12 + 1, 1).isoformat()


async def wait(client: GraphQLClient, run_id: str) -> dict:
    for _ in range(300):
        run = (await client.data(RUN, {"id": run_id}))["run"]
        if run["status"] in ("COMPLETED", "FAILED"):
            return run
        await asyncio.sleep(0.1)
    raise TimeoutError(run)


async def test_forecast_and_alert_for_a_planted_drop(
    client: GraphQLClient, tenant: TenantScope, worker
):
    product = await tenant.insert(Product(tenant_id=tenant.tenant_id, name="Alerted"))
    segment = await tenant.insert(
        CustomerSegment(tenant_id=tenant.tenant_id, product_id=product.id, name="All")
    )
    plan = await tenant.insert(
        PricingPlan(
            tenant_id=tenant.tenant_id, product_id=product.id, name="P", unit_price_cents=1000
        )
    )
    revenue = [planted(i) for i in range(36)]
    revenue[-1] *= 0.65  # a 35% drop in the newest month
    points = [
        {"period": month(i), "revenueCents": round(v), "activeSubscriptions": round(v / 1000)}
        for i, v in enumerate(revenue)
    ]
    variables = {
        "input": {
            "productId": str(product.id),
            "segmentId": str(segment.id),
            "planId": str(plan.id),
            "points": points,
        }
    }
    async with client.subscribe("subscription { alertEvents { type alertId } }") as events:
        await client.data(UPSERT, variables)
        run_id = (await client.data(FORECAST, {"p": str(product.id)}))["forecastRevenue"]["id"]
        finished = await wait(client, run_id)
        assert finished["status"] == "COMPLETED", finished
        event = (await asyncio.wait_for(events.next(), 10))["alertEvents"]
    assert event["type"] == "alertRaised"

    [alert] = (await client.data(ALERTS, {"p": str(product.id)}))["alerts"]["nodes"]
    assert alert["kind"] == "REVENUE_DROP" and alert["period"] == month(35)
    assert alert["status"] == "OPEN" and alert["severity"] in ("medium", "high")
    assert alert["deviationPercent"] == pytest.approx(-35, abs=8)

    assert (await client.data(ACT % "acknowledgeAlert", {"id": alert["id"]}))[
        "acknowledgeAlert"
    ] == {"__typename": "Alert", "status": "ACKNOWLEDGED"}
    assert (await client.data(ACT % "resolveAlert", {"id": alert["id"]}))["resolveAlert"][
        "status"
    ] == "RESOLVED"
    again = (await client.data(ACT % "resolveAlert", {"id": alert["id"]}))["resolveAlert"]
    assert again == {"__typename": "ConflictError"}


async def test_seasonal_series_is_forecast_with_widening_intervals_and_no_alert(
    client: GraphQLClient, tenant: TenantScope, worker
):
    product = await tenant.insert(Product(tenant_id=tenant.tenant_id, name="Seasonal only"))
    segment = await tenant.insert(
        CustomerSegment(tenant_id=tenant.tenant_id, product_id=product.id, name="All")
    )
    plan = await tenant.insert(
        PricingPlan(
            tenant_id=tenant.tenant_id, product_id=product.id, name="P", unit_price_cents=1000
        )
    )
    points = [
        {"period": month(i), "revenueCents": round(planted(i)), "activeSubscriptions": 100}
        for i in range(36)
    ]
    variables = {
        "input": {
            "productId": str(product.id),
            "segmentId": str(segment.id),
            "planId": str(plan.id),
            "points": points,
        }
    }
    await client.data(UPSERT, variables)
    run_id = (await client.data(FORECAST, {"p": str(product.id)}))["forecastRevenue"]["id"]
    assert (await wait(client, run_id))["status"] == "COMPLETED"
    assert (await client.data(ALERTS, {"p": str(product.id)}))["alerts"]["nodes"] == []

    [contribution] = (await client.data(CONTRIBUTIONS, {"p": str(product.id)}))[
        "revenueContributions"
    ]["nodes"]
    forecast = contribution["revenueForecast"]
    assert len(forecast) == 12 and forecast[0]["period"] == month(36)
    assert all(p["lower"] <= p["value"] <= p["upper"] for p in forecast)
    widths = [p["upper"] - p["lower"] for p in forecast]
    assert widths[-1] > widths[0]
    # A year ahead the seasonal pattern repeats: month 47 sits near the planted curve.
    assert forecast[11]["value"] == pytest.approx(planted(47, noisy=False), rel=0.15)
