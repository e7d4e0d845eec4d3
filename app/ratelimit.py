"""Redis rate limiting (sliding-window log) and the per-plan limits.

Algorithm: a sliding-window *log*. Each consumed unit is a member of a sorted set scored by
its Redis-server timestamp in microseconds. Why this rather than the two-window counter:
the counter approximates (it assumes uniform traffic in the previous window) and cannot tell
a denied client exactly when it may retry; the log is exact, and every operation is
O(log N) (ZREMRANGEBYSCORE of the expired head, ZCARD, ZRANGE by rank), with memory bounded
by `limit` members per key because denied hits are never recorded. Limits here are at most a
few thousand per window, so that bound is small.

Everything happens in one Lua script, so concurrent hits from many API processes are atomic,
and the clock is Redis's own TIME, so processes with skewed clocks still agree. The same
script counts the usage an allowed hit stands for and claims the "quota nearly spent" flag,
so that admitting a request costs one round trip to Redis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import redis.asyncio as aioredis

# KEYS[1]: the sorted set; KEYS[2]: the usage hash an allowed hit counts in; KEYS[3]: the
# flag an allowed hit claims when it leaves few units. ARGV: limit, window (µs), cost (0 =
# peek: only report), the usage field, amount and lifetime (s) ('' for no counting), and the
# remaining units at or under which to claim the flag (-1: never).
# Scores and members are formatted with %.0f: Lua's default number formatting would print
# microsecond timestamps in exponent notation and lose precision.
SLIDING_WINDOW_LUA = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

-- An entry stamped t counts while now < t + window.
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.0f', now - window))
local used = redis.call('ZCARD', key)
local need = math.max(cost, 1)

if used + need <= limit then
  if cost > 0 then
    -- Stamps strictly increase per key, which keeps members unique for two hits in the
    -- same microsecond and survives a server clock stepping back.
    local stamp = now
    local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    if newest[2] and tonumber(newest[2]) >= stamp then stamp = tonumber(newest[2]) + 1 end
    local score = string.format('%.0f', stamp)
    local args = {}
    for i = 1, cost do
      args[#args + 1] = score
      args[#args + 1] = score .. ':' .. i
    end
    redis.call('ZADD', key, unpack(args))
    -- Idle keys vanish once their newest entry has left the window.
    redis.call('PEXPIRE', key, string.format('%.0f', math.ceil(window / 1000) + 1))
    used = used + cost
    if ARGV[4] ~= '' then
      redis.call('HINCRBY', KEYS[2], ARGV[4], ARGV[5])
      redis.call('EXPIRE', KEYS[2], ARGV[6])
    end
    -- Claimed once per window: the first hit that leaves few units is told to warn.
    if limit - used <= tonumber(ARGV[7]) then
      local flag = string.format('%.0f', math.ceil(window / 1000))
      if redis.call('SET', KEYS[3], '1', 'PX', flag, 'NX') then return {1, limit - used, 0, 1} end
    end
  end
  return {1, limit - used, 0, 0}
end

-- Denied, and nothing recorded. The request fits once the oldest (used + need - limit)
-- entries have expired, i.e. when the entry at that rank leaves the window.
local rank = used + need - limit - 1
local blocking = redis.call('ZRANGE', key, rank, rank, 'WITHSCORES')
local retry = tonumber(blocking[2]) + window - now
return {0, limit - used, string.format('%.0f', math.max(retry, 1)), 0}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: float  # seconds until the same request would be allowed; 0 when allowed
    warn: bool = False  # this hit is the window's first to leave `warn_below` units or fewer


@dataclass(frozen=True)
class Tally:
    """Usage counted by an allowed hit, in the same script: `amount` added to `field` of the
    hash `key` (a full Redis key), which then lives `ttl_seconds` more."""

    key: str
    field: str
    amount: int
    ttl_seconds: int


class RateLimiter:
    """Sliding-window limits shared by every process using the same Redis and prefix."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(SLIDING_WINDOW_LUA)

    async def hit(
        self,
        key: str,
        limit: int,
        window_seconds: float,
        cost: int = 1,
        *,
        tally: Tally | None = None,
        warn_below: int = -1,
    ) -> Decision:
        """Consume `cost` units if they fit in the window, and count `tally`; a denied hit
        consumes and counts nothing, so a client that waits `retry_after` is then allowed.
        The window's first allowed hit that leaves `warn_below` units or fewer has `warn`."""
        if not 1 <= cost <= limit:
            raise ValueError("cost must be between 1 and limit (a larger cost never fits)")
        return await self._run(key, limit, window_seconds, cost, tally, warn_below)

    async def peek(self, key: str, limit: int, window_seconds: float) -> Decision:
        """Whether one more unit would be allowed now, without consuming it."""
        return await self._run(key, limit, window_seconds, 0, None, -1)

    async def _run(
        self,
        key: str,
        limit: int,
        window_seconds: float,
        cost: int,
        tally: Tally | None,
        warn_below: int,
    ) -> Decision:
        if not key:
            raise ValueError("rate limit key must not be empty")
        if limit < 1 or window_seconds <= 0:
            raise ValueError("limit must be >= 1 and window_seconds > 0")
        window_us = max(1, math.ceil(window_seconds * 1_000_000))
        limited = f"{self._prefix}:rl:{key}"
        counted = ("", 0, 0) if tally is None else (tally.field, tally.amount, tally.ttl_seconds)
        result = await self._script(
            keys=[limited, tally.key if tally else limited, f"{limited}:warned"],
            args=[limit, window_us, cost, *counted, warn_below],
        )
        allowed, remaining, retry_us, warn = (int(value) for value in result)
        return Decision(
            allowed=bool(allowed),
            limit=limit,
            remaining=max(remaining, 0),
            retry_after=retry_us / 1_000_000,
            warn=bool(warn),
        )


# --- plan tiers -------------------------------------------------------------------------

MB = 1024 * 1024


@dataclass(frozen=True)
class TierLimits:
    requests_per_minute: int
    expensive_per_hour: int  # AI calls, large recomputations, exports
    max_upload_bytes: int
    max_users: int


TIER_LIMITS: dict[str, TierLimits] = {
    "free": TierLimits(120, 20, 5 * MB, 3),
    "starter": TierLimits(600, 100, 25 * MB, 10),
    "pro": TierLimits(2000, 500, 100 * MB, 50),
    "enterprise": TierLimits(6000, 2000, 200 * MB, 1000),
}


def limits_for(tier: str | None) -> TierLimits:
    """The limits of `tier`; an unknown or missing tier gets the free limits (fail closed)."""
    return TIER_LIMITS.get(tier or "free", TIER_LIMITS["free"])
