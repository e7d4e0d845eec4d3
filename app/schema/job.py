"""Background jobs in the API: start one, follow its progress live."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry

from app.resolvers import job as use_case
from app.schema.context import Info
from app.schema.fields import mutation, subscription


@strawberry.type
class Job:
    id: strawberry.ID


@strawberry.type
class JobProgress:
    job_id: strawberry.ID
    status: str
    done: int
    total: int
    message: str
    cursor: str = strawberry.field(description="Pass as `since` to resume after this event.")


@strawberry.type
class JobMutation:
    @mutation(description="Recompute every segment's metrics in the background.")
    async def recompute_segment_metrics(self, info: Info) -> Job:
        return Job(id=strawberry.ID(await use_case.start_segment_metrics(info.context.ctx)))


@strawberry.type
class JobSubscription:
    @subscription(description="A job's progress, replayed from its start or `since`.")
    async def job_progress(
        self, info: Info, job_id: strawberry.ID, since: str | None = None
    ) -> AsyncGenerator[JobProgress, None]:
        events = use_case.follow(info.context.ctx, job_id, since)
        async with aclosing(events):
            async for event in events:
                yield JobProgress(job_id=job_id, cursor=event.id, **event.data)
