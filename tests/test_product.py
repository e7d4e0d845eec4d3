"""Products: the catalog fields, typed validation errors, optimistic updates, delete."""

from __future__ import annotations

from tests.support import catalog
from tests.support.catalog import own_client, own_fixture, own_scope  # noqa: F401
from tests.support.graphql import GraphQLClient

FULL = """
{ id revision icpDescription featureSummary unitCostCents documentationUrls active
  costLines { name amountCents per }
  competitors { name website description plans { name priceCents billingPeriod } } }
"""
UPDATE = (
    "mutation($input: UpdateProductInput!) { updateProduct(input: $input) { __typename "
    "... on Product " + FULL + " ... on ValidationError { fields { path message } } "
    "... on ConflictError { message } } }"
)
DELETE = """mutation($id: ID!, $r: Int!) { deleteProduct(id: $id, revision: $r) {
  __typename ... on Error { message } } }"""


async def test_a_product_keeps_cost_lines_competitors_and_documentation(client: GraphQLClient):
    created = await catalog.product(
        client,
        icpDescription="Data teams of 50+ people",
        featureSummary="Dashboards, alerts",
        costLines=[
            {"name": "compute", "amountCents": 120, "per": "UNIT"},
            {"name": "storage", "amountCents": 30, "per": "UNIT"},
            {"name": "support", "amountCents": 500, "per": "MONTH"},
        ],
        competitors=[
            {
                "name": "Rival",
                "website": "https://rival.example.com",
                "plans": [{"name": "Team", "priceCents": 4900}],
            }
        ],
        documentationUrls=["https://docs.example.com/api"],
    )
    data = await client.data(
        f"query($id: ID!) {{ product(id: $id) {FULL} }}", {"id": created["id"]}
    )
    product = data["product"]
    assert product["unitCostCents"] == 150  # the per-unit lines only
    assert product["costLines"][2] == {"name": "support", "amountCents": 500, "per": "MONTH"}
    assert product["competitors"][0]["plans"] == [
        {"name": "Team", "priceCents": 4900, "billingPeriod": "month"}
    ]
    assert product["documentationUrls"] == ["https://docs.example.com/api"]


async def test_invalid_urls_and_amounts_are_rejected_field_by_field(client: GraphQLClient):
    created = await catalog.product(client)
    variables = {
        "input": {
            "id": created["id"],
            "revision": created["revision"],
            "documentationUrls": ["javascript:alert(1)", "https://ok.example.com"],
            "costLines": [{"name": "compute", "amountCents": -5}],
            "competitors": [{"name": "X", "website": "ftp://x.example.com"}],
        }
    }
    result = (await client.data(UPDATE, variables))["updateProduct"]
    assert result["__typename"] == "ValidationError"
    paths = {tuple(f["path"]) for f in result["fields"]}
    assert paths == {
        ("input", "documentationUrls", "0"),
        ("input", "costLines", "0", "amountCents"),
        ("input", "competitors", "0", "website"),
    }
    data = await client.data(f"query($id: ID!) {{ product(id: $id) {FULL} }}", created)
    assert data["product"]["revision"] == created["revision"]  # nothing changed


async def test_a_stale_revision_is_a_conflict(client: GraphQLClient):
    created = await catalog.product(client)
    first = {"id": created["id"], "revision": created["revision"], "featureSummary": "one"}
    assert (await client.data(UPDATE, {"input": first}))["updateProduct"]["revision"] == 1
    second = {**first, "featureSummary": "two"}
    result = (await client.data(UPDATE, {"input": second}))["updateProduct"]
    assert result["__typename"] == "ConflictError"


async def test_a_product_with_plans_is_deactivated_not_deleted(client: GraphQLClient):
    created = await catalog.product(client)
    await catalog.plan(client, created["id"], "Basic", 1000)
    refused = await client.data(DELETE, {"id": created["id"], "r": created["revision"]})
    assert refused["deleteProduct"]["__typename"] == "ConflictError"
    off = {"id": created["id"], "revision": created["revision"], "active": False}
    assert (await client.data(UPDATE, {"input": off}))["updateProduct"]["active"] is False
    empty = await catalog.product(client)
    gone = await client.data(DELETE, {"id": empty["id"], "r": empty["revision"]})
    assert gone["deleteProduct"]["__typename"] == "Product"
    assert (await client.data("query($id: ID!) { product(id: $id) { id } }", empty))[
        "product"
    ] is None
