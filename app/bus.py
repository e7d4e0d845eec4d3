"""Event bus: tenant-scoped topics with replay, over Redis Streams or in process memory.

A subscriber may ask for the events after a cursor it already has (`since`) and then keeps
receiving live ones, with no gap and no duplicate: it is registered for live delivery before
the backlog is read, and live events at or below the last replayed id are skipped.

The Redis bus keeps one reader task and one blocking connection per process, whatever the
number of subscribers, and fans events out to per-subscriber queues.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
import re
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.errors import ValidationFailed

log = logging.getLogger(__name__)

START = "0-0"
SUBSCRIBER_BACKLOG = 10_000


@dataclass(frozen=True)
class Event:
    id: str  # the cursor: "<milliseconds>-<sequence>", ordered within a topic
    topic: str
    type: str
    data: dict[str, Any]
    at: datetime


class BusOverflow(RuntimeError):
    """A subscriber fell too far behind; it should resubscribe with its last cursor."""


CURSOR = re.compile(r"^\d{1,20}(-\d{1,20})?$")


def order(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def check_cursor(cursor: str) -> str:
    if not CURSOR.match(cursor):
        raise ValidationFailed.single("since", "not an event cursor returned by this API")
    return cursor


@dataclass(eq=False)
class _Subscriber:
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(SUBSCRIBER_BACKLOG))
    overflowed: bool = False

    def deliver(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True


class Bus(abc.ABC):
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._subscribers: dict[str, set[_Subscriber]] = defaultdict(set)
        # One watch per key while it has subscribers: the first subscriber starts it, the
        # others wait for the same one (a second would move the key's cursor past events).
        self._watches: dict[str, asyncio.Future[None]] = {}

    def key(self, tenant_id: str, topic: str) -> str:
        if not tenant_id:
            raise ValueError("events are always tenant-scoped")
        return f"{self.prefix}:t:{tenant_id}:{topic}"

    @abc.abstractmethod
    async def publish(
        self, tenant_id: str, topic: str, type: str, data: dict[str, Any]
    ) -> Event: ...

    @abc.abstractmethod
    async def history(self, tenant_id: str, topic: str, since: str = START) -> list[Event]:
        """Events of a topic strictly after `since`, oldest first."""

    @abc.abstractmethod
    async def ping(self) -> bool: ...

    async def close(self) -> None:
        return None

    async def _watch(self, key: str) -> None:  # noqa: B027 - only the Redis bus needs it
        """Start live delivery for a key before its first subscriber reads the backlog."""

    async def _unwatch(self, key: str) -> None:  # noqa: B027
        """Called when a key's last subscriber leaves."""

    def _fan_out(self, key: str, event: Event) -> None:
        for subscriber in self._subscribers.get(key, ()):
            subscriber.deliver(event)

    async def subscribe(
        self, tenant_id: str, topic: str, since: str | None = None
    ) -> AsyncGenerator[Event, None]:
        """Live events of a topic; with `since`, first every stored event after it."""
        key = self.key(tenant_id, topic)
        if since is not None:
            check_cursor(since)
        subscriber = _Subscriber()
        self._subscribers[key].add(subscriber)
        try:
            if key not in self._watches:
                self._watches[key] = asyncio.ensure_future(self._watch(key))
            await asyncio.shield(self._watches[key])  # one subscriber leaving stops no one
            last = (0, -1)
            if since is not None:
                for event in await self.history(tenant_id, topic, since):
                    last = order(event.id)
                    yield event
            while True:
                event = await subscriber.queue.get()
                if subscriber.overflowed:
                    raise BusOverflow(f"subscriber to {topic} fell behind; resubscribe")
                if order(event.id) > last:
                    last = order(event.id)
                    yield event
        finally:
            subscribers = self._subscribers.get(key)
            if subscribers is not None:
                subscribers.discard(subscriber)
                if not subscribers:
                    del self._subscribers[key]
                    watch = self._watches.pop(key, None)
                    if watch is not None:
                        watch.cancel()  # still starting: a key nobody reads stays unwatched
                    await self._unwatch(key)


class MemoryBus(Bus):
    """Single-process bus for the zero-config `serve`; keeps the last N events per topic."""

    def __init__(self, prefix: str, maxlen: int = 10_000) -> None:
        super().__init__(prefix)
        self._streams: dict[str, deque[Event]] = defaultdict(lambda: deque(maxlen=maxlen))
        self._sequence = 0

    async def publish(self, tenant_id: str, topic: str, type: str, data: dict[str, Any]) -> Event:
        key = self.key(tenant_id, topic)
        self._sequence += 1
        now = datetime.now(UTC)
        event = Event(f"{int(now.timestamp() * 1000)}-{self._sequence}", topic, type, data, now)
        self._streams[key].append(event)
        self._fan_out(key, event)
        return event

    async def history(self, tenant_id: str, topic: str, since: str = START) -> list[Event]:
        after = order(check_cursor(since))
        stream = self._streams.get(self.key(tenant_id, topic), ())
        return [event for event in stream if order(event.id) > after]

    async def ping(self) -> bool:
        return True


class RedisBus(Bus):
    def __init__(self, url: str, prefix: str, maxlen: int = 10_000) -> None:
        super().__init__(prefix)
        self.maxlen = maxlen
        self.redis = aioredis.Redis.from_url(url, decode_responses=True)
        # The reader blocks on its own connection; the wake stream interrupts that block
        # when a new key is watched, so new subscribers never wait for a timeout.
        self._reader_redis = aioredis.Redis.from_url(url, decode_responses=True)
        self._wake_key = f"{prefix}:bus-wake:{uuid.uuid4().hex}"
        self._cursors: dict[str, str] = {}
        self._reader: asyncio.Task[None] | None = None

    async def publish(self, tenant_id: str, topic: str, type: str, data: dict[str, Any]) -> Event:
        key = self.key(tenant_id, topic)
        now = datetime.now(UTC)
        fields = {"type": type, "data": json.dumps(data, default=str), "at": now.isoformat()}
        event_id = await self.redis.xadd(key, fields, maxlen=self.maxlen, approximate=True)
        return Event(event_id, topic, type, data, now)

    async def history(self, tenant_id: str, topic: str, since: str = START) -> list[Event]:
        key = self.key(tenant_id, topic)
        entries = await self.redis.xrange(key, min=f"({check_cursor(since)}")
        return [self._event(topic, entry_id, fields) for entry_id, fields in entries]

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (RedisError, OSError):
            return False

    @staticmethod
    def _event(topic: str, entry_id: str, fields: dict[str, str]) -> Event:
        return Event(
            entry_id,
            topic,
            fields["type"],
            json.loads(fields["data"]),
            datetime.fromisoformat(fields["at"]),
        )

    async def _watch(self, key: str) -> None:
        latest = await self.redis.xrevrange(key, count=1)
        self._cursors[key] = latest[0][0] if latest else START
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_forever(), name="bus-reader")
        else:
            await self.redis.xadd(self._wake_key, {"w": "1"}, maxlen=10)

    async def _unwatch(self, key: str) -> None:
        self._cursors.pop(key, None)

    async def _read_forever(self) -> None:
        wake_cursor = START
        while self._cursors:
            try:
                batches = await self._reader_redis.xread(
                    {**self._cursors, self._wake_key: wake_cursor}, block=5000
                )
            except (RedisError, OSError) as error:
                log.warning("event bus: Redis read failed (%s); retrying", error)
                await asyncio.sleep(0.5)
                continue
            for key, entries in batches:
                if key == self._wake_key:
                    wake_cursor = entries[-1][0]
                    continue
                topic = key.split(":", 3)[3]
                for entry_id, fields in entries:
                    self._fan_out(key, self._event(topic, entry_id, fields))
                if key in self._cursors:
                    self._cursors[key] = entries[-1][0]

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        with contextlib.suppress(RedisError, OSError):
            await self.redis.delete(self._wake_key)
        await self.redis.aclose()
        await self._reader_redis.aclose()


def create_bus(redis_url: str | None, prefix: str, maxlen: int) -> Bus:
    if redis_url is None:
        return MemoryBus(prefix, maxlen)
    return RedisBus(redis_url, prefix, maxlen)
