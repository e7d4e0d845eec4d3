"""Segment -> plan links: invariants as typed errors, the canvas, positions, suggestions."""

from __future__ import annotations

import asyncio

from beanie import PydanticObjectId

from app.models import Customer, TenantScope
from app.models.base import utcnow
from tests.support import catalog
from tests.support.catalog import own_client, own_fixture, own_scope  # noqa: F401
from tests.support.graphql import GraphQLClient
from tests.support.polling import until

LINK = """mutation($input: CreateLinkInput!) { createLink(input: $input) { __typename
  ... on SegmentPlanLink { id revision linkType percentage } ... on Error { message } } }"""
UPDATE = """mutation($input: UpdateLinkInput!) { updateLink(input: $input) { __typename
  ... on Error { message } } }"""
CANVAS = """query($p: ID!) { canvas(productId: $p) {
  nodes { id type position { x y } data { id label type segmentId planId } }
  edges { id source target data { connectionType percentage label } } } }"""
MOVE = """mutation($p: ID!, $n: ID!) { moveCanvasNode(productId: $p, nodeId: $n, x: 12.5, y: -3)
  { __typename ... on ValidationError { message } } }"""


async def setup(client: GraphQLClient):
    product = await catalog.product(client)
    segment = await catalog.segment(client, product["id"], "EU", filter={"region": "eu"})
    plans = [await catalog.plan(client, product["id"], n, p) for n, p in (("A", 1000), ("B", 5000))]
    return product, segment, plans


async def link(client, segment, plan, kind="FINALIZED", percentage=None):
    variables = {"segmentId": segment["id"], "planId": plan["id"], "linkType": kind}
    if percentage is not None:
        variables["percentage"] = percentage
    return (await client.data(LINK, {"input": variables}))["createLink"]


async def test_a_second_finalised_plan_needs_stated_shares(client: GraphQLClient):
    _, segment, (a, b) = await setup(client)
    assert (await link(client, segment, a))["__typename"] == "SegmentPlanLink"
    refused = await link(client, segment, b)
    assert refused["__typename"] == "ValidationError"
    assert "one finalised plan" in refused["message"]


async def test_shares_above_100_percent_are_refused(client: GraphQLClient):
    _, segment, (a, b) = await setup(client)
    first = await link(client, segment, a, "EXPERIMENTAL", 70)
    refused = await link(client, segment, b, "EXPERIMENTAL", 40)
    assert refused["__typename"] == "ValidationError" and "110%" in refused["message"]
    raise_share = {"id": first["id"], "revision": first["revision"], "percentage": 101}
    assert (await client.data(UPDATE, {"input": raise_share}))["updateLink"][
        "__typename"
    ] == "ValidationError"


async def test_experimental_links_need_a_share(client: GraphQLClient):
    _, segment, (a, _) = await setup(client)
    refused = await link(client, segment, a, "EXPERIMENTAL")
    assert refused["__typename"] == "ValidationError"


async def test_inactive_and_foreign_plans_cannot_be_linked(client: GraphQLClient):
    _, segment, (a, _) = await setup(client)
    await client.data(
        "mutation($id: ID!) { updatePlan(input: {id: $id, revision: 0, active: false}) "
        "{ __typename } }",
        {"id": a["id"]},
    )
    assert (await link(client, segment, a))["__typename"] == "ValidationError"
    other = await catalog.product(client)
    foreign = await catalog.plan(client, other["id"], "X", 100)
    assert (await link(client, segment, foreign))["__typename"] == "ValidationError"


async def test_a_plan_with_active_links_cannot_be_deactivated(client: GraphQLClient):
    _, segment, (a, _) = await setup(client)
    await link(client, segment, a)
    result = await client.data(
        "mutation($id: ID!) { updatePlan(input: {id: $id, revision: 0, active: false}) "
        "{ __typename } }",
        {"id": a["id"]},
    )
    assert result["updatePlan"]["__typename"] == "ConflictError"


async def test_the_canvas_has_nodes_edges_and_moved_positions(client: GraphQLClient):
    product, segment, (a, b) = await setup(client)
    await link(client, segment, a, "FINALIZED", 80)
    await link(client, segment, b, "EXPERIMENTAL", 20)
    moved = await client.data(MOVE, {"p": product["id"], "n": b["id"]})
    assert moved["moveCanvasNode"]["__typename"] == "Position"
    canvas = (await client.data(CANVAS, {"p": product["id"]}))["canvas"]
    by_id = {node["id"]: node for node in canvas["nodes"]}
    assert by_id[segment["id"]]["data"] == {
        "id": segment["id"],
        "label": "EU",
        "type": "CUSTOMER_SEGMENT",
        "segmentId": segment["id"],
        "planId": None,
    }
    assert by_id[b["id"]]["position"] == {"x": 12.5, "y": -3.0}
    assert by_id[b["id"]]["type"] == "PRICING_PLAN"
    edges = {(e["source"], e["target"]): e["data"] for e in canvas["edges"]}
    assert edges == {
        (segment["id"], a["id"]): {
            "connectionType": "FINALIZED",
            "percentage": "80%",
            "label": "finalized 80%",
        },
        (segment["id"], b["id"]): {
            "connectionType": "EXPERIMENTAL",
            "percentage": "20%",
            "label": "experimental 20%",
        },
    }


async def test_a_node_of_another_product_cannot_be_moved(client: GraphQLClient):
    product, _, _ = await setup(client)
    _, _, (foreign, _) = await setup(client)
    moved = await client.data(MOVE, {"p": product["id"], "n": foreign["id"]})
    assert moved["moveCanvasNode"]["__typename"] == "ValidationError"


async def test_canvas_changes_are_streamed(client: GraphQLClient):
    product, segment, (a, _) = await setup(client)
    query = 'subscription($p: ID!) { canvasChanged(productId: $p, since: "0") { type productId } }'
    async with client.subscribe(query, {"p": product["id"]}) as events:
        # From the start of the product's changes: the link's event arrives, live or
        # replayed, after the setup's segment and plan changes.
        await link(client, segment, a)
        event = await asyncio.wait_for(events.next(), 10)
        while event["canvasChanged"]["type"].startswith(("segment", "plan")):
            event = await asyncio.wait_for(events.next(), 10)
    assert event["canvasChanged"] == {"type": "linkCreated", "productId": product["id"]}


async def test_suggestions_pick_the_plan_whose_price_fits_average_revenue(
    client: GraphQLClient, tenant: TenantScope, worker
):
    product = await catalog.product(client)
    # Planted: the EU customers pay 4800 cents a month on average; plan B costs 5000.
    await Customer.insert_many(
        [
            Customer(
                tenant_id=tenant.tenant_id,
                product_id=PydanticObjectId(product["id"]),
                external_id=f"c{cents}",
                region="eu",
                monthly_revenue_cents=cents,
                signup_at=utcnow(),
            )
            for cents in (4000, 5600)
        ]
    )
    segment = await catalog.segment(client, product["id"], "EU", filter={"region": "eu"})
    await catalog.plan(client, product["id"], "A", 1000)
    b = await catalog.plan(client, product["id"], "B", 5000)
    metrics = "query($id: ID!) { segment(id: $id) { metrics { avgRevenueCents } } }"

    async def read() -> dict:
        return (await client.data(metrics, {"id": segment["id"]}))["segment"]["metrics"]

    await until(read, lambda found: bool(found["avgRevenueCents"]))
    query = "query($p: ID!) { linkSuggestions(productId: $p) { segmentId planId linkType fit } }"
    suggestions = (await client.data(query, {"p": product["id"]}))["linkSuggestions"]
    assert [(s["segmentId"], s["planId"], s["linkType"]) for s in suggestions] == [
        (segment["id"], b["id"], "FINALIZED")
    ]
    assert suggestions[0]["fit"] > 0.9
