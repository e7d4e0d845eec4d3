"""The services a process runs with (API, worker, CLI), started and stopped together."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from app.bus import Bus, create_bus
from app.db import Database, connect
from app.outbox import relay_forever
from app.queue import ArqQueue, InProcessQueue, Queue
from app.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    database: Database
    bus: Bus
    queue: Queue
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.queue.close()
        await self.bus.close()
        await self.database.close()


async def start_services(settings: Settings) -> Services:
    from app.jobs import FUNCTIONS

    database = await connect(settings)
    bus = create_bus(settings.redis_url, settings.redis_prefix, settings.bus_stream_maxlen)
    queue: Queue
    if settings.redis_url is None:
        log.warning("REDIS_URL unset: in-memory event bus and in-process jobs (single process)")
        context: dict[str, Any] = {}
        queue = InProcessQueue({fn.__name__: fn for fn in FUNCTIONS}, context)
        services = Services(settings, database, bus, queue)
        context["services"] = services
        return services
    queue = await ArqQueue.connect(settings.redis_url)
    relay = asyncio.create_task(relay_forever(bus), name="outbox-relay")
    return Services(settings, database, bus, queue, [relay])
