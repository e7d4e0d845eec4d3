"""Segments: create with a filter or SQL, metrics recomputed by a run, versions, delete."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from beanie import PydanticObjectId

from app.models import Customer, CustomerSegment, TenantScope
from tests.support import catalog
from tests.support.catalog import own_client, own_fixture, own_scope  # noqa: F401
from tests.support.graphql import GraphQLClient
from tests.support.runs import finished

METRICS = """subscription($p: ID!) { segmentMetricsUpdated(productId: $p) {
  segmentId segment { name metrics { totalUsers activeUsers avgRevenueCents churnRate } } } }"""
UPDATE = """mutation($input: UpdateSegmentInput!) { updateSegment(input: $input) { __typename
  ... on CustomerSegment { revision filter sqlWhere versions { number reason } }
  ... on Error { message } } }"""
RESTORE = """mutation($id: ID!, $r: Int!, $n: Int!) { restoreSegmentVersion(id: $id,
  revision: $r, number: $n) { __typename ... on CustomerSegment { name filter sqlWhere } } }"""


async def plant(tenant: TenantScope, product_id: str) -> list[Customer]:
    rows = [
        ("eu", 5000, None),
        ("eu", 15000, None),
        ("eu", 30000, datetime(2025, 1, 1, tzinfo=UTC)),
        ("na", 20000, None),
    ]
    customers = [
        Customer(
            tenant_id=tenant.tenant_id,
            product_id=PydanticObjectId(product_id),
            external_id=f"c{i}",
            region=region,
            monthly_revenue_cents=revenue,
            signup_at=datetime(2024, 1, 1, tzinfo=UTC),
            churned_at=churned,
        )
        for i, (region, revenue, churned) in enumerate(rows)
    ]
    await Customer.insert_many(customers)
    return customers


async def test_a_sql_segment_gets_metrics_from_a_run(client: GraphQLClient, tenant, worker):
    product = await catalog.product(client)
    await plant(tenant, product["id"])
    async with client.subscribe(METRICS, {"p": product["id"]}) as events:
        created = await catalog.segment(
            client,
            product["id"],
            "EU over 100 dollars",
            sqlWhere="region = 'eu' AND monthly_revenue_cents > 10000",
        )
        assert created["filter"] == {
            "$and": [
                {"region": {"$eq": "eu"}},
                {"monthly_revenue_cents": {"$gt": 10000}},
            ]
        }
        event = (await asyncio.wait_for(events.next(), 15))["segmentMetricsUpdated"]
    # Planted: two EU customers above 10000 cents, one of them churned.
    assert event["segmentId"] == created["id"]
    assert event["segment"]["metrics"] == {
        "totalUsers": 2,
        "activeUsers": 1,
        "avgRevenueCents": 15000,
        "churnRate": 0.5,
    }


async def test_a_hostile_filter_is_rejected_and_nothing_is_created(client: GraphQLClient, tenant):
    product = await catalog.product(client)
    result = await catalog.segment(
        client, product["id"], "evil", filter={"$where": "function() { return true }"}
    )
    assert result["__typename"] == "ValidationError"
    assert result["fields"] == [
        {"path": ["input", "filter", "$where"], "message": "operator not allowed here"}
    ]
    pid = PydanticObjectId(product["id"])
    assert await tenant.find(CustomerSegment, {"product_id": pid}).count() == 0


async def settled(client: GraphQLClient, segment_id: str) -> int:
    """The revision once the metrics run a change started has stored its result."""
    query = "query($id: ID!) { segment(id: $id) { revision metrics { computedAt } } }"
    seen: list[tuple[int, str]] = []
    for _ in range(200):
        found = (await client.data(query, {"id": segment_id}))["segment"]
        seen.append((found["revision"], found["metrics"]["computedAt"]))
        if seen[-1][1] and len(seen) >= 3 and len(set(seen[-3:])) == 1:
            return found["revision"]
        await asyncio.sleep(0.1)
    raise TimeoutError(seen[-1])


async def test_restoring_a_segment_version_brings_back_its_filter(client: GraphQLClient, worker):
    product = await catalog.product(client)
    created = await catalog.segment(client, product["id"], "EU", filter={"region": "eu"})
    revision = await settled(client, created["id"])
    change = {
        "id": created["id"],
        "revision": revision,
        "sqlWhere": "region = 'na'",
        "reason": "NA",
    }
    updated = (await client.data(UPDATE, {"input": change}))["updateSegment"]
    assert updated["filter"] == {"region": {"$eq": "na"}}
    assert [(v["number"], v["reason"]) for v in updated["versions"]] == [(2, "NA"), (1, "created")]
    revision = await settled(client, created["id"])
    restored = await client.data(RESTORE, {"id": created["id"], "r": revision, "n": 1})
    assert restored["restoreSegmentVersion"] == {
        "__typename": "CustomerSegment",
        "name": "EU",
        "filter": {"region": "eu"},
        "sqlWhere": "",
    }


GROWTH = """query($id: ID!) { segment(id: $id) { metrics { growth {
  periodDays usersAtStart usersAtEnd users } } } }"""
RECOMPUTE = """mutation($p: ID!, $days: Int) { recomputeSegmentMetrics(productId: $p,
  growthPeriodDays: $days) { __typename ... on Run { id } ... on ValidationError {
  fields { path message } } } }"""


async def test_growth_is_measured_over_the_period_asked_for(client: GraphQLClient, tenant, worker):
    product = await catalog.product(client)
    now = datetime.now(UTC)
    customers = [
        Customer(
            tenant_id=tenant.tenant_id,
            product_id=PydanticObjectId(product["id"]),
            external_id=f"g{i}",
            signup_at=now - timedelta(days=days),
        )
        for i, days in enumerate((400, 300, 200, 20, 10))
    ]
    await Customer.insert_many(customers)
    segment = await catalog.segment(client, product["id"], "All", sqlWhere="usage >= 0")
    await settled(client, segment["id"])
    growth = (await client.data(GROWTH, {"id": segment["id"]}))["segment"]["metrics"]["growth"]
    # Planted: over the default 90 days, 3 customers grew to 5.
    assert growth == {"periodDays": 90, "usersAtStart": 3, "usersAtEnd": 5, "users": 2 / 3}

    run = await client.data(RECOMPUTE, {"p": product["id"], "days": 365})
    assert (await finished(client, run["recomputeSegmentMetrics"]["id"]))["status"] == "COMPLETED"
    growth = (await client.data(GROWTH, {"id": segment["id"]}))["segment"]["metrics"]["growth"]
    assert growth == {"periodDays": 365, "usersAtStart": 1, "usersAtEnd": 5, "users": 4.0}

    refused = await client.data(RECOMPUTE, {"p": product["id"], "days": 0})
    assert refused["recomputeSegmentMetrics"]["fields"][0]["path"] == [
        "input",
        "parameters",
        "growthPeriodDays",
    ]


CUSTOMERS = """query($p: ID, $s: ID, $f: JSON, $q: String, $n: Int!, $a: String) {
  customers(productId: $p, segmentId: $s, filter: $f, sqlWhere: $q, first: $n, after: $a) {
  totalCount pageInfo { hasNextPage endCursor }
  nodes { externalId region monthlyRevenueCents active planId } } }"""


async def test_customers_preview_what_a_filter_selects_before_it_is_saved(
    client: GraphQLClient, tenant
):
    product = await catalog.product(client)
    await plant(tenant, product["id"])
    rich_eu = {"region": "eu", "monthly_revenue_cents": {"$gt": 10000}}
    preview = await client.data(CUSTOMERS, {"p": product["id"], "f": rich_eu, "n": 10})
    assert [c["externalId"] for c in preview["customers"]["nodes"]] == ["c1", "c2"]
    assert preview["customers"]["totalCount"] == 2
    sql = "region = 'eu' AND monthly_revenue_cents > 10000"
    same = await client.data(CUSTOMERS, {"p": product["id"], "q": sql, "n": 10})
    assert same["customers"]["nodes"] == preview["customers"]["nodes"]

    saved = await catalog.segment(client, product["id"], "Rich EU", filter=rich_eu)
    of_segment = await client.data(CUSTOMERS, {"s": saved["id"], "n": 1})
    page = of_segment["customers"]
    assert [c["externalId"] for c in page["nodes"]] == ["c1"] and page["totalCount"] == 2
    rest = await client.data(
        CUSTOMERS, {"s": saved["id"], "n": 1, "a": page["pageInfo"]["endCursor"]}
    )
    assert [c["externalId"] for c in rest["customers"]["nodes"]] == ["c2"]
    # A segment's filter refined by another: its customers that are still active.
    refined = await client.data(CUSTOMERS, {"s": saved["id"], "f": {"churned_at": None}, "n": 10})
    assert [c["externalId"] for c in refined["customers"]["nodes"]] == ["c1"]


async def test_a_hostile_preview_filter_is_refused_as_a_segment_filter_is(client: GraphQLClient):
    product = await catalog.product(client)
    for variables, path in (
        ({"f": {"$where": "sleep(1000)"}}, ["filter", "$where"]),
        ({"f": {"password": "x"}}, ["filter", "password"]),
        ({"q": "region = "}, ["sqlWhere"]),
    ):
        body = await client.execute(CUSTOMERS, {"p": product["id"], "n": 5, **variables})
        [error] = body["errors"]
        assert error["extensions"]["code"] == "VALIDATION", error
        assert error["extensions"]["fields"][0]["path"] == path


def test_the_filter_fields_the_schema_documents_are_those_the_filter_accepts():
    from app.resolvers.segment_filter import FIELDS
    from app.schema.segment import FILTER_FIELD_TYPES, FILTER_LANGUAGE

    assert list(FILTER_FIELD_TYPES) == list(FIELDS)
    assert all(f"`{name}`" in FILTER_LANGUAGE for name in FIELDS)
