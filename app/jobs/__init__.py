"""Background jobs, run by arq workers (or in process when REDIS_URL is unset)."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from app.jobs.experiment_engine import recompute_experiments
from app.jobs.runs import execute_run, reap_forever
from app.queue import InProcessQueue
from app.runtime import Services

FUNCTIONS: list[Callable[..., Awaitable[Any]]] = [execute_run, recompute_experiments]


def run_in_process(services: Services) -> None:
    """Without Redis, the serving process runs the jobs it queues, and the run reaper."""
    if not isinstance(services.queue, InProcessQueue):
        return
    services.queue.functions.update({function.__name__: function for function in FUNCTIONS})
    services.tasks.append(asyncio.create_task(reap_forever(services), name="run-reaper"))


__all__ = ["FUNCTIONS", "run_in_process"]
