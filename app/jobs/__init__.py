"""Background jobs, run by arq workers (or in process when REDIS_URL is unset)."""

import app.workflows  # noqa: F401 - registers the workflows
from app.jobs.runs import execute_run

FUNCTIONS = [execute_run]

__all__ = ["FUNCTIONS"]
