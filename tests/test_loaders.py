"""DataLoaders: a page of segments with their plans, links and metrics costs a constant
number of MongoDB round trips, counted by a command listener on the client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from beanie import PydanticObjectId, init_beanie
from pymongo import monitoring

from app.db import client_for
from app.models import ALL_MODELS, CustomerSegment, PricingPlan, SegmentPlanLink, TenantScope
from app.models.experiment import Experiment, ExperimentArm
from app.models.run import FINAL_STATUSES, OrchestrationRun
from app.runtime import Services
from app.settings import Settings
from tests.support import catalog
from tests.support.catalog import own_client, own_fixture, own_scope  # noqa: F401
from tests.support.graphql import GraphQLClient
from tests.support.polling import until

PAGE = """query($p: ID!, $n: Int!) { segments(productId: $p, first: $n) { totalCount nodes {
  id name metrics { totalUsers avgRevenueCents churnRate }
  product { name }
  links { linkType percentage plan { name } }
  plans { name unitPriceCents } } } }"""
# The run engine and the outbox relay poll these on their own; they are not the request's.
FINAL = [str(s) for s in FINAL_STATUSES]
BACKGROUND = {"orchestration_runs", "run_logs", "pending_events", "experiments"}


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[tuple[str, str]] = []
        self.experiment_filters: list[dict] = []  # the engine's polls mix in with these

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        if target == "experiments":
            self.experiment_filters.append(event.command.get("filter") or {})
        if isinstance(target, str) and target not in BACKGROUND:
            self.names.append((event.command_name, target))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest_asyncio.fixture
async def counted(settings: Settings, services: Services) -> AsyncIterator[Commands]:
    """Beanie's documents bound to a client with the listener, for this test only."""
    listener = Commands()
    client = client_for(str(settings.mongodb_url), settings, [listener])
    await init_beanie(database=client[settings.mongodb_db], document_models=list(ALL_MODELS))
    try:
        yield listener
    finally:
        await init_beanie(database=services.database.db, document_models=list(ALL_MODELS))
        await client.close()


async def fill(client: GraphQLClient, tenant: TenantScope, segments: int) -> str:
    """Segments and links written directly: through the API each would start a metrics run."""
    product = await catalog.product(client)
    plans = [await catalog.plan(client, product["id"], f"P{i}", 1000 * (i + 1)) for i in range(3)]
    pid = PydanticObjectId(product["id"])
    docs = [
        CustomerSegment(tenant_id=tenant.tenant_id, product_id=pid, name=f"S{i}")
        for i in range(segments)
    ]
    await CustomerSegment.insert_many(docs)
    stored = await tenant.find(CustomerSegment, {"product_id": pid}).sort("_id").to_list()
    links = [
        SegmentPlanLink(
            tenant_id=tenant.tenant_id,
            product_id=pid,
            segment_id=segment.id,
            plan_id=PydanticObjectId(plans[i % 3]["id"]),
        )
        for i, segment in enumerate(stored)
    ]
    await SegmentPlanLink.insert_many(links)
    return product["id"]


async def quiet() -> None:
    """No run of any test still working: its queries would be counted too."""
    await until(
        lambda: OrchestrationRun.find({"status": {"$nin": FINAL}}).count(), lambda busy: not busy
    )


async def round_trips(client: GraphQLClient, counted: Commands, product: str, n: int) -> int:
    await quiet()
    counted.names.clear()
    data = await client.data(PAGE, {"p": product, "n": n})
    assert len(data["segments"]["nodes"]) == n
    assert all(len(node["plans"]) == 1 for node in data["segments"]["nodes"])
    return len(counted.names)


async def test_a_page_of_100_segments_costs_as_many_round_trips_as_a_page_of_5(
    client: GraphQLClient, tenant: TenantScope, counted: Commands
):
    product = await fill(client, tenant, 100)
    small = await round_trips(client, counted, product, 5)
    large = await round_trips(client, counted, product, 100)
    assert large == small, counted.names
    # page, count, products, links, plans: five, whatever the page size.
    assert sorted(name for name in counted.names if name[1] != "api_keys") == [
        ("aggregate", "customer_segments"),
        ("find", "customer_segments"),
        ("find", "pricing_plans"),
        ("find", "products"),
        ("find", "segment_plan_links"),
    ], counted.names


FRAGMENT_PAGE = """query($p: ID!, $n: Int!) { segments(productId: $p, first: $n) { edges { node {
  ...Seg } } } }
fragment Seg on CustomerSegment { id product { name } ... on CustomerSegment {
  links { plan { name } } plans { name } } }"""
ONE = """query($id: ID!) { segment(id: $id) { id product { name } links { plan { name } }
  plans { name } } }"""


async def test_a_page_through_fragments_says_what_each_segment_alone_says(
    client: GraphQLClient, tenant: TenantScope, counted: Commands
):
    product = await fill(client, tenant, 6)
    await quiet()
    counted.names.clear()
    page = await client.data(FRAGMENT_PAGE, {"p": product, "n": 6})
    batched = sorted(name for name in counted.names if name[1] != "api_keys")
    assert batched == [
        ("find", "customer_segments"),
        ("find", "pricing_plans"),
        ("find", "products"),
        ("find", "segment_plan_links"),
    ]
    nodes = [edge["node"] for edge in page["segments"]["edges"]]
    alone = [(await client.data(ONE, {"id": node["id"]}))["segment"] for node in nodes]
    assert nodes == alone
    assert [node["plans"][0]["name"] for node in nodes] == ["P0", "P1", "P2"] * 2


EXPERIMENTS_PAGE = """query($p: ID!, $n: Int!) { segments(productId: $p, first: $n) { nodes {
  id experiments { id name } } }
  plans(productId: $p, first: $n) { nodes { id experiments { id arms { planId } } } } }"""


async def experiments_on(tenant: TenantScope, product: str) -> dict[str, list[str]]:
    """An experiment per segment, each with arms on two of the product's plans; returns
    the experiments' names by segment id."""
    pid = PydanticObjectId(product)
    segments = await tenant.find(CustomerSegment, {"product_id": pid}).sort("_id").to_list()
    plans = await tenant.find(PricingPlan, {"product_id": pid}).sort("_id").to_list()
    docs = [
        Experiment(
            tenant_id=tenant.tenant_id,
            product_id=pid,
            key=f"e{i}",
            name=f"E{i}",
            target_segment_ids=[segment.id],
            arms=[
                ExperimentArm(key="a", plan_id=plans[i % 3].id, price_cents=100, traffic_share=0.5),
                ExperimentArm(
                    key="b", plan_id=plans[(i + 1) % 3].id, price_cents=120, traffic_share=0.5
                ),
            ],
        )
        for i, segment in enumerate(segments)
    ]
    await Experiment.insert_many(docs)
    return {str(s.id): [f"E{i}"] for i, s in enumerate(segments)}


async def test_experiments_of_a_page_of_segments_and_plans_cost_constant_round_trips(
    client: GraphQLClient, tenant: TenantScope, counted: Commands
):
    product = await fill(client, tenant, 30)
    expected = await experiments_on(tenant, product)
    costs = []
    for n in (3, 30):
        await quiet()
        counted.experiment_filters.clear()
        data = await client.data(EXPERIMENTS_PAGE, {"p": product, "n": n})
        related = {"target_segment_ids", "arms.plan_id"}
        costs.append(sum(bool(related & set(f)) for f in counted.experiment_filters))
    assert costs == [2, 2], counted.experiment_filters  # a batch for segments, one for plans
    for node in data["segments"]["nodes"]:
        assert [e["name"] for e in node["experiments"]] == expected[node["id"]]
    for node in data["plans"]["nodes"]:
        assert len(node["experiments"]) == 20  # each plan carries arms of 2 in 3 experiments
        assert all(node["id"] in {a["planId"] for a in e["arms"]} for e in node["experiments"])
