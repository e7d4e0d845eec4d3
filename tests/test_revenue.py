"""Revenue contributions and attribution, checked against a computation done here."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
import pytest_asyncio

from app.models import PricingPlan, Product, RevenueSeries, SeedManifest, TenantScope
from app.models.revenue import RevenuePoint
from app.resolvers.ctx import system_ctx
from app.resolvers.revenue import save_months
from app.seed import seed
from tests.support.attribution import Month, assert_attribution
from tests.support.experiments import make_product, make_segments
from tests.support.graphql import GraphQLClient
from tests.support.tenants import SignedUp, sign_up

ATTRIBUTION = """
query($p: ID!, $s: Date!, $e: Date!) { revenueAttribution(productId: $p, start: $s, end: $e) {
  totalRevenueCents
  items { planId planName segmentId segmentName revenueCents share users avgRevenueCents }
  timeSeries { planId points { period value lower upper } } } }
"""
UPSERT = """
mutation($input: RevenueContributionInput!) { upsertRevenueContribution(input: $input) {
  __typename
  ... on RevenueContribution { id revenue { period value } activeSubscriptions { value } }
  ... on ValidationError { fields { path message } }
  ... on NotFoundError { entity }
} }
"""


@pytest_asyncio.fixture(scope="module")
async def seeded(api: str, services) -> tuple[SignedUp, SeedManifest]:
    signed_up = await sign_up(api, "Revenue")
    manifest = await seed(TenantScope(signed_up.tenant_id), customers_per_product=50)
    yield signed_up, manifest
    await signed_up.client.close()


async def test_attribution_equals_an_independent_sum_over_the_range(seeded):
    signed_up, _ = seeded
    scope = TenantScope(signed_up.tenant_id)
    product = await scope.find(Product).sort("name").first_or_none()
    start, end = date(2024, 1, 1), date(2025, 1, 1)
    result = (
        await signed_up.client.data(
            ATTRIBUTION, {"p": str(product.id), "s": start.isoformat(), "e": end.isoformat()}
        )
    )["revenueAttribution"]

    months = [
        Month(str(s.plan_id), str(s.segment_id), p.period, p.revenue_cents, p.active_subscriptions)
        for s in await scope.find(RevenueSeries, {"product_id": product.id}).to_list()
        for p in s.points
    ]
    assert_attribution(result, months, start, end)
    assert all(point["lower"] is None for s in result["timeSeries"] for point in s["points"])


FILTERED = """query($p: ID!, $s: Date!, $e: Date!, $seg: ID, $plan: ID) {
  revenueAttribution(productId: $p, start: $s, end: $e, segmentId: $seg, planId: $plan) {
  totalRevenueCents
  items { planId planName segmentId segmentName revenueCents share users avgRevenueCents }
  timeSeries { planId points { period value lower upper } } } }"""


async def test_attribution_of_one_segment_and_one_plan_sums_only_their_months(seeded):
    signed_up, _ = seeded
    scope = TenantScope(signed_up.tenant_id)
    product = await scope.find(Product).sort("name").first_or_none()
    stored = await scope.find(RevenueSeries, {"product_id": product.id}).to_list()
    one = stored[0]
    start, end = date(2024, 1, 1), date(2025, 1, 1)
    window = {"p": str(product.id), "s": start.isoformat(), "e": end.isoformat()}
    for given in ({"seg": str(one.segment_id)}, {"plan": str(one.plan_id)}):
        result = (await signed_up.client.data(FILTERED, window | given))["revenueAttribution"]
        kept = [
            s
            for s in stored
            if str(s.segment_id) == given.get("seg", str(s.segment_id))
            and str(s.plan_id) == given.get("plan", str(s.plan_id))
        ]
        assert 0 < len(kept) < len(stored)
        months = [
            Month(
                str(s.plan_id), str(s.segment_id), p.period, p.revenue_cents, p.active_subscriptions
            )
            for s in kept
            for p in s.points
        ]
        assert_attribution(result, months, start, end)
    foreign = await scope.find(PricingPlan, {"product_id": {"$ne": product.id}}).first_or_none()
    body = await signed_up.client.execute(FILTERED, window | {"plan": str(foreign.id)})
    assert body["errors"][0]["extensions"]["fields"][0]["path"] == ["planId"]


async def test_upsert_merges_duplicate_months_and_replaces_stored_ones(seeded):
    signed_up, _ = seeded
    scope = TenantScope(signed_up.tenant_id)
    series = await scope.find(RevenueSeries).first_or_none()
    first_month = series.points[0].period.isoformat()
    new_month = "2031-01-01"
    variables = {
        "input": {
            "productId": str(series.product_id),
            "segmentId": str(series.segment_id),
            "planId": str(series.plan_id),
            "points": [
                {"period": first_month, "revenueCents": 100, "activeSubscriptions": 1},
                {"period": new_month, "revenueCents": 250, "activeSubscriptions": 2},
                {"period": new_month, "revenueCents": 50, "activeSubscriptions": 1},
            ],
        }
    }
    result = (await signed_up.client.data(UPSERT, variables))["upsertRevenueContribution"]
    assert result["__typename"] == "RevenueContribution"
    values = {p["period"]: p["value"] for p in result["revenue"]}
    assert values[first_month] == 100 and values[new_month] == 300
    assert len(result["revenue"]) == len(series.points) + 1


async def test_misaligned_dates_negative_revenue_and_subscriptions_change_nothing(seeded):
    signed_up, _ = seeded
    scope = TenantScope(signed_up.tenant_id)
    series = await scope.find(RevenueSeries).first_or_none()
    variables = {
        "input": {
            "productId": str(series.product_id),
            "segmentId": str(series.segment_id),
            "planId": str(series.plan_id),
            "currency": "XYZ",
            "points": [{"period": "2030-01-15", "revenueCents": -1, "activeSubscriptions": -3}],
        }
    }
    result = (await signed_up.client.data(UPSERT, variables))["upsertRevenueContribution"]
    paths = {tuple(f["path"]) for f in result["fields"]}
    assert paths == {
        ("input", "currency"),
        ("input", "points", "0", "period"),
        ("input", "points", "0", "revenueCents"),
        ("input", "points", "0", "activeSubscriptions"),
    }
    stored = await scope.get(RevenueSeries, series.id)
    assert stored.revision == series.revision and stored.points == series.points


async def test_totals_past_32_bits_are_exact_and_bad_amounts_are_refused(seeded):
    """A year at $25M a month is 30 billion cents: past GraphQL's Int, within `Cents`."""
    signed_up, _ = seeded
    series = await TenantScope(signed_up.tenant_id).find(RevenueSeries).first_or_none()
    monthly = 2_500_000_000
    points = [
        {"period": f"2041-{m:02d}-01", "revenueCents": monthly, "activeSubscriptions": 50_000}
        for m in range(1, 13)
    ]
    ids = {k: str(getattr(series, f"{k}_id")) for k in ("product", "segment", "plan")}
    variables = {"input": {f"{k}Id": v for k, v in ids.items()} | {"points": points}}
    assert (await signed_up.client.data(UPSERT, variables))["upsertRevenueContribution"]["id"]

    window = {"p": ids["product"], "s": "2041-01-01", "e": "2042-01-01"}
    result = (await signed_up.client.data(ATTRIBUTION, window))["revenueAttribution"]
    assert result["totalRevenueCents"] == 12 * monthly
    assert [item["revenueCents"] for item in result["items"]] == [12 * monthly]

    for bad in (1.5, 2**53, "100", True):
        variables["input"]["points"] = [points[0] | {"revenueCents": bad}]
        response = await signed_up.client.post(UPSERT, variables)
        errors = response.json()["errors"]
        assert response.status_code == 200 and "Cents" in errors[0]["message"], errors
    stored = await TenantScope(signed_up.tenant_id).get(RevenueSeries, series.id)
    assert {p.revenue_cents for p in stored.points if p.period.year == 2041} == {monthly}


async def test_a_forecast_stored_meanwhile_does_not_turn_an_upsert_into_a_conflict(
    tenant: TenantScope, services
):
    """A forecast run writes the series between an upsert's read and its write. (The
    series is made here, so that no real forecast run touches it during the test.)"""
    product, plan = await make_product(tenant)
    (segment,) = await make_segments(tenant, product, 1)
    key = {"product_id": product.id, "segment_id": segment.id, "plan_id": plan.id}
    january = RevenuePoint(period=date(2042, 1, 1), revenue_cents=5, active_subscriptions=1)
    read = await tenant.insert(
        RevenueSeries(tenant_id=tenant.tenant_id, currency="USD", points=[january], **key)
    )
    await tenant.update(read, {"forecast": None})  # as the forecast step does: a new revision
    february = RevenuePoint(period=date(2042, 2, 1), revenue_cents=7, active_subscriptions=1)
    ctx = system_ctx(services, tenant.tenant_id)
    stored = await save_months(ctx, key, "USD", read, [february])
    assert stored.points == [january, february]
    assert stored.revision == read.revision + 2


async def test_plan_of_another_product_is_refused(seeded):
    signed_up, _ = seeded
    scope = TenantScope(signed_up.tenant_id)
    series = await scope.find(RevenueSeries).first_or_none()
    foreign = await scope.find(
        PricingPlan, {"product_id": {"$ne": series.product_id}}
    ).first_or_none()
    variables = {
        "input": {
            "productId": str(series.product_id),
            "segmentId": str(series.segment_id),
            "planId": str(foreign.id),
            "points": [{"period": "2030-01-01", "revenueCents": 1, "activeSubscriptions": 1}],
        }
    }
    result = (await signed_up.client.data(UPSERT, variables))["upsertRevenueContribution"]
    assert result["__typename"] == "ValidationError"


async def test_another_tenants_product_reads_as_not_found(seeded, client: GraphQLClient):
    signed_up, _ = seeded
    product = await TenantScope(signed_up.tenant_id).find(Product).first_or_none()
    body = await client.execute(
        ATTRIBUTION, {"p": str(product.id), "s": "2024-01-01", "e": "2025-01-01"}
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


ECONOMICS = """query($id: ID!) { planEconomics(planId: $id, cacCents: 50000) {
  customers priceCents unitCostCents grossMargin arpuCents monthlyChurn ltvCents
  cacPaybackMonths } }"""
SCENARIOS = """query($input: ScenarioInput!) { revenueScenarios(input: $input) {
  baseSubscriptions baseArpuCents
  scenarios { name totalRevenueCents assumptions { monthlyGrowth monthlyChurn }
    points { month subscriptions revenueCents } } } }"""


async def test_plan_economics_follow_from_the_plans_customers(seeded):
    from datetime import UTC, datetime

    from app.models import Customer

    signed_up, _ = seeded
    scope = TenantScope(signed_up.tenant_id)
    plan = await scope.find(PricingPlan, {"name": "Pro"}).first_or_none()
    result = (await signed_up.client.data(ECONOMICS, {"id": str(plan.id)}))["planEconomics"]
    customers = await scope.find(Customer, {"plan_id": plan.id}).to_list()
    active = [c for c in customers if c.churned_at is None]
    now = datetime.now(UTC)
    months = sum(((c.churned_at or now) - c.signup_at).days for c in customers) / 30.4375
    churn = (len(customers) - len(active)) / months
    arpu = sum(c.monthly_revenue_cents for c in active) / len(active)
    margin = (plan.unit_price_cents - plan.unit_cost_cents) / plan.unit_price_cents
    assert result["customers"] == len(customers)
    assert result["grossMargin"] == pytest.approx(margin)
    assert result["arpuCents"] == round(arpu)
    assert result["monthlyChurn"] == pytest.approx(churn, rel=0.01)
    assert result["ltvCents"] == pytest.approx(arpu * margin / churn, rel=0.01)
    assert result["cacPaybackMonths"] == pytest.approx(50000 / (arpu * margin))


async def test_realistic_scenario_projects_the_last_month_with_stated_assumptions(seeded):
    signed_up, _ = seeded
    scope = TenantScope(signed_up.tenant_id)
    product = await scope.find(Product).sort("name").first_or_none()
    series = await scope.find(RevenueSeries, {"product_id": product.id}).to_list()
    last = max(p.period for s in series for p in s.points)
    subscriptions = sum(
        p.active_subscriptions for s in series for p in s.points if p.period == last
    )
    revenue = sum(p.revenue_cents for s in series for p in s.points if p.period == last)
    variables = {
        "input": {
            "productId": str(product.id),
            "priceChange": 0.1,
            "elasticity": -1.2,
            "monthlyChurn": 0.02,
            "monthlyGrowth": 0.03,
            "months": 6,
        }
    }
    result = (await signed_up.client.data(SCENARIOS, variables))["revenueScenarios"]
    assert result["baseSubscriptions"] == subscriptions
    realistic = next(s for s in result["scenarios"] if s["name"] == "realistic")
    expected_subs = subscriptions * 1.1**-1.2 * 1.01**6
    assert realistic["points"][5]["subscriptions"] == pytest.approx(expected_subs)
    assert realistic["points"][5]["revenueCents"] == pytest.approx(
        expected_subs * revenue / subscriptions * 1.1
    )
    totals = [s["totalRevenueCents"] for s in result["scenarios"]]
    assert totals == sorted(totals, reverse=True)


async def test_scenario_assumptions_out_of_range_are_refused(seeded):
    signed_up, _ = seeded
    product = await TenantScope(signed_up.tenant_id).find(Product).first_or_none()
    variables = {"input": {"productId": str(product.id), "priceChange": -2, "months": 0}}
    body = await signed_up.client.execute(SCENARIOS, variables)
    fields = body["errors"][0]["extensions"]["fields"]
    assert {tuple(f["path"]) for f in fields} == {("input", "priceChange"), ("input", "months")}


REVENUE_UPDATED = """subscription($p: ID!) { revenueUpdated(productId: $p) {
  change productId contributionIds cursor } }"""


async def test_revenue_updated_announces_stored_contributions_then_their_forecasts(
    client: GraphQLClient, tenant: TenantScope, worker
):
    product, plan = await make_product(tenant)
    (segment,) = await make_segments(tenant, product, 1)
    points = [
        {"period": f"2042-{m:02d}-01", "revenueCents": 1000 + m, "activeSubscriptions": 10}
        for m in range(1, 7)
    ]
    ids = {"productId": str(product.id), "segmentId": str(segment.id), "planId": str(plan.id)}
    async with client.subscribe(REVENUE_UPDATED, {"p": str(product.id)}) as updates:
        stored = await client.data(UPSERT, {"input": ids | {"points": points}})
        series_id = stored["upsertRevenueContribution"]["id"]
        first = (await asyncio.wait_for(updates.next(), 10))["revenueUpdated"]
        second = (await asyncio.wait_for(updates.next(), 30))["revenueUpdated"]
    assert first["change"] == "CONTRIBUTIONS" and second["change"] == "FORECASTS"
    for update in (first, second):
        assert update["productId"] == str(product.id)
        assert update["contributionIds"] == [series_id]
    found = await tenant.get(RevenueSeries, series_id)
    assert found.forecast is not None
