"""Background jobs, run by arq workers (or in process when REDIS_URL is unset)."""

from app.jobs.segment_metrics import recompute_segment_metrics

FUNCTIONS = [recompute_segment_metrics]

__all__ = ["FUNCTIONS"]
