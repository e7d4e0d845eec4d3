"""Bulk customer import: CSV over the GraphQL multipart spec, row errors, modes, metrics."""

from __future__ import annotations

import asyncio
import json
import random
import time

from beanie import PydanticObjectId

from app.models import Customer, TenantScope
from tests.support import catalog
from tests.support.catalog import own_client, own_fixture, own_scope  # noqa: F401
from tests.support.graphql import GraphQLClient

IMPORT = """mutation($p: ID!, $file: Upload!, $mode: ImportMode!) {
  importCustomers(productId: $p, file: $file, mode: $mode) { __typename
    ... on Run { id } ... on ValidationError { fields { path message } } } }"""
RUN = """query($id: ID!) { run(id: $id) { status steps { name output } } }"""
METRICS = """query($id: ID!) { segment(id: $id) { metrics { totalUsers activeUsers
  avgRevenueCents churnRate } } }"""
HEADER = (
    "external_id,region,company_size,plan_id,monthly_revenue_cents,usage,signup_at,"
    "churned_at,attributes.tier\n"
)


async def upload(client: GraphQLClient, product_id: str, csv: str, mode: str) -> dict:
    operations = {"query": IMPORT, "variables": {"p": product_id, "file": None, "mode": mode}}
    response = await client.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("customers.csv", csv.encode(), "text/csv")},
        timeout=300,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["importCustomers"]


async def finished(client: GraphQLClient, run_id: str, seconds: float = 600) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = (await client.data(RUN, {"id": run_id}))["run"]
        if run["status"] in ("COMPLETED", "FAILED", "STOPPED"):
            return run
        await asyncio.sleep(0.2)
    raise TimeoutError(run_id)


def outputs(run: dict) -> dict:
    return {step["name"]: step["output"] for step in run["steps"]}


SMALL = HEADER + (
    "a1,eu,smb,Basic,1000,1.5,2024-01-01T00:00:00+00:00,,gold\n"
    "a2,eu,smb,Nope,1000,1,2024-01-01,,\n"  # unknown plan
    "a3,na,mid,,abc,1,2024-01-01,,\n"  # revenue not a number
    "a1,eu,smb,,1000,1,2024-01-01,,\n"  # duplicate id
    'a4,"n,a",mid,,2000,2,2024-02-01,2024-01-01,\n'  # churned before signup
    "a5,na,mid,,3000,2,2024-03-01,,\n"
)


async def test_row_errors_are_reported_and_valid_rows_kept(
    client: GraphQLClient, tenant: TenantScope, worker
):
    product = await catalog.product(client)
    await catalog.plan(client, product["id"], "Basic", 1000)
    started = await upload(client, product["id"], SMALL, "KEEP_VALID")
    run = await finished(client, started["id"])
    assert run["status"] == "COMPLETED"
    report = outputs(run)["validate"]
    assert (report["valid"], report["invalid"]) == (2, 4)
    assert [(e["row"], e["column"]) for e in report["errors"]] == [
        (3, "plan_id"),
        (4, "monthly_revenue_cents"),
        (5, "external_id"),
        (6, "churned_at"),
    ]
    stored = await tenant.find(Customer, {"product_id": PydanticObjectId(product["id"])}).to_list()
    assert sorted(c.external_id for c in stored) == ["a1", "a5"]
    assert next(c for c in stored if c.external_id == "a1").attributes == {"tier": "gold"}


async def test_all_or_nothing_writes_nothing_when_a_row_is_invalid(
    client: GraphQLClient, tenant: TenantScope, worker
):
    product = await catalog.product(client)
    started = await upload(client, product["id"], SMALL, "ALL_OR_NOTHING")
    run = await finished(client, started["id"])
    assert outputs(run)["validate"]["rejected"] is True
    assert outputs(run)["write"] == {"written": 0}
    assert await tenant.find(Customer, {"product_id": PydanticObjectId(product["id"])}).count() == 0


async def test_an_unknown_column_rejects_the_file(client: GraphQLClient, worker):
    product = await catalog.product(client)
    started = await upload(
        client, product["id"], "external_id,signup_at,$where\nx,2024-01-01,1\n", "KEEP_VALID"
    )
    report = outputs(await finished(client, started["id"]))["validate"]
    assert report["rejected"] is True
    assert "unknown columns: $where" in report["errors"][0]["message"]


def synthetic(count: int, seed: int = 11) -> tuple[str, list[tuple[str, int, bool]]]:
    rng = random.Random(seed)
    lines, truth = [HEADER], []
    for i in range(count):
        region = rng.choice(("eu", "na", "apac"))
        revenue = rng.randrange(0, 100_000)
        churned = rng.random() < 0.15
        end = "2025-01-01" if churned else ""
        lines.append(f"c{i},{region},smb,,{revenue},1,2024-01-01,{end},\n")
        truth.append((region, revenue, churned))
    return "".join(lines), truth


async def test_100k_customers_import_with_metrics_matching_an_independent_count(
    client: GraphQLClient, worker
):
    product = await catalog.product(client)
    segment = await catalog.segment(client, product["id"], "EU", sqlWhere="region = 'eu'")
    csv, truth = synthetic(100_000)
    started = await upload(client, product["id"], csv, "ALL_OR_NOTHING")
    run = await finished(client, started["id"])
    assert run["status"] == "COMPLETED", run
    assert outputs(run)["write"] == {"written": 100_000}
    eu = [(revenue, churned) for region, revenue, churned in truth if region == "eu"]
    active = [revenue for revenue, churned in eu if not churned]
    metrics = (await client.data(METRICS, {"id": segment["id"]}))["segment"]["metrics"]
    assert metrics["totalUsers"] == len(eu)
    assert metrics["activeUsers"] == len(active)
    assert metrics["avgRevenueCents"] == round(sum(active) / len(active))
    assert abs(metrics["churnRate"] - (len(eu) - len(active)) / len(eu)) < 1e-12


async def test_a_plain_value_instead_of_a_file_is_a_validation_error(client: GraphQLClient):
    product = await catalog.product(client)
    variables = {"p": product["id"], "file": "not a file", "mode": "KEEP_VALID"}
    result = (await client.data(IMPORT, variables))["importCustomers"]
    assert result == {
        "__typename": "ValidationError",
        "fields": [{"path": ["file"], "message": "must be a file part of a multipart request"}],
    }
