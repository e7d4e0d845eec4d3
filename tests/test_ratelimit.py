"""Redis sliding-window rate limiter (real Redis) and plan tiers."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from app.ratelimit import TIER_LIMITS, RateLimiter, limits_for


@pytest_asyncio.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"test-rl-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def limiter(redis_client: aioredis.Redis, prefix: str) -> RateLimiter:
    return RateLimiter(redis_client, prefix)


async def test_allows_up_to_limit_then_denies(limiter: RateLimiter) -> None:
    decisions = [await limiter.hit("k", 3, 10) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[0].retry_after == 0
    assert 0 < decisions[3].retry_after <= 10


async def test_denied_hit_does_not_consume(limiter: RateLimiter) -> None:
    await limiter.hit("k", 2, 0.5)
    await limiter.hit("k", 2, 0.5)
    denied = [await limiter.hit("k", 2, 0.5) for _ in range(5)]
    assert not any(d.allowed for d in denied)
    await asyncio.sleep(denied[-1].retry_after + 0.02)
    assert (await limiter.hit("k", 2, 0.5)).allowed  # the denials left nothing behind


async def test_recovers_after_the_window(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit("k", 3, 0.5)
    assert not (await limiter.peek("k", 3, 0.5)).allowed
    await asyncio.sleep(0.55)
    decision = await limiter.hit("k", 3, 0.5)
    assert decision.allowed and decision.remaining == 2


async def test_retry_after_waits_for_the_oldest_entry_only(limiter: RateLimiter) -> None:
    await limiter.hit("k", 2, 1)
    await asyncio.sleep(0.3)
    await limiter.hit("k", 2, 1)
    denied = await limiter.hit("k", 2, 1)
    assert 0.5 < denied.retry_after <= 0.71  # ~0.7 (oldest), not ~1.0 (newest)


async def test_cost_consumes_several_units(limiter: RateLimiter) -> None:
    assert (await limiter.hit("k", 10, 10, cost=7)).remaining == 3
    too_big = await limiter.hit("k", 10, 10, cost=4)
    assert not too_big.allowed and too_big.remaining == 3
    assert (await limiter.hit("k", 10, 10, cost=3)).allowed


async def test_cost_larger_than_limit_is_an_error(limiter: RateLimiter) -> None:
    with pytest.raises(ValueError):
        await limiter.hit("k", 5, 10, cost=6)


async def test_peek_does_not_consume(limiter: RateLimiter) -> None:
    await limiter.hit("k", 2, 10)
    peeks = [await limiter.peek("k", 2, 10) for _ in range(3)]
    assert all(p.allowed and p.remaining == 1 for p in peeks)
    assert (await limiter.hit("k", 2, 10)).allowed


async def test_concurrent_hits_allow_exactly_the_limit(limiter: RateLimiter) -> None:
    decisions = await asyncio.gather(*(limiter.hit("k", 10, 10) for _ in range(50)))
    assert sum(d.allowed for d in decisions) == 10


async def test_separate_keys_are_independent(limiter: RateLimiter) -> None:
    await limiter.hit("a", 1, 10)
    assert not (await limiter.hit("a", 1, 10)).allowed
    assert (await limiter.hit("b", 1, 10)).allowed


async def test_key_is_stored_under_prefix_with_an_expiry(
    limiter: RateLimiter, redis_client: aioredis.Redis, prefix: str
) -> None:
    await limiter.hit("user:1", 5, 2)
    ttl_ms = await redis_client.pttl(f"{prefix}:rl:user:1")
    assert 0 < ttl_ms <= 2001


def test_tiers_increase_in_every_dimension() -> None:
    tiers = [TIER_LIMITS[name] for name in ("free", "starter", "pro", "enterprise")]
    for lower, higher in itertools.pairwise(tiers):
        assert lower.requests_per_minute < higher.requests_per_minute
        assert lower.expensive_per_hour < higher.expensive_per_hour
        assert lower.max_upload_bytes < higher.max_upload_bytes
        assert lower.max_users < higher.max_users


def test_unknown_tier_gets_free_limits() -> None:
    assert limits_for("platinum") == TIER_LIMITS["free"] == limits_for(None)
