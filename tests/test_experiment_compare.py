"""compareExperiments: several experiments' arms in one table, as their own results."""

from __future__ import annotations

from bson import ObjectId

from tests.support.experiments import (
    assign_all,
    create_experiment,
    ingest,
    pause,
    recompute,
    simulate,
)
from tests.support.graphql import GraphQLClient
from tests.support.tenants import sign_up

ARM = """key priceCents control units conversions conversionRate revenuePerVisitorCents
  marginPerVisitorCents"""
COMPARISON = """arm pValue scale verdictMethod significant ci { lower upper }
  absoluteLift { estimate pValue } relativeLift { estimate pValue ci { lower upper } }"""
ELASTICITY = "elasticity stdError ci { lower upper }"
COMPARE = f"""query($ids: [ID!]!) {{ compareExperiments(ids: $ids) {{
  experimentId experimentName status metric arm {{ {ARM} }} comparison {{ {COMPARISON} }}
  elasticity {{ {ELASTICITY} }} }} }}"""
RESULTS = f"""query($id: ID!) {{ experiment(id: $id) {{ name status primaryMetric results {{
  metric arms {{ {ARM} }} comparisons {{ {COMPARISON} }} elasticity {{ {ELASTICITY} }} }} }} }}"""


async def experiment_with_events(
    client: GraphQLClient, tenant, metric: str, rates: dict[str, float], prefix: str, seed: int
) -> str:
    created = await create_experiment(client, tenant, primaryMetric=metric)
    arms = await assign_all(client, created["id"], [f"{prefix}{i}" for i in range(2000)])
    await pause(client, created["id"])
    events, _, _ = simulate(arms, rates, {"control": 10_000, "higher": 12_000}, seed)
    await ingest(client, created["id"], events)
    await recompute(client, created["id"])
    return created["id"]


async def test_rows_per_experiment_and_arm_carry_each_experiments_own_results(client, tenant):
    first = await experiment_with_events(
        client, tenant, "CONVERSION", {"control": 0.10, "higher": 0.08}, "cmpa", 21
    )
    second = await experiment_with_events(
        client, tenant, "REVENUE_PER_VISITOR", {"control": 0.10, "higher": 0.10}, "cmpb", 22
    )
    rows = (await client.data(COMPARE, {"ids": [second, first]}))["compareExperiments"]

    assert [(r["experimentId"], r["arm"]["key"]) for r in rows] == [
        (second, "control"),
        (second, "higher"),
        (first, "control"),
        (first, "higher"),
    ]
    for experiment_id in (first, second):
        own = (await client.data(RESULTS, {"id": experiment_id}))["experiment"]
        mine = [r for r in rows if r["experimentId"] == experiment_id]
        assert {(r["experimentName"], r["status"], r["metric"]) for r in mine} == {
            (own["name"], own["status"], own["primaryMetric"])
        }
        assert [r["arm"] for r in mine] == own["results"]["arms"]
        assert [r["comparison"] for r in mine if r["comparison"]] == own["results"]["comparisons"]
        assert all(r["comparison"] is None for r in mine if r["arm"]["control"])
        assert all(r["elasticity"] == own["results"]["elasticity"] for r in mine)
    assert {r["metric"] for r in rows} == {"CONVERSION", "REVENUE_PER_VISITOR"}


async def test_bad_ids_are_one_validation_error_naming_each(client, tenant):
    known = (await create_experiment(client, tenant, start=False))["id"]
    missing = str(ObjectId())
    refused = await client.execute(COMPARE, {"ids": [known, "not-an-id", known, missing]})
    error = refused["errors"][0]
    assert error["extensions"]["code"] == "VALIDATION"
    assert refused["data"] is None
    assert error["extensions"]["fields"] == [
        {"path": ["ids", "1"], "message": "no such experiment"},
        {"path": ["ids", "2"], "message": "named twice"},
        {"path": ["ids", "3"], "message": "no such experiment"},
    ]
    for ids in ([], [known] * 21):
        refused = await client.execute(COMPARE, {"ids": ids})
        assert refused["errors"][0]["extensions"]["code"] == "VALIDATION"
        assert "name 1 to 20 experiments" in refused["errors"][0]["message"]


async def test_another_tenants_experiment_is_not_found(api, client, tenant):
    other = await sign_up(api, "Compare Other")
    mine = (await create_experiment(client, tenant, start=False))["id"]
    refused = await other.client.execute(COMPARE, {"ids": [mine]})
    assert refused["errors"][0]["extensions"]["code"] == "VALIDATION"
    assert "no such experiment" in refused["errors"][0]["message"]
    await other.client.close()
