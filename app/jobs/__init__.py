"""Background jobs, run by arq workers (or in process when REDIS_URL is unset)."""

from collections.abc import Awaitable, Callable
from typing import Any

import app.workflows  # noqa: F401 - registers the workflows
from app.jobs.experiment_engine import recompute_experiments
from app.jobs.runs import execute_run

FUNCTIONS: list[Callable[..., Awaitable[Any]]] = [execute_run, recompute_experiments]

__all__ = ["FUNCTIONS"]
