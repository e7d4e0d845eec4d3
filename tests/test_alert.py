"""Forecasts stored on contributions, and alerts raised for planted revenue drops, churn
spikes and price jumps (and none for seasonality and steady trends)."""

from __future__ import annotations

import asyncio
import math
import uuid
from datetime import date

import numpy as np
import pytest

from app.models import CustomerSegment, PricingPlan, Product, TenantScope
from tests.support.graphql import GraphQLClient
from tests.support.runs import status_in

UPSERT = """mutation($input: RevenueContributionInput!) {
  upsertRevenueContribution(input: $input) { __typename } }"""
FORECAST = """mutation($p: ID!) { forecastRevenue(productId: $p, horizon: 12) {
  __typename ... on Run { id } } }"""
RUN = "query($id: ID!) { run(id: $id) { status error } }"
CONTRIBUTIONS = """query($p: ID!) { revenueContributions(productId: $p) { nodes {
  forecastModel revenueForecast { period value lower upper } } } }"""
ALERTS = """query($p: ID!) { alerts(productId: $p) { nodes {
  id kind severity status period actual expected deviationPercent zScore message planId } } }"""
ACT = """mutation($id: ID!) { %s(id: $id) { __typename ... on Alert { status } } }"""

BASE, TREND, AMPLITUDE = 1_000_000, 0.01, 0.2


NOISE = np.exp(np.random.default_rng(7).normal(0, 0.03, 48))  # 3% month-to-month noise


def planted(i: int, noisy: bool = True) -> float:
    curve = BASE * (1 + TREND) ** i * (1 + AMPLITUDE * math.sin(2 * math.pi * i / 12))
    return curve * NOISE[i] if noisy else curve


def month(i: int) -> str:
    return date(2023 + i // 12, i % 12 + 1, 1).isoformat()


async def contributions(
    client: GraphQLClient, tenant: TenantScope, *series: tuple[list[float], list[float]]
) -> tuple[str, list[str]]:
    """A product with one plan per (revenue, subscriptions) series; its id and the plan ids."""
    product = await tenant.insert(
        Product(tenant_id=tenant.tenant_id, name=f"Alerted {uuid.uuid4().hex[:6]}")
    )
    segment = await tenant.insert(
        CustomerSegment(tenant_id=tenant.tenant_id, product_id=product.id, name="All")
    )
    plan_ids = []
    for i, (revenue, subscriptions) in enumerate(series):
        plan = await tenant.insert(
            PricingPlan(
                tenant_id=tenant.tenant_id,
                product_id=product.id,
                name=f"P{i}",
                unit_price_cents=1000,
            )
        )
        points = [
            {"period": month(m), "revenueCents": round(r), "activeSubscriptions": round(s)}
            for m, (r, s) in enumerate(zip(revenue, subscriptions, strict=True))
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
        plan_ids.append(str(plan.id))
    return str(product.id), plan_ids


async def forecast(client: GraphQLClient, product_id: str) -> None:
    run_id = (await client.data(FORECAST, {"p": product_id}))["forecastRevenue"]["id"]
    finished = await status_in(client, run_id, ("COMPLETED", "FAILED"), 30, RUN)
    assert finished["status"] == "COMPLETED", finished


async def alerts_of(client: GraphQLClient, product_id: str) -> list[dict]:
    return (await client.data(ALERTS, {"p": product_id}))["alerts"]["nodes"]


async def test_forecast_and_alert_for_a_planted_drop(
    client: GraphQLClient, tenant: TenantScope, worker
):
    revenue = [planted(i) for i in range(36)]
    revenue[-1] *= 0.65  # a 35% drop in the newest month
    async with client.subscribe("subscription { alertEvents { type alertId } }") as events:
        product_id, _ = await contributions(client, tenant, (revenue, [v / 1000 for v in revenue]))
        await forecast(client, product_id)
        event = (await asyncio.wait_for(events.next(), 10))["alertEvents"]
    assert event["type"] == "alertRaised"

    found = {a["kind"]: a for a in await alerts_of(client, product_id)}
    # Subscriptions fell with revenue, so the same month is a churn spike too.
    assert set(found) == {"REVENUE_DROP", "CHURN_SPIKE"}
    alert = found["REVENUE_DROP"]
    assert alert["period"] == month(35)
    assert alert["status"] == "OPEN" and alert["severity"] in ("MEDIUM", "HIGH")
    same = """query($p: ID!, $s: AlertSeverity!) { alerts(productId: $p, severity: $s) {
      nodes { id severity } } }"""
    by_severity = await client.data(same, {"p": product_id, "s": alert["severity"]})
    assert alert["id"] in [a["id"] for a in by_severity["alerts"]["nodes"]]
    assert alert["deviationPercent"] == pytest.approx(-35, abs=8)

    assert (await client.data(ACT % "acknowledgeAlert", {"id": alert["id"]}))[
        "acknowledgeAlert"
    ] == {"__typename": "Alert", "status": "ACKNOWLEDGED"}
    assert (await client.data(ACT % "resolveAlert", {"id": alert["id"]}))["resolveAlert"][
        "status"
    ] == "RESOLVED"
    again = (await client.data(ACT % "resolveAlert", {"id": alert["id"]}))["resolveAlert"]
    assert again == {"__typename": "ConflictError"}


def steady(n: int, growth: float, amplitude: float, noise: float, seed: int) -> np.ndarray:
    """A steady trend with a seasonal swing and multiplicative noise."""
    t = np.arange(n)
    wobble = np.exp(np.random.default_rng(seed).normal(0, noise, n))
    return (1 + growth) ** t * (1 + amplitude * np.sin(2 * np.pi * t / 12)) * wobble


async def test_a_planted_churn_spike_and_price_jump_raise_their_alerts(
    client: GraphQLClient, tenant: TenantScope, worker
):
    # Plan 0: 20% of the subscriptions leave in the newest month (revenue goes with them).
    churned = 5000 * steady(36, 0.01, 0.1, 0.005, seed=21)
    churned[-1] *= 0.8
    # Plan 1: the same subscriptions pay 25% more in the newest month.
    steady_subs = 3000 * steady(36, 0.01, 0.1, 0.005, seed=22)
    price = 2500 * steady(36, 0.0, 0.0, 0.005, seed=23)
    price[-1] *= 1.25
    kinds = "subscription { alertEvents { type alertId kind } }"
    async with client.subscribe(kinds) as events:
        product_id, (churn_plan, price_plan) = await contributions(
            client,
            tenant,
            (churned * 2500, churned),
            (steady_subs * price, steady_subs),
        )
        await forecast(client, product_id)
        found = await alerts_of(client, product_id)
        ours = {a["id"] for a in found}
        seen = {}
        while set(seen) != ours:
            event = (await asyncio.wait_for(events.next(), 10))["alertEvents"]
            if event["alertId"] in ours:
                seen[event["alertId"]] = (event["type"], event["kind"])

    by_plan = {(a["planId"], a["kind"]): a for a in found}
    assert set(by_plan) == {
        (churn_plan, "CHURN_SPIKE"),
        (churn_plan, "REVENUE_DROP"),
        (price_plan, "PRICE_ANOMALY"),
    }
    assert all(a["period"] == month(35) for a in found)
    assert {a["id"]: ("alertRaised", a["kind"]) for a in found} == seen

    spike = by_plan[(churn_plan, "CHURN_SPIKE")]
    lost = 1 - churned[-1] / churned[-2]
    assert spike["actual"] == pytest.approx(lost, abs=0.005)  # rounding of the counts
    # Expected: the month's usual net churn, about minus the 1% growth and the season.
    usual = 1 - steady(36, 0.01, 0.1, 0, 0)[35] / steady(36, 0.01, 0.1, 0, 0)[34]
    assert spike["expected"] == pytest.approx(usual, abs=0.015)
    assert spike["deviationPercent"] is None and spike["zScore"] > 3.5
    assert f"is {lost:.1%} against" in spike["message"]

    jump = by_plan[(price_plan, "PRICE_ANOMALY")]
    assert jump["deviationPercent"] == pytest.approx(25, abs=3)
    assert jump["expected"] == pytest.approx(2500, rel=0.02) and jump["zScore"] > 0
    assert f"{jump['actual'] / 100:,.2f} USD" in jump["message"]
    assert f"{jump['expected'] / 100:,.2f} USD" in jump["message"]

    kinds_only = """query($p: ID!) { alerts(productId: $p, kind: PRICE_ANOMALY) {
      nodes { id } } }"""
    filtered = (await client.data(kinds_only, {"p": product_id}))["alerts"]["nodes"]
    assert filtered == [{"id": jump["id"]}]


async def test_seasonal_series_is_forecast_with_widening_intervals_and_no_alert(
    client: GraphQLClient, tenant: TenantScope, worker
):
    # Revenue with its season; subscriptions growing steadily with a season of their own.
    subscriptions = 100 * steady(36, 0.02, 0.1, 0.005, seed=24)
    product_id, _ = await contributions(
        client, tenant, ([planted(i) for i in range(36)], subscriptions)
    )
    await forecast(client, product_id)
    assert await alerts_of(client, product_id) == []

    [contribution] = (await client.data(CONTRIBUTIONS, {"p": product_id}))["revenueContributions"][
        "nodes"
    ]
    forecast_points = contribution["revenueForecast"]
    assert len(forecast_points) == 12 and forecast_points[0]["period"] == month(36)
    assert all(p["lower"] <= p["value"] <= p["upper"] for p in forecast_points)
    widths = [p["upper"] - p["lower"] for p in forecast_points]
    assert widths[-1] > widths[0]
    # A year ahead the seasonal pattern repeats: month 47 sits near the planted curve.
    assert forecast_points[11]["value"] == pytest.approx(planted(47, noisy=False), rel=0.15)
