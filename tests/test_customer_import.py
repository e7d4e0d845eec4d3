"""Bulk customer import: CSV over the GraphQL multipart spec, row errors, modes, metrics."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from beanie import PydanticObjectId

from app.models import Customer, TenantScope, UploadChunk
from app.resolvers.upload import TOO_LONG
from tests.support import catalog
from tests.support.catalog import own_client, own_fixture, own_scope  # noqa: F401
from tests.support.graphql import GraphQLClient
from tests.support.runs import finished, outputs
from tests.support.uploads import post_file

IMPORT = """mutation($p: ID!, $file: Upload!, $mode: ImportMode!) {
  importCustomers(productId: $p, file: $file, mode: $mode) { __typename
    ... on Run { id } ... on ValidationError { fields { path message } } } }"""
METRICS = """query($id: ID!) { segment(id: $id) { metrics { totalUsers activeUsers
  avgRevenueCents avgUsage engagementScore churnRate
  growth { periodDays periodStart periodEnd usersAtStart usersAtEnd users revenue usage } } } }"""
RUN = """query($id: ID!) { run(id: $id) { status error parameters
  steps { name status output error } logs(first: 100) { nodes { level message } } } }"""
STOP = "mutation($id: ID!) { stopRun(id: $id) { __typename } }"
HEADER = (
    "external_id,region,company_size,plan_id,monthly_revenue_cents,usage,signup_at,"
    "churned_at,attributes.tier\n"
)


async def upload(client: GraphQLClient, product_id: str, csv: str, mode: str) -> dict:
    variables = {"p": product_id, "mode": mode}
    data = await post_file(client, IMPORT, variables, csv.encode(), "customers.csv")
    return data["importCustomers"]


async def ended(client: GraphQLClient, run_id: str) -> dict:
    """The finished run with its error, steps and log."""
    await finished(client, run_id)
    return (await client.data(RUN, {"id": run_id}))["run"]


async def upload_chunks(tenant: TenantScope, run: dict) -> int:
    upload = PydanticObjectId(run["parameters"]["uploadId"])
    return await tenant.find(UploadChunk, {"upload_id": upload}).count()


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


async def test_all_or_nothing_fails_the_run_and_writes_nothing_when_a_row_is_invalid(
    client: GraphQLClient, tenant: TenantScope, worker
):
    product = await catalog.product(client)
    started = await upload(client, product["id"], SMALL, "ALL_OR_NOTHING")
    run = await ended(client, started["id"])
    assert run["status"] == "FAILED"
    assert run["error"].startswith("validate failed: file rejected, nothing imported")
    assert outputs(run)["validate"]["rejected"] is True
    assert outputs(run)["write"] is None  # never ran
    assert await tenant.find(Customer, {"product_id": PydanticObjectId(product["id"])}).count() == 0
    assert await upload_chunks(tenant, run) == 0


async def test_a_file_with_wrong_columns_fails_with_its_errors_readable_on_the_run(
    client: GraphQLClient, tenant: TenantScope, worker
):
    product = await catalog.product(client)
    csv = "external_id,signup_at,$where\nx,2024-01-01,1\n"
    run = await ended(client, (await upload(client, product["id"], csv, "KEEP_VALID"))["id"])
    assert run["status"] == "FAILED"
    assert run["error"] == (
        "validate failed: file rejected, nothing imported (0 valid rows, 1 invalid rows);"
        " row 1: unknown columns: $where"
    )
    validate = run["steps"][0]
    assert (validate["name"], validate["status"]) == ("validate", "FAILED")
    assert validate["output"]["errors"] == [
        {"row": 1, "column": "", "message": "unknown columns: $where"}
    ]
    logs = [(line["level"], line["message"]) for line in run["logs"]["nodes"]]
    assert ("WARN", "row 1: unknown columns: $where") in logs
    assert logs[-1][0] == "ERROR" and "SUCCESS" not in {level for level, _ in logs}
    assert await upload_chunks(tenant, run) == 0


async def test_a_hostile_file_of_quotes_and_newlines_fails_at_its_row_and_leaves_nothing(
    client: GraphQLClient, tenant: TenantScope, worker
):
    product = await catalog.product(client)
    hostile = "external_id,signup_at\n" + '"' + '\n""' * 1_700_000  # 5 MB, a quote left open
    run = await ended(client, (await upload(client, product["id"], hostile, "KEEP_VALID"))["id"])
    assert run["status"] == "FAILED"
    assert outputs(run)["validate"]["errors"] == [{"row": 2, "column": "", "message": TOO_LONG}]
    assert await upload_chunks(tenant, run) == 0


async def test_a_stopped_import_leaves_no_upload_chunks(
    client: GraphQLClient, tenant: TenantScope, worker
):
    product = await catalog.product(client)
    csv, _ = synthetic(60_000, seed=5)  # long enough to stop before it ends
    started = await upload(client, product["id"], csv, "KEEP_VALID")
    await client.data(STOP, {"id": started["id"]})
    run = await ended(client, started["id"])
    assert run["status"] == "CANCELLED"
    assert await upload_chunks(tenant, run) == 0


@dataclass(frozen=True)
class Row:
    region: str
    revenue: int
    usage: float
    signup: datetime
    churn: datetime | None

    def active_at(self, moment: datetime) -> bool:
        return self.signup <= moment and (self.churn is None or self.churn > moment)


def synthetic(count: int, seed: int = 11) -> tuple[str, list[Row]]:
    """Signups over two years, a sixth of them churned since, usage higher in the EU: dates are
    whole days, so no row falls on the growth period's boundary (a moment of today)."""
    rng = random.Random(seed)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    lines, truth = [HEADER], []
    for i in range(count):
        region = rng.choice(("eu", "na", "apac"))
        revenue = rng.randrange(0, 100_000)
        usage = round(rng.uniform(0, 20 if region == "eu" else 10), 2)
        signup = today - timedelta(days=rng.randrange(1, 730))
        churn = None
        if rng.random() < 0.15:
            churn = signup + timedelta(days=rng.randrange(1, (today - signup).days + 1))
        end = churn.date().isoformat() if churn else ""
        lines.append(f"c{i},{region},smb,,{revenue},{usage},{signup.date()},{end},\n")
        truth.append(Row(region, revenue, usage, signup, churn))
    return "".join(lines), truth


def change(before: float, after: float) -> float:
    return (after - before) / before


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
    metrics = (await client.data(METRICS, {"id": segment["id"]}))["segment"]["metrics"]
    eu = [row for row in truth if row.region == "eu"]
    active = [row for row in eu if row.churn is None]
    assert metrics["totalUsers"] == len(eu)
    assert metrics["activeUsers"] == len(active)
    assert metrics["avgRevenueCents"] == round(sum(r.revenue for r in active) / len(active))
    assert abs(metrics["churnRate"] - (len(eu) - len(active)) / len(eu)) < 1e-12
    eu_usage = sum(r.usage for r in active) / len(active)
    all_active = [row for row in truth if row.churn is None]
    product_usage = sum(r.usage for r in all_active) / len(all_active)
    assert abs(metrics["avgUsage"] - eu_usage) < 1e-9
    assert abs(metrics["engagementScore"] - 100 * eu_usage / product_usage) < 1e-9
    assert metrics["engagementScore"] > 130  # the planted EU usage is twice the others'

    growth = metrics["growth"]
    assert growth["periodDays"] == 90
    start, end = (datetime.fromisoformat(growth[k]) for k in ("periodStart", "periodEnd"))
    assert end - start == timedelta(days=90)
    before = [row for row in eu if row.active_at(start)]
    after = [row for row in eu if row.active_at(end)]
    assert (growth["usersAtStart"], growth["usersAtEnd"]) == (len(before), len(after))
    assert abs(growth["users"] - change(len(before), len(after))) < 1e-12
    revenue = change(sum(r.revenue for r in before), sum(r.revenue for r in after))
    assert abs(growth["revenue"] - revenue) < 1e-12
    usage = change(sum(r.usage for r in before), sum(r.usage for r in after))
    assert abs(growth["usage"] - usage) < 1e-9
    assert 0.05 < growth["users"] < 0.2  # steady signups over two years, net of churn


async def test_a_plain_value_instead_of_a_file_is_a_validation_error(client: GraphQLClient):
    product = await catalog.product(client)
    variables = {"p": product["id"], "file": "not a file", "mode": "KEEP_VALID"}
    result = (await client.data(IMPORT, variables))["importCustomers"]
    assert result == {
        "__typename": "ValidationError",
        "fields": [{"path": ["file"], "message": "must be a file part of a multipart request"}],
    }
