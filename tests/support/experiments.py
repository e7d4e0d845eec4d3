"""Experiments through the API: a product and plan to test, an experiment created, started,
paused, its units assigned, events ingested, results recomputed, and a price test whose
conversions follow a planted elasticity."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import date
from typing import Any

import numpy as np

from app.models import CustomerSegment, PricingPlan, Product, RevenueSeries, TenantScope
from app.models.revenue import RevenuePoint
from tests.support.graphql import GraphQLClient

EXPERIMENT_FIELDS = """id key status stopReason plannedSampleSizePerArm rollout
  arms { key priceCents trafficShare control }"""
CREATE = f"""mutation($input: ExperimentInput!) {{ createExperiment(input: $input) {{
  __typename ... on Experiment {{ {EXPERIMENT_FIELDS} }}
  ... on ValidationError {{ fields {{ path message }} }} ... on Error {{ code message }} }} }}"""
ACTION = """mutation($id: ID!, $action: ExperimentAction!) {
  experimentAction(id: $id, action: $action) {
  __typename ... on Experiment { status stopReason } ... on Error { code message } } }"""
UPDATE = """mutation($id: ID!, $input: ExperimentInput!) {
  updateExperiment(id: $id, input: $input) {
  __typename ... on Experiment { rollout arms { key } } ... on Error { code message } } }"""
ASSIGN_UNITS = """mutation($id: ID!, $units: [String!]!) {
  assignUnits(experimentId: $id, unitIds: $units) {
  __typename ... on AssignmentBatch { assignments { unitId arm priceCents } }
  ... on Error { code message } } }"""
RESULTS = """query($id: ID!) { experiment(id: $id) { status stopReason results {
  arms { key units conversions conversionRate revenuePerVisitorCents }
  comparisons { arm method pValue scale verdictMethod significant normalApproximationTrusted
    ci { lower upper } fiellerCi { lower upper }
    absoluteLift { estimate pValue ci { lower upper } }
    relativeLift { estimate pValue ci { lower upper } }
    chanceToBeatControl expectedLoss sequentialPValue }
  srm { pValue mismatch } sequential { shouldStop reason detail }
  elasticity { elasticity } recommendation { priceCents confidence reasoning nextSteps }
  notes } } }"""
RECORD = """mutation($events: [ExperimentEventInput!]!) { recordExperimentEvents(events: $events) {
  __typename ... on EventIngestion { received accepted duplicates rejected { index reason } }
  ... on ValidationError { fields { path message } } } }"""
RECOMPUTE = """mutation($id: ID!) { recomputeExperiment(id: $id) {
  __typename ... on Experiment { status stopReason } ... on Error { code message } } }"""
MOVE = """query($s: ID!, $p: ID!, $e: Float, $m: Int!) {
  segmentMoveProjection(segmentId: $s, planId: $p, months: $m, elasticity: $e) {
    planName basePeriod baseSource monthlyGrowth assumptions
    currentPlans { planName subscriptions revenueCents priceRatio }
    elasticity { estimate lower upper source confidence experimentId experimentName }
    scenarios { name elasticity revenueChangePercent revenueChangeCents
      points { month subscriptions revenueCents } }
    revenue { period value lower upper } subscriptions { value lower upper }
    baselineRevenue { period value lower upper } } }"""
BASE_SUBS, PRICE, TARGET_PRICE, GROWTH = 1000, 10_000, 15_000, 0.01


async def make_product(tenant: TenantScope, price: int = 10_000, cost: int = 2_000) -> tuple:
    product = await tenant.insert(Product(tenant_id=tenant.tenant_id, name=f"P {uuid.uuid4()}"))
    plan = await tenant.insert(
        PricingPlan(
            tenant_id=tenant.tenant_id,
            product_id=product.id,
            name="Pro",
            unit_price_cents=price,
            unit_cost_cents=cost,
        )
    )
    return product, plan


def experiment_input(product: Any, plan: Any, **overrides: Any) -> dict[str, Any]:
    arms = [
        {
            "key": "control",
            "planId": str(plan.id),
            "priceCents": 10_000,
            "trafficShare": 0.5,
            "control": True,
        },
        {"key": "higher", "planId": str(plan.id), "priceCents": 12_000, "trafficShare": 0.5},
    ]
    return {
        "name": f"Pro +20% {uuid.uuid4().hex[:6]}",
        "productId": str(product.id),
        "hypothesis": "a higher price loses less conversion than it earns",
        "goal": "ROI_EXTRACTION",
        "arms": arms,
        "baselineConversionRate": 0.1,
        "minimumDetectableEffect": 0.2,
        **overrides,
    }


async def create_experiment(
    client: GraphQLClient, tenant: TenantScope, start: bool = True, **overrides: Any
) -> dict[str, Any]:
    product, plan = await make_product(tenant)
    created = (await client.data(CREATE, {"input": experiment_input(product, plan, **overrides)}))[
        "createExperiment"
    ]
    assert created["__typename"] == "Experiment", created
    if start:
        started = await client.data(ACTION, {"id": created["id"], "action": "START"})
        assert started["experimentAction"]["status"] == "RUNNING"
    return created


async def pause(client: GraphQLClient, experiment_id: str) -> None:
    """Before sending a batch of events: with a session worker about, the engine must not
    judge (and stop) the experiment on part of them. A paused experiment takes events."""
    paused = await client.data(ACTION, {"id": experiment_id, "action": "PAUSE"})
    assert paused["experimentAction"]["status"] == "PAUSED", paused


async def assign_all(client: GraphQLClient, experiment_id: str, units: list[str]) -> dict:
    out: dict[str, str | None] = {}
    for start in range(0, len(units), 1000):
        batch = await client.data(
            ASSIGN_UNITS, {"id": experiment_id, "units": units[start : start + 1000]}
        )
        out.update({a["unitId"]: a["arm"] for a in batch["assignUnits"]["assignments"]})
    return out


async def make_segments(tenant: TenantScope, product: Any, count: int) -> list[CustomerSegment]:
    return [
        await tenant.insert(
            CustomerSegment(tenant_id=tenant.tenant_id, product_id=product.id, name=f"S{i}")
        )
        for i in range(count)
    ]


def event(unit: str, kind: str, amount: int = 0) -> dict[str, Any]:
    return {"eventId": f"{unit}:{kind}", "unitId": unit, "kind": kind, "amountCents": amount}


async def ingest(client: GraphQLClient, experiment_id: str, events: list[dict], size: int = 500):
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    for start in range(0, len(events), size):
        batch = [{**e, "experimentId": experiment_id} for e in events[start : start + size]]
        report = (await client.data(RECORD, {"events": batch}))["recordExperimentEvents"]
        totals["accepted"] += report["accepted"]
        totals["duplicates"] += report["duplicates"]
        totals["rejected"] += len(report["rejected"])
    return totals


async def recompute(client: GraphQLClient, experiment_id: str) -> dict:
    """`recomputeExperiment` for a tenant on the enterprise tier (the fixtures' tenants
    are), whose quota of expensive work the suite never spends."""
    done = (await client.data(RECOMPUTE, {"id": experiment_id}))["recomputeExperiment"]
    assert done["__typename"] == "Experiment", done
    return done


async def segment_on_a_plan(tenant: TenantScope) -> tuple[Any, Any, Any, Any]:
    """A product whose segment pays PRICE on Pro for two years of 1% monthly growth, and a
    Premium plan at TARGET_PRICE; returns (product, segment, pro, premium)."""
    product, pro = await make_product(tenant, price=PRICE)
    premium = await tenant.insert(
        PricingPlan(
            tenant_id=tenant.tenant_id,
            product_id=product.id,
            name="Premium",
            unit_price_cents=TARGET_PRICE,
        )
    )
    segment = await tenant.insert(
        CustomerSegment(tenant_id=tenant.tenant_id, product_id=product.id, name="SMB")
    )
    counts = [BASE_SUBS * (1 + GROWTH) ** i for i in range(24)]
    await tenant.insert(
        RevenueSeries(
            tenant_id=tenant.tenant_id,
            product_id=product.id,
            segment_id=segment.id,
            plan_id=pro.id,
            points=[
                RevenuePoint(
                    period=date(2024 + i // 12, i % 12 + 1, 1),
                    revenue_cents=round(n) * PRICE,
                    active_subscriptions=round(n),
                )
                for i, n in enumerate(counts)
            ],
        )
    )
    return product, segment, pro, premium


async def act(client: GraphQLClient, experiment_id: str, action: str, status: str) -> None:
    done = await client.data(ACTION, {"id": experiment_id, "action": action})
    assert done["experimentAction"].get("status") == status, done


async def run_price_test(
    client: GraphQLClient, product: Any, pro: Any, premium: Any, elasticity: float
) -> str:
    """A running experiment, Pro's price against Premium's, whose conversions follow
    rate(p) = 0.3 (p / PRICE)^elasticity exactly (the first units of each arm convert)."""
    arms = [
        {"key": "control", "planId": str(pro.id), "priceCents": PRICE, "trafficShare": 0.5},
        {
            "key": "higher",
            "planId": str(premium.id),
            "priceCents": TARGET_PRICE,
            "trafficShare": 0.5,
        },
    ]
    arms[0]["control"] = True
    created = (await client.data(CREATE, {"input": experiment_input(product, pro, arms=arms)}))[
        "createExperiment"
    ]
    await act(client, created["id"], "START", "RUNNING")
    assigned = await assign_all(client, created["id"], [f"m{i}" for i in range(6000)])
    # Paused while the events go in: the engine must not judge (and stop) on half of them.
    await act(client, created["id"], "PAUSE", "PAUSED")
    prices = {"control": PRICE, "higher": TARGET_PRICE}
    events = []
    for arm, price in prices.items():
        units = [unit for unit, a in assigned.items() if a == arm]
        buyers = round(len(units) * 0.3 * (price / PRICE) ** elasticity)
        events += [event(unit, "EXPOSURE") for unit in units]
        events += [event(unit, "CONVERSION", price) for unit in units[:buyers]]
    assert (await ingest(client, created["id"], events))["rejected"] == 0
    await act(client, created["id"], "RESUME", "RUNNING")
    await recompute(client, created["id"])
    return created["id"]


def simulate(
    arms: dict[str, str | None], rates: dict[str, float], prices: dict[str, int], seed: int
) -> tuple[list[dict[str, Any]], dict[str, list[float]], dict[str, list[int]]]:
    """Events for assigned units (shuffled: some conversions arrive before exposures), plus
    the per-unit revenue and conversion the test computes its own statistics from."""
    rng = np.random.default_rng(seed)
    events: list[dict[str, Any]] = []
    revenue: dict[str, list[float]] = defaultdict(list)
    converted: dict[str, list[int]] = defaultdict(list)
    for unit, arm in arms.items():
        if arm is None:
            continue
        events.append(event(unit, "EXPOSURE"))
        total = 0
        buys = rng.random() < rates[arm]
        if buys:
            events.append(event(unit, "CONVERSION", prices[arm]))
            total += prices[arm]
            if rng.random() < 0.3:  # an add-on: a second revenue event for the same unit
                extra = int(rng.integers(100, 5000))
                events.append(event(unit, "REVENUE", extra))
                total += extra
        revenue[arm].append(total)
        converted[arm].append(int(buys))
    random.Random(seed).shuffle(events)
    return events, revenue, converted
