"""Pricing plans: fields, price history, versions and restores."""

from __future__ import annotations

from tests.support import catalog
from tests.support.catalog import own_client, own_fixture, own_scope  # noqa: F401
from tests.support.graphql import GraphQLClient
from tests.support.tenants import SignedUp

PLAN = """{ id revision name unitPriceCents billingUnit billingPeriod minUnits features
  unitCalculationLogic description active
  priceHistory { priceCents changedBy reason } versions { number reason actor snapshot } }"""
UPDATE = (
    "mutation($input: UpdatePlanInput!) { updatePlan(input: $input) { __typename "
    "... on PricingPlan " + PLAN + " ... on ValidationError { fields { path } } "
    "... on Error { message } } }"
)
RESTORE = (
    "mutation($id: ID!, $r: Int!, $n: Int!) { restorePlanVersion(id: $id, revision: $r, "
    "number: $n) { __typename ... on PricingPlan " + PLAN + " ... on Error { message } } }"
)


async def test_price_changes_are_kept_with_who_and_why(client: GraphQLClient, own: SignedUp):
    product = await catalog.product(client)
    plan = await catalog.plan(
        client,
        product["id"],
        "Team",
        2900,
        billingUnit="SEAT",
        minUnits=3,
        features=["SSO", "Audit log"],
        unitCalculationLogic="active seats at period end",
    )
    change = {"id": plan["id"], "revision": 0, "unitPriceCents": 3400, "reason": "inflation"}
    updated = (await client.data(UPDATE, {"input": change}))["updatePlan"]
    assert [(p["priceCents"], p["reason"]) for p in updated["priceHistory"]] == [
        (2900, "created"),
        (3400, "inflation"),
    ]
    assert updated["priceHistory"][1]["changedBy"] == own.user_id  # a token names its user
    same_price = {"id": plan["id"], "revision": 1, "description": "for teams"}
    again = (await client.data(UPDATE, {"input": same_price}))["updatePlan"]
    assert len(again["priceHistory"]) == 2  # no price change, no history entry
    assert again["minUnits"] == 3 and again["features"] == ["SSO", "Audit log"]


async def test_restoring_a_version_puts_back_its_fields_as_a_new_version(client: GraphQLClient):
    product = await catalog.product(client)
    plan = await catalog.plan(client, product["id"], "Pro", 9900, billingPeriod="YEAR")
    change = {"id": plan["id"], "revision": 0, "unitPriceCents": 12900, "name": "Pro+"}
    await client.data(UPDATE, {"input": change})
    restored = (await client.data(RESTORE, {"id": plan["id"], "r": 1, "n": 1}))[
        "restorePlanVersion"
    ]
    assert (restored["name"], restored["unitPriceCents"]) == ("Pro", 9900)
    assert restored["billingPeriod"] == "YEAR"
    assert [v["number"] for v in restored["versions"]] == [3, 2, 1]
    assert restored["versions"][0]["reason"] == "restored version 1"
    assert restored["priceHistory"][-1]["priceCents"] == 9900


async def test_restoring_from_a_stale_revision_is_a_conflict(client: GraphQLClient):
    product = await catalog.product(client)
    plan = await catalog.plan(client, product["id"], "Pro", 9900)
    await client.data(UPDATE, {"input": {"id": plan["id"], "revision": 0, "name": "B"}})
    stale = await client.data(RESTORE, {"id": plan["id"], "r": 0, "n": 1})
    assert stale["restorePlanVersion"]["__typename"] == "ConflictError"


async def test_negative_prices_and_bad_currencies_are_rejected(client: GraphQLClient):
    product = await catalog.product(client)
    plan = await catalog.plan(client, product["id"], "Pro", 9900)
    bad = {"id": plan["id"], "revision": 0, "unitPriceCents": -1, "currency": "dollars"}
    result = (await client.data(UPDATE, {"input": bad}))["updatePlan"]
    assert result["__typename"] == "ValidationError"
    assert {tuple(f["path"]) for f in result["fields"]} == {
        ("input", "unitPriceCents"),
        ("input", "currency"),
    }
