"""Projections, segment moves and unit economics against hand-computed figures; a move's
elasticity recovered from an experiment generated with a planted one."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from app.analytics.projection import (
    Assumptions,
    Holding,
    monthly_churn_rate,
    move_scenarios,
    project,
    project_move,
    scenarios,
    unit_economics,
)
from app.models import (
    CustomerSegment,
    PricingPlan,
    SegmentMetrics,
    SegmentPlanLink,
    TenantScope,
)
from tests.support.experiments import (
    BASE_SUBS,
    CREATE,
    GROWTH,
    MOVE,
    PRICE,
    RESULTS,
    TARGET_PRICE,
    experiment_input,
    make_product,
    run_price_test,
    segment_on_a_plan,
)
from tests.support.graphql import GraphQLClient


def test_projection_applies_the_price_response_then_compounds_net_growth():
    assumptions = Assumptions(
        price_change=0.10, elasticity=-1.5, monthly_growth=0.03, monthly_churn=0.01
    )
    result = project("x", 1000, 5000, assumptions, 12)
    shock = 1.1**-1.5
    assert result.subscriptions[0] == pytest.approx(1000 * shock * 1.02)
    assert result.subscriptions[11] == pytest.approx(1000 * shock * 1.02**12)
    assert result.revenue_cents[11] == pytest.approx(1000 * shock * 1.02**12 * 5500)


def test_a_price_rise_with_inelastic_demand_raises_revenue_and_elastic_lowers_it():
    inelastic = project("a", 100, 1000, Assumptions(0.2, -0.5, 0, 0), 1)
    elastic = project("b", 100, 1000, Assumptions(0.2, -2.0, 0, 0), 1)
    flat = project("c", 100, 1000, Assumptions(0.0, -2.0, 0, 0), 1)
    assert inelastic.total_revenue_cents > flat.total_revenue_cents > elastic.total_revenue_cents


def test_scenarios_are_ordered_optimistic_realistic_pessimistic():
    result = scenarios(500, 2000, Assumptions(0.05, -1.0, 0.02, 0.015), 24)
    totals = [p.total_revenue_cents for p in result]
    assert [p.name for p in result] == ["optimistic", "realistic", "pessimistic"]
    assert totals[0] > totals[1] > totals[2]


def test_unit_economics_match_the_textbook_formulas():
    result = unit_economics(10_000, 2_500, arpu_cents=9_000, monthly_churn=0.03, cac_cents=27_000)
    assert result.gross_margin == pytest.approx(0.75)
    assert result.ltv_cents == pytest.approx(9_000 * 0.75 / 0.03)  # 225,000
    assert result.cac_payback_months == pytest.approx(27_000 / (9_000 * 0.75))  # 4 months


def test_zero_churn_leaves_lifetime_value_undefined_rather_than_infinite():
    result = unit_economics(1000, 100, 1000, 0.0)
    assert result.ltv_cents is None and result.cac_payback_months is None


def test_churn_rate_is_events_per_customer_month():
    assert monthly_churn_rate(6, 200) == pytest.approx(0.03)
    assert monthly_churn_rate(0, 0) == 0.0
    assert math.isfinite(monthly_churn_rate(1, 1e-9))


def test_a_move_changes_revenue_by_the_price_ratio_to_the_power_one_plus_elasticity():
    holding = Holding(subscriptions=1000, revenue_cents=1000 * 5000, price_ratio=1.5)
    moved = project_move("x", [holding], -1.5, 0.01, 12)
    assert moved.revenue_change == pytest.approx(1.5 ** (1 - 1.5) - 1)
    assert moved.subscriptions[0] == pytest.approx(1000 * 1.5**-1.5 * 1.01)
    assert moved.baseline_revenue_cents[11] == pytest.approx(1000 * 5000 * 1.01**12)


def test_a_move_from_two_plans_adds_up_each_plans_response():
    cheap = Holding(subscriptions=300, revenue_cents=300 * 1000, price_ratio=2.0)
    dear = Holding(subscriptions=100, revenue_cents=100 * 4000, price_ratio=0.5)
    moved = project_move("x", [cheap, dear], -0.8, 0.0, 3)
    expected = 300 * 1000 * 2.0**0.2 + 100 * 4000 * 0.5**0.2
    assert moved.revenue_cents == pytest.approx([expected] * 3)
    assert moved.subscriptions[0] == pytest.approx(300 * 2.0**-0.8 + 100 * 0.5**-0.8)


@pytest.mark.parametrize(("ratio", "elasticity"), [(1.37, -1.0), (1.0, -1.8)])
def test_a_move_that_leaves_revenue_unchanged_reports_exactly_no_change(
    ratio: float, elasticity: float
):
    """Unit elasticity, or the same price: revenue x ratio^(1 + e) is revenue itself."""
    holdings = [Holding(37, 37 * 4900, ratio), Holding(11, 11 * 9900, 0.81 if ratio != 1 else 1)]
    moved = project_move("x", holdings, elasticity, 0.013, 12)
    assert moved.revenue_change_cents == 0 and moved.revenue_change == 0.0
    assert list(moved.revenue_cents) == list(moved.baseline_revenue_cents)


@pytest.mark.parametrize(("ratio", "optimistic_end"), [(1.5, -0.5), (0.7, -2.5)])
def test_move_scenarios_take_the_interval_end_that_earns_more_as_optimistic(
    ratio: float, optimistic_end: float
):
    holding = Holding(subscriptions=100, revenue_cents=100_000, price_ratio=ratio)
    result = move_scenarios([holding], (-1.5, -2.5, -0.5), 0.0, 6)
    assert [p.name for p in result] == ["optimistic", "realistic", "pessimistic"]
    assert [p.elasticity for p in result] == [optimistic_end, -1.5, -3.0 - optimistic_end]
    totals = [p.total_revenue_cents for p in result]
    assert totals[0] > totals[1] > totals[2]


async def test_a_move_uses_the_elasticity_an_experiment_measured(
    client: GraphQLClient, tenant: TenantScope
):
    product, segment, pro, premium = await segment_on_a_plan(tenant)
    planted = -1.5
    experiment_id = await run_price_test(client, product, pro, premium, planted)
    variables = {"s": str(segment.id), "p": str(premium.id), "e": -0.3, "m": 12}
    result = (await client.data(MOVE, variables))["segmentMoveProjection"]

    used = result["elasticity"]
    state = await client.data(RESULTS, {"id": experiment_id})
    assert used["source"] == "EXPERIMENT", state
    assert used["experimentId"] == experiment_id
    assert used["lower"] < planted < used["upper"]
    assert used["estimate"] == pytest.approx(planted, abs=0.02)  # conversions are rounded
    assert any("-0.3 was not used" in note for note in result["assumptions"])

    ratio = TARGET_PRICE / PRICE
    assert result["currentPlans"] == [
        {
            "planName": "Pro",
            "subscriptions": round(BASE_SUBS * 1.01**23),
            "revenueCents": round(BASE_SUBS * 1.01**23) * PRICE,
            "priceRatio": ratio,
        }
    ]
    assert result["baseSource"] == "CONTRIBUTIONS" and result["basePeriod"] == "2025-12-01"
    assert result["monthlyGrowth"] == pytest.approx(GROWTH, abs=1e-4)
    scenarios = {s["name"]: s for s in result["scenarios"]}
    realistic = scenarios["realistic"]
    # Revenue moves by ratio^(1 + e) - 1: the planted value, and exactly the reported one.
    assert realistic["revenueChangePercent"] == pytest.approx(
        100 * (ratio ** (1 + planted) - 1), abs=0.5
    )
    assert realistic["revenueChangePercent"] == pytest.approx(
        100 * (ratio ** (1 + used["estimate"]) - 1), rel=1e-9
    )
    assert scenarios["optimistic"]["elasticity"] == used["upper"]  # a rise: less elastic earns
    assert scenarios["pessimistic"]["elasticity"] == used["lower"]
    changes = [scenarios[n]["revenueChangePercent"] for n in ("pessimistic", "optimistic")]
    assert changes[0] < 100 * (ratio ** (1 + planted) - 1) < changes[1]

    base = round(BASE_SUBS * 1.01**23)
    first = realistic["points"][0]
    assert first["subscriptions"] == pytest.approx(base * ratio**planted * 1.01, rel=0.005)
    assert [p["period"] for p in result["revenue"][:2]] == ["2026-01-01", "2026-02-01"]
    assert all(p["lower"] <= p["value"] <= p["upper"] for p in result["revenue"])
    assert [p["value"] for p in result["revenue"]] == pytest.approx(
        [p["revenueCents"] for p in realistic["points"]]
    )
    growth = 1 + result["monthlyGrowth"]  # fitted on rounded counts: about 1.01
    assert result["baselineRevenue"][0]["value"] == pytest.approx(base * PRICE * growth)
    assert result["baselineRevenue"][0]["lower"] is None


async def test_without_an_experiment_the_stated_elasticity_is_used_and_reported(
    client: GraphQLClient, tenant: TenantScope
):
    product, segment, pro, premium = await segment_on_a_plan(tenant)
    draft = experiment_input(product, pro)  # a draft measures nothing
    assert (await client.data(CREATE, {"input": draft}))["createExperiment"]["id"]
    variables = {"s": str(segment.id), "p": str(premium.id), "e": -0.5, "m": 6}
    result = (await client.data(MOVE, variables))["segmentMoveProjection"]
    assert result["elasticity"] == {
        "estimate": -0.5,
        "lower": -0.625,
        "upper": -0.375,
        "source": "ASSUMPTION",
        "confidence": "MEDIUM",
        "experimentId": None,
        "experimentName": None,
    }
    assert any("-0.5 as stated" in note for note in result["assumptions"])
    realistic = next(s for s in result["scenarios"] if s["name"] == "realistic")
    assert realistic["revenueChangePercent"] == pytest.approx(100 * (1.5**0.5 - 1))
    assert len(result["revenue"]) == 6


async def test_with_nothing_stated_the_default_elasticity_is_used_with_low_confidence(
    client: GraphQLClient, tenant: TenantScope
):
    _, segment, _, premium = await segment_on_a_plan(tenant)
    variables = {"s": str(segment.id), "p": str(premium.id), "m": 12}
    result = (await client.data(MOVE, variables))["segmentMoveProjection"]
    used = result["elasticity"]
    assert (used["estimate"], used["lower"], used["upper"]) == (-1.0, -2.0, 0.0)
    assert used["source"] == "DEFAULT" and used["confidence"] == "LOW"
    changes = {s["name"]: s["revenueChangePercent"] for s in result["scenarios"]}
    # Unit elastic: revenue unchanged; the ends: no response (+50%) and e = -2 (1/1.5 - 1).
    assert changes == pytest.approx(
        {"realistic": 0.0, "optimistic": 50.0, "pessimistic": 100 * (1 / 1.5 - 1)}, abs=1e-9
    )


async def test_a_segment_without_revenue_data_moves_from_its_metrics_and_links(
    client: GraphQLClient, tenant: TenantScope
):
    product, pro = await make_product(tenant, price=PRICE)
    cheaper = await tenant.insert(
        PricingPlan(
            tenant_id=tenant.tenant_id, product_id=product.id, name="Lite", unit_price_cents=8000
        )
    )
    metrics = SegmentMetrics(
        active_users=200, avg_revenue_cents=9000, computed_at=datetime.now(UTC)
    )
    segment = await tenant.insert(
        CustomerSegment(
            tenant_id=tenant.tenant_id, product_id=product.id, name="New", metrics=metrics
        )
    )
    await tenant.insert(
        SegmentPlanLink(
            tenant_id=tenant.tenant_id, product_id=product.id, segment_id=segment.id, plan_id=pro.id
        )
    )
    variables = {"s": str(segment.id), "p": str(cheaper.id), "e": -2.0, "m": 3}
    result = (await client.data(MOVE, variables))["segmentMoveProjection"]
    assert result["baseSource"] == "SEGMENT_METRICS" and result["monthlyGrowth"] == 0
    assert result["currentPlans"] == [
        {"planName": "Pro", "subscriptions": 200, "revenueCents": 200 * 9000, "priceRatio": 0.8}
    ]
    realistic = next(s for s in result["scenarios"] if s["name"] == "realistic")
    assert realistic["points"][0]["subscriptions"] == pytest.approx(200 * 0.8**-2.0)
    assert realistic["revenueChangePercent"] == pytest.approx(100 * (0.8**-1.0 - 1))


async def test_a_move_to_another_products_plan_or_over_too_long_is_refused(
    client: GraphQLClient, tenant: TenantScope
):
    _, segment, _, _ = await segment_on_a_plan(tenant)
    _, elsewhere = await make_product(tenant)
    body = await client.execute(MOVE, {"s": str(segment.id), "p": str(elsewhere.id), "m": 12})
    assert body["errors"][0]["extensions"]["fields"][0]["path"] == ["planId"]
    body = await client.execute(MOVE, {"s": str(segment.id), "p": str(elsewhere.id), "m": 0})
    assert body["errors"][0]["extensions"]["fields"][0]["path"] == ["months"]
