"""Run the real API (uvicorn on a free port) and an arq worker inside the test session."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from app.asgi import create_app, server_options
from app.jobs.worker import build_worker
from app.runtime import Services
from app.settings import Settings
from tests.support.servers import free_port


@contextlib.asynccontextmanager
async def serve(app: Any, **options: Any) -> AsyncIterator[str]:
    """An ASGI app under uvicorn on a free port of 127.0.0.1, for the duration of the block."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def running_api(settings: Settings, services: Services | None = None) -> AsyncIterator[str]:
    # As `python -m app serve` runs it.
    app = create_app(settings, services)
    async with serve(app, lifespan="on", **server_options(settings)) as url:
        yield url


@contextlib.asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[None]:
    worker = build_worker(settings, handle_signals=False, poll_delay=0.05)
    task = asyncio.create_task(worker.main())
    try:
        yield
    finally:
        # Stop polling first: a poll after close() would open a connection nobody closes.
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()
