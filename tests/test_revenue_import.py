"""Bulk revenue import: CSV over the GraphQL multipart spec, row errors, modes, merging by
month, currencies, the upload limit, and attribution against the generated rows."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import pytest_asyncio
from beanie import PydanticObjectId

from app.models import OrchestrationRun, RevenueSeries, TenantScope, UploadChunk
from app.ratelimit import limits_for
from tests.support import catalog
from tests.support.attribution import Month, assert_attribution
from tests.support.catalog import own_client, own_fixture, own_scope  # noqa: F401
from tests.support.graphql import GraphQLClient
from tests.support.runs import finished, outputs
from tests.support.tenants import SignedUp, sign_up
from tests.support.uploads import post_file

IMPORT = """mutation($p: ID!, $file: Upload!, $mode: ImportMode!) {
  importRevenue(productId: $p, file: $file, mode: $mode) { __typename
    ... on Run { id } ... on ValidationError { fields { path message } } } }"""
ATTRIBUTION = """query($p: ID!, $s: Date!, $e: Date!) {
  revenueAttribution(productId: $p, start: $s, end: $e) { totalRevenueCents
    items { planId segmentId revenueCents share users avgRevenueCents }
    timeSeries { planId points { period value } } } }"""
CONTRIBUTIONS = """query($p: ID!) { revenueContributions(productId: $p, first: 100) {
  totalCount nodes { planId segmentId currency revenue { period value }
    activeSubscriptions { period value } revenueForecast { period } } } }"""
UPSERT = """mutation($input: RevenueContributionInput!) { upsertRevenueContribution(input: $input) {
  __typename } }"""
LOG = """subscription($id: ID!) { runLog(runId: $id, since: "0") { message } }"""
HEADER = "plan,segment,period,revenue_cents,active_subscriptions,currency\n"


async def import_file(client: GraphQLClient, product_id: str, csv: str, mode: str) -> dict:
    """The import run, once finished."""
    variables = {"p": product_id, "mode": mode}
    started = (await post_file(client, IMPORT, variables, csv.encode()))["importRevenue"]
    assert started["__typename"] == "Run", started
    return {"id": started["id"], **await finished(client, started["id"])}


async def contributions(client: GraphQLClient, product_id: str) -> dict[tuple[str, str], dict]:
    result = await client.data(CONTRIBUTIONS, {"p": product_id})
    return {(n["planId"], n["segmentId"]): n for n in result["revenueContributions"]["nodes"]}


async def catalog_of(
    client: GraphQLClient, plans: int, segments: int
) -> tuple[str, list[dict], list[dict]]:
    """A product with plans P0, P1… and segments S0, S1… ({id, name} each)."""
    product_id = (await catalog.product(client))["id"]
    plan_names = [f"P{i}" for i in range(plans)]
    segment_names = [f"S{i}" for i in range(segments)]
    return (
        product_id,
        [
            {"id": (await catalog.plan(client, product_id, name, 1000))["id"], "name": name}
            for name in plan_names
        ],
        [
            {"id": (await catalog.segment(client, product_id, name))["id"], "name": name}
            for name in segment_names
        ],
    )


# --- a generated file of a few thousand rows --------------------------------------------


@dataclass(frozen=True)
class Imported:
    product_id: str
    rows: list[Month]
    run: dict


MONTHS = [date(year, month, 1) for year in (2023, 2024, 2025) for month in range(1, 13)]


def generated(plans: list[dict], segments: list[dict], seed: int = 7) -> tuple[str, list[Month]]:
    """Every plan x segment x month, each month split over 1 to 4 rows; plans and segments
    named by id or by name, months written in the three accepted forms; rows shuffled."""
    rng = random.Random(seed)
    rows = [
        Month(plan["id"], segment["id"], month, rng.randrange(0, 100_000), rng.randrange(0, 60))
        for plan in plans
        for segment in segments
        for month in MONTHS
        for _ in range(rng.randint(1, 4))
    ]
    rng.shuffle(rows)
    names = {item["id"]: item["name"] for item in plans + segments}
    lines = [HEADER]
    for row in rows:
        plan = rng.choice((row.plan, names[row.plan]))
        segment = rng.choice((row.segment, names[row.segment]))
        period = rng.choice(
            (row.period.isoformat()[:7], row.period.isoformat(), f"{row.period}T00:00:00Z")
        )
        lines.append(f"{plan},{segment},{period},{row.revenue},{row.subscriptions},USD\n")
    return "".join(lines), rows


@pytest_asyncio.fixture(scope="module")
async def imported(own: SignedUp, worker) -> AsyncIterator[Imported]:
    product_id, plans, segments = await catalog_of(own.client, plans=5, segments=6)
    csv, rows = generated(plans, segments)
    run = await import_file(own.client, product_id, csv, "ALL_OR_NOTHING")
    yield Imported(product_id, rows, run)


async def test_a_generated_file_of_thousands_of_rows_is_stored_in_full(
    imported: Imported, client: GraphQLClient
):
    assert len(imported.rows) > 2000
    assert imported.run["status"] == "COMPLETED", imported.run
    report = outputs(imported.run)
    assert (report["validate"]["valid"], report["validate"]["invalid"]) == (len(imported.rows), 0)
    assert report["write"] == {
        "written": len(imported.rows),
        "months": 5 * 6 * len(MONTHS),
        "contributions": 5 * 6,
    }
    months: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in imported.rows:
        totals = months[(row.plan, row.segment, row.period.isoformat())]
        totals[0] += row.revenue
        totals[1] += row.subscriptions
    stored = {
        (plan, segment, revenue["period"]): [revenue["value"], subscriptions["value"]]
        for (plan, segment), node in (await contributions(client, imported.product_id)).items()
        for revenue, subscriptions in zip(node["revenue"], node["activeSubscriptions"], strict=True)
    }
    assert stored == months


async def test_attribution_after_an_import_equals_an_independent_sum_of_the_rows(
    imported: Imported, client: GraphQLClient
):
    start, end = date(2023, 7, 1), date(2025, 7, 1)
    variables = {"p": imported.product_id, "s": start.isoformat(), "e": end.isoformat()}
    result = (await client.data(ATTRIBUTION, variables))["revenueAttribution"]

    assert_attribution(result, imported.rows, start, end)


async def test_an_import_refreshes_the_products_forecasts(
    imported: Imported, client: GraphQLClient, tenant: TenantScope
):
    assert outputs(imported.run)["forecast"] == {"refreshed": True}
    forecast = await tenant.find(
        OrchestrationRun,
        {"workflow": "revenue_forecast", "product_id": PydanticObjectId(imported.product_id)},
    ).first_or_none()
    assert forecast is not None
    assert (await finished(client, str(forecast.id)))["status"] == "COMPLETED"
    nodes = (await contributions(client, imported.product_id)).values()
    assert all(len(node["revenueForecast"]) == 12 for node in nodes)
    assert {node["revenueForecast"][0]["period"] for node in nodes} == {"2026-01-01"}


async def test_the_import_reports_its_counts_on_the_run_log(
    imported: Imported, client: GraphQLClient
):
    async with client.subscribe(LOG, {"id": imported.run["id"]}) as subscription:
        lines = await asyncio.wait_for(subscription.until_complete(), 30)
    messages = [line["runLog"]["message"] for line in lines]
    count = len(imported.rows)
    assert f"{count} valid rows, 0 invalid rows" in messages
    assert f"{count} rows stored as {5 * 6 * len(MONTHS)} months of 30 contributions" in messages


# --- row errors and modes --------------------------------------------------------------


def bad_file(plan: dict, segment: dict) -> str:
    p, s = plan["name"], segment["id"]
    return HEADER + (
        f"{p},{s},2024-01,1000,10,USD\n"  # row 2: valid
        f"Nope,{s},2024-02,1000,10,USD\n"  # row 3: unknown plan
        f"{p},{s},2024-02-15,1000,10,USD\n"  # row 4: not the first of a month
        f"{p},{s},2024-03,1000,-1,USD\n"  # row 5: negative subscriptions
        f"{p},{s},2024-04,12.50,10,USD\n"  # row 6: revenue in major units
        f"{p},{s},2024-05,-100,10,USD\n"  # row 7: negative revenue
        f"{p},{s},2024-06,1000,10,\n"  # row 8: no currency
        f"{p},{s},2024-07,1000\n"  # row 9: too few values
        f"{p},Nobody,2024-13,1000,10,USD\n"  # row 10: unknown segment, no such month
        f"{p},{s},2024-08-01T00:00:00+00:00,2000,20,USD\n"  # row 11: valid
    )


async def test_bad_rows_are_reported_by_row_and_column_and_the_valid_rows_kept(
    client: GraphQLClient, worker
):
    product_id, [plan], [segment] = await catalog_of(client, plans=1, segments=1)
    run = await import_file(client, product_id, bad_file(plan, segment), "KEEP_VALID")
    assert run["status"] == "COMPLETED", run
    report = outputs(run)["validate"]
    assert (report["valid"], report["invalid"], report["rejected"]) == (2, 8, False)
    assert [(e["row"], e["column"]) for e in report["errors"]] == [
        (3, "plan"),
        (4, "period"),
        (5, "active_subscriptions"),
        (6, "revenue_cents"),
        (7, "revenue_cents"),
        (8, "currency"),
        (9, ""),
        (10, "segment"),
        (10, "period"),
    ]
    messages = {(e["row"], e["column"]): e["message"] for e in report["errors"]}
    assert messages[(4, "period")] == "must be the first day of a month"
    assert messages[(5, "active_subscriptions")] == "must not be negative"
    assert messages[(8, "currency")] == "is required"
    stored = await contributions(client, product_id)
    assert [(p["period"], p["value"]) for p in stored[(plan["id"], segment["id"])]["revenue"]] == [
        ("2024-01-01", 1000),
        ("2024-08-01", 2000),
    ]


async def test_all_or_nothing_fails_the_run_and_writes_nothing_when_a_row_is_invalid(
    client: GraphQLClient, tenant: TenantScope, worker
):
    product_id, [plan], [segment] = await catalog_of(client, plans=1, segments=1)
    run = await import_file(client, product_id, bad_file(plan, segment), "ALL_OR_NOTHING")
    assert run["status"] == "FAILED"
    report = outputs(run)
    assert report["validate"]["rejected"] is True
    assert report["write"] is None and report["forecast"] is None  # neither ran
    product = {"product_id": PydanticObjectId(product_id)}
    assert await tenant.find(RevenueSeries, product).count() == 0
    assert await tenant.find(UploadChunk, {}).count() == 0  # the upload is dropped too


async def test_a_missing_column_fails_the_run_with_the_error(client: GraphQLClient, worker):
    product_id, _, _ = await catalog_of(client, plans=1, segments=1)
    csv = "plan,segment,period,revenue_cents,active_subscriptions\nP0,S0,2024-01,1,1\n"
    run = await import_file(client, product_id, csv, "KEEP_VALID")
    assert run["status"] == "FAILED"
    report = outputs(run)
    assert report["validate"]["rejected"] is True
    assert report["validate"]["errors"] == [
        {"row": 1, "column": "", "message": "missing columns: currency"}
    ]
    assert report["write"] is None


# --- merging by month ------------------------------------------------------------------


async def test_rows_of_one_month_are_summed_and_replace_the_stored_month(
    client: GraphQLClient, worker
):
    product_id, [plan], [segment] = await catalog_of(client, plans=1, segments=1)
    stored = [("2024-01-01", 100, 1), ("2024-02-01", 200, 2), ("2024-03-01", 300, 3)]
    points = [{"period": p, "revenueCents": r, "activeSubscriptions": s} for p, r, s in stored]
    key = {"productId": product_id, "segmentId": segment["id"], "planId": plan["id"]}
    upserted = await client.data(UPSERT, {"input": {**key, "points": points}})
    assert upserted["upsertRevenueContribution"]["__typename"] == "RevenueContribution"
    csv = HEADER + (
        f"{plan['id']},{segment['name']},2024-02,1000,10,USD\n"
        f"{plan['name']},{segment['id']},2024-02-01,2500,15,USD\n"  # the same contribution
        f"{plan['name']},{segment['name']},2024-04,4000,40,USD\n"
    )
    for _ in range(2):  # importing the same file again changes nothing
        run = await import_file(client, product_id, csv, "ALL_OR_NOTHING")
        assert outputs(run)["write"] == {"written": 3, "months": 2, "contributions": 1}
        node = (await contributions(client, product_id))[(plan["id"], segment["id"])]
        revenue = [(p["period"], p["value"]) for p in node["revenue"]]
        subscriptions = [p["value"] for p in node["activeSubscriptions"]]
        assert revenue == [
            ("2024-01-01", 100),
            ("2024-02-01", 3500),
            ("2024-03-01", 300),
            ("2024-04-01", 4000),
        ]
        assert subscriptions == [1, 25, 3, 40]


# --- currencies ------------------------------------------------------------------------


async def test_a_currency_other_than_the_contributions_or_the_plans_is_rejected(
    client: GraphQLClient, worker
):
    product = await catalog.product(client)
    dollars = await catalog.plan(client, product["id"], "Dollars", 1000)
    euros = await catalog.plan(client, product["id"], "Euros", 900, currency="EUR")
    segment = await catalog.segment(client, product["id"], "All")
    key = {"productId": product["id"], "segmentId": segment["id"], "planId": dollars["id"]}
    point = {"period": "2024-01-01", "revenueCents": 100, "activeSubscriptions": 1}
    await client.data(UPSERT, {"input": {**key, "currency": "GBP", "points": [point]}})
    csv = HEADER + (
        "Euros,All,2024-01,1000,10,USD\n"  # row 2: the plan is priced in EUR
        "Dollars,All,2024-02,1000,10,USD\n"  # row 3: the contribution is stored in GBP
        "Euros,All,2024-02,1000,10,usd\n"  # row 4: not a currency code
        "Euros,All,2024-03,1000,10,EUR\n"  # row 5: valid
        "Dollars,All,2024-03,1000,10,GBP\n"  # row 6: valid
    )
    run = await import_file(client, product["id"], csv, "KEEP_VALID")
    report = outputs(run)["validate"]
    assert [(e["row"], e["column"], e["message"]) for e in report["errors"]] == [
        (2, "currency", "the plan is priced in EUR"),
        (3, "currency", "this contribution is stored in GBP"),
        (4, "currency", report["errors"][2]["message"]),
    ]
    assert report["errors"][2]["message"].startswith("use one of")
    stored = await contributions(client, product["id"])
    assert stored[(euros["id"], segment["id"])]["currency"] == "EUR"
    assert [p["period"] for p in stored[(euros["id"], segment["id"])]["revenue"]] == ["2024-03-01"]
    assert [p["period"] for p in stored[(dollars["id"], segment["id"])]["revenue"]] == [
        "2024-01-01",
        "2024-03-01",
    ]


# --- the upload limit ------------------------------------------------------------------


async def test_an_upload_over_the_tiers_limit_is_refused_and_leaves_nothing(api: str):
    free = await sign_up(api, "Free tier")
    try:
        product = await catalog.product(free.client)
        limit = limits_for("free").max_upload_bytes
        row = "P0,S0,2024-01,1000,10,USD\n"
        csv = HEADER + row * (limit // len(row) + 1)
        variables = {"p": product["id"], "mode": "KEEP_VALID"}
        result = (await post_file(free.client, IMPORT, variables, csv.encode()))["importRevenue"]
        assert result == {
            "__typename": "ValidationError",
            "fields": [{"path": ["file"], "message": f"larger than the plan's {limit} bytes"}],
        }
        scope = TenantScope(free.tenant_id)
        assert await scope.find(UploadChunk, {}).count() == 0
        assert await scope.find(OrchestrationRun, {}).count() == 0
    finally:
        await free.client.close()


async def test_another_tenants_product_is_not_found(imported: Imported, api: str):
    other = await sign_up(api, "Other tenant")
    try:
        variables = {"p": imported.product_id, "mode": "KEEP_VALID"}
        query = IMPORT.replace("... on Run { id }", "... on NotFoundError { entity }")
        result = await post_file(other.client, query, variables, HEADER.encode())
        assert result["importRevenue"] == {"__typename": "NotFoundError", "entity": "Product"}
        assert await TenantScope(other.tenant_id).find(UploadChunk, {}).count() == 0
    finally:
        await other.client.close()
