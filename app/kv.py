"""Short-lived shared flags (token revocations) and locks: Redis, or process memory for
zero-config."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator

import redis.asyncio as aioredis


class KeyValue(abc.ABC):
    @abc.abstractmethod
    async def set(self, key: str, value: str, ttl_seconds: int) -> None: ...

    @abc.abstractmethod
    async def get_many(self, keys: list[str]) -> list[str | None]: ...

    @abc.abstractmethod
    async def claim(self, key: str, ttl_seconds: int) -> bool:
        """Set the key unless it is set; True for the one caller that set it."""

    @abc.abstractmethod
    def lock(self, key: str, ttl_seconds: float) -> contextlib.AbstractAsyncContextManager[None]:
        """Held by one caller at a time, in every process; the others wait. A holder that
        dies frees it after `ttl_seconds`, so the work it guards must take less."""


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

    def lock(self, key: str, ttl_seconds: float) -> contextlib.AbstractAsyncContextManager[None]:
        # redis-py's lock: SET NX PX with a token, released by a script only by its holder.
        return self.redis.lock(
            f"{self.prefix}:lock:{key}",
            timeout=ttl_seconds,
            blocking_timeout=ttl_seconds,  # by then a dead holder's lock has expired
            sleep=0.02,
            thread_local=False,
        )


class MemoryKeyValue(KeyValue):
    def __init__(self) -> None:
        self.values: dict[str, tuple[str, float]] = {}
        self.locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

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

    @contextlib.asynccontextmanager
    async def lock(self, key: str, ttl_seconds: float) -> AsyncIterator[None]:
        async with self.locks[key]:  # one process: nobody can die holding it
            yield
