"""The arq job queue: deployments sharing one Redis keep their jobs apart."""

from __future__ import annotations

import uuid
from typing import Any

from arq.worker import Worker, func

from app.queue import ArqQueue


async def test_two_deployments_sharing_a_redis_run_their_own_job_of_the_same_id(redis_url: str):
    ran: list[tuple[str, str]] = []

    async def record(ctx: dict[str, Any], deployment: str) -> None:
        ran.append((deployment, ctx["job_id"]))

    prefixes = [f"test-queue-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    queues = [await ArqQueue.connect(redis_url, prefix) for prefix in prefixes]
    try:
        for queue, prefix in zip(queues, prefixes, strict=True):
            assert await queue.enqueue("record", job_id="run:1", deployment=prefix) == "run:1"
        # Within one deployment the id still makes a job unique.
        assert await queues[0].enqueue("record", job_id="run:1", deployment="again") is None

        for queue in queues:
            worker = Worker(
                functions=[func(record, name="record")],
                redis_pool=queue.pool,
                queue_name=queue.queue_name,
                burst=True,
                handle_signals=False,
                poll_delay=0.01,
            )
            await worker.main()
            await worker.close()
        assert ran == [(prefix, f"{prefix}:run:1") for prefix in prefixes]
    finally:
        for queue, prefix in zip(queues, prefixes, strict=True):
            keys = [key async for key in queue.pool.scan_iter(match=f"arq:*{prefix}*")]
            if keys:
                await queue.pool.delete(*keys)
            await queue.close()
