"""Job queue: arq on Redis, or an in-process runner for the zero-config `serve`.

Job code depends on this small interface, not on arq (which is in maintenance mode), so a
later move to another Redis queue stays cheap.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

log = logging.getLogger(__name__)

JobFunction = Callable[..., Awaitable[Any]]


def queue_name(prefix: str) -> str:
    """Per deployment, so that two deployments sharing a Redis never run each other's jobs."""
    return f"{prefix}:queue"


class Queue(abc.ABC):
    @abc.abstractmethod
    async def enqueue(
        self,
        function: str,
        job_id: str | None = None,
        defer_seconds: float = 0.0,
        **kwargs: Any,
    ) -> str | None:
        """Queue a job; returns its id, or None when a job with that id is already queued."""

    async def close(self) -> None:
        return None


class ArqQueue(Queue):
    """arq keeps a job under `arq:job:<job id>` (its result, retries and progress likewise),
    whatever the queue: job ids carry the deployment's prefix, so that two deployments
    sharing a Redis never take one job id for a duplicate of the other's."""

    def __init__(self, pool: ArqRedis, prefix: str) -> None:
        self.pool = pool
        self.prefix = prefix
        self.queue_name = queue_name(prefix)

    @classmethod
    async def connect(cls, redis_url: str, prefix: str) -> ArqQueue:
        pool = await create_pool(RedisSettings.from_dsn(redis_url))
        return cls(pool, prefix)

    async def enqueue(
        self,
        function: str,
        job_id: str | None = None,
        defer_seconds: float = 0.0,
        **kwargs: Any,
    ) -> str | None:
        job_id = job_id or uuid.uuid4().hex
        job = await self.pool.enqueue_job(
            function,
            _job_id=f"{self.prefix}:{job_id}",
            _queue_name=self.queue_name,
            _defer_by=defer_seconds or None,
            **kwargs,
        )
        return job_id if job else None

    async def close(self) -> None:
        await self.pool.aclose()


class InProcessQueue(Queue):
    """Runs jobs as tasks of the serving process; nothing survives a restart."""

    def __init__(self, functions: Mapping[str, JobFunction], context: dict[str, Any]) -> None:
        self.functions = dict(functions)
        self.context = context
        self.tasks: dict[str, asyncio.Task[Any]] = {}

    async def enqueue(
        self,
        function: str,
        job_id: str | None = None,
        defer_seconds: float = 0.0,
        **kwargs: Any,
    ) -> str | None:
        job_id = job_id or uuid.uuid4().hex
        if job_id in self.tasks and not self.tasks[job_id].done():
            return None
        job = self.functions[function]
        run = self._run(job_id, job, kwargs, defer_seconds)
        self.tasks[job_id] = asyncio.create_task(run, name=job_id)
        return job_id

    async def _run(
        self, job_id: str, job: JobFunction, kwargs: dict[str, Any], defer_seconds: float
    ) -> Any:
        await asyncio.sleep(defer_seconds)
        try:
            return await job({**self.context, "job_id": job_id, "job_try": 1}, **kwargs)
        except Exception:
            log.exception("job %s failed", job_id)
            raise

    async def drain(self) -> None:
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)

    async def close(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await self.drain()
