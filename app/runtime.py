"""The services a process runs with (API, worker, CLI), started and stopped together."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from app.bus import Bus, create_bus
from app.db import Database, connect
from app.kv import KeyValue, MemoryKeyValue, RedisKeyValue
from app.outbox import relay_forever
from app.queue import ArqQueue, InProcessQueue, Queue
from app.ratelimit import RateLimiter
from app.security.crypto import Keyring
from app.settings import Settings
from app.slots import MemorySlots, RedisSlots, Slots

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    database: Database
    bus: Bus
    queue: Queue
    kv: KeyValue
    keyring: Keyring
    slots: Slots
    limiter: RateLimiter | None = None  # None without Redis: limits are not enforced
    redis: aioredis.Redis | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.queue.close()
        await self.bus.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.database.close()


async def start_services(settings: Settings) -> Services:
    from app.jobs import FUNCTIONS

    database = await connect(settings)
    bus = create_bus(settings.redis_url, settings.redis_prefix, settings.bus_stream_maxlen)
    keyring = Keyring.from_setting(
        settings.credential_keys.get_secret_value() if settings.credential_keys else None,
        settings.jwt_secret.get_secret_value(),
    )
    if settings.redis_url is None:
        log.warning(
            "REDIS_URL unset: in-memory event bus, in-process jobs, no rate limits "
            "(single process, development only)"
        )
        context: dict[str, Any] = {}
        queue = InProcessQueue({fn.__name__: fn for fn in FUNCTIONS}, context)
        slots = MemorySlots(settings.max_runs_per_tenant, settings.run_lease_seconds)
        services = Services(settings, database, bus, queue, MemoryKeyValue(), keyring, slots)
        context["services"] = services
        from app.jobs.runs import reap_forever

        services.tasks.append(asyncio.create_task(reap_forever(services), name="run-reaper"))
        return services
    redis = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
    prefix = settings.redis_prefix
    services = Services(
        settings,
        database,
        bus,
        await ArqQueue.connect(settings.redis_url, prefix),
        RedisKeyValue(redis, prefix),
        keyring,
        RedisSlots(redis, prefix, settings.max_runs_per_tenant, settings.run_lease_seconds),
        RateLimiter(redis, prefix),
        redis,
    )
    services.tasks.append(asyncio.create_task(relay_forever(bus), name="outbox-relay"))
    return services
