"""Short-lived shared flags (token revocations): Redis, or process memory for zero-config."""

from __future__ import annotations

import abc
import time

import redis.asyncio as aioredis


class KeyValue(abc.ABC):
    @abc.abstractmethod
    async def set(self, key: str, value: str, ttl_seconds: int) -> None: ...

    @abc.abstractmethod
    async def get_many(self, keys: list[str]) -> list[str | None]: ...

    @abc.abstractmethod
    async def claim(self, key: str, ttl_seconds: int) -> bool:
        """Set the key unless it is set; True for the one caller that set it."""


class RedisKeyValue(KeyValue):
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        await self.redis.set(f"{self.prefix}:kv:{key}", value, ex=max(1, ttl_seconds))

    async def get_many(self, keys: list[str]) -> list[str | None]:
        return list(await self.redis.mget([f"{self.prefix}:kv:{key}" for key in keys]))

    async def claim(self, key: str, ttl_seconds: int) -> bool:
        return bool(await self.redis.set(f"{self.prefix}:kv:{key}", "1", ex=ttl_seconds, nx=True))


class MemoryKeyValue(KeyValue):
    def __init__(self) -> None:
        self.values: dict[str, tuple[str, float]] = {}

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        self.values[key] = (value, time.monotonic() + ttl_seconds)

    async def get_many(self, keys: list[str]) -> list[str | None]:
        now = time.monotonic()
        found = (self.values.get(key) for key in keys)
        return [item[0] if item and item[1] > now else None for item in found]

    async def claim(self, key: str, ttl_seconds: int) -> bool:
        if (await self.get_many([key]))[0] is not None:
            return False
        await self.set(key, "1", ttl_seconds)
        return True
