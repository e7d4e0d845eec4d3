"""Events of stored changes survive a Redis outage: kept in MongoDB, published on recovery.

A change is stored first and its event published second; when the publish fails the event
is parked as a `PendingEvent` and the relay publishes it once Redis answers again. Events
parked this way may arrive after newer ones of the same topic.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from pymongo import ReturnDocument
from redis.exceptions import RedisError

from app.bus import Bus, Event
from app.models import PendingEvent, TenantScope
from app.models.base import utcnow

log = logging.getLogger(__name__)
RELAY_INTERVAL = 1.0
CLAIM_LEASE = timedelta(seconds=30)


async def publish_or_park(
    bus: Bus, scope: TenantScope, topic: str, type: str, data: dict[str, Any]
) -> Event | None:
    try:
        return await bus.publish(scope.tenant_id, topic, type, data)
    except (RedisError, OSError) as error:
        log.warning("event %s on %s parked until Redis is back: %s", type, topic, error)
        await scope.insert(
            PendingEvent(tenant_id=scope.tenant_id, topic=topic, type=type, data=data)
        )
        return None


async def claim_next() -> PendingEvent | None:
    """Lease the oldest unclaimed event, so that concurrent relays never send it twice."""
    now = utcnow()
    stored = await PendingEvent.get_pymongo_collection().find_one_and_update(
        {"$or": [{"claimed_at": None}, {"claimed_at": {"$lt": now - CLAIM_LEASE}}]},
        {"$set": {"claimed_at": now}},
        sort=[("_id", 1)],
        return_document=ReturnDocument.AFTER,
    )
    return PendingEvent.model_validate(stored) if stored else None


async def relay_pending(bus: Bus, batch: int = 500) -> int:
    """Publish parked events, oldest first; returns how many went out."""
    # The relay serves every tenant, so it reads the collection across tenants on purpose.
    for sent in range(batch):
        pending = await claim_next()
        if pending is None:
            return sent
        await bus.publish(pending.tenant_id, pending.topic, pending.type, pending.data)
        await TenantScope(pending.tenant_id).delete(PendingEvent, pending.id or "")
    return batch


async def relay_forever(bus: Bus) -> None:
    while True:
        try:
            if await relay_pending(bus):
                continue
        except Exception as error:  # the stores may be down; try again next round
            log.debug("outbox relay waiting: %s", error)
        await asyncio.sleep(RELAY_INTERVAL)
