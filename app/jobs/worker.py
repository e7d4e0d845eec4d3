"""arq worker settings; `python -m app worker` runs a worker with them."""

from __future__ import annotations

import asyncio
from typing import Any

from arq.connections import RedisSettings
from arq.cron import cron
from arq.worker import Worker, create_worker

from app.jobs import FUNCTIONS
from app.jobs.experiment_engine import engine_forever
from app.jobs.reports import schedule_reports, start_scheduled_report
from app.jobs.runs import reap_forever
from app.queue import queue_name
from app.runtime import start_services
from app.settings import ConfigError, Settings


def worker_settings(settings: Settings) -> dict[str, Any]:
    """arq's WorkerSettings, as the dict form arq accepts."""
    if settings.redis_url is None:
        raise ConfigError("configuration error: REDIS_URL: the worker needs Redis")

    async def startup(ctx: dict[str, Any]) -> None:
        services = await start_services(settings)
        services.tasks.append(asyncio.create_task(reap_forever(services), name="run-reaper"))
        services.tasks.append(asyncio.create_task(engine_forever(services), name="xp-engine"))
        ctx["services"] = services

    async def shutdown(ctx: dict[str, Any]) -> None:
        await ctx["services"].close()

    return {
        "functions": [*FUNCTIONS, start_scheduled_report],
        # Every worker looks each minute; a slot's claim makes one of them start it.
        "cron_jobs": [cron(schedule_reports, second=0, unique=False, run_at_startup=True)],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": queue_name(settings.redis_prefix),
        "poll_delay": settings.job_poll_delay,
        "max_jobs": settings.worker_max_jobs,
    }


def build_worker(settings: Settings, **overrides: Any) -> Worker:
    return create_worker(worker_settings(settings), **overrides)
