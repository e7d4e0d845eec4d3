"""Subscription fields: a resolver's event stream, mapped to GraphQL types.

A subscription field returns `stream(use_case.follow(ctx, …), to_type)`. The resolver's
`follow` checks what it must (the experiment exists, …) and gives the domain's events, as
an async function returning them or as an event generator itself; `to_type` makes each
event its GraphQL type, or None to skip it. The check runs when the client starts reading,
so its error ends the subscription like any other. When the client leaves, the resolver's
generator is closed at once (and with it the bus subscription), not whenever the garbage
collector gets to it.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import TypeVar

from app.bus import Event

T = TypeVar("T")
Events = AsyncGenerator[Event, None]


async def stream(
    events: Events | Awaitable[Events], to_type: Callable[[Event], T | None]
) -> AsyncGenerator[T, None]:
    """Each event of `events` that `to_type` maps to a value, until the client leaves."""
    source = await events if inspect.isawaitable(events) else events
    async with aclosing(source):
        async for event in source:
            item = to_type(event)
            if item is not None:
                yield item
