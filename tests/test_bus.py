"""The event bus: tenant-scoped topics, live delivery and replay without gaps or duplicates."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from app.bus import Bus, MemoryBus, RedisBus
from app.errors import ValidationFailed


@pytest_asyncio.fixture(params=["redis", "memory"])
async def bus(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Bus]:
    prefix = f"test-bus-{uuid.uuid4().hex[:8]}"
    instance: Bus = RedisBus(redis_url, prefix) if request.param == "redis" else MemoryBus(prefix)
    yield instance
    await instance.close()


async def take(events: AsyncIterator, count: int) -> list:
    return [await asyncio.wait_for(anext(events), 5) for _ in range(count)]


async def test_live_subscriber_receives_events_in_order(bus: Bus):
    events = bus.subscribe("tenant-a", "orders")
    first = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0.05)
    for i in range(5):
        await bus.publish("tenant-a", "orders", "placed", {"n": i})
    received = [await asyncio.wait_for(first, 5), *await take(events, 4)]
    assert [event.data["n"] for event in received] == [0, 1, 2, 3, 4]
    await events.aclose()


async def test_late_subscriber_replays_from_cursor_then_goes_live(bus: Bus):
    published = [await bus.publish("t", "run", "log", {"n": i}) for i in range(10)]
    events = bus.subscribe("t", "run", since=published[3].id)
    replayed = await take(events, 6)
    assert [event.data["n"] for event in replayed] == [4, 5, 6, 7, 8, 9]

    async def publish_more() -> None:
        for i in range(10, 15):
            await bus.publish("t", "run", "log", {"n": i})

    publisher = asyncio.create_task(publish_more())
    live = await take(events, 5)
    await publisher
    assert [event.data["n"] for event in live] == [10, 11, 12, 13, 14]
    await events.aclose()


async def test_subscribing_while_publishing_misses_nothing_and_repeats_nothing(bus: Bus):
    async def publish_many() -> None:
        for i in range(200):
            await bus.publish("t", "burst", "tick", {"n": i})
            if i % 20 == 0:
                await asyncio.sleep(0)

    publisher = asyncio.create_task(publish_many())
    await asyncio.sleep(0)
    events = bus.subscribe("t", "burst", since="0")
    received = await take(events, 200)
    await publisher
    assert [event.data["n"] for event in received] == list(range(200))
    await events.aclose()


class WatchCountingBus(RedisBus):
    """The Redis bus, counting how often a key's live delivery is started."""

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__(url, prefix)
        self.watches: dict[str, int] = {}

    async def _watch(self, key: str) -> None:
        self.watches[key] = self.watches.get(key, 0) + 1
        await super()._watch(key)


async def test_first_subscribers_arriving_together_start_one_reader_and_see_every_event(
    redis_url: str,
):
    """A second start would move the topic's cursor to the newest event, past those the
    reader had not delivered yet."""
    bus = WatchCountingBus(redis_url, f"test-bus-{uuid.uuid4().hex[:8]}")

    async def publish(topic: str) -> None:
        for i in range(30):
            await bus.publish("t", topic, "tick", {"n": i})

    try:
        for round in range(5):
            topic = f"first-{round}"
            subscribers = [bus.subscribe("t", topic, since="0") for _ in range(4)]
            *seen, _ = await asyncio.gather(*(take(s, 30) for s in subscribers), publish(topic))
            for events in seen:
                assert [event.data["n"] for event in events] == list(range(30))
            assert bus.watches[bus.key("t", topic)] == 1
            for subscriber in subscribers:
                await subscriber.aclose()
    finally:
        await bus.close()


async def test_tenants_never_see_each_others_events(bus: Bus):
    theirs = bus.subscribe("tenant-b", "orders", since="0")
    await bus.publish("tenant-a", "orders", "placed", {"secret": True})
    await bus.publish("tenant-b", "orders", "placed", {"secret": False})
    [event] = await take(theirs, 1)
    assert event.data == {"secret": False}
    assert await bus.history("tenant-b", "orders") == [event]
    await theirs.aclose()


async def test_malformed_cursor_is_a_validation_error(bus: Bus):
    with pytest.raises(ValidationFailed):
        await bus.history("t", "x", since="1-0 + (")
    events = bus.subscribe("t", "x", since="nope")
    with pytest.raises(ValidationFailed):
        await anext(events)


async def test_many_subscribers_share_one_topic(bus: Bus):
    subscribers = [bus.subscribe("t", "fan", since="0") for _ in range(50)]
    await bus.publish("t", "fan", "hello", {"n": 1})
    received = await asyncio.gather(*(take(s, 1) for s in subscribers))
    assert all(events[0].data == {"n": 1} for events in received)
    for subscriber in subscribers:
        await subscriber.aclose()
