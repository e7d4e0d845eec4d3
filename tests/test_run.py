"""The run engine end to end: API -> arq worker -> MongoDB checkpoints -> subscriptions."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date

import numpy as np
import pymongo
import pytest
import pytest_asyncio
from beanie import PydanticObjectId

from app.jobs.engine import Engine
from app.models import (
    Customer,
    CustomerSegment,
    OrchestrationRun,
    Product,
    RevenueSeries,
    SeedManifest,
    TenantScope,
)
from app.models.revenue import RevenuePoint
from app.models.run import WorkflowType
from app.seed import SEGMENTS as SEED_SEGMENTS
from app.seed import seed
from tests.support import workflows
from tests.support.graphql import GraphQLClient
from tests.support.runs import status_in
from tests.support.servers import ApiProcess
from tests.support.tenants import SignedUp, sign_up

START = """
mutation Start($input: StartOrchestrationInput!) {
  startOrchestration(input: $input) {
    __typename ... on Run { id status } ... on Error { message code }
  }
}
"""
RECOMPUTE = "mutation { recomputeSegmentMetrics { ... on Run { id } } }"
RUN = """
query($id: ID!) { run(id: $id) { status error progress { completedSteps totalSteps percentage }
  steps { name status attempts output } logs(first: 100) { nodes { level message } } } }
"""
UPDATES = """subscription($id: ID!) { runUpdated(runId: $id) {
  status completedSteps totalSteps currentStep } }"""
LOG = """subscription($id: ID!, $since: String) { runLog(runId: $id, since: $since) {
  level message cursor } }"""
SEGMENTS = """{ segments(first: 100) { nodes { id metrics {
  totalUsers activeUsers avgRevenueCents churnRate computedAt } } } }"""
ACTION = (
    "mutation($id: ID!) { %s(id: $id) { __typename ... on Run { status } ... on Error { code } } }"
)

assert workflows.SLOW and workflows.FLAKY  # registered for the in-process worker


@pytest_asyncio.fixture(scope="session")
async def demo_data(services, admin) -> SeedManifest:
    return await seed(TenantScope(admin.tenant_id), customers_per_product=300)


async def start(client: GraphQLClient, workflow: str, **parameters) -> str:
    timeout = parameters.pop("timeoutSeconds", 1800)
    variables = {
        "input": {
            "workflowType": "DATA_SYNC",
            "workflow": workflow,
            "parameters": parameters,
            "timeoutSeconds": timeout,
        }
    }
    result = (await client.data(START, variables))["startOrchestration"]
    assert result["__typename"] == "Run", result
    return result["id"]


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
        "churnRate": pytest.approx((len(members) - len(active)) / len(members), abs=1e-12),
    }


async def test_metrics_run_reports_in_order_and_stores_correct_metrics(
    client: GraphQLClient, worker, demo_data: SeedManifest, tenant: TenantScope
):
    # Other tests may add segments to this tenant; the run covers all of them.
    total = await tenant.find(CustomerSegment).count() + 1  # a step each, and a summary
    run_id = (await client.data(RECOMPUTE))["recomputeSegmentMetrics"]["id"]
    async with client.subscribe(UPDATES, {"id": run_id}) as subscription:
        updates = await asyncio.wait_for(subscription.until_complete(), 60)
    progress = [u["runUpdated"] for u in updates]
    assert progress[-1]["status"] == "COMPLETED"
    done = [p["completedSteps"] for p in progress]
    assert done == sorted(done) and done[-1] == total

    customers = await tenant.find(Customer).to_list()
    seeded = {name for name, _ in SEED_SEGMENTS}
    segments = {str(s.id): s for s in await tenant.find(CustomerSegment).to_list()}
    for node in (await client.data(SEGMENTS))["segments"]["nodes"]:
        if segments[node["id"]].name not in seeded:
            continue  # the seed's segments are plain equality filters, checked here by hand
        metrics = node["metrics"]
        assert metrics["computedAt"] is not None
        expected = expected_metrics(customers, segments[node["id"]])
        assert {k: metrics[k] for k in expected} == expected


async def test_late_log_subscriber_gets_the_whole_log_without_gap_or_duplicate(
    client: GraphQLClient, worker
):
    run_id = await start(client, "test_slow", steps=6, ticks=3)
    await status_in(client, run_id, ("RUNNING",), query=RUN)
    await asyncio.sleep(0.5)  # join mid-run
    async with client.subscribe(LOG, {"id": run_id, "since": "0"}) as subscription:
        lines = [m["runLog"] for m in await asyncio.wait_for(subscription.until_complete(), 30)]
    stored = (await client.data(RUN, {"id": run_id}))["run"]["logs"]["nodes"]
    assert [line["message"] for line in lines] == [entry["message"] for entry in stored]
    assert len({line["cursor"] for line in lines}) == len(lines)
    assert lines[-1]["level"] == "SUCCESS"

    # Resuming from a cursor replays exactly the lines after it.
    async with client.subscribe(LOG, {"id": run_id, "since": lines[1]["cursor"]}) as resumed:
        rest = [m["runLog"] for m in await asyncio.wait_for(resumed.until_complete(), 10)]
    assert rest == lines[2:]


async def test_step_completed_events_arrive_in_step_order(client: GraphQLClient, worker):
    run_id = await start(client, "test_slow", steps=4, ticks=1)
    query = """subscription($id: ID!) { runStepCompleted(runId: $id, since: "0") {
      step { name order status } } }"""
    async with client.subscribe(query, {"id": run_id}) as subscription:
        steps = [(await asyncio.wait_for(subscription.next(), 20)) for _ in range(4)]
    assert [s["runStepCompleted"]["step"]["order"] for s in steps] == [0, 1, 2, 3]
    assert {s["runStepCompleted"]["step"]["status"] for s in steps} == {"COMPLETED"}


async def test_run_updates_name_each_step_while_it_runs(client: GraphQLClient, worker):
    run_id = await start(client, "test_slow", steps=3, ticks=1)
    query = UPDATES.replace("$id: ID!)", "$id: ID!, $since: String)").replace(
        "(runId: $id)", "(runId: $id, since: $since)"
    )
    async with client.subscribe(query, {"id": run_id, "since": "0"}) as subscription:
        updates = [
            u["runUpdated"] for u in await asyncio.wait_for(subscription.until_complete(), 30)
        ]
    running = [u["currentStep"] for u in updates if u["currentStep"] is not None]
    assert running == ["step 0", "step 1", "step 2"]
    assert updates[-1] == {
        "status": "COMPLETED",
        "completedSteps": 3,
        "totalSteps": 3,
        "currentStep": None,
    }


async def test_pause_holds_between_steps_and_resume_finishes(client: GraphQLClient, worker):
    run_id = await start(client, "test_slow", steps=5, ticks=3)
    await status_in(client, run_id, ("RUNNING",), query=RUN)
    paused = await client.data(ACTION % "pauseRun", {"id": run_id})
    assert paused["pauseRun"]["__typename"] == "Run"
    run = await status_in(client, run_id, ("PAUSED",), query=RUN)
    assert run["status"] == "PAUSED"
    finished_while_paused = run["progress"]["completedSteps"]
    await asyncio.sleep(0.6)
    still = (await client.data(RUN, {"id": run_id}))["run"]
    assert still["progress"]["completedSteps"] == finished_while_paused < 5

    await client.data(ACTION % "resumeRun", {"id": run_id})
    run = await status_in(client, run_id, ("COMPLETED",), query=RUN)
    assert run["status"] == "COMPLETED"
    # Steps finished before the pause ran once; the one the pause interrupted ran again.
    attempts = [step["attempts"] for step in run["steps"]]
    assert attempts[:finished_while_paused] == [1] * finished_while_paused
    assert set(attempts[finished_while_paused:]) <= {1, 2}


async def test_stop_cancels_a_running_run(client: GraphQLClient, worker):
    run_id = await start(client, "test_slow", steps=5, ticks=5)
    await status_in(client, run_id, ("RUNNING",), query=RUN)
    await client.data(ACTION % "stopRun", {"id": run_id})
    run = await status_in(client, run_id, ("CANCELLED",), query=RUN)
    assert run["status"] == "CANCELLED"
    assert run["progress"]["completedSteps"] < 5
    again = await client.data(ACTION % "resumeRun", {"id": run_id})
    assert again["resumeRun"] == {"__typename": "ConflictError", "code": "CONFLICT"}


async def test_failing_step_retries_then_fails_the_run_with_its_error(
    client: GraphQLClient, worker
):
    run_id = await start(client, "test_flaky", steps=2)
    run = await status_in(client, run_id, ("FAILED",), query=RUN)
    assert run["status"] == "FAILED"
    assert "provider answered 503" in run["error"]
    assert run["steps"][0]["attempts"] == 3  # the first try and two retries
    assert run["steps"][1]["status"] == "PENDING"
    levels = [entry["level"] for entry in run["logs"]["nodes"]]
    assert levels.count("WARN") == 2 and levels[-1] == "ERROR"


async def test_run_over_its_timeout_fails_with_the_reason(client: GraphQLClient, worker):
    run_id = await start(client, "test_slow", steps=3, ticks=30, timeoutSeconds=1)
    run = await status_in(client, run_id, ("FAILED",), query=RUN)
    assert run["status"] == "FAILED" and "timed out after 1 s" in run["error"]


async def test_a_tenant_runs_at_most_its_limit_at_once(api: str, worker, settings):
    tenant = await sign_up(api, "Busy")
    ids = [await start(tenant.client, "test_slow", steps=2, ticks=5) for _ in range(5)]
    most = 0
    for _ in range(60):
        statuses = [
            (await tenant.client.data(RUN, {"id": run_id}))["run"]["status"] for run_id in ids
        ]
        most = max(most, statuses.count("RUNNING"))
        if set(statuses) == {"COMPLETED"}:
            break
        await asyncio.sleep(0.1)
    assert set(statuses) == {"COMPLETED"}
    assert most == settings.max_runs_per_tenant
    await tenant.client.close()


def seasonal_series(count: int, months: int) -> list[list[RevenuePoint]]:
    rng = np.random.default_rng(8)
    t = np.arange(months)
    out = []
    for _ in range(count):
        revenue = 100_000 + 900 * t + 8000 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 900, months)
        out.append(
            [
                RevenuePoint(
                    period=date(2020 + m // 12, m % 12 + 1, 1),
                    revenue_cents=int(r),
                    active_subscriptions=100 + m,
                )
                for m, r in enumerate(revenue)
            ]
        )
    return out


async def test_a_forecast_run_leaves_the_event_loop_free_while_it_fits(
    services, admin, tenant: TenantScope
):
    """A batch of 200 seasonal series takes seconds of fitting; a heartbeat on the loop
    keeps ticking meanwhile (the run's lease heartbeat, other runs and, without Redis, the
    API share this loop). The bound is generous: one second against the fit's seconds."""
    product = await tenant.insert(Product(tenant_id=admin.tenant_id, name="Fitted"))
    await RevenueSeries.insert_many(
        [
            RevenueSeries(
                tenant_id=admin.tenant_id,
                product_id=product.id,
                segment_id=PydanticObjectId(),
                plan_id=PydanticObjectId(),
                points=points,
            )
            for points in seasonal_series(200, 48)
        ]
    )
    run = await tenant.insert(
        OrchestrationRun(
            tenant_id=admin.tenant_id,
            workflow_type=WorkflowType.REVENUE_FORECAST,
            workflow="revenue_forecast",
            name="Forecast",
            product_id=product.id,
        )
    )
    gaps: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    # The session's heap is large: a full collection would pause the loop, and this test
    # measures what the run does, not the collector.
    gc.collect()
    gc.freeze()
    beating = asyncio.create_task(heartbeat())
    started = time.perf_counter()
    try:
        outcome = await Engine(services, admin.tenant_id).execute(run.id)
    finally:
        took = time.perf_counter() - started
        done.set()
        await beating
        gc.unfreeze()
    assert outcome == "completed"
    assert max(gaps) < 1.0, (max(gaps), took)


async def test_unknown_workflow_and_bad_parameters_are_validation_errors(client: GraphQLClient):
    variables = {"input": {"workflowType": "DATA_SYNC", "workflow": "nope"}}
    result = (await client.data(START, variables))["startOrchestration"]
    assert result["__typename"] == "ValidationError"
    variables = {
        "input": {"workflowType": "CUSTOMER_SEGMENTATION", "parameters": {"throttleSeconds": -1}}
    }
    result = (await client.data(START, variables))["startOrchestration"]
    assert result["__typename"] == "ValidationError" and "throttleSeconds" in result["message"]


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "worker"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_killed_worker_loses_nothing_and_repeats_no_finished_step(
    mongo_url: str, redis_url: str
):
    run = uuid.uuid4().hex[:8]
    env = {
        "MONGODB_URL": mongo_url,
        "MONGODB_DB": f"kill_{run}",
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": f"kill-{run}",
        "RUN_LEASE_SECONDS": "1.5",
        "RUN_REAPER_SECONDS": "0.5",
        "REQUEST_WINDOW_SECONDS": "1",  # the test polls faster than a free plan allows
    }
    api = ApiProcess.start(**env)
    signed_up: SignedUp = await sign_up(api.url, "Killed")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "seed",
            "--tenant",
            signed_up.tenant_id,
            "--customers",
            "100",
        ],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    with pymongo.MongoClient(mongo_url) as mongo:
        seeded = {
            str(s["_id"]): s["revision"]
            for s in mongo[env["MONGODB_DB"]]["customer_segments"].find()
        }
    first = start_worker(env)
    client = signed_up.client
    try:
        variables = {
            "input": {
                "workflowType": "CUSTOMER_SEGMENTATION",
                "parameters": {"throttleSeconds": 0.4},
            }
        }
        run_id = (await client.data(START, variables))["startOrchestration"]["id"]
        while (await client.data(RUN, {"id": run_id}))["run"]["progress"]["completedSteps"] < 3:
            await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        before = (await client.data(RUN, {"id": run_id}))["run"]
        finished_before = [s["name"] for s in before["steps"] if s["status"] == "COMPLETED"]
        assert len(set(finished_before)) == len(finished_before)

        second = start_worker(env)
        try:
            done = await status_in(client, run_id, ("COMPLETED",), 60, RUN)
        finally:
            second.terminate()
            second.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
        await client.close()
        api.stop()

    assert done["status"] == "COMPLETED"
    steps = {s["name"]: s for s in done["steps"]}
    assert all(s["status"] == "COMPLETED" for s in steps.values())
    assert {name: steps[name]["attempts"] for name in finished_before} == dict.fromkeys(
        finished_before, 1
    )
    messages = [entry["message"] for entry in done["logs"]["nodes"]]
    assert any(message.startswith("resumed after step") for message in messages)
    with pymongo.MongoClient(mongo_url) as mongo:
        segments = {
            str(s["_id"]): s["revision"]
            for s in mongo[env["MONGODB_DB"]]["customer_segments"].find()
        }
        mongo.drop_database(env["MONGODB_DB"])
    for name in finished_before:
        if name != "summary":
            segment_id = steps[name]["output"]["segmentId"]
            assert segments[segment_id] == seeded[segment_id] + 1  # updated exactly once
