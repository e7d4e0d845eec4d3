"""A job end to end: mutation -> arq worker -> MongoDB -> progress on a subscription."""

from __future__ import annotations

import asyncio

import pytest_asyncio

from app.models import Customer, CustomerSegment, SeedManifest, TenantScope
from app.seed import seed
from tests.support.graphql import GraphQLClient

FOLLOW = """
subscription Follow($jobId: ID!, $since: String) {
  jobProgress(jobId: $jobId, since: $since) { status done total message cursor }
}
"""
SEGMENTS = """
{ segments(first: 100) { totalCount nodes { id name metrics {
    totalUsers activeUsers avgRevenueCents churnRate computedAt } } } }
"""


@pytest_asyncio.fixture(scope="session")
async def demo_data(services, admin) -> SeedManifest:
    return await seed(TenantScope(admin.tenant_id), customers_per_product=300)


def expected_metrics(customers: list[Customer], segment: CustomerSegment) -> dict:
    members = [
        c
        for c in customers
        if c.product_id == segment.product_id
        and all(getattr(c, field) == value for field, value in segment.filter.items())
    ]
    active = [c for c in members if c.churned_at is None]
    return {
        "totalUsers": len(members),
        "activeUsers": len(active),
        "avgRevenueCents": round(sum(c.monthly_revenue_cents for c in active) / len(active)),
        "churnRate": (len(members) - len(active)) / len(members),
    }


async def start_job(client: GraphQLClient) -> str:
    data = await client.data("mutation { recomputeSegmentMetrics { id } }")
    return data["recomputeSegmentMetrics"]["id"]


async def test_metrics_job_reports_progress_and_stores_correct_metrics(
    client: GraphQLClient, worker, demo_data: SeedManifest, tenant: TenantScope
):
    job_id = await start_job(client)
    async with client.subscribe(FOLLOW, {"jobId": job_id}) as subscription:
        events = await asyncio.wait_for(subscription.until_complete(), 60)
    progress = [event["jobProgress"] for event in events]
    total = demo_data.counts["segments"]
    assert [p["done"] for p in progress] == [*range(total + 1), total]
    assert progress[-1]["status"] == "completed"

    customers = await tenant.find(Customer).to_list()
    segments = {s.name + str(s.product_id): s for s in await tenant.find(CustomerSegment).to_list()}
    listed = (await client.data(SEGMENTS))["segments"]["nodes"]
    for node in listed:
        segment = next(s for s in segments.values() if str(s.id) == node["id"])
        metrics = node["metrics"]
        assert metrics["computedAt"] is not None
        expected = expected_metrics(customers, segment)
        assert {k: metrics[k] for k in expected if k != "churnRate"} == {
            k: v for k, v in expected.items() if k != "churnRate"
        }
        assert abs(metrics["churnRate"] - expected["churnRate"]) < 1e-9


async def test_progress_subscriber_joining_late_gets_the_rest_without_repeats(
    client: GraphQLClient, worker, demo_data: SeedManifest
):
    job_id = await start_job(client)
    async with client.subscribe(FOLLOW, {"jobId": job_id}) as subscription:
        everything = await asyncio.wait_for(subscription.until_complete(), 60)
    cursor = everything[2]["jobProgress"]["cursor"]
    async with client.subscribe(FOLLOW, {"jobId": job_id, "since": cursor}) as late:
        rest = await asyncio.wait_for(late.until_complete(), 10)
    assert rest == everything[3:]
