"""Projections and unit economics against hand-computed figures."""

from __future__ import annotations

import math

import pytest

from app.analytics.projection import (
    Assumptions,
    monthly_churn_rate,
    project,
    scenarios,
    unit_economics,
)


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
