"""Losing MongoDB or Redis while the API runs: clean errors, /readyz failing, recovery.

The API runs in its own process here, as in production, next to its own stores.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio

from tests.support.graphql import GraphQLClient
from tests.support.polling import until
from tests.support.servers import ApiProcess, MongoProcess, RedisProcess
from tests.support.tenants import sign_up

PRODUCTS = "{ products(first: 1) { totalCount } }"
RECOMPUTE = "mutation { recomputeSegmentMetrics { __typename ... on Run { id } } }"
CREATE = 'mutation { createProduct(input: {name: "%s"}) { __typename ... on Product { id } } }'


@pytest_asyncio.fixture
async def stack() -> AsyncIterator[tuple[GraphQLClient, MongoProcess, RedisProcess]]:
    mongo, redis = MongoProcess.start(), RedisProcess.start()
    api = ApiProcess.start(MONGODB_URL=mongo.url, REDIS_URL=redis.url, MONGODB_TIMEOUT_MS="500")
    client = (await sign_up(api.url)).client
    try:
        yield client, mongo, redis
    finally:
        await client.close()
        api.stop()
        mongo.stop()
        redis.stop()


async def test_mongodb_outage_gives_clean_errors_and_recovers(stack):
    client, mongo, _ = stack
    assert (await client.data(PRODUCTS))["products"]["totalCount"] == 0
    mongo.stop()

    body = await client.execute(PRODUCTS)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAVAILABLE"
    assert error["message"] == "MongoDB is unavailable; try again shortly"
    ready = await client.http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["mongodb"] == "unavailable"

    mongo.restart()

    async def recovered() -> bool:
        return "errors" not in await client.execute(PRODUCTS)

    assert await until(recovered, bool, seconds=20, every=0.2)
    assert (await client.http.get("/readyz")).status_code == 200


async def test_redis_outage_gives_clean_errors_loses_no_event_and_recovers(stack):
    client, _, redis = stack
    redis.stop()

    body = await client.execute(
        "mutation { recomputeSegmentMetrics { __typename ... on Run { id } } }"
    )
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAVAILABLE"
    assert error["message"] == "Redis is unavailable; try again shortly"
    ready = await client.http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["eventBus"] == "unavailable"
    # A change stored while Redis is down still succeeds; its event waits in MongoDB.
    created = await client.data(CREATE % "During outage")
    assert created["createProduct"]["__typename"] == "Product"

    redis.restart()

    async def recovered() -> bool:
        return (await client.http.get("/readyz")).status_code == 200

    assert await until(recovered, bool, seconds=20, every=0.2)
    since_start = 'subscription { productEvents(since: "0") { type productId } }'
    async with client.subscribe(since_start) as subscription:
        event = await asyncio.wait_for(subscription.next(), 10)
    assert event["productEvents"]["type"] == "productCreated"
    assert "errors" not in await client.execute(
        "mutation { recomputeSegmentMetrics { __typename ... on Run { id } } }"
    )
