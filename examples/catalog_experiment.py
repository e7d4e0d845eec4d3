"""A scripted session: bulk-create a catalog, run a price experiment, read its results.

    python examples/catalog_experiment.py http://127.0.0.1:8000 pk_...

The token is an API key or an access token with the analyst role (`make demo` prints an
admin key). The script uses only the public GraphQL API, through the `gql` client.
"""

from __future__ import annotations

import asyncio
import random
import sys
import uuid
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXAsyncTransport

CREATE_PRODUCT = """
mutation($input: CreateProductInput!) {
  createProduct(input: $input) { __typename ... on Product { id } ... on Error { message } }
}"""
CREATE_PLAN = """
mutation($input: CreatePlanInput!) {
  createPlan(input: $input) { __typename ... on PricingPlan { id } ... on Error { message } }
}"""
CREATE_EXPERIMENT = """
mutation($input: ExperimentInput!) {
  createExperiment(input: $input) {
    __typename ... on Experiment { id } ... on Error { message }
  }
}"""
ACT = """
mutation($id: ID!, $action: ExperimentAction!) {
  experimentAction(id: $id, action: $action) {
    __typename ... on Experiment { status } ... on Error { message }
  }
}"""
ASSIGN = """
mutation($id: ID!, $units: [String!]!) {
  assignUnits(experimentId: $id, unitIds: $units) {
    __typename ... on AssignmentBatch { assignments { unitId arm priceCents } }
    ... on Error { message }
  }
}"""
RECORD = """
mutation($events: [ExperimentEventInput!]!) {
  recordExperimentEvents(events: $events) {
    __typename ... on EventIngestion { accepted duplicates } ... on Error { message }
  }
}"""
RECOMPUTE = """
mutation($id: ID!) {
  recomputeExperiment(id: $id) {
    __typename ... on Experiment { results {
      arms { key units conversions conversionRate }
      comparisons { arm pValue relativeLift { estimate } }
      recommendation { priceCents confidence reasoning }
    } }
    ... on Error { message }
  }
}"""

PLANS = [("Starter", 1_900), ("Pro", 4_900), ("Business", 9_900)]


async def call(session: Any, document: str, typename: str, **variables: Any) -> dict[str, Any]:
    """One mutation's union member, or its typed error's message as an exception."""
    result = await session.execute(GraphQLRequest(document, variable_values=variables))
    (value,) = result.values()
    if value["__typename"] != typename:
        raise RuntimeError(f"{value['__typename']}: {value.get('message')}")
    return dict(value)


async def build_catalog(session: Any) -> tuple[str, dict[str, str]]:
    name = f"Example product {uuid.uuid4().hex[:6]}"
    product = await call(session, CREATE_PRODUCT, "Product", input={"name": name})
    plan_ids = {}
    for plan, price in PLANS:
        plan_input = {"productId": product["id"], "name": plan, "unitPriceCents": price}
        plan_ids[plan] = (await call(session, CREATE_PLAN, "PricingPlan", input=plan_input))["id"]
    return product["id"], plan_ids


async def run_experiment(session: Any, product_id: str, pro_id: str) -> dict[str, Any]:
    arms = [
        {"key": "control", "planId": pro_id, "priceCents": 4_900, "trafficShare": 0.5},
        {"key": "higher", "planId": pro_id, "priceCents": 5_900, "trafficShare": 0.5},
    ]
    arms[0]["control"] = True
    experiment = {"name": "Pro at $59", "productId": product_id, "arms": arms}
    created = await call(session, CREATE_EXPERIMENT, "Experiment", input=experiment)
    await call(session, ACT, "Experiment", id=created["id"], action="START")
    units = [f"visitor-{i}" for i in range(400)]
    batch = await call(session, ASSIGN, "AssignmentBatch", id=created["id"], units=units)
    # Pause while the events go in, so automatic stopping judges the whole batch at once.
    await call(session, ACT, "Experiment", id=created["id"], action="PAUSE")
    events = simulated_events(created["id"], batch["assignments"])
    await call(session, RECORD, "EventIngestion", events=events)
    return (await call(session, RECOMPUTE, "Experiment", id=created["id"]))["results"]


def simulated_events(experiment_id: str, assignments: list[dict]) -> list[dict[str, Any]]:
    """Each visitor sees its price; 12% buy at $49, 10% at $59 (a fixed seed)."""
    rng = random.Random(7)
    events = []
    for unit in assignments:
        base = {"experimentId": experiment_id, "unitId": unit["unitId"]}
        events.append({**base, "eventId": f"{unit['unitId']}:x", "kind": "EXPOSURE"})
        rate = 0.12 if unit["arm"] == "control" else 0.10
        if rng.random() < rate:
            events.append(
                {
                    **base,
                    "eventId": f"{unit['unitId']}:c",
                    "kind": "CONVERSION",
                    "amountCents": unit["priceCents"],
                }
            )
    return events


async def main(base_url: str, token: str) -> dict[str, Any]:
    transport = HTTPXAsyncTransport(
        url=f"{base_url}/graphql", headers={"Authorization": f"Bearer {token}"}
    )
    async with Client(transport=transport) as session:
        product_id, plan_ids = await build_catalog(session)
        return await run_experiment(session, product_id, plan_ids["Pro"])


if __name__ == "__main__":
    results = asyncio.run(main(sys.argv[1], sys.argv[2]))
    for arm in results["arms"]:
        print(f"{arm['key']:>8}: {arm['units']} units, conversion {arm['conversionRate']:.3f}")
    for comparison in results["comparisons"]:
        lift = comparison["relativeLift"]["estimate"]
        print(f"{comparison['arm']} vs control: lift {lift:+.1%}, p = {comparison['pValue']:.3f}")
    print("recommendation:", results["recommendation"])
