"""Polling what a client can read until it says what a test waits for.

For state the API offers no event for (a run's status over `run(id)`, stored metrics);
where an event or a cursor exists, tests wait on that instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def until(
    read: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    seconds: float = 30.0,
    every: float = 0.1,
) -> T:
    """The first value of `read()` that `done` accepts; TimeoutError with the last one."""
    deadline = time.monotonic() + seconds
    while True:
        value = await read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(value)
        await asyncio.sleep(every)
