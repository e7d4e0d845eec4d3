"""Every operation is admitted the same way, whatever its transport, and every run is charged.

The quota tests run against an API with the production windows (a minute of requests, an
hour of expensive work), so that a spent quota stays spent for the length of a test.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest_asyncio
import websockets

from app.models import OrchestrationRun, Product, RevenueSeries, TenantScope
from app.ratelimit import TIER_LIMITS
from app.runtime import Services
from app.settings import Settings
from tests.support import catalog
from tests.support.app import running_api
from tests.support.graphql import GraphQLClient
from tests.support.tenants import SignedUp, sign_up

FREE = TIER_LIMITS["free"]
CREATE = """mutation($n: String!) { createProduct(input: {name: $n}) {
    __typename ... on Product { id } } }"""


@pytest_asyncio.fixture(scope="module")
async def hourly_api(settings: Settings, services: Services) -> AsyncIterator[str]:
    hourly = settings.model_copy(
        update={"request_window_seconds": 60.0, "expensive_window_seconds": 3600.0}
    )
    async with running_api(hourly, dataclasses.replace(services, settings=hourly)) as url:
        yield url


@pytest_asyncio.fixture
async def free_tenant(api: str) -> AsyncIterator[SignedUp]:
    signed_up = await sign_up(api, "Free plan")
    yield signed_up
    await signed_up.client.close()


@asynccontextmanager
async def socket(base_url: str, token: str | None) -> AsyncIterator[Any]:
    """A graphql-transport-ws connection, acknowledged."""
    url = base_url.replace("http", "ws", 1) + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        init = {"authorization": f"Bearer {token}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        yield ws


async def operate(ws: Any, query: str, variables: dict[str, Any] | None = None) -> list[dict]:
    """Send one operation over the socket; its messages up to `complete` or `error`."""
    operation_id = uuid.uuid4().hex
    payload = {"query": query, "variables": variables or {}}
    await ws.send(json.dumps({"id": operation_id, "type": "subscribe", "payload": payload}))
    messages = []
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if message.get("id") != operation_id:
            continue  # keep-alive pings
        messages.append(message)
        if message["type"] in ("complete", "error"):
            return messages


async def test_websocket_operations_beyond_the_request_limit_are_refused(hourly_api: str):
    tenant = await sign_up(hourly_api, "Socket user")
    async with socket(hourly_api, tenant.client.token) as ws:
        outcomes = []
        for index in range(FREE.requests_per_minute + 3):
            outcomes.append(await operate(ws, CREATE, {"n": f"Socket {index}"}))
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "pong"  # still open
    served, refused = outcomes[: FREE.requests_per_minute], outcomes[FREE.requests_per_minute :]
    for messages in served:
        assert [m["type"] for m in messages] == ["next", "complete"]
        assert messages[0]["payload"]["data"]["createProduct"]["__typename"] == "Product"
    for messages in refused:
        [error_message] = messages
        assert error_message["type"] == "error"
        [error] = error_message["payload"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert "requests per minute" in error["message"]
        assert error["extensions"]["retryAfter"] > 0
    stored = await TenantScope(tenant.tenant_id).find(Product).count()
    assert stored == FREE.requests_per_minute  # the refused mutations stored nothing
    # The same quota holds over HTTP: the socket spent it.
    assert (await tenant.client.post("{ __typename }")).status_code == 429
    await tenant.client.close()


async def test_usage_counts_websocket_operations(free_tenant: SignedUp, api: str):
    async with socket(api, free_tenant.client.token) as ws:
        for _ in range(5):
            assert (await operate(ws, "{ __typename }"))[-1]["type"] == "complete"
    usage = await free_tenant.client.data("{ usage(days: 2) { days { apiCalls } } }")
    assert sum(day["apiCalls"] for day in usage["usage"]["days"]) == 5 + 1  # and this query


UPSERT = """mutation($input: RevenueContributionInput!) { upsertRevenueContribution(input: $input) {
    __typename ... on RateLimitedError { message code retryAfter } } }"""
RECOMPUTE = "mutation { recomputeSegmentMetrics { __typename } }"


async def spend_expensive_quota(client: GraphQLClient) -> None:
    for _ in range(FREE.expensive_per_hour + 1):
        result = (await client.data(RECOMPUTE))["recomputeSegmentMetrics"]
        if result["__typename"] == "RateLimitedError":
            return
    raise AssertionError("the expensive quota was never spent")


async def test_contribution_after_the_expensive_quota_is_spent_changes_nothing(hourly_api: str):
    tenant = await sign_up(hourly_api, "Quota spent")
    client = tenant.client
    product_id = (await catalog.product(client))["id"]
    plan_id = (await catalog.plan(client, product_id, "Basic", 1000))["id"]
    segment_id = (await catalog.segment(client, product_id, "Everyone"))["id"]
    await spend_expensive_quota(client)
    scope = TenantScope(tenant.tenant_id)
    runs_before = await scope.find(OrchestrationRun).count()
    point = {"period": "2025-01-01", "revenueCents": 500, "activeSubscriptions": 2}
    contribution = {"productId": product_id, "segmentId": segment_id, "planId": plan_id}
    result = await client.data(UPSERT, {"input": {**contribution, "points": [point]}})
    refused = result["upsertRevenueContribution"]
    assert refused["__typename"] == "RateLimitedError" and refused["code"] == "RATE_LIMITED"
    assert "Forecast revenue" in refused["message"]
    assert await scope.find(RevenueSeries).count() == 0
    assert await scope.find(OrchestrationRun).count() == runs_before
    await client.close()
