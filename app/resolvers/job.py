"""Jobs started from the API, and the progress they report on the bus."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing

from app.bus import Event
from app.jobs.segment_metrics import progress_topic
from app.resolvers.ctx import ResolverCtx
from app.resolvers.usage import charge_expensive

FINAL = {"completed", "failed"}


async def start_segment_metrics(ctx: ResolverCtx) -> str:
    await charge_expensive(ctx.services, ctx.principal, "segment metrics recomputation", 1)
    job_id = uuid.uuid4().hex
    ctx.audit.record("Job", job_id, after={"function": "recompute_segment_metrics"})
    await ctx.services.queue.enqueue(
        "recompute_segment_metrics", job_id=job_id, tenant_id=ctx.tenant_id
    )
    return job_id


async def follow(ctx: ResolverCtx, job_id: str, since: str | None) -> AsyncGenerator[Event, None]:
    """Progress events of a job from `since` (default: its start) until it finishes."""
    events = ctx.services.bus.subscribe(ctx.tenant_id, progress_topic(job_id), since or "0-0")
    async with aclosing(events):
        async for event in events:
            yield event
            if event.data.get("status") in FINAL:
                return
