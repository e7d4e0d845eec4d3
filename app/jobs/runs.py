"""Jobs of the run engine: execute a run, and hand orphaned runs to a live worker."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from bson import ObjectId

from app.jobs.engine import Engine
from app.models.base import utcnow
from app.models.run import OrchestrationRun, RunStatus
from app.resolvers.run import enqueue_run
from app.runtime import Services

log = logging.getLogger(__name__)
STALE_QUEUED = timedelta(seconds=30)


async def execute_run(ctx: dict[str, Any], tenant_id: str, run_id: str) -> str:
    engine = Engine(ctx["services"], tenant_id)
    return await engine.execute(ObjectId(run_id))


async def reap(services: Services) -> int:
    """Re-enqueue runs whose worker died (lease expired) or whose enqueue was lost."""
    now = utcnow()
    # Orphans can belong to any tenant: the reaper is the one cross-tenant reader of runs.
    orphans = await OrchestrationRun.find(
        {
            "$or": [
                {"status": RunStatus.RUNNING, "lease_until": {"$lt": now}},
                {
                    "status": RunStatus.QUEUED,
                    "lease_owner": None,
                    "queued_at": {"$lt": now - STALE_QUEUED},
                },
            ]
        }
    ).to_list()
    for run in orphans:
        log.warning("run %s of tenant %s has no live worker; re-enqueued", run.id, run.tenant_id)
        await enqueue_run(services, run.tenant_id, str(run.id))
    return len(orphans)


async def reap_forever(services: Services) -> None:
    while True:
        try:
            await reap(services)
        except Exception as error:  # stores down: try again next round
            log.debug("reaper waiting: %s", error)
        await asyncio.sleep(services.settings.run_reaper_seconds)
