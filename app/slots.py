"""Concurrent-run slots per tenant: at most N runs of a tenant execute at once.

Slots are leases (they expire unless renewed), so a worker that dies frees its slot.
"""

from __future__ import annotations

import abc
import time

import redis.asyncio as aioredis

ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZSCORE', KEYS[1], ARGV[1])
if held or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], lease)
  return 1
end
return 0
"""


class Slots(abc.ABC):
    def __init__(self, limit: int, lease_seconds: float) -> None:
        self.limit = limit
        self.lease_seconds = lease_seconds

    @abc.abstractmethod
    async def acquire(self, tenant_id: str, holder: str) -> bool:
        """Take (or keep) a slot; False when the tenant's slots are all taken."""

    async def renew(self, tenant_id: str, holder: str) -> None:
        await self.acquire(tenant_id, holder)

    @abc.abstractmethod
    async def release(self, tenant_id: str, holder: str) -> None: ...


class RedisSlots(Slots):
    def __init__(self, redis: aioredis.Redis, prefix: str, limit: int, lease_seconds: float):
        super().__init__(limit, lease_seconds)
        self.redis = redis
        self.prefix = prefix
        self.script = redis.register_script(ACQUIRE_LUA)

    def key(self, tenant_id: str) -> str:
        return f"{self.prefix}:slots:{tenant_id}"

    async def acquire(self, tenant_id: str, holder: str) -> bool:
        lease_ms = int(self.lease_seconds * 1000)
        taken = await self.script(keys=[self.key(tenant_id)], args=[holder, self.limit, lease_ms])
        return bool(taken)

    async def release(self, tenant_id: str, holder: str) -> None:
        await self.redis.zrem(self.key(tenant_id), holder)


class MemorySlots(Slots):
    def __init__(self, limit: int, lease_seconds: float) -> None:
        super().__init__(limit, lease_seconds)
        self.held: dict[str, dict[str, float]] = {}

    async def acquire(self, tenant_id: str, holder: str) -> bool:
        now = time.monotonic()
        held = {h: until for h, until in self.held.get(tenant_id, {}).items() if until > now}
        if holder not in held and len(held) >= self.limit:
            return False
        held[holder] = now + self.lease_seconds
        self.held[tenant_id] = held
        return True

    async def release(self, tenant_id: str, holder: str) -> None:
        self.held.get(tenant_id, {}).pop(holder, None)
