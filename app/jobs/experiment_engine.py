"""The experiment engine: flush counters, recompute results, stop experiments that are done.

Every `EXPERIMENT_ENGINE_SECONDS` one worker (a Redis claim per interval elects it) goes
over the running and paused experiments of all tenants (like the run reaper, the one
cross-tenant reader here), flushes their pending counters and, for running ones that
received events, recomputes the results, publishes `experimentUpdated`, and completes the experiment
when the sequential test concludes, the sample ratio is off or a guardrail is breached.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from app.errors import Conflict
from app.models.experiment import Experiment, ExperimentStatus
from app.resolvers.experiment_results import process
from app.runtime import Services

log = logging.getLogger(__name__)
ACTIVE = [ExperimentStatus.RUNNING, ExperimentStatus.PAUSED]


async def tick(services: Services) -> int:
    """Process every active experiment; experiments changed meanwhile wait for the next."""
    docs = await Experiment.find({"status": {"$in": ACTIVE}}).to_list()
    for doc in docs:
        try:
            await process(services, doc)
        except Conflict:
            log.debug("experiment %s changed during the engine's turn", doc.id)
    return len(docs)


async def recompute_experiments(ctx: dict[str, Any]) -> int:
    """arq job: one engine turn on demand."""
    return await tick(ctx["services"])


async def engine_forever(services: Services) -> None:
    interval = services.settings.experiment_engine_seconds
    while True:
        try:
            if await services.kv.claim("experiment-engine", max(1, int(interval * 0.9))):
                await tick(services)
        except Exception as error:  # stores down: try again next round
            log.warning("experiment engine waiting: %s", error)
        await asyncio.sleep(interval)
