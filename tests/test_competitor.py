"""Competitor and market intelligence through the API: analyses stored per product with
their source and price series, edited under revision checks, bad input refused with nothing
stored, and the offline positioning summary quoting the stored prices."""

from __future__ import annotations

import statistics

from app.models import TenantScope
from app.models.competitor import CompetitorAnalysis, MarketIntelligence
from tests.support import catalog
from tests.support.graphql import GraphQLClient

FIELDS = """id productId competitorName marketPosition source revision
  pricePoints { date priceCents planName } featureComparison { feature note }"""
CREATE = f"""mutation($input: CreateCompetitorAnalysisInput!) {{
  createCompetitorAnalysis(input: $input) {{ __typename ... on CompetitorAnalysis {{ {FIELDS} }}
  ... on ValidationError {{ fields {{ path message }} }} ... on Error {{ code message }} }} }}"""
UPDATE = f"""mutation($input: UpdateCompetitorAnalysisInput!) {{
  updateCompetitorAnalysis(input: $input) {{ __typename ... on CompetitorAnalysis {{ {FIELDS} }}
  ... on ValidationError {{ fields {{ path message }} }} ... on Error {{ code message }} }} }}"""
DELETE = """mutation($id: ID!, $r: Int!) { deleteCompetitorAnalysis(id: $id, revision: $r) {
  __typename ... on Error { code message } } }"""
LIST = f"query($p: ID!) {{ competitorAnalyses(productId: $p) {{ {FIELDS} }} }}"
SUMMARIZE = """mutation($p: ID!) { summarizeCompetitorPositioning(productId: $p) {
  __typename ... on PositioningSummary { id summary facts
    findings { statement verified evidence { factKey quotedValue factValue status } }
    provenance { source keySource prompt claims verifiedClaims unsupportedNumbers } }
  ... on ValidationError { fields { path message } } ... on Error { code message } } }"""
POSITIONING = "query($p: ID!) { competitorPositioning(productId: $p) { id summary } }"
SET_MARKET = """mutation($input: MarketIntelligenceInput!) { setMarketIntelligence(input: $input) {
  __typename ... on MarketIntelligence { marketSegment marketSizeCents growthRate keyInsights
    source revision pricingTrends { date value } }
  ... on ValidationError { fields { path message } } ... on Error { code message } } }"""
MARKET = """query($p: ID!) { marketIntelligence(productId: $p) { marketSegment keyInsights
  revision } }"""

COMPETITORS = [
    {"name": "Acme", "plans": [{"name": "Team", "priceCents": 4000}]},
    {"name": "Globex", "plans": []},
]


async def product_with_competitors(client: GraphQLClient) -> str:
    return (await catalog.product(client, competitors=COMPETITORS))["id"]


def analysis(product_id: str, name: str = "Acme", **fields: object) -> dict:
    points = [
        {"date": "2026-01-01", "priceCents": 3900, "planName": "Team"},
        {"date": "2026-03-01", "priceCents": 4500, "planName": "Team"},
    ]
    return {"productId": product_id, "competitorName": name, "pricePoints": points, **fields}


async def create(client: GraphQLClient, input: dict) -> dict:
    return (await client.data(CREATE, {"input": input}))["createCompetitorAnalysis"]


async def test_analyses_are_created_listed_edited_and_deleted(
    client: GraphQLClient, tenant: TenantScope
):
    product_id = await product_with_competitors(client)
    notes = [{"feature": "SSO", "note": "enterprise only"}]
    created = await create(
        client, analysis(product_id, source="DOCS", featureComparison=notes, marketPosition="Low")
    )
    assert created["__typename"] == "CompetitorAnalysis", created
    assert created["source"] == "DOCS" and created["featureComparison"] == notes
    assert [p["priceCents"] for p in created["pricePoints"]] == [3900, 4500]

    listed = (await client.data(LIST, {"p": product_id}))["competitorAnalyses"]
    assert listed == [{k: v for k, v in created.items() if k != "__typename"}]

    points = [{"date": "2026-04-01", "priceCents": 4900, "planName": "Team"}]
    change = {"id": created["id"], "revision": created["revision"], "pricePoints": points}
    updated = (await client.data(UPDATE, {"input": change}))["updateCompetitorAnalysis"]
    assert updated["pricePoints"] == points and updated["revision"] == created["revision"] + 1
    assert updated["marketPosition"] == "Low"  # fields not given are kept
    stored = await tenant.require(CompetitorAnalysis, created["id"])
    assert [p.price_cents for p in stored.price_points] == [4900]

    variables = {"id": created["id"], "r": updated["revision"]}
    deleted = (await client.data(DELETE, variables))["deleteCompetitorAnalysis"]
    assert deleted["__typename"] == "CompetitorAnalysis"
    assert await tenant.get(CompetitorAnalysis, created["id"]) is None


async def test_bad_input_is_a_typed_error_and_stores_nothing(
    client: GraphQLClient, tenant: TenantScope
):
    product_id = await product_with_competitors(client)
    negative = analysis(product_id)
    negative["pricePoints"][1]["priceCents"] = -1
    refused = await create(client, negative)
    assert refused["__typename"] == "ValidationError"
    assert refused["fields"] == [
        {"path": ["input", "pricePoints", "1", "priceCents"], "message": "must not be negative"}
    ]
    unknown = await create(client, analysis(product_id, name="Initech"))
    assert unknown["__typename"] == "ValidationError"
    assert unknown["fields"][0]["path"] == ["input", "competitorName"]
    missing = await create(client, analysis("0" * 24))
    assert missing["__typename"] == "NotFoundError"
    assert not await tenant.find(CompetitorAnalysis, {"competitor_name": "Initech"}).count()
    assert (await client.data(LIST, {"p": product_id}))["competitorAnalyses"] == []

    created = await create(client, analysis(product_id))
    stale = {"id": created["id"], "revision": created["revision"] + 1, "marketPosition": "x"}
    conflict = (await client.data(UPDATE, {"input": stale}))["updateCompetitorAnalysis"]
    assert conflict["__typename"] == "ConflictError"
    bad = {"id": created["id"], "revision": created["revision"]}
    bad["pricePoints"] = [{"date": "2026-05-01", "priceCents": -5, "planName": "Team"}]
    invalid = (await client.data(UPDATE, {"input": bad}))["updateCompetitorAnalysis"]
    assert invalid["__typename"] == "ValidationError"
    stored = await tenant.require(CompetitorAnalysis, created["id"])
    assert stored.revision == created["revision"] and stored.market_position == ""
    assert [p.price_cents for p in stored.price_points] == [3900, 4500]
    gone = (await client.data(DELETE, {"id": created["id"], "r": 7}))["deleteCompetitorAnalysis"]
    assert gone["__typename"] == "ConflictError"
    assert await tenant.get(CompetitorAnalysis, created["id"]) is not None


async def test_the_offline_positioning_summary_quotes_the_stored_prices(
    client: GraphQLClient, tenant: TenantScope
):
    product_id = await product_with_competitors(client)
    no_prices = (await client.data(SUMMARIZE, {"p": product_id}))["summarizeCompetitorPositioning"]
    assert no_prices["__typename"] == "ValidationError"
    await catalog.plan(client, product_id, "Starter", 2900)
    await create(client, analysis(product_id))  # Acme Team: newest 4500
    globex = [
        {"date": "2026-02-01", "priceCents": 6000, "planName": "Pro"},
        {"date": "2026-02-01", "priceCents": 2000, "planName": "Basic"},
    ]
    await create(
        client, {"productId": product_id, "competitorName": "Globex", "pricePoints": globex}
    )

    found = (await client.data(SUMMARIZE, {"p": product_id}))["summarizeCompetitorPositioning"]

    assert found["__typename"] == "PositioningSummary", found
    median = statistics.median([4500, 6000, 2000])  # each plan's newest price
    assert found["facts"]["competitors.median_price_cents"] == median == 4500
    assert found["facts"]["plan.starter.difference_cents"] == 2900 - median
    assert found["facts"]["plan.starter.vs_median"] == 2900 / median - 1
    assert "$45.00" in found["summary"] and "$-16.00" in found["summary"]
    assert "below the market" in found["summary"]
    cited = {c["factKey"]: c for f in found["findings"] for c in f["evidence"]}
    assert cited["plan.starter.difference_cents"]["factValue"] == -1600
    assert all(c["status"] == "verified" for c in cited.values())
    provenance = found["provenance"]
    assert provenance["source"] == "offline" and provenance["keySource"] == "none"
    assert provenance["prompt"] == "competitor_positioning"
    assert provenance["claims"] == provenance["verifiedClaims"] == 1
    assert provenance["unsupportedNumbers"] == []
    listed = (await client.data(POSITIONING, {"p": product_id}))["competitorPositioning"]
    assert listed == [{"id": found["id"], "summary": found["summary"]}]


async def test_market_intelligence_is_set_read_and_replaced(
    client: GraphQLClient, tenant: TenantScope
):
    product_id = await product_with_competitors(client)
    assert (await client.data(MARKET, {"p": product_id}))["marketIntelligence"] is None
    first = {
        "productId": product_id,
        "marketSegment": "SMB analytics",
        "marketSizeCents": 500_000_000_00,
        "growthRate": 0.12,
        "pricingTrends": [{"date": "2026-01-01", "value": 42.0}],
        "keyInsights": ["usage pricing spreads"],
        "source": "API",
    }
    stored = (await client.data(SET_MARKET, {"input": first}))["setMarketIntelligence"]
    assert stored["source"] == "API" and stored["pricingTrends"] == [
        {"date": "2026-01-01", "value": 42.0}
    ]
    again = {"productId": product_id, "marketSegment": "Mid-market", "keyInsights": []}
    replaced = (await client.data(SET_MARKET, {"input": again}))["setMarketIntelligence"]
    assert replaced["marketSizeCents"] is None and replaced["revision"] == stored["revision"] + 1
    read = (await client.data(MARKET, {"p": product_id}))["marketIntelligence"]
    assert read == {"marketSegment": "Mid-market", "keyInsights": [], "revision": 1}
    bad = {"productId": product_id, "marketSizeCents": -1}
    refused = (await client.data(SET_MARKET, {"input": bad}))["setMarketIntelligence"]
    assert refused["__typename"] == "ValidationError"
    doc = await tenant.find(MarketIntelligence, {}).to_list()
    assert [d.market_segment for d in doc if str(d.product_id) == product_id] == ["Mid-market"]
