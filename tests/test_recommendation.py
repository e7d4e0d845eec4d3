"""Pricing recommendations by the offline analyst: with measured inelastic demand a price
rise is recommended, and every projected number equals the platform's own projection."""

from __future__ import annotations

import pytest

from app.models import TenantScope
from tests.support.experiments import MOVE, run_price_test, segment_on_a_plan
from tests.support.graphql import GraphQLClient
from tests.support.runs import finished, outputs

GENERATE = """mutation($p: ID!, $s: ID!, $q: String!) {
  generatePricingRecommendation(productId: $p, segmentId: $s, prompt: $q) {
  __typename ... on Run { id } ... on Error { code message } } }"""
RECOMMENDATIONS = """query($p: ID!, $s: ID) { pricingRecommendations(productId: $p, segmentId: $s) {
  confidence rationale prompt
  chosen { id kind label planId priceCents psychological realisticChange pessimisticChange }
  options { id kind planId priceCents realisticChange realisticChangeCents }
  elasticity { estimate source experimentId }
  forecast { period value lower upper } baseline { value }
  findings { verified evidence { factKey status } }
  provenance { source claims verifiedClaims unsupportedNumbers } } }"""


async def test_inelastic_demand_gets_a_price_rise_whose_numbers_are_the_platforms(
    client: GraphQLClient, tenant: TenantScope, worker
):
    product, segment, pro, premium = await segment_on_a_plan(tenant)
    experiment_id = await run_price_test(client, product, pro, premium, -0.4)
    variables = {"p": str(product.id), "s": str(segment.id), "q": "enterprise focus"}

    started = (await client.data(GENERATE, variables))["generatePricingRecommendation"]
    run = await finished(client, started["id"])

    assert run["status"] == "COMPLETED", run
    assert outputs(run)["forecast"]["revenueChangeCents"] > 0
    [found] = (await client.data(RECOMMENDATIONS, variables))["pricingRecommendations"]
    chosen = found["chosen"]
    assert chosen["kind"] in ("move", "reprice") and chosen["priceCents"] > pro.unit_price_cents
    assert chosen["pessimisticChange"] >= 0
    assert found["elasticity"]["experimentId"] == experiment_id
    assert found["provenance"]["source"] == "offline"
    assert found["provenance"]["verifiedClaims"] == found["provenance"]["claims"] == 1
    assert found["provenance"]["unsupportedNumbers"] == []
    assert len(found["forecast"]) == 12
    assert all(p["lower"] <= p["value"] <= p["upper"] for p in found["forecast"])
    # The move to Premium as the platform's projection computes it.
    move = next(o for o in found["options"] if o["planId"] == str(premium.id))
    projected = await client.data(MOVE, {"s": str(segment.id), "p": str(premium.id), "m": 12})
    realistic = next(
        s for s in projected["segmentMoveProjection"]["scenarios"] if s["name"] == "realistic"
    )
    assert move["realisticChangeCents"] == realistic["revenueChangeCents"]
    assert move["realisticChange"] * 100 == pytest.approx(realistic["revenueChangePercent"])


async def test_a_reprice_ends_in_99_cents(client: GraphQLClient, tenant: TenantScope, worker):
    product, segment, _, _ = await segment_on_a_plan(tenant)
    variables = {"p": str(product.id), "s": str(segment.id), "q": ""}
    started = (await client.data(GENERATE, variables))["generatePricingRecommendation"]
    assert (await finished(client, started["id"]))["status"] == "COMPLETED"
    [found] = (await client.data(RECOMMENDATIONS, variables))["pricingRecommendations"]
    reprices = [o for o in found["options"] if o["kind"] == "reprice"]
    assert reprices and all(o["priceCents"] % 100 == 99 for o in reprices)
    assert found["elasticity"]["source"] == "DEFAULT" and found["confidence"] == "low"


async def test_a_segment_of_another_product_is_a_validation_error(
    client: GraphQLClient, tenant: TenantScope
):
    product, _, _, _ = await segment_on_a_plan(tenant)
    _, other, _, _ = await segment_on_a_plan(tenant)
    variables = {"p": str(product.id), "s": str(other.id), "q": ""}
    result = (await client.data(GENERATE, variables))["generatePricingRecommendation"]
    assert result["code"] == "VALIDATION"
