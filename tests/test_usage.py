"""Admitting an operation is one Redis round trip: it is limited and counted by one script."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest_asyncio
import redis.asyncio as aioredis

from app.ratelimit import RateLimiter, Tally
from tests.support.graphql import GraphQLClient
from tests.support.tenants import SignedUp, sign_up

CREATE_KEY = """mutation { createApiKey(input: {name: "usage", role: ADMIN}) {
    ... on CreatedApiKey { key } } }"""
USAGE = "{ usage(days: 1) { days { apiCalls } } }"


@pytest_asyncio.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest_asyncio.fixture
async def key_client(api: str) -> AsyncIterator[tuple[SignedUp, GraphQLClient]]:
    """A tenant, and a client that authenticates with one of its API keys."""
    signed_up = await sign_up(api, "Round trips")
    key = (await signed_up.client.data(CREATE_KEY))["createApiKey"]["key"]
    by_key = signed_up.client.as_(key)
    assert (await by_key.post("{ __typename }")).status_code == 200  # the key is now cached
    yield signed_up, by_key
    await by_key.close()
    await signed_up.client.close()


async def commands_sent(
    redis: aioredis.Redis, mark: str, action: Callable[[], Awaitable[object]]
) -> list[str]:
    """The commands clients sent Redis during `action` that name `mark` (commands run by
    scripts are not sent, so they are not counted)."""
    end = f"end-{uuid.uuid4().hex}"
    seen: list[str] = []
    async with redis.monitor() as monitor:
        await action()
        await redis.echo(end)
        while end not in (command := await monitor.next_command())["command"]:
            if command["client_type"] != "lua" and mark in command["command"]:
                seen.append(command["command"].split()[0].upper())
    return seen


async def test_an_admitted_request_costs_one_redis_round_trip(
    key_client: tuple[SignedUp, GraphQLClient], redis_client: aioredis.Redis
):
    signed_up, by_key = key_client
    before = (await by_key.data(USAGE))["usage"]["days"][-1]["apiCalls"]

    async def request() -> None:
        assert (await by_key.post("{ __typename }")).status_code == 200

    assert await commands_sent(redis_client, signed_up.tenant_id, request) == ["EVALSHA"]
    after = (await by_key.data(USAGE))["usage"]["days"][-1]["apiCalls"]
    assert after == before + 2  # the measured request and this query were counted


async def test_an_allowed_hit_counts_its_tally_and_a_denied_one_does_not(
    redis_client: aioredis.Redis,
):
    prefix = f"test-tally-{uuid.uuid4().hex[:8]}"
    limiter = RateLimiter(redis_client, prefix)
    tally = Tally(f"{prefix}:usage", "calls", 5, 60)
    decisions = [await limiter.hit("k", 2, 10, tally=tally) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert await redis_client.hget(tally.key, "calls") == "10"
    assert 0 < await redis_client.ttl(tally.key) <= 60


async def test_only_the_first_hit_under_the_warning_level_warns(redis_client: aioredis.Redis):
    limiter = RateLimiter(redis_client, f"test-warn-{uuid.uuid4().hex[:8]}")
    decisions = [await limiter.hit("k", 5, 10, warn_below=2) for _ in range(5)]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0]
    assert [d.warn for d in decisions] == [False, False, True, False, False]
