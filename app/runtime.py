"""The services a process runs with (API, worker, CLI), started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from app.bus import Bus, create_bus
from app.db import Database, connect
from app.kv import KeyValue, MemoryKeyValue, RedisKeyValue
from app.outbox import relay_forever
from app.queue import ArqQueue, InProcessQueue, Queue
from app.ratelimit import RateLimiter
from app.security.crypto import Keyring
from app.settings import ConfigError, Settings
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
    with reported_as("MONGODB_URL", settings.mongodb_url):
        database = await connect(settings)
    with reported_as("REDIS_URL", settings.redis_url):
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
        # The jobs are added by the process that serves them (app.jobs.run_in_process).
        queue = InProcessQueue({}, context)
        slots = MemorySlots(settings.max_runs_per_tenant, settings.run_lease_seconds)
        services = Services(settings, database, bus, queue, MemoryKeyValue(), keyring, slots)
        context["services"] = services
        return services
    prefix = settings.redis_prefix
    with reported_as("REDIS_URL", settings.redis_url):
        redis = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
        arq_queue = await ArqQueue.connect(settings.redis_url, prefix)
    services = Services(
        settings,
        database,
        bus,
        arq_queue,
        RedisKeyValue(redis, prefix),
        keyring,
        RedisSlots(redis, prefix, settings.max_runs_per_tenant, settings.run_lease_seconds),
        RateLimiter(redis, prefix),
        redis,
    )
    services.tasks.append(asyncio.create_task(relay_forever(bus), name="outbox-relay"))
    return services


def freeze_heap() -> None:
    """Keep what start-up made (modules, the schema, services, caches) out of the garbage
    collector's way: frozen objects are never scanned again, so a full collection walks
    only what requests allocate instead of pausing every request for the whole heap."""
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def reported_as(variable: str, url: str | None) -> Iterator[None]:
    """A store that cannot be reached at start-up is a configuration error named after its
    variable, with the URL's password blanked out of the driver's message and no chained
    traceback that could quote it."""
    try:
        yield
    except (PyMongoError, RedisError, OSError, ValueError) as error:
        message = without_password(f"{type(error).__name__}: {error}", url)
        raise ConfigError(f"configuration error: {variable}: cannot connect: {message}") from None


def without_password(text: str, url: str | None) -> str:
    try:
        password = urlsplit(url).password if url else None
    except ValueError:  # a URL too broken to parse: say nothing of what followed the scheme
        return text.replace(url or "", "<the URL>")
    for form in {password, unquote(password)} if password else ():
        text = text.replace(form, "***")
    return text
